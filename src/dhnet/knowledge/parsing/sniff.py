"""Which format a document is in (from its media type, its filename extension, or its first bytes), and decoding
of text formats with an error that says where the bytes stopped being text."""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import PurePath

from .types import DocumentError

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
SUPPORTED = (PDF, DOCX, HTML, MARKDOWN, TEXT)
SUPPORTED_NAMES = "PDF, DOCX, HTML, Markdown, plain text"

EXTENSIONS = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": TEXT,
    ".text": TEXT,
}
ALIASES = {
    "application/xhtml+xml": HTML,
    "text/x-markdown": MARKDOWN,
    "application/x-pdf": PDF,
}


def normalise_media_type(media_type: str) -> str:
    """``"Text/HTML; charset=utf-8"`` → ``"text/html"``; a type we do not parse is a DocumentError naming it."""
    base = media_type.split(";", 1)[0].strip().lower()
    base = ALIASES.get(base, base)
    if base not in SUPPORTED:
        raise DocumentError(f"unsupported document type {base!r} (supported: {SUPPORTED_NAMES})")
    return base


def sniff(data: bytes) -> str | None:
    """The media type the first bytes reveal, or None when they reveal nothing we parse."""
    head = data[:1024].lstrip()
    if data[:1024].find(b"%PDF-") != -1:
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        return None
    lowered = head.lower().lstrip(codecs.BOM_UTF8)
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        return HTML
    return None


def detect_media_type(data: bytes, filename: str, media_type: str | None) -> str:
    """The media type to parse ``data`` as: the one given, else the filename extension's, else the sniffed one."""
    if media_type:
        return normalise_media_type(media_type)
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    sniffed = sniff(data)
    if sniffed:
        return sniffed
    if suffix:
        raise DocumentError(f"unsupported document type {suffix!r} (supported: {SUPPORTED_NAMES})")
    raise DocumentError(f"unrecognised document type: no filename extension and unknown content ({SUPPORTED_NAMES})")


def decode_text(data: bytes, label: str) -> str:
    """Text bytes decoded as UTF-8 (a UTF-8 BOM is dropped) or UTF-16 with a BOM. Binary content (NUL bytes, or
    mostly control characters) and bytes that are not UTF-8 raise DocumentError naming the byte offset."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{label}: not valid UTF-16 at byte {exc.start}") from None
    else:
        offset = 3 if data.startswith(codecs.BOM_UTF8) else 0
        nul = data.find(b"\x00")
        if nul != -1:
            raise DocumentError(f"{label}: binary content, not text (NUL byte at byte {nul})")
        try:
            text = data[offset:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"{label}: not UTF-8 at byte {exc.start + offset}") from None
    if "\x00" in text:
        raise DocumentError(f"{label}: binary content, not text (NUL character at character {text.index(chr(0))})")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(8, len(text) // 100):
        raise DocumentError(f"{label}: binary content, not text ({controls} control characters)")
    return text
