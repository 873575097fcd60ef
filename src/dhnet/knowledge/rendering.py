"""The document page's body: sections and their passages, the cited passage and the query's words marked.

Chunks overlap (the chunker repeats up to 32 tokens of the previous chunk) so each passage shows only the text
after the previous one's end, and a section's first passage leaves out the heading line shown above it. The
passage a search hit cites (``?chunk=``) is wrapped in ``<mark class="hit">`` — including the part of it shown
with the previous passage — and every word of the query (``?q=``) in ``<mark class="term">``. Everything else is
escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from dhnet.knowledge.models import Chunk, Section

WORD_RE = re.compile(r"\w+", re.UNICODE)
#: Words too common to be worth marking.
STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "is", "it", "of", "on", "or"}
    | {"the", "to", "what", "when", "where", "which", "who", "why", "with"}
)
MAX_TERMS = 20


def query_terms(query: str) -> list[str]:
    """The words of a query worth marking: lower-cased, without stopwords and one-letter words, longest first."""
    words = {w.lower() for w in WORD_RE.findall(query or "")}
    terms = [w for w in words if len(w) > 1 and w not in STOPWORDS]
    return sorted(terms, key=lambda w: (-len(w), w))[:MAX_TERMS]


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # A word starting with a term ("pseudonym" marks "pseudonymization"), at a word boundary.
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in terms) + r")\w*", re.IGNORECASE | re.UNICODE)


def mark_terms(text: str, terms: Sequence[str]) -> SafeString:
    """``text`` escaped, with each word starting with a query term wrapped in ``<mark class="term">``."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return mark_safe(escape(text))
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(f'<mark class="term">{escape(match.group(0))}</mark>')
        last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))


@dataclass(frozen=True)
class Passage:
    """One chunk as the page shows it: its new text (after the previous chunk's end), marked."""

    chunk: Chunk
    html: SafeString
    is_hit: bool


@dataclass(frozen=True)
class SectionBlock:
    """A section heading and its passages."""

    section: Section
    heading_level: int
    heading_html: SafeString
    passages: list[Passage]


def render_document(
    text: str, sections: Sequence[Section], chunks: Sequence[Chunk], *, hit: int | None, query: str
) -> list[SectionBlock]:
    """The document's sections with their passages, the cited chunk ``hit`` and the words of ``query`` marked."""
    terms = query_terms(query)
    hit_chunk = next((c for c in chunks if c.pk == hit), None)
    hit_span = (hit_chunk.start, hit_chunk.end) if hit_chunk is not None else None
    by_section: dict[int, list[Passage]] = {s.pk: [] for s in sections}
    headings = {s.pk: s.heading for s in sections}
    shown_to = 0
    for chunk in chunks:
        start = max(chunk.start, shown_to)
        if text and not by_section.get(chunk.section_id):  # the section's first passage: its heading is shown above
            start += _heading_line(text[start : chunk.end], headings.get(chunk.section_id, ""))
        end = max(chunk.end, start)
        piece = text[start:end] if text else chunk.text[start - chunk.start :]
        html = _mark_span(piece, start, hit_span, terms)
        by_section.setdefault(chunk.section_id, []).append(Passage(chunk, html, chunk.pk == hit))
        shown_to = max(shown_to, end)
    return [
        SectionBlock(s, min(6, max(2, s.level + 1)), mark_terms(s.heading, terms), by_section.get(s.pk, []))
        for s in sections
    ]


def _heading_line(piece: str, heading: str) -> int:
    """The length of the heading line (``## Heading``, ``**Heading**`` or the bare heading) that opens ``piece``."""
    if not heading.strip():
        return 0
    pattern = r"\s*(?:#{1,6}[ \t]+)?(?:\*\*)?" + re.escape(heading.strip()) + r"(?:\*\*)?[ \t]*(?:\n|$)\s*"
    match = re.match(pattern, piece)
    return match.end() if match else 0


def _mark_span(piece: str, offset: int, hit_span: tuple[int, int] | None, terms: Sequence[str]) -> SafeString:
    """``piece`` (document text from ``offset``) marked: the part inside ``hit_span`` as the cited passage."""
    if hit_span is None:
        return mark_terms(piece, terms)
    lo = min(max(hit_span[0] - offset, 0), len(piece))
    hi = min(max(hit_span[1] - offset, 0), len(piece))
    if lo >= hi:
        return mark_terms(piece, terms)
    return mark_safe(
        mark_terms(piece[:lo], terms)
        + '<mark class="hit">'
        + mark_terms(piece[lo:hi], terms)
        + "</mark>"
        + mark_terms(piece[hi:], terms)
    )
