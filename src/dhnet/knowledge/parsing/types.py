"""The values parsing produces: a document's text, its section tree and its chunks, and the one error it raises.

Plain frozen dataclasses (no Django) so that the ingest service, the benchmark and the tests share them. Offsets are
Python string indices into ``ParsedDocument.text``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


class DocumentError(ValueError):
    """A document that cannot be parsed; the message names the format and the problem (shown to the uploader)."""


@dataclass(frozen=True, slots=True)
class ParsedSection:
    """One node of the section tree: the heading path from the top (``("Strategic Objectives", "…")``), its depth
    (0 for the root section that holds the text before the first heading, 1 for a top heading …), the page the
    heading is on, and the span ``text[start:end]`` it covers (its heading line included, up to the next heading)."""

    path: tuple[str, ...]
    level: int
    heading: str
    page: int
    start: int
    end: int

    @property
    def path_text(self) -> str:
        """The heading path as shown in a citation: ``"A > B > C"``."""
        return " > ".join(self.path)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A parsed document: its title, media type, page count (1 for formats without pages), the whole text and the
    sections in document order. Sections are contiguous and do not overlap.

    ``page_starts[i]`` is the offset in ``text`` where page ``i + 1`` begins (``(0,)`` for formats without pages);
    chunking uses it to give each chunk its page."""

    title: str
    media_type: str
    pages: int
    text: str
    sections: list[ParsedSection]
    page_starts: tuple[int, ...] = field(default=(0,))

    def page_at(self, offset: int) -> int:
        """The 1-based page number that contains the character at ``offset``."""
        return max(1, bisect.bisect_right(self.page_starts, offset))


@dataclass(frozen=True, slots=True)
class ParsedChunk:
    """A passage for search: the index of its section in ``ParsedDocument.sections``, its text (exactly
    ``document.text[start:end]``), its WordPiece token count (without [CLS]/[SEP]) and the page it starts on."""

    section_index: int
    text: str
    tokens: int
    page: int
    start: int
    end: int
