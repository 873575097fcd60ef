"""Malformed input of every format is refused with a DocumentError whose reason names the format and the problem;
nothing else ever escapes parse_document."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from dhnet.knowledge.parsing import DocumentError, parse_document

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("truncated.pdf", "PDF: file is truncated (no %%EOF)"),
        ("encrypted.pdf", "PDF: the file is encrypted and needs a password"),
        ("scanned.pdf", "PDF: no text layer in 2 page(s)"),
        ("corrupt.docx", "DOCX: corrupt ZIP archive"),
        ("notword.docx", "DOCX: not a Word document (word/document.xml is missing"),
        ("notext.html", "HTML: the document contains no text"),
        ("junk.txt", "text: binary content, not text (NUL byte at byte 100)"),
        ("junk.md", "Markdown: binary content, not text (NUL byte at byte 100)"),
        ("latin1.txt", "text: not UTF-8 at byte 13"),
    ],
)
def test_malformed_fixture_of_each_format(name: str, reason: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse_document((FIXTURES / name).read_bytes(), name)
    assert str(info.value).startswith(reason)


@pytest.mark.parametrize(
    ("data", "filename", "media_type", "reason"),
    [
        (b"", "empty.txt", None, "empty.txt: empty file"),
        (b"x" * 101, "big.txt", None, "big.txt: too large (101 bytes; the limit is 100 bytes)"),
        (b"not a zip", "report.docx", None, "DOCX: not a ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "locked.docx", None, "DOCX: the file is encrypted"),
        (b"%PDF-1.7\nnonsense\n%%EOF\n", "broken.pdf", None, "PDF: cannot be read"),
        (b"PK\x03\x04garbage", "sheet.xlsx", None, "unsupported document type '.xlsx'"),
        (b"\x89PNG\r\n\x1a\n", "image.png", None, "unsupported document type '.png'"),
        (b"hello", "noextension", None, "unrecognised document type"),
        (b"hello", "x.txt", "application/vnd.ms-excel", "unsupported document type 'application/vnd.ms-excel'"),
        (b"   \n\n\t  \n", "blank.txt", None, "text: the document contains no text"),
        (b"<html><body>   </body></html>", "blank.html", None, "HTML: the document contains no text"),
        ("ok then \udcff".encode("utf-8", "surrogateescape"), "bad.md", None, "Markdown: not UTF-8 at byte 8"),
        (b"\xef\xbb\xbfabc\xff", "bom.txt", None, "text: not UTF-8 at byte 6"),
        (b"\xff\xfeA\x00\x00\xd8", "odd.txt", None, "text: not valid UTF-16 at byte"),
        (b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 20, "ctl.txt", None, "text: binary content, not text"),
        (b'<meta charset="latin-9x"><p>\xe9</p>', "x.html", None, "HTML: unknown character set 'latin-9x'"),
    ],
)
def test_refusals_name_the_problem(data: bytes, filename: str, media_type: str | None, reason: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse_document(data, filename, media_type, max_bytes=100 if filename == "big.txt" else 50 * 1024 * 1024)
    assert str(info.value).startswith(reason), str(info.value)


def test_default_size_limit_is_50_megabytes() -> None:
    with pytest.raises(DocumentError, match=r"too large \(52,428,801 bytes; the limit is 52,428,800 bytes\)"):
        parse_document(b" " * (50 * 1024 * 1024 + 1), "huge.txt")


def test_html_in_a_declared_charset() -> None:
    doc = parse_document(
        b'<html><head><meta charset="iso-8859-1"></head><body><h1>\xc9pid\xe9mie</h1><p>x</p>', "x.html"
    )
    assert doc.sections[0].path == ("Épidémie",)


def test_document_error_is_a_value_error() -> None:
    assert issubclass(DocumentError, ValueError)
    with pytest.raises(TypeError):
        parse_document("text, not bytes", "x.txt")  # type: ignore[arg-type]


def test_docx_zip_bomb_is_refused_before_it_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    from dhnet.knowledge.parsing import docx as docx_format

    monkeypatch.setattr(docx_format, "MAX_EXPANDED_BYTES", 1024 * 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"<" + b" " * (2 * 1024 * 1024))
    with pytest.raises(DocumentError, match=r"DOCX: the archive expands to 2,097,153 bytes \(more than 1,048,576"):
        parse_document(buffer.getvalue(), "bomb.docx")
