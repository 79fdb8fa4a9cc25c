"""Plain text in any encoding (Markdown, CSV and source code included), HTML, and
printable strings from content no other extractor recognises."""

from __future__ import annotations

import codecs
import html.parser
import re
from typing import Iterable

from ..types import Item, Part
from .base import Context, Output, read_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control bytes that do not occur in text (tab, newlines, form feed and escape do).
_BINARY_BYTES = bytes(set(range(0, 32)) - {9, 10, 12, 13, 27})
_BINARY_TABLE = bytes.maketrans(b"", b"")


def decode_text(data: bytes) -> str | None:
    """Decode bytes that are text in some encoding; None when they look binary."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if not data:
        return ""
    sample = data[:65536]
    controls = len(sample) - len(sample.translate(_BINARY_TABLE, _BINARY_BYTES))
    if controls > max(2, len(sample) // 100):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 4 * 1024 * 1024]).best()
    if best is None:
        return None
    try:
        return data.decode(best.encoding, errors="replace")
    except LookupError:
        return None


class HtmlText(html.parser.HTMLParser):
    """Visible text of an HTML document (script and style dropped)."""

    _SKIP = {"script", "style", "template"}
    _BREAK = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.chunks.append(data)

    def text(self) -> str:
        return "".join(self.chunks)


_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--)", re.I)


def html_to_text(markup: str) -> str:
    parser = HtmlText()
    parser.feed(markup)
    parser.close()
    return parser.text()


class HtmlExtractor:
    name = "html"

    def sniff(self, head: bytes, item: Item) -> bool:
        stripped = head.lstrip(b"\xef\xbb\xbf")
        return bool(_HTML_START.match(stripped)) and b"<" in stripped[:1024]

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        text = decode_text(data)
        if text is None:
            from ..errors import ExtractionError

            raise ExtractionError("corrupt", "HTML that is not text")
        yield Part(item.locator, html_to_text(text), "html")


class TextExtractor:
    """Anything that decodes as text: plain text, Markdown, CSV, source code."""

    name = "text"

    def sniff(self, head: bytes, item: Item) -> bool:
        return decode_text(head) is not None

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        text = decode_text(data)
        if text is None:
            yield from StringsExtractor().extract(item, ctx)
            return
        yield Part(item.locator, text, "text")


_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e\t\r\n]{6,}")
_UTF16_RUN = re.compile(rb"(?:[\x20-\x7e\t\r\n]\x00){6,}")


def printable_strings(data: bytes) -> str:
    """Printable ASCII runs and UTF-16LE runs (Windows binaries, legacy Office) of `data`."""
    runs = [run.decode("ascii") for run in _PRINTABLE_RUN.findall(data)]
    runs.extend(run.decode("utf-16-le") for run in _UTF16_RUN.findall(data))
    return "\n".join(runs)


class StringsExtractor:
    """Last resort: printable runs of unknown binary content, marked `binary`."""

    name = "strings"

    def sniff(self, head: bytes, item: Item) -> bool:
        return True

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        yield Part(item.locator, printable_strings(data), "binary", binary=True)
