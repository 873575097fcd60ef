"""Plain text: headings found by heuristics, because real exports carry their structure in many ways.

The strategy texts in ``data/demo/knowledge/strategy/`` are the real case: Markdown-like ``#`` headings,
``**bold**`` heading blocks, numbered headings (``2.1 Data governance``), upper-case heading lines (text extracted
from a PDF, continued over up to three lines), short title-like lines that stand before a paragraph ("Policy options
and actions", "Outputs"), Setext underlines, running page headers repeated on every page ("Global strategy on
digital health 2020-2025  PURPOSE"), and metadata blocks left over from an earlier export ("Document: … /
Section: … / Tokens: …" and a rule line). Metadata and running headers are dropped, never content; a form feed is
a page break.

Levels: ``#``×n and numbered headings have their depth; bold, Setext ``=`` and upper-case headings are level 1
(Setext ``-`` level 2); a short title-like line is one level below the last heading of another kind. A heading
repeated where it is already open (the same heading at the top of each page) is not a new section. Upper-case
headings are shown in title case.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePath

from .builder import DocumentBuilder, clean_inline
from .sniff import TEXT, decode_text
from .types import ParsedDocument

_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s*([-=_*])(\s*\1){2,}\s*$")
_META = re.compile(r"^(Document|Section|Tokens|Source|Chunk|Page|Score):\s*\S.*$|^(Tokens|Page|Chunk):\s*\d+\s*$")
_NUMBERED = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+(\S.*)$")
_LIST = re.compile(r"^\s*([-*•–+]|\d{1,3}[.)]|\(\w{1,3}\)|[a-z][.)])\s")
_NUMBER_LINE = re.compile(r"^\d{1,2}$")  # the number of a principle or objective, on its own line
_GLUED_PAGE = re.compile(r"^\d{1,3}(?=[A-Z][a-z])")
_RUNNING_HEADER = re.compile(r"^(\S.{4,}?\S)\s{2,}(\S.*\S)$")
_TERMINAL = ".,;:!?…"
_UPPER_WORD = re.compile(r"^[(\"“]?[A-Z][A-Z'’-]{3,}[),:\"”]?$")
_DANGLING = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "between",
    "by",
    "for",
    "from",
    "in",
    "its",
    "of",
    "on",
    "or",
    "than",
    "that",
    "the",
    "their",
    "to",
    "which",
    "with",
}
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the", "to", "with"}
MAX_HEADING_WORDS = 10
MAX_WRAPPED_HEADING_WORDS = 14  # a heading over two lines (the second one short) may be longer
SHORT_LINE = 40  # a title-like line followed by text in the same block must be at most this long


def _letters(text: str) -> list[str]:
    return [c for c in text if c.isalpha()]


def _is_upper_heading(line: str) -> bool:
    """An upper-case line of a heading: at least four letters, nearly all capitals, not a sentence."""
    s = line.strip()
    letters = _letters(s)
    if len(letters) < 4 or len(s) > 120 or s.endswith(";"):
        return False
    upper = sum(1 for c in letters if c.isupper())
    has_word = any(_UPPER_WORD.match(w) for w in s.split())
    return upper >= 0.85 * len(letters) and has_word and not _LIST.match(s)


def _is_bold(text: str) -> bool:
    """Whether ``text`` is one ``**bold**`` run and nothing else."""
    return text.startswith("**") and text.endswith("**") and len(text) > 4 and text.count("**") == 2


def _title_case(text: str) -> str:
    """``"THE FUTURE OF GLOBAL HEALTH"`` → ``"The Future of Global Health"``; words in parentheses or with digits
    (acronyms, codes) are kept as written."""
    words = text.split()
    out = []
    for i, word in enumerate(words):
        if word.startswith("(") or any(c.isdigit() for c in word):
            out.append(word)
        elif i > 0 and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append(word[:1].upper() + word[1:].lower())
    return " ".join(out)


def _title_like(text: str, max_words: int = MAX_HEADING_WORDS) -> bool:
    """A short line that reads like a heading: starts with a capital, no sentence punctuation at the end, no
    ``label: value`` pair, no link, at most ten words and four letters or more."""
    s = text.strip()
    if not s or len(s) > 90 or not s[0].isupper() or s.endswith(tuple(_TERMINAL)) or s.endswith(")"):
        return False
    if ": " in s or "http" in s or _LIST.match(s) or s.count("(") != s.count(")"):
        return False
    words = s.split()
    if words[-1].lower() in _DANGLING or words[-1].endswith(("'s", "’s")) or words[-1].endswith("-"):
        return False
    if 2 * sum(1 for w in words if w[0].isalpha()) <= len(words):
        return False
    return len(words) <= max_words and len(_letters(s)) >= 4


def _drop_furniture(lines: list[str]) -> tuple[list[str], str | None]:
    """Lines without the export metadata blocks and the running page headers, and the title those headers carry."""
    out: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        j = i
        while j < n and _META.match(lines[j].strip()):
            j += 1
        if j - i >= 2:  # a metadata block: two or more "Key: value" lines, and the rule line after it
            if j < n and _RULE.match(lines[j]):
                j += 1
            i = j
            continue
        out.append(lines[i])
        i += 1
    counts = Counter(line.strip() for line in out if _RUNNING_HEADER.match(line.strip()))
    headers = {line for line, count in counts.items() if count >= 2}
    title = None
    if headers:
        lefts = Counter(m.group(1) for h in headers if (m := _RUNNING_HEADER.match(h)))
        left, count = lefts.most_common(1)[0]
        if count >= 2:
            title = left

    def furniture(line: str) -> bool:
        s = line.strip()
        if s in headers:
            return True
        m = _RUNNING_HEADER.match(s)
        return bool(title and m and m.group(1) == title)  # the same running header, met once on its page

    return [line for line in out if not furniture(line)], title


class _TextReader:
    """Walks the blocks of a text (runs of lines between blank lines) and feeds headings and paragraphs to the
    builder."""

    def __init__(self, builder: DocumentBuilder) -> None:
        self.b = builder
        self.major_level = 0  # level of the last heading that was not a title-like line
        self.open: dict[int, str] = {}  # the heading open at each level, to skip repeats

    def heading(self, text: str, level: int, *, minor: bool = False) -> None:
        text = clean_inline(text)
        if not text:
            return
        if _is_upper_heading(text):
            text = _title_case(text)
        if minor:
            level = self.major_level + 1
        else:
            self.major_level = level
        if self.open.get(level, "").lower() == text.lower():
            return  # the same heading again at the top of the next page
        self.open = {lvl: h for lvl, h in self.open.items() if lvl < level}
        self.open[level] = text
        self.b.heading(text, level)

    def block(self, lines: list[str], next_block: list[str] | None) -> None:
        body: list[str] = []

        def flush() -> None:
            if body:
                self.b.paragraph("\n".join(body))
                body.clear()

        stripped = "\n".join(line.strip() for line in lines).strip()
        if _is_bold(stripped) and len(stripped) <= 300:  # a whole block in bold: a heading over several lines
            self.heading(stripped.strip("*"), 1)
            return
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            s = line.strip()
            nxt = lines[i + 1].strip() if i + 1 < n else ""
            prev = body[-1].strip() if body else ""
            if m := _ATX.match(line):
                flush()
                self.heading(m.group(2), len(m.group(1)))
                i += 1
                continue
            if s and nxt and _SETEXT.match(nxt) and len(nxt) >= 3 and not _LIST.match(s) and not body:
                flush()
                self.heading(s, 1 if nxt.startswith("=") else 2)
                i += 2
                continue
            if _RULE.match(line):
                flush()
                i += 1
                continue
            if _is_bold(s):
                flush()
                self.heading(s.strip("*"), 1)
                i += 1
                continue
            if _is_upper_heading(s) or (s.endswith(",") and i + 1 < n and _is_upper_heading(s[:-1] + " " + nxt)):
                parts = [s]
                k = i + 1
                while (
                    k < n
                    and k < i + 3
                    and _is_upper_heading(lines[k].strip().rstrip(","))
                    and not parts[-1].endswith(".")
                ):
                    parts.append(lines[k].strip())
                    k += 1
                flush()
                self.heading(" ".join(parts), 1)
                i = k
                continue
            if (m := _NUMBERED.match(s)) and _title_like(m.group(2)) and not body and len(s) <= 90:
                flush()
                self.heading(s, m.group(1).count(".") + 1)
                i += 1
                continue
            candidate, used = self._title_candidate(lines, i)
            numbered = bool(_NUMBER_LINE.match(prev)) and i + used == n  # "4" then a heading that ends the block
            if candidate and (not prev or prev.endswith(tuple(_TERMINAL)) or numbered):
                after = lines[i + used].strip() if i + used < n else None
                if (after is not None and after[:1].isupper()) or (after is None and next_block):
                    flush()
                    self.heading(candidate, 0, minor=True)
                    i += used
                    continue
            body.append(line)
            i += 1
        flush()

    @staticmethod
    def _title_candidate(lines: list[str], i: int) -> tuple[str | None, int]:
        """A title-like heading starting at line ``i`` (with a short lower-case continuation line) and the number
        of lines it takes."""
        s = _GLUED_PAGE.sub("", lines[i].strip())
        if i + 1 < len(lines) and s[:1].isupper() and not s.endswith(tuple(_TERMINAL)):
            cont = lines[i + 1].strip()
            if cont and len(cont) <= 30 and cont[0].islower() and not cont.endswith(tuple(_TERMINAL)):
                joined = f"{s} {cont}"  # a heading wrapped onto a short second line
                if _title_like(joined, max_words=MAX_WRAPPED_HEADING_WORDS):
                    return joined, 2
        if not _title_like(s):
            return None, 0
        if len(s) > SHORT_LINE and i + 1 < len(lines):
            return None, 0  # a longer line followed by more text is wrapped prose, not a heading
        return s, 1


def parse_text(data: bytes, filename: str) -> ParsedDocument:
    """Parse a plain-text document (UTF-8, or UTF-16 with a BOM) into sections found by the heuristics above."""
    text = decode_text(data, "text")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    builder = DocumentBuilder(TEXT, "text")
    reader = _TextReader(builder)
    lines, header_title = _drop_furniture(text.split("\n"))
    pages = "\n".join(lines).split("\f")
    for number, page in enumerate(pages, start=1):
        builder.page(number)
        blocks: list[list[str]] = []
        current: list[str] = []
        for line in page.split("\n"):
            if line.strip():
                current.append(line)
            elif current:
                blocks.append(current)
                current = []
        if current:
            blocks.append(current)
        for k, block in enumerate(blocks):
            reader.block(block, blocks[k + 1] if k + 1 < len(blocks) else None)
    title = header_title
    if title is None and builder.first_heading and builder.first_heading_early:
        title = builder.first_heading
    if title is None:
        title = PurePath(filename or "document").stem.replace("_", " ").strip() or "Untitled document"
    return builder.build(title, pages=len(pages))
