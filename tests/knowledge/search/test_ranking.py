"""The pure parts of search: query words, the FTS5/tsquery expressions, rank fusion, highlighting, links."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from dhnet.knowledge.search import (
    convex_fusion,
    document_url,
    fts5_query,
    highlight,
    query_terms,
    reciprocal_rank_fusion,
    stem,
    tsquery,
)


def test_query_terms_drop_stop_words_and_repeats() -> None:
    assert query_terms("Who pays for digital health? Digital!") == ["pays", "digital", "health"]
    assert query_terms("who are we") == ["who", "are", "we"]  # only stop words: kept, so something is found
    assert query_terms("  ") == []


def test_fts5_query_quotes_every_term() -> None:
    assert fts5_query(["pseudonymization", 'a"b']) == '"pseudonymization" OR "a""b"'


def test_tsquery_keeps_letters_and_digits_only() -> None:
    assert tsquery(["health", "a&b", "c:*", "!"]) == "health | ab | c"


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4]], k=60)
    scores = dict(fused)
    assert scores[3] == 1 / 63 + 1 / 61
    assert scores[1] == 1 / 61
    assert [pk for pk, _ in fused] == [3, 1, 2, 4]  # 3 is in both lists; 2 and 4 tie: first seen first


def test_rrf_ties_keep_first_appearance() -> None:
    assert [pk for pk, _ in reciprocal_rank_fusion([[7], [8]])] == [7, 8]


def test_convex_fusion_keeps_a_clear_fulltext_winner_first() -> None:
    # BM25 puts chunk 1 far ahead (a rare word only it contains); the embedding prefers 2 and 3 by a little.
    fulltext = [(1, 9.0), (2, 1.2), (3, 1.0)]
    semantic = [(2, 0.61), (3, 0.60), (1, 0.55), (4, 0.40)]
    fused = convex_fusion(fulltext, semantic, 0.5)
    assert [pk for pk, _ in fused] == [1, 2, 3, 4]
    scores = dict(fused)
    assert scores[1] == 0.5 * 1.0 + 0.5 * (0.55 - 0.40) / (0.61 - 0.40)
    assert scores[4] == 0.0  # last in the one list it is in
    # the same lists by reciprocal ranks put the embedding's favourite first
    assert reciprocal_rank_fusion([[1, 2, 3], [2, 3, 1, 4]])[0][0] == 2


def test_convex_fusion_edge_cases() -> None:
    assert convex_fusion([], [], 0.5) == []
    assert convex_fusion([(5, 3.0)], [], 0.5) == [(5, 0.5)]  # one score: normalised to 1
    assert [pk for pk, _ in convex_fusion([], [(1, 0.2), (2, 0.9)], 0.5)] == [2, 1]
    assert [pk for pk, _ in convex_fusion([(1, 1.0), (2, 1.0)], [], 0.5)] == [1, 2]  # ties: first seen first


def test_stem_joins_inflections() -> None:
    assert stem("pseudonymization") == stem("pseudonymisation") == "pseudonym"
    assert highlight("centres", "centre") == "<mark>centres</mark>"  # a longer form by its prefix
    assert highlight("centre", "centres") == "<mark>centre</mark>"
    assert stem("surveillance") == "surveillance"


def test_highlight_marks_query_words_and_their_forms() -> None:
    text = "Countries establish information centres; an information centre for surveillance."
    out = highlight(text, "information centre surveillance")
    assert out.count("<mark>information</mark>") == 2
    assert "<mark>centres</mark>" in out
    assert "<mark>centre</mark>" in out
    assert "<mark>surveillance</mark>" in out
    assert "<mark>an</mark>" not in out
    assert "<mark>for</mark>" not in out


def test_highlight_escapes_everything_else() -> None:
    text = 'Use <script>alert("x")</script> & health data'
    out = highlight(text, "health script")
    assert "<script>" not in out
    assert "&lt;<mark>script</mark>&gt;" in out
    assert "&amp;" in out
    assert "<mark>health</mark>" in out


def test_highlight_of_a_query_with_markup_is_escaped() -> None:
    out = highlight("plain text only", "<b>text</b>")
    assert out == "plain <mark>text</mark> only"


@given(st.text(max_size=200), st.text(max_size=40))
def test_highlight_only_adds_marks(text: str, query: str) -> None:
    out = highlight(text, query)
    assert html.unescape(re.sub(r"</?mark>", "", out)) == text
    assert "<" not in re.sub(r"</?mark>", "", out)


def test_document_url_cites_chunk_and_query() -> None:
    url = document_url("3f1c0e52-0000-4000-8000-000000000001", 42, "data & privacy")
    assert url == ("/knowledge/documents/3f1c0e52-0000-4000-8000-000000000001/?chunk=42&q=data+%26+privacy#chunk-42")
