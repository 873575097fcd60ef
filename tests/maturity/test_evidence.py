"""Evidence per indicator: text, links (http/https only), documents (size limit, type checked against the content,
stored under var/media/maturity/ by SHA-256); deduplicated; removable; nothing stored from a refused upload."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest

from dhnet.accounts.models import User
from dhnet.maturity import services
from dhnet.maturity.models import Evidence
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Invalid
from tests.maturity.assess_world import filled, make_rubric, people

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def who(users: dict[str, User], settings: Any, tmp_path: Path) -> dict[str, Actor]:
    settings.CONFIG = dataclasses.replace(settings.CONFIG, data_dir=tmp_path)
    make_rubric()
    return people(users)


def test_text_and_link_evidence_deduplicated(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    pid = filled(planner).public_id
    first, created = services.add_evidence(planner, pid, "1", "text", text="Strategy adopted by cabinet, 2021")
    again, created_again = services.add_evidence(planner, pid, "1", "text", text=" Strategy adopted by cabinet, 2021 ")
    link, _ = services.add_evidence(planner, pid, "1", "link", url="https://example.org/s.pdf", text="the strategy")
    services.add_evidence(planner, pid, "1", "link", url="https://example.org/s.pdf")
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert Evidence.objects.count() == 2
    assert (link.kind, link.url, link.text, link.added_by) == (
        "link",
        "https://example.org/s.pdf",
        "the strategy",
        "digital_health_planner",
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "video"}, "kind: 'video' is not one of text, link, document"),
        ({"kind": "text", "text": ""}, "text: required"),
        ({"kind": "link", "url": "ftp://example.org/x"}, "url: 'ftp://example.org/x' is not an http"),
        ({"kind": "link", "url": "javascript:alert(1)"}, "url: 'javascript:alert"),
        ({"kind": "document", "data": b"", "filename": "a.pdf"}, "document: required"),
        ({"kind": "document", "data": PDF, "filename": "a.exe"}, "document: type 'exe' is not accepted"),
        ({"kind": "document", "data": b"MZ\x90\x00", "filename": "a.pdf"}, "not a pdf file"),
        ({"kind": "document", "data": b"a,b\n\xff\xfe", "filename": "a.csv"}, "is not UTF-8 text"),
        ({"kind": "text", "text": "x", "code": "99"}, "indicator: no indicator '99' in rubric mini"),
    ],
)
def test_bad_evidence_is_refused_naming_the_field(who: dict[str, Actor], kwargs: dict[str, Any], message: str) -> None:
    planner = who["digital_health_planner"]
    pid = filled(planner).public_id
    code = kwargs.pop("code", "1")
    kind = kwargs.pop("kind")
    with pytest.raises(Invalid, match=message):
        services.add_evidence(planner, pid, code, kind, **kwargs)
    assert not Evidence.objects.exists()


def test_document_size_limit(who: dict[str, Actor], monkeypatch: pytest.MonkeyPatch) -> None:
    planner = who["digital_health_planner"]
    pid = filled(planner).public_id
    monkeypatch.setattr(services, "MAX_DOCUMENT", len(PDF) - 1)
    with pytest.raises(Invalid, match=f"document: {len(PDF)} bytes is larger than the limit of {len(PDF) - 1}"):
        services.add_evidence(planner, pid, "1", "document", data=PDF, filename="s.pdf")
    assert not Evidence.objects.exists()


def test_documents_stored_by_sha256_and_shared_until_the_last_is_removed(who: dict[str, Actor], tmp_path: Path) -> None:
    planner = who["digital_health_planner"]
    pid = filled(planner).public_id
    item, created = services.add_evidence(planner, pid, "2", "document", data=PDF, filename="../../law.pdf")
    again, created_again = services.add_evidence(planner, pid, "2", "document", data=PDF, filename="copy.pdf")
    digest = hashlib.sha256(PDF).hexdigest()
    stored = tmp_path / "var" / "media" / "maturity" / digest[:2] / f"{digest}.pdf"
    assert (created, created_again, again.pk) == (True, False, item.pk)
    assert (item.filename, item.sha256, item.size) == ("law.pdf", digest, len(PDF))
    assert stored.read_bytes() == PDF
    content, name, media = services.evidence_document(planner, pid, item.pk)
    assert (content, name, media) == (PDF, "law.pdf", "application/pdf")
    other = filled(planner, 2026).public_id
    twin, _ = services.add_evidence(planner, other, "2", "document", data=PDF, filename="law.pdf")
    assert twin.document.name == item.document.name
    assert services.remove_evidence(planner, pid, item.pk) is True
    assert services.remove_evidence(planner, pid, item.pk) is False  # again: nothing to do
    assert stored.exists()  # the 2026 assessment still refers to it


def test_evidence_only_while_editable(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    pid = filled(planner).public_id
    item, _ = services.add_evidence(planner, pid, "3", "text", text="curriculum")
    services.submit(planner, pid)
    with pytest.raises(Conflict):
        services.add_evidence(planner, pid, "3", "text", text="more")
    with pytest.raises(Conflict):
        services.remove_evidence(planner, pid, item.pk)
