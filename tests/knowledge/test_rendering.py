"""The document reader's body: overlapping chunks shown once, the cited chunk and the query's words marked."""

from __future__ import annotations

import re

from django.utils.html import escape

from dhnet.knowledge import rendering
from dhnet.knowledge.models import Chunk, Section

TEXT = "Intro line.\nAlpha beta gamma. Delta <epsilon> zeta.\nEta theta."


def _rows() -> tuple[list[Section], list[Chunk]]:
    first = Section(pk=1, ordinal=0, level=0, heading="", path="Doc", page=1, start=0, end=12)
    second = Section(pk=2, ordinal=1, level=1, heading="Alpha", path="Doc > Alpha", page=2, start=12, end=len(TEXT))
    spans = [(1, first, 0, 12), (2, second, 12, 42), (3, second, 30, len(TEXT))]  # chunk 3 overlaps chunk 2
    chunks = [
        Chunk(pk=pk, section=s, section_id=s.pk, ordinal=pk, text=TEXT[a:b], tokens=3, page=s.page, start=a, end=b)
        for pk, s, a, b in spans
    ]
    return [first, second], chunks


def test_query_terms() -> None:
    assert rendering.query_terms("What is the pseudonymization of a Case?") == ["pseudonymization", "case"]


def test_overlap_shown_once_and_hit_marked_across_passages() -> None:
    sections, chunks = _rows()
    blocks = rendering.render_document(TEXT, sections, chunks, hit=3, query="zeta")
    assert [len(b.passages) for b in blocks] == [1, 2]
    shown = "".join(p.html for b in blocks for p in b.passages)
    # every character once; the overlap (start of chunk 3, inside chunk 2's passage) marked as cited there too
    second, third = blocks[1].passages
    assert '<mark class="hit">' in second.html
    assert third.is_hit
    assert third.html.startswith('<mark class="hit">')
    assert re.sub(r"</?mark[^>]*>", "", shown) == escape(TEXT)  # all the text, once, escaped
    assert '<mark class="term">zeta</mark>' in shown


def test_without_hit_or_query_only_escaping() -> None:
    sections, chunks = _rows()
    blocks = rendering.render_document(TEXT, sections, chunks, hit=None, query="")
    html = "".join(p.html for b in blocks for p in b.passages)
    assert "<mark" not in html
    assert blocks[1].heading_level == 2


def test_the_heading_line_is_shown_once() -> None:
    text = "## Governance\n\nRules for data.\n"
    section = Section(pk=1, ordinal=0, level=1, heading="Governance", path="Governance", page=1, start=0, end=len(text))
    chunk = Chunk(pk=7, section=section, section_id=1, ordinal=0, text=text, tokens=5, page=1, start=0, end=len(text))
    [block] = rendering.render_document(text, [section], [chunk], hit=7, query="")
    assert block.passages[0].html == '<mark class="hit">Rules for data.\n</mark>'
