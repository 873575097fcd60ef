"""DOCX (python-docx): paragraphs styled Heading 1–9 make the sections, the Title style gives the title; tables are
kept row by row ("cell | cell"); explicit page breaks give the page numbers. Corrupt archives, encrypted files, ZIP
bombs and ZIPs that are not Word documents are DocumentErrors naming the problem."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import PurePath

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from .builder import DocumentBuilder
from .sniff import DOCX
from .types import DocumentError, ParsedDocument

MAX_EXPANDED_BYTES = 256 * 1024 * 1024
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING = re.compile(r"^(?:heading|überschrift|titre|título|titolo|kop)\s*([1-9])$", re.IGNORECASE)


def _check_archive(data: bytes) -> None:
    if data.startswith(_OLE):
        raise DocumentError("DOCX: the file is encrypted (password-protected) or an old binary .doc, not a DOCX")
    if not data.startswith(b"PK"):
        raise DocumentError("DOCX: not a ZIP archive")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            expanded = sum(info.file_size for info in archive.infolist())
            if expanded > MAX_EXPANDED_BYTES:
                raise DocumentError(
                    f"DOCX: the archive expands to {expanded:,} bytes (more than {MAX_EXPANDED_BYTES:,}; a ZIP bomb?)"
                )
            if "word/document.xml" not in names:
                raise DocumentError("DOCX: not a Word document (word/document.xml is missing from the archive)")
            bad = archive.testzip()
            if bad is not None:
                raise DocumentError(f"DOCX: corrupt ZIP archive (member {bad} fails its CRC check)")
    except zipfile.BadZipFile as exc:
        raise DocumentError(f"DOCX: corrupt ZIP archive ({exc})") from None
    except (zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise DocumentError(f"DOCX: unreadable ZIP archive ({exc})") from None


def _heading_level(paragraph: Paragraph) -> int | None:
    """1–9 for a Heading style (by name or id, English or a few translations), 0 for Title, None otherwise."""
    style = paragraph.style
    names = [getattr(style, "name", None) or "", getattr(style, "style_id", None) or ""]
    for name in names:
        if name.lower() == "title":
            return 0
        m = _HEADING.match(name.replace("Heading", "Heading ").replace("  ", " ").strip())
        if m:
            return int(m.group(1))
    return None


def _page_breaks(paragraph: Paragraph) -> tuple[int, int]:
    """Explicit page breaks of a paragraph: (before its text, after it). "Page break before" in its properties and
    breaks in a paragraph without text count before; breaks inside a paragraph with text count after it. (A DOCX
    has no fixed pages: this is the page the author forced, which is what a citation can use.)"""
    element = paragraph._p
    before = 1 if element.xpath("./w:pPr/w:pageBreakBefore[not(@w:val='0') and not(@w:val='false')]") else 0
    breaks = len(element.xpath(".//w:br[@w:type='page']"))
    if not paragraph.text.strip():
        return before + breaks, 0
    return before, breaks


def parse_docx(data: bytes, filename: str) -> ParsedDocument:
    """Parse a DOCX document (body paragraphs and tables, in order)."""
    _check_archive(data)
    document = docx.Document(io.BytesIO(data))
    builder = DocumentBuilder(DOCX, "DOCX")
    title = (document.core_properties.title or "").strip()
    page = 1
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            before, after = _page_breaks(block)
            if before:
                page += before
                builder.page(page)
            level = _heading_level(block)
            text = block.text
            if level == 0:
                title = title or " ".join(text.split())
            elif level:
                builder.heading(text, level)
            else:
                builder.paragraph(text)
            if after:
                page += after
                builder.page(page)
        elif isinstance(block, Table):
            rows = []
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = " ".join(cell.text.split())
                    if value and (not cells or cells[-1] != value):  # merged cells repeat their text
                        cells.append(value)
                if cells:
                    rows.append(" | ".join(cells))
            builder.paragraph("\n".join(rows))
    return builder.build(title or builder.first_heading or PurePath(filename or "document").stem, pages=page)
