"""Markdown (CommonMark via markdown-it-py): ATX and Setext headings make the sections; every other top-level block
(paragraphs, lists, quotes, tables, code) is kept as its source text, so code blocks stay readable as text."""

from __future__ import annotations

from pathlib import PurePath

from markdown_it import MarkdownIt

from .builder import DocumentBuilder
from .sniff import MARKDOWN, decode_text
from .types import ParsedDocument

_PARSER = MarkdownIt("commonmark").enable("table")


def parse_markdown(data: bytes, filename: str) -> ParsedDocument:
    """Parse a Markdown document; the title is its first heading (or the filename)."""
    text = decode_text(data, "Markdown").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    tokens = _PARSER.parse(text)
    builder = DocumentBuilder(MARKDOWN, "Markdown")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            content = tokens[i + 1].content if i + 1 < len(tokens) and tokens[i + 1].type == "inline" else ""
            builder.heading(content, int(token.tag[1:]))
            i += 3
            continue
        if token.level == 0 and token.map is not None and token.type != "hr":
            start, end = token.map
            builder.paragraph("\n".join(lines[start:end]))
            if token.nesting == 1:  # skip to the matching close token: the block's source is taken whole
                depth = 1
                i += 1
                while i < len(tokens) and depth:
                    depth += tokens[i].nesting
                    i += 1
                continue
        i += 1
    stem = PurePath(filename or "document").stem.replace("_", " ")
    return builder.build(builder.first_heading if builder.first_heading_early else stem)
