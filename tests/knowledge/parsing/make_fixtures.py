"""Writes the committed fixture files (run by hand: ``.venv/bin/python -m tests.knowledge.parsing.make_fixtures``).

``strategy.docx`` is written with python-docx, the PDFs with pypdf (``pdfgen``) — LibreOffice, which the brief
expected for converting the DOCX, is not installed on this machine. The well-formed files share one structure (the
tests assert its section paths and pages); the malformed ones are derived from them.
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import docx
from pypdf import PdfWriter

from tests.knowledge.parsing.pdfgen import body, make_pdf

FIXTURES = Path(__file__).with_name("fixtures")

PARAGRAPHS = {
    "Introduction": "Digital health can accelerate progress towards universal health coverage. " * 3,
    "Collaboration and knowledge transfer": (
        "Establish a knowledge management approach to identify and share good practices and lessons learned. " * 3
    ),
    "Information centres": "Support countries in establishing information centres for disease surveillance. " * 3,
    "Governance": "Strengthen governance for digital health at global, regional and national levels. " * 3,
}


def write_docx(path: Path) -> None:
    """A DOCX with a Title, Heading 1/2 paragraphs, body text and a table."""
    document = docx.Document()
    document.core_properties.title = ""
    document.add_paragraph("Global strategy on digital health", style="Title")
    document.add_paragraph("Text before the first heading belongs to the root section.")
    document.add_heading("Introduction", level=1)
    document.add_paragraph(PARAGRAPHS["Introduction"])
    document.add_heading("Strategic objectives", level=1)
    document.add_heading("Collaboration and knowledge transfer", level=2)
    document.add_paragraph(PARAGRAPHS["Collaboration and knowledge transfer"])
    document.add_heading("Information centres", level=3)
    document.add_paragraph(PARAGRAPHS["Information centres"])
    document.add_page_break()
    document.add_heading("Governance", level=2)
    document.add_paragraph(PARAGRAPHS["Governance"])
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Objective"
    table.cell(0, 1).text = "Output"
    table.cell(1, 0).text = "Governance"
    table.cell(1, 1).text = "A national digital health strategy"
    document.save(str(path))


def write_pdfs() -> None:
    """``strategy.pdf`` with an outline, ``strategy_fonts.pdf`` without (headings by font size and bold)."""
    pages = [
        [("Global strategy on digital health", 20, False), body("Text before the first heading.")],
        [
            ("Introduction", 16, False),
            *[body(line) for line in _wrap(PARAGRAPHS["Introduction"])],
            ("Strategic objectives", 16, False),
            ("Collaboration and knowledge transfer", 11, True),
            *[body(line) for line in _wrap(PARAGRAPHS["Collaboration and knowledge transfer"])],
        ],
        [
            ("Information centres", 11, True),
            *[body(line) for line in _wrap(PARAGRAPHS["Information centres"])],
            ("Governance", 16, False),
            *[body(line) for line in _wrap(PARAGRAPHS["Governance"])],
        ],
    ]
    outline = [
        ("Introduction", 1, 1),
        ("Strategic objectives", 1, 1),
        ("Collaboration and knowledge transfer", 1, 2),
        ("Information centres", 2, 3),
        ("Governance", 2, 1),
    ]
    (FIXTURES / "strategy.pdf").write_bytes(make_pdf(pages, outline=outline, title="Global strategy on digital health"))
    (FIXTURES / "strategy_fonts.pdf").write_bytes(make_pdf(pages))


def _wrap(text: str, width: int = 80) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return [*lines, current] if current else lines


def write_malformed() -> None:
    """One malformed file per format (and the ways a PDF or DOCX goes wrong)."""
    good_pdf = (FIXTURES / "strategy.pdf").read_bytes()
    (FIXTURES / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 2])
    writer = PdfWriter(clone_from=io.BytesIO(good_pdf))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    (FIXTURES / "encrypted.pdf").write_bytes(out.getvalue())
    (FIXTURES / "scanned.pdf").write_bytes(make_pdf([[], []]))
    good_docx = (FIXTURES / "strategy.docx").read_bytes()
    (FIXTURES / "corrupt.docx").write_bytes(good_docx[: len(good_docx) // 2])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    (FIXTURES / "notword.docx").write_bytes(buffer.getvalue())
    (FIXTURES / "notext.html").write_bytes(
        b"<html><head><title>Empty</title><style>p {color: red}</style></head>"
        b"<body><script>document.write('x')</script><nav>Home | About</nav><div>   </div></body></html>"
    )
    junk = random.Random(5).randbytes(2048)
    (FIXTURES / "junk.txt").write_bytes(junk)
    (FIXTURES / "junk.md").write_bytes(junk)
    (FIXTURES / "latin1.txt").write_bytes("Surveillance épidémiologique des maladies\n".encode("latin-1"))


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    write_docx(FIXTURES / "strategy.docx")
    write_pdfs()
    write_malformed()


if __name__ == "__main__":
    main()
