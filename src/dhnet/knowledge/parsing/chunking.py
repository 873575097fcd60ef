"""Cutting each section of a parsed document into passages that fit the embedding model's window.

A chunk never crosses a section boundary. Within a section the text is tokenised once (WordPiece offsets) and cut
greedily: each chunk takes as many tokens as fit and ends at the last paragraph break in the second half of that
window, else the last sentence end, else the last word boundary, else (one enormous word) at a token boundary. The
next chunk starts ``overlap_tokens`` before the end of the previous one, moved forward to the start of a word, so
that a passage cut in two can still be found whole. Two tokens of ``max_tokens`` are kept for the [CLS]/[SEP] the
model adds, so that a chunk is embedded without truncation.
"""

from __future__ import annotations

import bisect
import re

from .tokens import count_tokens, token_spans
from .types import ParsedChunk, ParsedDocument

SPECIAL_TOKENS = 2
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"(?<=[.!?;…])[\"')\]’”]*\s+")
_WORD = re.compile(r"\s+")


def _breaks(pattern: re.Pattern[str], text: str) -> list[int]:
    """The offsets just after each match of ``pattern`` (where a new piece of text starts)."""
    return [m.end() for m in pattern.finditer(text)]


def _last_break(breaks: list[int], low: int, high: int) -> int | None:
    """The largest break offset in ``(low, high]``, if any."""
    i = bisect.bisect_right(breaks, high)
    if i and breaks[i - 1] > low:
        return breaks[i - 1]
    return None


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` narrowed so that the span neither starts nor ends with white space."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_section(text: str, *, max_tokens: int = 256, overlap_tokens: int = 32) -> list[tuple[int, int, int]]:
    """The chunks of one section's text as ``(start, end, tokens)`` offsets into ``text``, in order, covering every
    non-space character of it."""
    budget = max_tokens - SPECIAL_TOKENS
    if budget < 8:
        raise ValueError(f"max_tokens must be at least {8 + SPECIAL_TOKENS}, not {max_tokens}")
    overlap = max(0, min(overlap_tokens, budget // 2))
    spans = token_spans(text)
    if not spans:
        start, end = _strip_span(text, 0, len(text))
        return [(start, end, 0)] if start < end else []
    paragraphs = _breaks(_PARAGRAPH, text)
    sentences = _breaks(_SENTENCE, text)
    words = _breaks(_WORD, text)
    token_starts = [s for s, _ in spans]
    out: list[tuple[int, int, int]] = []
    i = 0  # index of the first token of the current chunk
    n = len(spans)
    prev_end = 0  # where the previous chunk ended: characters the tokenizer skips are never left out
    while i < n:
        char_start = min(spans[i][0], prev_end)
        if n - i <= budget:
            cut = len(text)
        else:
            window_end = spans[i + budget][0]  # the first token that does not fit starts here
            half = spans[i + budget // 2][0]
            cut = (
                _last_break(paragraphs, half, window_end)
                or _last_break(sentences, half, window_end)
                or _last_break(words, spans[i][0], window_end)
                or window_end
            )
        start, end = _strip_span(text, char_start, cut)
        tokens = count_tokens(text[start:end])
        while tokens > budget:  # a cut inside a word can tokenise differently on its own; shrink until it fits
            end = _last_break(words, start, end - 1) or spans[bisect.bisect_left(token_starts, end) - 1][0]
            start, end = _strip_span(text, start, end)
            tokens = count_tokens(text[start:end])
        if start < end:
            out.append((start, end, tokens))
        prev_end = max(end, char_start + 1)
        j = bisect.bisect_left(token_starts, end)  # first token not (fully) in this chunk
        if j >= n:
            break
        nxt = max(i + 1, j - overlap)
        while nxt < j and not _starts_word(text, spans, nxt):
            nxt += 1
        i = nxt
    return out


def _starts_word(text: str, spans: list[tuple[int, int]], k: int) -> bool:
    """Whether token ``k`` begins a word (it follows white space, punctuation, or nothing)."""
    s = spans[k][0]
    if s == 0 or k == 0:
        return True
    prev_end = spans[k - 1][1]
    return prev_end < s or not (text[s - 1].isalnum() and text[s].isalnum())


def chunk_document(doc: ParsedDocument, *, max_tokens: int = 256, overlap_tokens: int = 32) -> list[ParsedChunk]:
    """The chunks of every section of ``doc``, in document order; none crosses a section boundary, each has at most
    ``max_tokens - 2`` WordPiece tokens (room for [CLS]/[SEP]), its page, and offsets into ``doc.text``."""
    chunks: list[ParsedChunk] = []
    for index, section in enumerate(doc.sections):
        body = doc.text[section.start : section.end]
        for start, end, tokens in chunk_section(body, max_tokens=max_tokens, overlap_tokens=overlap_tokens):
            a, b = section.start + start, section.start + end
            chunks.append(ParsedChunk(index, doc.text[a:b], tokens, doc.page_at(a), a, b))
    return chunks
