"""Demo data of the knowledge repository: the strategy texts of ``data/demo/knowledge/strategy/`` ingested and
published, each with a title, a kind and its strategic-objective tags, so that a newcomer can search
"pseudonymization" or "information centres for disease surveillance" and land on the right sections.

The texts are WHO documents (CC BY-NC-SA 3.0 IGO), copied from the project's shared seeds. Idempotent: a file
stored before (the same bytes) is not stored again.
"""

from __future__ import annotations

from pathlib import Path

from dhnet.knowledge import services
from dhnet.platform.access import Actor

STRATEGY_DIR = Path(__file__).resolve().parents[3] / "data" / "demo" / "knowledge" / "strategy"
LICENCE = "CC-BY-NC-SA-3.0-IGO"

#: file name -> (title, kind, tags)
DOCUMENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "000_0e6bb414dd0aa166.txt": (
        "WHO submission to the CSTD on implementing the WSIS outcomes (2021)",
        "lesson_learned",
        ("so:1", "so:3"),
    ),
    "001_e89e0f892ec212fc.txt": (
        "WHO Digital Health Virtual Round Table with the Development Partners",
        "lesson_learned",
        ("so:1", "so:2"),
    ),
    "002_827a4a56ac09f06a.txt": (
        "Global strategy on digital health 2020-2025",
        "guideline",
        ("so:1", "so:2", "so:3", "so:4"),
    ),
    "003_161a73d82743e40f.txt": (
        "Global strategy on digital health: the strategic objectives",
        "guideline",
        ("so:1", "so:2", "so:3", "so:4"),
    ),
    "004_b27526ddcfe93f9d.txt": (
        "Digital health: WHO's key objectives and the global strategy",
        "good_practice",
        ("so:1", "so:4"),
    ),
}


def load_demo(actor: Actor, directory: Path = STRATEGY_DIR) -> str:
    """Ingest and publish the strategy texts (as ``actor``, an operator); a one-line summary of what was stored."""
    files = sorted(directory.glob("*.txt"))
    if not files:
        return f"knowledge: no strategy texts in {directory}"
    stored = chunks = 0
    for path in files:
        title, kind, tags = DOCUMENTS.get(path.name, (None, "guideline", ()))
        done = services.ingest_files(actor, [path], title=title, tags=tags, kind=kind, licence=LICENCE)[0]
        if done.created:
            stored += 1
            chunks += done.document.chunks.count()
    already = len(files) - stored
    return f"knowledge: {stored} strategy text(s) published ({chunks} chunks), {already} already there"
