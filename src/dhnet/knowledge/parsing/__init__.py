"""Document parsing and chunking for the knowledge repository — pure Python, no Django.

``parse_document(data, filename, media_type=None)`` reads a PDF, DOCX, HTML, Markdown or plain-text document into
a ``ParsedDocument``: its whole text and a section tree whose heading paths ("Strategic Objectives > …") let a
search hit cite where it comes from. ``chunk_document`` cuts each section into passages of at most 256 WordPiece
tokens (the all-MiniLM-L6-v2 tokenizer, ``count_tokens``) for full-text and semantic search. Anything that cannot
be parsed raises ``DocumentError`` with a reason naming the format and the problem, before anything is stored.
"""

from __future__ import annotations

from .chunking import chunk_document
from .sniff import DOCX, HTML, MARKDOWN, PDF, SUPPORTED, TEXT, detect_media_type
from .tokens import count_tokens
from .types import DocumentError, ParsedChunk, ParsedDocument, ParsedSection

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUPPORTED",
    "DocumentError",
    "ParsedChunk",
    "ParsedDocument",
    "ParsedSection",
    "chunk_document",
    "count_tokens",
    "parse_document",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def parse_document(
    data: bytes, filename: str, media_type: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedDocument:
    """Parse ``data`` (the bytes of the file called ``filename``) into text and sections.

    The format is ``media_type`` when given, else the filename extension's, else sniffed from the first bytes.
    Raises ``DocumentError`` for an empty or too large file, an unsupported type, or content that is not a valid
    document of its type; any other failure inside a third-party parser is reported as a DocumentError too, so a
    caller never sees anything else.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise DocumentError(f"{filename or 'document'}: empty file")
    if len(data) > max_bytes:
        raise DocumentError(
            f"{filename or 'document'}: too large ({len(data):,} bytes; the limit is {max_bytes:,} bytes)"
        )
    kind = detect_media_type(data, filename, media_type)
    label = {PDF: "PDF", DOCX: "DOCX", HTML: "HTML", MARKDOWN: "Markdown", TEXT: "text"}[kind]
    try:
        if kind == PDF:
            from .pdf import parse_pdf

            return parse_pdf(data, filename)
        if kind == DOCX:
            from .docx import parse_docx

            return parse_docx(data, filename)
        if kind == HTML:
            from .html import parse_html

            return parse_html(data, filename)
        if kind == MARKDOWN:
            from .markdown import parse_markdown

            return parse_markdown(data, filename)
        from .text import parse_text

        return parse_text(data, filename)
    except DocumentError:
        raise
    except RecursionError:
        raise DocumentError(f"{label}: the document is nested too deeply to read") from None
    except Exception as exc:  # a third-party parser's own error on malformed input: reported, never a 500
        raise DocumentError(f"{label}: cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
