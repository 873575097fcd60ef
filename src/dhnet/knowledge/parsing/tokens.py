"""Token counts with the all-MiniLM-L6-v2 WordPiece tokenizer, the one the embedding model uses.

The tokenizer definition (``tokenizer.json``, Apache-2.0, see NOTICE.txt) ships inside dhnet, so counts are the same
whether or not the model package is installed. Truncation and padding configured in the file are switched off:
we want the true length of any text.
"""

from __future__ import annotations

import functools
from pathlib import Path

from tokenizers import Tokenizer

TOKENIZER_PATH = Path(__file__).with_name("tokenizer.json")


@functools.cache
def tokenizer() -> Tokenizer:
    """The shared tokenizer (loaded once per process; it is thread-safe for encoding)."""
    tok = Tokenizer.from_file(str(TOKENIZER_PATH))
    tok.no_truncation()
    tok.no_padding()
    return tok


def count_tokens(text: str) -> int:
    """The number of WordPiece tokens of ``text`` without the [CLS]/[SEP] the model adds around a passage."""
    if not text:
        return 0
    return len(tokenizer().encode(text, add_special_tokens=False).ids)


def token_spans(text: str) -> list[tuple[int, int]]:
    """The character span ``(start, end)`` in ``text`` of each WordPiece token, in order."""
    if not text:
        return []
    return [(int(s), int(e)) for s, e in tokenizer().encode(text, add_special_tokens=False).offsets]
