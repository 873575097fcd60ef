"""dhnet.knowledge.parsing is pure: importing it and parsing every format loads no Django, no database driver and
no network client, so the ingest service, the CLI and the benchmark can use it anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).with_name("fixtures")

SCRIPT = f"""
import sys
from pathlib import Path
from dhnet.knowledge.parsing import chunk_document, parse_document
fixtures = Path({str(FIXTURES)!r})
for name in ("strategy.pdf", "strategy.docx"):
    chunk_document(parse_document((fixtures / name).read_bytes(), name))
for name, data in (("a.html", b"<h1>A</h1><p>b</p>"), ("a.md", b"# A\\n\\nb"), ("a.txt", b"A\\n\\nb")):
    chunk_document(parse_document(data, name))
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {{"django", "ninja", "psycopg", "sqlite3", "requests",
    "httpx", "urllib3"}} or m.startswith("dhnet.platform") or m.startswith("dhnet.accounts"))
assert "pypdf" in sys.modules and "docx" in sys.modules  # the formats really were parsed
print("loaded:" + ",".join(loaded))
"""


def test_parsing_imports_no_django_or_database() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "loaded:"
