"""Arbitrary bytes under any name never make parse_document raise anything but DocumentError (a 4xx for the
uploader, never a 500), including bytes that start like a PDF, a ZIP or an HTML page, and damaged real files."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.knowledge.parsing import DocumentError, ParsedDocument, chunk_document, parse_document

FIXTURES = Path(__file__).with_name("fixtures")
NAMES = ["x.pdf", "x.docx", "x.html", "x.md", "x.txt", "x", "x.bin", "x.PDF"]
PREFIXES = [b"", b"%PDF-1.7\n", b"PK\x03\x04", b"<!DOCTYPE html><html>", b"\xef\xbb\xbf", b"\xff\xfe", b"# "]
GOOD = [(FIXTURES / n).read_bytes() for n in ("strategy.pdf", "strategy_fonts.pdf", "strategy.docx")]


def parse_or_refuse(data: bytes, name: str) -> None:
    try:
        doc = parse_document(data, name)
    except DocumentError as exc:
        reason = str(exc)
    else:
        assert isinstance(doc, ParsedDocument)
        assert all(c.tokens <= 254 for c in chunk_document(doc))
        return
    assert reason  # a refusal always says why


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(PREFIXES), data=st.binary(max_size=2048), name=st.sampled_from(NAMES))
def test_arbitrary_bytes_raise_only_document_error(prefix: bytes, data: bytes, name: str) -> None:
    parse_or_refuse(prefix + data, name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, len(GOOD) - 1),
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
def test_damaged_real_files_raise_only_document_error(which: int, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(GOOD[which])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    if cut < 0.5:  # half of the cases truncated too
        data = data[: max(1, int(len(data) * cut * 2))]
    for name in ("x.pdf", "x.docx", "damaged"):
        parse_or_refuse(bytes(data), name)
