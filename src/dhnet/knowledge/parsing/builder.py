"""Assembling a document's text and section tree from the blocks a format parser reads, in document order.

Every format parser walks its input and calls ``heading``/``paragraph``/``page``; the builder joins blocks with a
blank line, keeps the heading stack that gives each section its path, and records where each page starts. Text
before the first heading goes into a root section named after the document's title.
"""

from __future__ import annotations

import re

from .types import DocumentError, ParsedDocument, ParsedSection

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")  # and lone surrogates
MAX_HEADING_CHARS = 200


def clean_inline(text: str) -> str:
    """One line of heading text: control characters dropped, runs of white space folded to one space."""
    return _SPACES.sub(" ", _CONTROL.sub("", text).replace("\n", " ").replace("\r", " ")).strip()


def clean_block(text: str) -> str:
    """A paragraph: control characters dropped, spaces folded within lines (indentation kept), line ends
    normalised, blank lines removed from the ends; inner line breaks are kept (lists and code stay readable)."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = []
    for line in text.split("\n"):
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)].replace("\t", "    ")
        lines.append(indent + _SPACES.sub(" ", body).rstrip())
    return "\n".join(lines).strip("\n").strip()


class DocumentBuilder:
    """Collects headings and paragraphs into one text with a section tree; ``build`` returns the document."""

    def __init__(self, media_type: str, label: str) -> None:
        self.media_type = media_type
        self.label = label  # the format's name in error messages: "PDF", "DOCX", "HTML", "Markdown", "text"
        self._parts: list[str] = []
        self._length = 0
        self._page = 1
        self._page_starts: list[int] = [0]
        self._stack: list[tuple[int, str]] = []
        # (path, level, heading, page, start) of each heading; the root section is added in build()
        self._heads: list[tuple[tuple[str, ...], int, str, int, int]] = []
        self.first_heading: str | None = None
        self.first_heading_early = False  # whether the document opens with its first heading (a title candidate)

    def _append(self, block: str) -> int:
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        start = self._length
        self._parts.append(block)
        self._length += len(block)
        return start

    def page(self, number: int) -> None:
        """Begin page ``number`` (1-based, increasing): the next block starts on it."""
        while self._page < number:
            self._page += 1
            self._page_starts.append(self._length + (2 if self._parts else 0))

    def heading(self, text: str, level: int) -> None:
        """A heading of ``level`` (1 = top): it closes every open section of the same or a deeper level."""
        heading = clean_inline(text)[:MAX_HEADING_CHARS].strip()
        if not heading:
            return
        level = max(1, level)
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, heading))
        start = self._append(heading)
        path = tuple(h for _, h in self._stack)
        self._heads.append((path, len(path), heading, self._page, start))
        if self.first_heading is None:
            self.first_heading = heading
            self.first_heading_early = start == 0

    def paragraph(self, text: str) -> None:
        """A block of body text (empty ones are skipped)."""
        block = clean_block(text)
        if block:
            self._append(block)

    @property
    def has_text(self) -> bool:
        """Whether any block has been added."""
        return bool(self._parts)

    def build(self, title: str | None, pages: int | None = None) -> ParsedDocument:
        """The document; ``title`` falls back to the first heading. Raises DocumentError when there is no text."""
        text = "".join(self._parts)
        if not text.strip():
            raise DocumentError(f"{self.label}: the document contains no text")
        title = clean_inline(title or "") or self.first_heading or "Untitled document"
        sections: list[ParsedSection] = []
        first_start = self._heads[0][4] if self._heads else len(text)
        if first_start > 0:
            sections.append(ParsedSection((title,), 0, title, 1, 0, first_start))
        for i, (path, level, heading, page, start) in enumerate(self._heads):
            end = self._heads[i + 1][4] if i + 1 < len(self._heads) else len(text)
            sections.append(ParsedSection(path, level, heading, page, start, end))
        page_count = max(pages or 0, len(self._page_starts))
        return ParsedDocument(title, self.media_type, page_count, text, sections, tuple(self._page_starts))
