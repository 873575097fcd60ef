"""A need's languages and currency are real ISO codes (the registry's ISO 639-1 and ISO 4217 lists), so a need
never carries a code no product or budget line could ever match."""

from __future__ import annotations

from typing import Any

import pytest

from dhnet.needs import services
from dhnet.platform.errors import Invalid

BASE = {"country": "KE", "title": "Late reports", "challenges": ["hsc:1.2"]}


def test_real_codes_are_accepted(db: Any) -> None:
    inp = services.validate_need(BASE | {"languages": ["sw", "EN"], "currency": "kes"})
    assert inp.languages == ["sw", "en"]
    assert inp.currency == "KES"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("languages", ["xx"], "languages[0]: 'xx' is not an ISO 639-1 code"),
        ("languages", ["en", "qq"], "languages[1]: 'qq' is not an ISO 639-1 code"),
        ("currency", "ABC", "currency: 'ABC' is not an ISO 4217 code"),
    ],
)
def test_made_up_codes_are_refused_naming_the_field(db: Any, field: str, value: Any, message: str) -> None:
    with pytest.raises(Invalid, match=message.replace("[", r"\[").replace("]", r"\]")):
        services.validate_need(BASE | {field: value})
