"""PDF (pypdf): text per page, so every chunk knows its page; headings from the outline (bookmarks) when the file
has one, else from the fonts — lines set larger than the body text are headings (the largest size level 1), and a
short line set wholly in a bold face at body size is a heading one level below the smallest larger size.

Refused with a reason: a truncated file (no ``%%EOF``), an encrypted file that needs a password, a file pypdf
cannot read, and a PDF with no text layer (scanned pages need OCR first).
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from .builder import DocumentBuilder, clean_inline
from .sniff import PDF
from .types import DocumentError, ParsedDocument

logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed files are reported by us, not logged by pypdf

MAX_PAGES = 5000
_NORM = re.compile(r"[^0-9a-z]+")
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?[-–]?\s*\d{1,4}\s*[-–]?(?:\s*(?:/|of)\s*\d{1,4})?\s*$", re.IGNORECASE)


@dataclass
class _Line:
    """One line of a page: its text, the font size and boldness most of its characters have, its baseline."""

    text: str = ""
    y: float | None = None
    sizes: Counter[float] = field(default_factory=Counter)
    bold: int = 0

    @property
    def size(self) -> float:
        return self.sizes.most_common(1)[0][0] if self.sizes else 0.0

    @property
    def is_bold(self) -> bool:
        letters = sum(1 for c in self.text if not c.isspace())
        return letters > 0 and self.bold >= letters


def _norm(text: str) -> str:
    return _NORM.sub(" ", text.lower()).strip()


def _open(data: bytes) -> PdfReader:
    tail = data[-2048:]
    if b"%%EOF" not in tail:
        raise DocumentError("PDF: file is truncated (no %%EOF)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # an unsupported cipher is as good as a password we do not have
                opened = False
            if not opened:
                raise DocumentError("PDF: the file is encrypted and needs a password")
        count = len(reader.pages)
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise DocumentError(f"PDF: cannot be read ({exc})") from None
    if count == 0:
        raise DocumentError("PDF: the file has no pages")
    if count > MAX_PAGES:
        raise DocumentError(f"PDF: too many pages ({count}; the limit is {MAX_PAGES})")
    return reader


def _outline(reader: PdfReader) -> dict[int, list[tuple[str, int]]]:
    """The bookmarks by 0-based page: ``{page: [(title, level), ...]}`` in outline order."""
    found: dict[int, list[tuple[str, int]]] = {}

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a bookmark to nowhere is ignored, like a viewer does
                continue
            title = clean_inline(str(getattr(item, "title", "") or ""))
            if title and page is not None and page >= 0:
                found.setdefault(page, []).append((title, level))

    try:
        walk(list(reader.outline), 1)
    except Exception:  # a broken outline: fall back to the fonts
        return {}
    return found


def _page_lines(page: Any) -> list[_Line]:
    """The lines of a page with their font sizes, from pypdf's text visitor."""
    lines: list[_Line] = [_Line()]

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text:
            return
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        effective = round(float(size or 0) * scale, 1)
        y = tm[5] * cm[3] + cm[5]
        name = str(font.get("/BaseFont", "")) if hasattr(font, "get") else ""
        bold = "bold" in name.lower() or "black" in name.lower() or "heavy" in name.lower()
        parts = text.split("\n")
        for k, part in enumerate(parts):
            line = lines[-1]
            if k > 0 or (line.y is not None and part.strip() and line.text.strip() and abs(line.y - y) > 1.0):
                lines.append(_Line())
                line = lines[-1]
            if part:
                if line.y is None and part.strip():
                    line.y = y
                line.text += part
                chars = sum(1 for c in part if not c.isspace())
                if chars:
                    line.sizes[effective] += chars
                    if bold:
                        line.bold += chars

    page.extract_text(visitor_text=visit)
    return [line for line in lines if line.text.strip()]


def _font_levels(pages: list[list[_Line]]) -> tuple[dict[float, int], float]:
    """Heading levels by font size (the largest size level 1) and the body size (the size of most characters)."""
    weight: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            weight.update(line.sizes)
    if not weight:
        return {}, 0.0
    body = weight.most_common(1)[0][0]
    larger = sorted({size for size in weight if size >= body * 1.15}, reverse=True)[:6]
    return {size: i + 1 for i, size in enumerate(larger)}, body


