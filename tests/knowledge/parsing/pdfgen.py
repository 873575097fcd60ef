"""A tiny PDF writer for tests and the benchmark: pages of text lines in Helvetica (bold or not, any size), and an
optional outline, written with pypdf alone so that no office suite is needed to make a PDF in CI."""

from __future__ import annotations

import io
from collections.abc import Sequence

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

Line = tuple[str, float, bool]  # text, font size, bold


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def make_pdf(
    pages: Sequence[Sequence[Line]],
    *,
    outline: Sequence[tuple[str, int, int]] = (),
    title: str | None = None,
) -> bytes:
    """A PDF with one page per item of ``pages``; ``outline`` is ``(title, 0-based page, level)`` in order
    (level 1 at the top, each deeper level nested under the last shallower one)."""
    writer = PdfWriter()
    fonts = DictionaryObject()
    for key, base in (("/F1", "/Helvetica"), ("/F2", "/Helvetica-Bold")):
        font = DictionaryObject()
        font[NameObject("/Type")] = NameObject("/Font")
        font[NameObject("/Subtype")] = NameObject("/Type1")
        font[NameObject("/BaseFont")] = NameObject(base)
        font[NameObject("/Encoding")] = NameObject("/WinAnsiEncoding")
        fonts[NameObject(key)] = writer._add_object(font)
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        y = 740.0
        ops = [b"BT"]
        for text, size, bold in lines:
            y -= size * 1.5
            ops.append(b"/%s %.1f Tf 1 0 0 1 72 %.1f Tm (%s) Tj" % (b"F2" if bold else b"F1", size, y, _escape(text)))
        ops.append(b"ET")
        stream = DecodedStreamObject()
        stream.set_data(b"\n".join(ops))
        page[NameObject("/Contents")] = writer._add_object(stream)
        resources = DictionaryObject()
        resources[NameObject("/Font")] = fonts
        page[NameObject("/Resources")] = resources
    parents: dict[int, object] = {}
    for heading, page_index, level in outline:
        parent = parents.get(level - 1) if level > 1 else None
        parents[level] = writer.add_outline_item(heading, page_index, parent=parent)  # type: ignore[arg-type]
    if title:
        writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def body(text: str, size: float = 11) -> Line:
    """A line of body text."""
    return (text, size, False)
