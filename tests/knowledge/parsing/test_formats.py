"""Each format parses into the same kind of section tree: heading paths, levels, pages, a root section for text
before the first heading, and offsets that point into the document text."""

from __future__ import annotations

from pathlib import Path

import pytest

from dhnet.knowledge.parsing import ParsedDocument, chunk_document, parse_document
from dhnet.knowledge.parsing.sniff import DOCX, HTML, MARKDOWN, PDF, TEXT
from tests.knowledge.parsing.pdfgen import body, make_pdf

FIXTURES = Path(__file__).with_name("fixtures")
TITLE = "Global strategy on digital health"
COLLAB = ("Strategic objectives", "Collaboration and knowledge transfer")


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def paths(doc: ParsedDocument) -> list[tuple[str, ...]]:
    return [s.path for s in doc.sections]


def assert_consistent(doc: ParsedDocument) -> None:
    """Sections are contiguous, in order, cover the text, and start at their heading."""
    assert doc.sections[0].start == 0
    assert doc.sections[-1].end == len(doc.text)
    for a, b in zip(doc.sections, doc.sections[1:], strict=False):
        assert a.end == b.start
    for s in doc.sections:
        assert s.level == len(s.path) or (s.level == 0 and s.path == (doc.title,))
        if s.level:
            assert doc.text[s.start :].startswith(s.heading)
            assert s.heading == s.path[-1]


def test_docx_headings_title_and_table() -> None:
    doc = parse_document(read("strategy.docx"), "strategy.docx")
    assert doc.media_type == DOCX
    assert doc.title == TITLE  # from the Title style: it is the title, not a section
    assert paths(doc) == [
        (TITLE,),
        ("Introduction",),
        ("Strategic objectives",),
        COLLAB,
        (*COLLAB, "Information centres"),
        ("Strategic objectives", "Governance"),
    ]
    assert "Text before the first heading" in doc.text[: doc.sections[1].start]
    assert doc.pages == 2  # the explicit page break before "Governance"
    assert [s.page for s in doc.sections] == [1, 1, 1, 1, 1, 2]
    governance = doc.text[doc.sections[-1].start : doc.sections[-1].end]
    assert "Governance | A national digital health strategy" in governance  # the table, row by row
    assert_consistent(doc)


def test_pdf_outline_gives_sections_and_pages() -> None:
    doc = parse_document(read("strategy.pdf"), "strategy.pdf")
    assert (doc.media_type, doc.pages, doc.title) == (PDF, 3, TITLE)
    assert [(s.path, s.page) for s in doc.sections] == [
        ((TITLE,), 1),
        (("Introduction",), 2),
        (("Strategic objectives",), 2),
        (COLLAB, 2),
        ((*COLLAB, "Information centres"), 3),
        (("Governance",), 3),
    ]
    assert_consistent(doc)
    chunks = chunk_document(doc)
    by_section = {doc.sections[c.section_index].path: c.page for c in chunks}
    assert by_section[(*COLLAB, "Information centres")] == 3
    assert by_section[("Introduction",)] == 2
    # the heading text found on the page is not repeated as body text
    assert doc.text.count("Information centres\n") == 1


def test_pdf_without_outline_uses_font_sizes_and_bold() -> None:
    doc = parse_document(read("strategy_fonts.pdf"), "strategy_fonts.pdf")
    assert doc.pages == 3
    assert [(s.path[1:], s.page) for s in doc.sections] == [
        ((), 1),
        (("Introduction",), 2),
        (("Strategic objectives",), 2),
        (COLLAB, 2),  # bold at body size: one level below the smallest larger size
        (("Strategic objectives", "Information centres"), 3),
        (("Governance",), 3),
    ]
    assert doc.sections[0].path == (TITLE,)  # the 20 pt line is the top heading
    assert_consistent(doc)


def test_pdf_page_of_each_chunk_follows_page_starts() -> None:
    doc = parse_document(read("strategy_fonts.pdf"), "x.pdf")
    assert len(doc.page_starts) == 3
    for chunk in chunk_document(doc):
        assert doc.page_starts[chunk.page - 1] <= chunk.start
        if chunk.page < doc.pages:
            assert chunk.start < doc.page_starts[chunk.page]


HTML_DOC = b"""<!DOCTYPE html><html><head><title>Digital health | WHO</title>
<style>h1 { color: red }</style><script>var h2 = "<h2>not a heading</h2>";</script></head>
<body><nav><a href="/">Home</a> <h2>Menu</h2></nav>
<p>Lead paragraph &amp; more.</p>
<h1>Strategy</h1><p>Intro <b>bold</b> text.</p>
<h2>Objectives</h2><ul><li>One</li><li>Two</li></ul>
<h3>Collaboration</h3><pre>line 1
    indented line 2</pre>
<h2>Governance</h2><table><tr><td>a</td><td>b</td></tr></table>
</body></html>"""


