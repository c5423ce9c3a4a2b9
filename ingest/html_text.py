"""HTML fragments from feeds to clean plain text (stdlib ``html.parser``; no network, no DOM)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Their text is never prose a reader sees.
_SKIP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg", "math", "head"})
# Elements that end a paragraph: a line break keeps sentences from different blocks apart.
_BLOCK = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
        "table", "tr", "section", "article", "header", "footer", "figure", "figcaption", "hr", "dd", "dt",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\f\v\u00a0\u200b]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Visible text of ``fragment``: tags dropped, entities decoded, whitespace collapsed.

    Paragraphs are separated by one blank line; within a paragraph runs of whitespace become one space.
    """
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return collapse_whitespace(fragment)
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return collapse_whitespace("".join(parser.parts))


def collapse_whitespace(text: str) -> str:
    paragraphs = _BLANK_LINES.split(text.replace("\r", "\n"))
    lines = (" ".join(_SPACES.sub(" ", p).split()) for p in paragraphs)
    return "\n\n".join(line for line in lines if line)
