"""Benchmark: document parsing + chunking throughput of ``dhnet.knowledge.parsing`` in pages/s.

Two corpora, each parsed (``parse_document``) and chunked (``chunk_document``: 256-token windows, 32 tokens of
overlap, MiniLM WordPiece counts) in this process, one document after another, best of ``--repeat`` runs:

* the five strategy texts of the demo (``data/demo/knowledge/strategy/*.txt``). Plain text has no pages, so its
  pages are counted as 3,000 characters each (about a printed page of the strategy PDF);
* a generated PDF of ``--pages`` pages (default 200; pypdf-written Helvetica text, 45 lines a page, a heading of a
  larger size every fifth page and a bold one on the others, no outline — so the font-size heading detection runs).

Both wall and CPU time are reported: on a loaded machine the CPU time says what the code costs. Prints one Markdown
section for bench/RESULTS.md (progress to stderr). Run::

    .venv/bin/python bench/bench_knowledge_parse.py [--pages 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.knowledge.parsing.pdfgen: the PDF writer the tests use
sys.path.insert(0, str(ROOT / "src"))

from tests.knowledge.parsing.pdfgen import Line, body, make_pdf  # noqa: E402

from dhnet.knowledge.parsing import chunk_document, parse_document  # noqa: E402

CHARS_PER_PAGE = 3000
WORDS = [
    "digital",
    "health",
    "strategy",
    "surveillance",
    "information",
    "centres",
    "disease",
    "countries",
    "stakeholders",
    "knowledge",
    "transfer",
    "governance",
    "interoperability",
    "standards",
    "data",
    "privacy",
    "pseudonymization",
    "evidence",
    "implementation",
    "national",
    "global",
    "regional",
    "capacity",
    "workforce",
    "investment",
    "community",
    "practice",
    "network",
    "partners",
    "innovation",
    "assessment",
]


def generated_pdf(pages: int) -> bytes:
    """A ``pages``-page PDF of pseudo-random sentences with headings."""
    rng = random.Random(2020)
    out: list[list[Line]] = []
    for p in range(pages):
        lines: list[Line] = []
        if p % 5 == 0:
            lines.append((f"Chapter {p // 5 + 1}: {' '.join(rng.sample(WORDS, 3)).title()}", 16, False))
        else:
            lines.append((f"Section {p + 1} {' '.join(rng.sample(WORDS, 2))}", 11, True))
        for _ in range(44):
            words = [rng.choice(WORDS) for _ in range(rng.randint(9, 13))]
            text = " ".join(words).capitalize() + ("." if rng.random() < 0.4 else "")
            lines.append(body(text))
        out.append(lines)
    return make_pdf(out)


def run(documents: list[tuple[str, bytes]], repeat: int) -> tuple[float, float, int, int, int]:
    """Best wall time and best CPU time over ``repeat`` runs, and the documents' pages, chunks and tokens."""
    best = best_cpu = float("inf")
    pages = chunks = tokens = 0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        pages = chunks = tokens = 0
        for name, data in documents:
            doc = parse_document(data, name)
            parts = chunk_document(doc)
            pages += doc.pages if doc.media_type == "application/pdf" else max(1, round(len(doc.text) / CHARS_PER_PAGE))
            chunks += len(parts)
            tokens += sum(c.tokens for c in parts)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, pages, chunks, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    seeds = [(p.name, p.read_bytes()) for p in sorted((ROOT / "data/demo/knowledge/strategy").glob("*.txt"))]
    print(f"generating a {args.pages}-page PDF…", file=sys.stderr)
    pdf = generated_pdf(args.pages)
    parse_document(b"warm up the tokenizer", "w.txt")

    rows = []
    for label, docs in (
        (f"strategy texts ({len(seeds)} files, {sum(len(d) for _, d in seeds) / 1024:.0f} KiB)", seeds),
        (f"generated PDF ({args.pages} pages, {len(pdf) / 1024:.0f} KiB)", [("generated.pdf", pdf)]),
    ):
        print(f"{label}…", file=sys.stderr)
        seconds, cpu, pages, chunks, tokens = run(docs, args.repeat)
        rows.append((label, pages, chunks, tokens, seconds, cpu))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("## Knowledge: document parsing + chunking\n")
    print(
        f"`.venv/bin/python bench/bench_knowledge_parse.py --pages {args.pages} --repeat {args.repeat}` — "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}, "
        f"Python {platform.python_version()}; one process, best of {args.repeat}. Parse (`parse_document`) and "
        "chunk (`chunk_document`, ≤ 256 MiniLM WordPiece tokens, 32 overlap); plain-text pages counted as "
        f"{CHARS_PER_PAGE:,} characters.\n"
    )
    print("| corpus | pages | chunks | tokens | wall s | CPU s | pages/s (wall) | pages/CPU s | chunks/s (wall) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, pages, chunks, tokens, seconds, cpu in rows:
        print(
            f"| {label} | {pages:,} | {chunks:,} | {tokens:,} | {seconds:.2f} | {cpu:.2f} | {pages / seconds:,.0f} "
            f"| {pages / cpu:,.0f} | {chunks / seconds:,.0f} |"
        )


if __name__ == "__main__":
    main()