def test_html_headings_and_dropped_elements() -> None:
    doc = parse_document(HTML_DOC, "page.html")
    assert (doc.media_type, doc.title) == (HTML, "Digital health | WHO")
    assert paths(doc) == [
        ("Digital health | WHO",),
        ("Strategy",),
        ("Strategy", "Objectives"),
        ("Strategy", "Objectives", "Collaboration"),
        ("Strategy", "Governance"),
    ]
    for dropped in ("Home", "Menu", "color: red", "not a heading", "var h2"):
        assert dropped not in doc.text
    assert "Lead paragraph & more." in doc.text
    assert "line 1\n    indented line 2" in doc.text  # pre keeps its lines
    assert_consistent(doc)


MARKDOWN_DOC = b"""Preface before any heading.

# Strategy

Intro text.

Objectives
----------

- one
- two

```python
def keep():
    return "code # not a heading"
```

### Deep

Setext Top
==========

Tail.
"""


def test_markdown_atx_setext_and_code() -> None:
    doc = parse_document(MARKDOWN_DOC, "notes.md")
    assert doc.media_type == MARKDOWN
    assert paths(doc) == [
        ("notes",),
        ("Strategy",),
        ("Strategy", "Objectives"),
        ("Strategy", "Objectives", "Deep"),
        ("Setext Top",),
    ]
    assert 'def keep():\n    return "code # not a heading"' in doc.text
    assert_consistent(doc)


TEXT_DOC = b"""Document: Old_Export
Section: Strategy > Something
Tokens: 512
--------------------------------------------------------------------------------

# Digital health notes

Intro paragraph.

INTRODUCTION

Body of the introduction. It goes on.

1.2 Data governance
Governance text.

**Bold heading**

Text under bold.

Policy options and actions
The following options are proposed:
- one;
- two.
"""


def test_plain_text_heuristics_and_export_metadata_dropped() -> None:
    doc = parse_document(TEXT_DOC, "notes.txt")
    assert doc.media_type == TEXT
    assert doc.title == "Digital health notes"
    assert paths(doc) == [
        ("Digital health notes",),
        ("Introduction",),
        ("Introduction", "1.2 Data governance"),
        ("Bold heading",),
        ("Bold heading", "Policy options and actions"),
    ]
    for leftover in ("Document:", "Section:", "Tokens:", "-----"):
        assert leftover not in doc.text
    assert_consistent(doc)


def test_plain_text_form_feeds_are_pages() -> None:
    doc = parse_document(b"First page text.\f\nSECOND PAGE\n\nMore text.\fThird.", "p.txt")
    assert doc.pages == 3
    assert [(s.path, s.page) for s in doc.sections] == [(("p",), 1), (("Second Page",), 2)]
    chunks = chunk_document(doc)
    assert [c.page for c in chunks] == [1, 2]  # the third page's text is in the "Second Page" section's chunk
    assert doc.page_at(doc.text.index("Third.")) == 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Plain ünïcode text.".encode("utf-8-sig"), "Plain ünïcode text."),
        ("UTF-16 text, little-endian.".encode("utf-16"), "UTF-16 text, little-endian."),
        (b"\xfe\xff" + "UTF-16 big-endian.".encode("utf-16-be"), "UTF-16 big-endian."),
        (b"Windows\r\nline\r\nends.", "Windows\nline\nends."),
    ],
)
def test_text_encodings(data: bytes, expected: str) -> None:
    assert parse_document(data, "t.txt").text == expected


@pytest.mark.parametrize(
    ("filename", "media_type", "data", "expected"),
    [
        ("noext", None, (FIXTURES / "strategy.pdf").read_bytes(), PDF),
        ("upload.bin", None, (FIXTURES / "strategy.docx").read_bytes(), DOCX),
        ("page", None, HTML_DOC, HTML),
        ("x.txt", "text/markdown; charset=utf-8", MARKDOWN_DOC, MARKDOWN),
        ("x", "application/xhtml+xml", HTML_DOC, HTML),
        ("REPORT.PDF", None, (FIXTURES / "strategy.pdf").read_bytes(), PDF),
    ],
)
def test_media_type_from_type_extension_or_magic(
    filename: str, media_type: str | None, data: bytes, expected: str
) -> None:
    assert parse_document(data, filename, media_type).media_type == expected


ORDINALS = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth"]


def test_pdf_running_headers_footers_and_page_numbers_are_dropped() -> None:
    pages = [
        [
            ("Global strategy on digital health 2020-2025", 9, False),
            *([("Heading " + str(n), 16, False)] if n % 2 else []),
            body(f"Body text of the {ORDINALS[n]} page, which is about surveillance."),
            body("More body text."),
            (f"Page {n} of 6", 9, False),
            (str(n), 9, False),
        ]
        for n in range(1, 7)
    ]
    doc = parse_document(make_pdf(pages), "running.pdf")
    assert "Global strategy on digital health 2020-2025" not in doc.text
    assert "Page 3 of 6" not in doc.text
    assert "\n3\n" not in doc.text
    assert not doc.text.endswith("6")
    assert [s.path for s in doc.sections] == [("Heading 1",), ("Heading 3",), ("Heading 5",)]
    assert [doc.page_at(doc.text.index(f"the {ORDINALS[n]} page")) for n in range(1, 7)] == [1, 2, 3, 4, 5, 6]
    assert doc.text.count("More body text.") == 6