def _furniture_key(text: str) -> str:
    """A line with its numbers masked: "Page 3 of 20" and "Page 4 of 20" are the same running footer."""
    return _DIGITS.sub("#", _norm(text))


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """The pages without their running headers and footers: a line among the first or last two of a page whose
    text (numbers masked) recurs there on at least three pages and half of them, set no larger than the body
    text (so "Chapter 2" at the top of a page stays). Page numbers alone go too."""
    if len(pages) < 3:
        return pages
    _, body = _font_levels(pages)

    def candidate(line: _Line) -> bool:  # furniture is set no larger than the body text (headings are)
        return line.size <= body + 0.5

    seen: Counter[str] = Counter()
    for lines in pages:
        edge = {_furniture_key(line.text) for line in lines[:2] + lines[-2:] if candidate(line)}
        seen.update(edge)
    running = {key for key, count in seen.items() if key and count >= max(3, 0.5 * len(pages))}
    out = []
    for lines in pages:
        edges = set(range(min(2, len(lines)))) | set(range(max(0, len(lines) - 2), len(lines)))
        out.append(
            [
                line
                for k, line in enumerate(lines)
                if not (
                    k in edges
                    and candidate(line)
                    and (_furniture_key(line.text) in running or _PAGE_NUMBER.match(line.text))
                )
            ]
        )
    return out


def _is_heading_text(text: str) -> bool:
    s = text.strip()
    return 0 < len(s) <= 150 and len(s.split()) <= 20 and any(c.isalpha() for c in s)


def parse_pdf(data: bytes, filename: str) -> ParsedDocument:
    """Parse a PDF's text layer into pages and sections (outline headings, else font-size headings)."""
    reader = _open(data)
    builder = DocumentBuilder(PDF, "PDF")
    outline = _outline(reader)
    pages = [_page_lines(page) for page in reader.pages]
    if not any(lines for lines in pages):
        raise DocumentError(f"PDF: no text layer in {len(pages)} page(s) (scanned images? run OCR first)")
    pages = _drop_running_lines(pages)
    levels, body = ({}, 0.0) if outline else _font_levels(pages)
    bold_level = (max(levels.values()) + 1) if levels else 1
    for number, lines in enumerate(pages, start=1):
        builder.page(number)
        pending = list(outline.get(number - 1, []))
        paragraph: list[str] = []
        last_y: float | None = None
        last_size = 0.0

        def flush(paragraph: list[str] = paragraph) -> None:
            if paragraph:
                builder.paragraph("\n".join(paragraph))
                paragraph.clear()

        for line in lines:
            text = line.text.strip()
            if pending:
                key = _norm(text)
                match = next((k for k, (title, _) in enumerate(pending) if key and _norm(title) == key), None)
                if match is not None:
                    flush()
                    for title, depth in pending[: match + 1]:  # bookmarks whose text is not on the page come first
                        builder.heading(title, depth)
                    del pending[: match + 1]
                    last_y = None
                    continue
            level: int | None = None
            if not outline and _is_heading_text(text):
                if line.size in levels:
                    level = levels[line.size]
                elif line.is_bold and abs(line.size - body) < 0.6 and len(text) <= 100 and not text.endswith("."):
                    level = bold_level
            if level is not None:
                flush()
                builder.heading(text, level)
                last_y = None
                continue
            gap = (last_y - line.y) if (last_y is not None and line.y is not None) else 0.0
            if paragraph and gap > 1.6 * max(line.size, last_size, 1.0):
                flush()  # a blank line's worth of space: a new paragraph
            paragraph.append(text)
            last_y, last_size = line.y, line.size
        flush()
        for title, depth in pending:  # bookmarks to this page whose text was not found on it
            builder.heading(title, depth)
    info_title = ""
    try:
        metadata = reader.metadata
        info_title = clean_inline(str(metadata.get("/Title", "") or "")) if metadata is not None else ""
    except Exception:  # unreadable metadata is no reason to refuse the text
        info_title = ""
    return builder.build(info_title or builder.first_heading or filename.rsplit(".", 1)[0], pages=len(pages))
