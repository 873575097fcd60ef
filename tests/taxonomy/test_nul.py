"""A NUL character in a scheme, code or tag is no such thing (PostgreSQL refuses NUL in text: was a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from dhnet.platform.errors import Invalid, NotFound
from dhnet.taxonomy import services


def test_nul_in_scheme_code_or_tag_is_not_found_or_invalid(db: Any) -> None:
    with pytest.raises(NotFound):
        services.scheme("cdhi-v1\x00")
    with pytest.raises(NotFound):
        services.concept("cdhi-v1", "1.1\x00")
    with pytest.raises(Invalid, match="NUL"):
        services.resolve_tags(["cdhi-v1:1.1.1\x00"])


def test_crosswalk_api_with_nul_is_404(db: Any) -> None:
    client = Client()
    assert client.get("/api/v1/taxonomy/crosswalk", {"source": "\x00"}).status_code == 404
    assert client.get("/api/v1/taxonomy/crosswalk", {"target": "cdhi-2023\x00"}).status_code == 404
    assert client.get("/api/v1/taxonomy/schemes/cdhi-v1/concepts/1.1%00/crosswalk").status_code == 404
