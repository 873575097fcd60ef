"""Chunking: at most max_tokens - 2 WordPiece tokens per chunk, never across sections, breaks at paragraphs then
sentences then words, 32 tokens of overlap, and offsets that point back into the document text — asserted on
examples and as properties over generated documents."""

from __future__ import annotations

import bisect
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhnet.knowledge.parsing import ParsedDocument, chunk_document, count_tokens, parse_document
from dhnet.knowledge.parsing.chunking import chunk_section


def test_count_tokens_uses_the_minilm_wordpiece_vocabulary() -> None:
    assert count_tokens("") == 0
    assert count_tokens("surveillance") == 1
    assert count_tokens("Pseudonymization") == 2  # the model's own WordPiece split: "pseudonym", "##ization"
    assert count_tokens("disease surveillance, 2020.") == 5


def sentences(n: int, start: int = 0) -> str:
    return " ".join(f"Sentence number {i} talks about digital health surveillance." for i in range(start, start + n))


def test_short_section_is_one_chunk_and_heading_is_kept() -> None:
    doc = parse_document(b"# Title\n\nA short body.", "x.md")
    chunks = chunk_document(doc)
    assert [(c.text, c.section_index, c.page) for c in chunks] == [("Title\n\nA short body.", 0, 1)]
    assert chunks[0].tokens == count_tokens(chunks[0].text)


def test_long_paragraphs_break_at_paragraphs_then_sentences_with_overlap() -> None:
    text = "\n\n".join(sentences(12, start=12 * k) for k in range(6))
    chunks = chunk_section(text)
    assert len(chunks) >= 3
    for start, end, tokens in chunks:
        assert tokens <= 254
        piece = text[start:end]
        assert piece.endswith(".")  # a paragraph or a sentence end, never inside a sentence
        assert start == 0 or text[start - 1].isspace()  # starts at a word after the overlap was snapped
    for (_, e1, _), (s2, _, _) in itertools.pairwise(chunks):
        assert s2 < e1  # overlap with the previous chunk
        overlap = count_tokens(text[s2:e1])
        assert 1 <= overlap <= 32
    paragraph_ends = [i for i in range(len(text)) if text.startswith(".\n\n", i)]
    assert any(e - 1 in paragraph_ends for _, e, _ in chunks[:-1])  # some chunk ends where a paragraph ends


def test_one_enormous_word_is_cut_at_token_boundaries() -> None:
    text = "x1." * 2000  # no white space anywhere: 6,000 tokens
    chunks = chunk_section(text, max_tokens=64, overlap_tokens=8)
    assert len(chunks) > 1
    assert all(t <= 62 for _, _, t in chunks)
    assert chunks[0][0] == 0
    assert chunks[-1][1] == len(text)


def test_max_tokens_below_the_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="max_tokens must be at least 10"):
        chunk_section("text", max_tokens=4)


def test_chunks_never_cross_sections() -> None:
    body = "\n\n".join(f"## Part {i}\n\n{sentences(40, 40 * i)}" for i in range(4))
    doc = parse_document(f"# Report\n\n{body}".encode(), "r.md")
    chunks = chunk_document(doc, max_tokens=128, overlap_tokens=16)
    for c in chunks:
        section = doc.sections[c.section_index]
        assert section.start <= c.start < c.end <= section.end
        assert c.tokens <= 126
    assert {c.section_index for c in chunks} == set(range(len(doc.sections)))


def check_document(doc: ParsedDocument, max_tokens: int, overlap: int) -> None:
    """The chunk invariants: inside their section, text equal to the document slice, token counts exact and within
    budget, ordered, the page of their start, and every non-space character of every section covered."""
    chunks = chunk_document(doc, max_tokens=max_tokens, overlap_tokens=overlap)
    covered = [False] * len(doc.text)
    last: tuple[int, int] = (-1, -1)
    for c in chunks:
        section = doc.sections[c.section_index]
        assert section.start <= c.start < c.end <= section.end
        assert c.text == doc.text[c.start : c.end]
        assert c.text == c.text.strip()
        assert c.tokens == count_tokens(c.text) <= max_tokens - 2
        assert c.page == doc.page_at(c.start)
        assert (c.section_index, c.start) > last
        last = (c.section_index, c.start)
        for i in range(c.start, c.end):
            covered[i] = True
    missing = [i for i, ch in enumerate(doc.text) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered characters at {missing[:5]}: {doc.text[missing[0] : missing[0] + 20]!r}"


words = st.sampled_from(
    ["health", "data", "surveillance", "pseudonymization", "WHO", "2020", "e.g.", "(CDHI)", "naïve", "—", "x" * 40,
     "Strategic", "objective", "café", "数据", "🙂", "end.", "why?", "list;", "a-b/c"]
)  # fmt: skip
lines = st.lists(words, min_size=0, max_size=25).map(" ".join)
headings = st.sampled_from(["# Intro", "## Objectives", "### Deep", "OVERVIEW", "**Bold part**", "1.2 Data use"])
blocks = st.one_of(lines, headings, st.just(""), st.just("\f"))
documents = st.lists(blocks, min_size=1, max_size=60).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=documents, max_tokens=st.integers(10, 300), overlap=st.integers(0, 64))
def test_chunk_properties_on_generated_text(text: str, max_tokens: int, overlap: int) -> None:
    if not text.strip():
        return
    doc = parse_document(text.encode(), "generated.txt")
    check_document(doc, max_tokens, overlap)
    starts = [s.start for s in doc.sections]
    assert starts == sorted(starts)
    assert bisect.bisect_right(starts, 0) == 1


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=1, max_size=3000), max_tokens=st.integers(10, 120), overlap=st.integers(0, 40))
def test_chunk_section_covers_any_text(text: str, max_tokens: int, overlap: int) -> None:
    chunks = chunk_section(text, max_tokens=max_tokens, overlap_tokens=overlap)
    covered = [False] * len(text)
    for start, end, tokens in chunks:
        assert 0 <= start < end <= len(text)
        assert tokens == count_tokens(text[start:end]) <= max_tokens - 2
        for i in range(start, end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())  # every character but white space


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=400), min_size=1, max_size=6))
def test_markdown_and_html_documents_keep_invariants(parts: list[str]) -> None:
    markdown = "\n\n".join(f"## {p[:30]}\n\n{p}" for p in parts)
    for data, name in ((markdown.encode(), "g.md"), (markdown.encode(), "g.html")):
        try:
            doc = parse_document(data, name)
        except ValueError as exc:  # a DocumentError: only "no text" is possible for valid UTF-8
            reason = str(exc)
        else:
            check_document(doc, 256, 32)
            continue
        assert "contains no text" in reason or "binary content" in reason
