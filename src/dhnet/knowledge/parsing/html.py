"""HTML (the standard library's tolerant parser): h1–h6 make the sections; script, style, nav, noscript, template,
svg and the head (except the title) are dropped; block elements end a paragraph; pre keeps its line breaks."""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import PurePath

from .builder import DocumentBuilder
from .sniff import HTML, decode_text
from .types import DocumentError, ParsedDocument

_SKIP = {"script", "style", "nav", "noscript", "template", "svg", "head", "iframe", "object", "button", "select"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class _Reader(HTMLParser):
    def __init__(self, builder: DocumentBuilder) -> None:
        super().__init__(convert_charrefs=True)
        self.b = builder
        self.skip_depth = 0
        self.skip_stack: list[str] = []
        self.buffer: list[str] = []
        self.heading_level = 0
        self.heading_text: list[str] = []
        self.pre = 0
        self.title: list[str] = []
        self.in_title = False

    def flush(self) -> None:
        text = "".join(self.buffer)
        self.buffer.clear()
        if not self.pre:
            text = re.sub(r"\s+", " ", text)
        self.b.paragraph(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self.heading_level:
            self.in_title = True
            return
        if self.skip_stack:
            if tag in _SKIP:
                self.skip_stack.append(tag)
            return
        if tag in _SKIP:
            self.skip_stack.append(tag)
            return
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.flush()
            self.heading_level = int(tag[1])
            self.heading_text = []
        elif tag in _BLOCK:
            if (tag == "br" and self.pre) or tag == "br":
                self.buffer.append("\n")
            else:
                self.flush()
            if tag == "pre":
                self.pre += 1
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.handle_data(f" {alt} ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        if self.skip_stack:
            if tag == self.skip_stack[-1]:
                self.skip_stack.pop()
            elif tag in self.skip_stack:  # unclosed inner elements: close up to the matching one
                while self.skip_stack and self.skip_stack.pop() != tag:
                    pass
            return
        if self.heading_level and len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.b.heading("".join(self.heading_text), self.heading_level)
            self.heading_level = 0
        elif tag in _BLOCK:
            self.flush()
            if tag == "pre" and self.pre:
                self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif self.skip_stack:
            return
        elif self.heading_level:
            self.heading_text.append(data)
        else:
            self.buffer.append(data)


def _decode(data: bytes) -> str:
    try:
        return decode_text(data, "HTML")
    except DocumentError:
        declared = _CHARSET.search(data[:4096])
        if declared:
            name = declared.group(1).decode("ascii")
            try:
                codecs.lookup(name)
            except LookupError:
                raise DocumentError(f"HTML: unknown character set {name!r} declared in <meta charset>") from None
            try:
                return data.decode(name)
            except UnicodeDecodeError as exc:
                raise DocumentError(f"HTML: not valid {name} at byte {exc.start}") from None
        raise


def parse_html(data: bytes, filename: str) -> ParsedDocument:
    """Parse an HTML document; the title is its <title>, else its first heading, else the filename."""
    builder = DocumentBuilder(HTML, "HTML")
    reader = _Reader(builder)
    reader.feed(_decode(data))
    reader.close()
    if reader.heading_level:
        builder.heading("".join(reader.heading_text), reader.heading_level)
    reader.flush()
    title = " ".join("".join(reader.title).split()) or builder.first_heading or PurePath(filename or "page").stem
    return builder.build(title)
