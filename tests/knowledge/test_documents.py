"""Documents through the ingest service: each format parsed into sections and chunks and indexed; a malformed file
of each format refused naming the reason with nothing stored; the same file again stores nothing new."""

from __future__ import annotations

import pytest
from django.test import override_settings

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.knowledge import services
from dhnet.knowledge.models import Chunk, Document, Item, Section
from dhnet.platform.access import Actor
from dhnet.platform.errors import Invalid
from tests.knowledge import helpers
from tests.platform.fixtures import actor_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer(users: dict[str, User]) -> Actor:
    return actor_of(users["partner"])


@pytest.fixture
def draft(writer: Actor) -> Item:
    return services.create_item(writer, services.ItemInput(kind="guideline", title="A draft"))


def _stored() -> tuple[int, int, int, int]:
    return (
        Document.objects.count(),
        Section.objects.count(),
        Chunk.objects.count(),
        AuditRecord.objects.filter(action="knowledge.document.attach").count(),
    )


@pytest.mark.parametrize(("filename", "data", "phrase"), helpers.well_formed(), ids=lambda v: str(v)[:20])
def test_each_format_is_parsed_stored_and_indexed(
    writer: Actor, draft: Item, filename: str, data: bytes, phrase: str
) -> None:
    document = services.attach_document(writer, draft.public_id, data, filename)
    assert document.filename == filename
    assert document.size == len(data)
    assert phrase in document.text
    sections = list(document.sections.order_by("ordinal"))
    chunks = list(document.chunks.order_by("ordinal"))
    assert sections
    assert chunks
    assert any(phrase in c.text for c in chunks)
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.tokens > 0
        assert chunk.section.document_id == document.pk
    record = AuditRecord.objects.get(action="knowledge.document.attach")
    assert record.detail["chunks"] == len(chunks)
    assert record.object_id == str(document.public_id)


def test_section_paths_and_pages(writer: Actor, draft: Item) -> None:
    html = services.attach_document(writer, draft.public_id, helpers.HTML, "guide.html")
    assert [s.path for s in html.sections.order_by("ordinal")] == [
        "Surveillance guide",
        "Surveillance guide > Information centres",
        "Surveillance guide > Privacy",
    ]
    pdf = services.attach_document(writer, draft.public_id, helpers.pdf_bytes(helpers.PDF_PAGES), "guide.pdf")
    assert pdf.pages == 2
    assert pdf.chunks.order_by("ordinal").first().page == 1  # type: ignore[union-attr]
    assert {c.page for c in pdf.chunks.all()} <= {1, 2}
    docx = services.attach_document(writer, draft.public_id, helpers.docx_bytes(helpers.DOCX_BLOCKS), "e.docx")
    assert "Findings > Timeliness" in [s.path for s in docx.sections.all()]


@pytest.mark.parametrize(("filename", "data", "word"), helpers.malformed(), ids=lambda v: str(v)[:20])
def test_a_malformed_file_stores_nothing(writer: Actor, draft: Item, filename: str, data: bytes, word: str) -> None:
    with pytest.raises(Invalid) as refused:
        services.attach_document(writer, draft.public_id, data, filename)
    assert refused.value.message.startswith(f"{filename}: ")
    assert word in refused.value.message
    assert _stored() == (0, 0, 0, 0)


def test_an_empty_file_is_refused(writer: Actor, draft: Item) -> None:
    with pytest.raises(Invalid, match=r"empty\.txt: .*empty"):
        services.attach_document(writer, draft.public_id, b"", "empty.txt")
    assert _stored() == (0, 0, 0, 0)


def test_the_same_file_twice_stores_nothing_new(writer: Actor, draft: Item) -> None:
    first, created = services.attach(writer, draft.public_id, helpers.MARKDOWN, "lessons.md")
    assert created
    before = _stored()
    again, created = services.attach(writer, draft.public_id, helpers.MARKDOWN, "renamed.md")
    assert not created
    assert again.pk == first.pk
    assert _stored() == before


def test_the_size_limit_comes_from_the_settings(writer: Actor, draft: Item) -> None:
    too_big = pytest.raises(Invalid, match=r"big\.md: 151 bytes is larger than the limit of 100 bytes")
    with override_settings(DHNET_KNOWLEDGE_MAX_DOCUMENT_BYTES=100), too_big:
        services.attach_document(writer, draft.public_id, b"# T\n\n" + b"x" * 146, "big.md")
    assert _stored() == (0, 0, 0, 0)


def test_a_published_item_takes_no_new_documents(users: dict[str, User], writer: Actor, draft: Item) -> None:
    reviewer = actor_of(users["knowledge_manager"])
    services.submit_item(writer, draft.public_id)
    services.attach_document(reviewer, draft.public_id, helpers.TEXT, "case.txt")  # reviewers: also in review
    services.review_item(reviewer, draft.public_id, "approve")
    from dhnet.platform.errors import Forbidden

    with pytest.raises(Forbidden, match="published"):
        services.attach_document(reviewer, draft.public_id, helpers.MARKDOWN, "late.md")


def test_document_view_is_visible_like_its_item(users: dict[str, User], writer: Actor, draft: Item) -> None:
    from dhnet.platform.errors import NotFound

    document = services.attach_document(writer, draft.public_id, helpers.HTML, "guide.html")
    view = services.get_document(writer, document.public_id)
    assert [s.ordinal for s in view.sections] == [0, 1, 2]
    with pytest.raises(NotFound):
        services.get_document(actor_of(users["viewer"]), document.public_id)
    with pytest.raises(NotFound):
        services.get_document(Actor.anonymous(), document.public_id)
    assert AuditRecord.objects.filter(action="knowledge.document.read").count() == 1
