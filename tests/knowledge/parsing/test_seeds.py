"""The strategy texts of the demo (data/demo/knowledge/strategy/, copied from the shared seeds) come out with the
sections a search hit cites: export leftovers and running page headers gone, the strategy's chapters and
sub-sections found, and the passages newcomers look for inside the right section."""

from __future__ import annotations

from pathlib import Path

import pytest

from dhnet.knowledge.parsing import ParsedDocument, chunk_document, parse_document

STRATEGY = Path(__file__).resolve().parents[3] / "data" / "demo" / "knowledge" / "strategy"
STRATEGY_TEXT = "002_827a4a56ac09f06a.txt"


def parse(name: str) -> ParsedDocument:
    return parse_document((STRATEGY / name).read_bytes(), name)


def section_of(doc: ParsedDocument, phrase: str) -> str:
    """The heading path of the first chunk that contains ``phrase``."""
    for chunk in chunk_document(doc):
        if phrase in " ".join(chunk.text.split()).lower():
            return doc.sections[chunk.section_index].path_text
    raise AssertionError(f"{phrase!r} is in no chunk")


def test_five_seed_files_are_in_the_demo_data() -> None:
    assert len(sorted(STRATEGY.glob("*.txt"))) == 5


@pytest.mark.parametrize("name", sorted(p.name for p in STRATEGY.glob("*.txt")))
def test_every_seed_parses_without_export_leftovers(name: str) -> None:
    doc = parse(name)
    assert doc.sections
    for leftover in ("Document: ", "Section: ", "Tokens: ", "-" * 20):
        assert leftover not in doc.text
    chunks = chunk_document(doc)
    assert all(0 < c.tokens <= 254 for c in chunks)


def test_global_strategy_chapters() -> None:
    doc = parse(STRATEGY_TEXT)
    assert doc.title == "Global strategy on digital health 2020-2025"  # from its running page headers
    top = [s.path[0] for s in doc.sections if s.level == 1]
    for chapter in (
        "Introduction",
        "Vision",
        "Purpose",
        "Guiding Principles",
        "Strategic Objectives",
        "Framework for Action",
        "Implementation of the Strategy and Action Plan",
        "Monitoring and Evaluation",
        "Glossary",
        "Annex",
        "Strategic Objective 1: Promote Global Collaboration and Advance the Transfer of Knowledge on Digital Health",
        "Strategic Objective 2: Advance Implementation of National Digital Health Strategies",
    ):
        assert top.count(chapter) == 1, chapter  # once: its repeats at the top of annex pages are not new sections
    sub_sections = [s.path for s in doc.sections if s.path[0] == "Strategic Objectives"]
    for sub in (
        "Advance the implementation of national digital health strategies",
        "Strengthen governance for digital health at global, regional and national levels",  # over two lines
        "Advocate people-centred health systems that are enabled by digital health",
        "Policy options and actions",
        "Outputs",
    ):
        assert ("Strategic Objectives", sub) in sub_sections, sub
    assert not any(s.path[-1] in {"United Nations General", "World Health"} for s in doc.sections)  # footnotes
    assert "Global strategy on digital health 2020-2025  " not in doc.text  # running headers dropped


@pytest.mark.parametrize(
    ("phrase", "section"),
    [
        ("establish a knowledge management approach", "Strategic Objectives > Policy options and actions"),
        ("information centres for disease surveillance", "Strategic Objectives > Policy options and actions"),
        ("recommendations is developed for pseudonymization", "Strategic Objectives > Outputs"),
        ("people-centred health systems", "Strategic Objectives"),
    ],
)
def test_passages_land_in_their_sections(phrase: str, section: str) -> None:
    assert section_of(parse(STRATEGY_TEXT), phrase).startswith(section)


def test_strategic_objectives_excerpt_with_export_metadata() -> None:
    doc = parse("003_161a73d82743e40f.txt")
    assert doc.title == "Strategic Objectives"
    assert [s.path for s in doc.sections] == [
        ("Strategic Objectives",),
        ("Collaboration and knowledge transfer",),
        ("Collaboration and knowledge transfer", "Policy options and actions"),  # "20" glued to it is a page number
        ("Collaboration and knowledge transfer", "Outputs"),
        ("Collaboration and knowledge transfer", "Advance the implementation of national digital health strategies"),
    ]
    assert "22To strengthen" not in doc.text  # only in the dropped "Section:" line


def test_submission_and_round_table_and_web_page() -> None:
    submission = parse("000_0e6bb414dd0aa166.txt")
    assert submission.title == "Commission on Science and Technology for Development (CSTD)"  # bold, upper case
    assert submission.sections[0].path == (submission.title,)
    round_table = parse("001_e89e0f892ec212fc.txt")
    assert round_table.title == "WHO Digital Health Virtual Round Table with the Development Partners"
    assert "network of networks" in round_table.text
    page = parse("004_b27526ddcfe93f9d.txt")
    assert [s.path for s in page.sections][:3] == [("Digital health",), ("Key objectives",), ("Global Strategy",)]
