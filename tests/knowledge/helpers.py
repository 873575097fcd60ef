"""Documents of each format made in the test (no fixture files), and a malformed one of each, for the ingest tests."""

from __future__ import annotations

import io
import zlib


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A small valid PDF: one page per entry, each line drawn with Helvetica (a real text layer), with an xref."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = zlib.compress("\n".join(ops).encode("latin-1"))
        page_no = len(objects) + 1
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {page_no + 1} 0 R >>".encode()
        )
        objects.append(f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode() + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def docx_bytes(blocks: list[tuple[str, str]]) -> bytes:
    """A DOCX (python-docx) of ``(style, text)`` paragraphs, e.g. ``("Heading 1", "Governance")``."""
    import docx

    document = docx.Document()
    for style, text in blocks:
        document.add_paragraph(text, style=style)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = (
    b"<!doctype html><html><head><title>Surveillance guide</title><style>p{color:red}</style></head><body>"
    b"<h1>Surveillance guide</h1><p>How districts report.</p>"
    b"<h2>Information centres</h2><p>Information centres for disease surveillance support timely decisions.</p>"
    b"<h2>Privacy</h2><p>Pseudonymization of case data before exchange.</p></body></html>"
)

MARKDOWN = (
    b"# Lessons from the pilot\n\nWhat we learned.\n\n## Training\n\nTrain the district officers first.\n\n"
    b"## Financing\n\nBudget lines for maintenance were missing.\n"
)

TEXT = (
    b"Business case for telemedicine\n\n**Costs**\n\nThe initial investment covers devices and training.\n\n"
    b"**Benefits**\n\nFewer referrals to the regional hospital.\n"
)

DOCX_BLOCKS = [
    ("Title", "Evaluation of the mobile reporting tool"),
    ("Heading 1", "Method"),
    ("Normal", "Interviews with twelve district officers."),
    ("Heading 1", "Findings"),
    ("Heading 2", "Timeliness"),
    ("Normal", "Weekly reports arrived two days earlier on average."),
]

PDF_PAGES = [
    ["Guideline on data exchange", "", "Scope", "This guideline covers the exchange of health data."],
    ["Pseudonymization", "Identifiers are replaced before the data leave the district."],
]


def well_formed() -> list[tuple[str, bytes, str]]:
    """``(filename, bytes, a phrase its text contains)`` for each supported format."""
    return [
        ("guide.pdf", pdf_bytes(PDF_PAGES), "Identifiers are replaced"),
        ("evaluation.docx", docx_bytes(DOCX_BLOCKS), "two days earlier"),
        ("guide.html", HTML, "support timely decisions"),
        ("lessons.md", MARKDOWN, "district officers first"),
        ("business-case.txt", TEXT, "Fewer referrals"),
    ]


def malformed() -> list[tuple[str, bytes, str]]:
    """``(filename, bytes, a word the refusal names)`` for each supported format."""
    pdf = pdf_bytes(PDF_PAGES)
    return [
        ("broken.pdf", pdf[: len(pdf) // 2], "PDF"),
        ("broken.docx", b"this is not a zip archive at all", "DOCX"),
        ("empty.html", b"<html><head><script>var x = 1;</script></head><body>   </body></html>", "HTML"),
        ("junk.md", bytes(range(256)) * 8, "Markdown"),
        ("latin1.txt", "Café au lait, résumé, naïve".encode("latin-1"), "UTF-8"),
    ]
