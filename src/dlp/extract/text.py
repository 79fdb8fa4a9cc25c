"""Plain text in any encoding (Markdown, CSV and source code included), HTML, and
printable strings from content no other extractor recognises."""

from __future__ import annotations

import html.parser
import re
from typing import Callable, Iterable, Iterator

from ..types import Item, Part, Problem
from . import css
from .base import Context, Output, read_bytes
from .css import StyleRules
from .shown import around
from .decoding import Decoded, decode, decode_text, printable_strings
from .stream import STREAM_BYTES, stream_text

__all__ = ["decode_text", "printable_strings", "decoded_outputs", "html_to_text", "HtmlExtractor",
           "TextExtractor", "StringsExtractor"]


def decoded_outputs(locator: str, decoded: Decoded, fmt: str, text: str | None = None, **meta) -> Iterator[Output]:
    """The part for a decoded text (`text` when the caller transformed it, e.g. HTML),
    then, when the decoding is doubtful, the problem that says so, and the printable
    runs of the bytes in the other encodings as a part of their own (``!/strings``)."""
    yield Part(locator, decoded.text if text is None else text, fmt, meta=meta)
    if decoded.doubt:
        yield Problem(locator, "doubtful_encoding", f"read as {decoded.encoding}: {decoded.doubt}"[:300])
    if decoded.strings:
        yield Part(f"{locator}!/strings", decoded.strings, "strings", meta=meta)


class HtmlText(html.parser.HTMLParser):
    """Everything a reader of an HTML document can get at, in two streams, and what a
    browser shows, when that differs.

    `chunks`: the visible text, with comments, CDATA and the attributes that carry
    text (alt, title, placeholder, aria-label, value, meta content, and any other
    attribute whose value reads as words, data-* ones included) where they occur. `hidden`: the content of script, style and template elements, which a
    browser does not show but which leaves with the file all the same; it comes after
    the visible text, so the offsets of visible text do not depend on it.

    `shown`: the page text as a browser lays it out, without comments and elements CSS
    conceals (``display:none``, ``visibility:hidden``, zero size or opacity, off-screen...)
    and with the text of bidi-override right-to-left elements (``<bdo dir=rtl>``,
    ``unicode-bidi: bidi-override; direction: rtl``) in the order it is seen.
    `visible()` returns the stretches of it around concealed or reordered text.
    """

    _HIDDEN = {"script", "style", "template"}
    _BREAK = {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table"}
    _TEXT_ATTRS = {"alt", "title", "placeholder", "aria-label", "aria-description", "aria-placeholder",
                   "aria-roledescription", "aria-valuetext", "label", "summary", "abbr", "value", "download"}
    _META_SKIP = {"viewport", "robots", "referrer", "theme-color", "color-scheme", "format-detection"}
    # attributes that hold markup machinery, not text (event handlers, on*, are script)
    _CODE_ATTRS = {"href", "src", "srcset", "style", "class", "id", "action", "formaction", "type", "name", "rel",
                   "lang", "dir", "for", "role", "target", "method", "content", "charset", "http-equiv", "sizes",
                   "media", "integrity", "crossorigin", "width", "height", "xmlns", "d", "points", "viewbox",
                   "transform", "poster", "cite", "data", "codebase", "background", "usemap", "headers"}
    _VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
             "track", "wbr"}
    # an open element a new start tag implicitly closes (the innermost one only)
    _IMPLIED_END = {"p": {"p", "div", "ul", "ol", "table", "section", "article", "h1", "h2", "h3", "h4", "h5",
                          "h6", "pre", "blockquote", "form", "hr"},
                    "li": {"li"}, "td": {"td", "th", "tr"}, "th": {"td", "th", "tr"}, "tr": {"tr"},
                    "option": {"option"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden: list[str] = []
        self.shown: list[str] = []
        self.cuts: list[int] = []  # offsets in the shown text where concealed or reordered text is
        self._shown_length = 0
        self._hiding = 0
        self._styling = 0
        self._concealing = 0
        self._open: list[tuple[str, bool, str, int | None]] = []  # tag, conceals, direction, override start
        self._opened: dict[str, int] = {}  # open elements by tag
        self._overrides = 0  # open bidi overrides
        self._rules = StyleRules()
        self._line_start = False  # right after a <br> after a hyphen, no text since

    def handle_starttag(self, tag, attrs):
        self._attributes(tag, attrs)
        implied = self._IMPLIED_END.get(self._open[-1][0]) if self._open else None
        if implied and tag in implied:
            self._close(self._open.pop())
        if tag in self._HIDDEN:
            self._hiding += 1
            self._styling += tag == "style"
        elif tag in self._BREAK:
            self._break(tag)
        if tag not in self._VOID:
            self._enter(tag, dict(attrs))

    def handle_startendtag(self, tag, attrs):
        self._attributes(tag, attrs)
        if tag in self._BREAK:
            self._break(tag)

    def handle_endtag(self, tag):
        if tag in self._HIDDEN and self._hiding:
            self._hiding -= 1
            self._styling -= tag == "style" and self._styling > 0
            self.hidden.append("\n")
        elif tag in self._BREAK:
            self._break(tag)
        if self._opened.get(tag):  # a count, not a search of the stack: 100,000 stray end tags stay cheap
            while self._open:
                entry = self._open.pop()
                self._close(entry)
                if entry[0] == tag:
                    break

    def handle_data(self, data):
        if self._hiding:
            self.hidden.append(data)
            if self._styling:
                self._rules.add(data)
            return
        if self._line_start and not self._opened.get("pre"):
            # the source's own line break after a <br> shows as nothing (whitespace at the start of a
            # line collapses): blanks in its place keep every offset, and a word the writer broke there
            # (``reto-<br>⏎oling``) is one line break apart, as it is seen. Only after a hyphen: elsewhere
            # the two line breaks are a blank line, where a sentence ends (``<br>⏎<br>⏎`` between paragraphs)
            data = _LEADING_SPACE.sub(lambda m: " " * len(m.group()), data, count=1)
        self._line_start = self._line_start and not data.strip()
        self.chunks.append(data)
        if self._concealing:
            if data.strip():
                self.cuts.append(self._shown_length)
        else:
            self._show(data)

    def handle_comment(self, data):
        self.chunks.append(f"\n{data}\n")
        if data.strip():  # a comment between words splits them as hidden text does
            self.cuts.append(self._shown_length)

    def unknown_decl(self, data):
        if data.startswith("CDATA["):
            self.chunks.append(f"\n{data[6:]}\n")

    def close(self):
        super().close()
        while self._open:
            self._close(self._open.pop())

    def _break(self, tag: str) -> None:
        # (a <br> after a hyphen: the writer may have broken a word there, see `handle_data`)
        self._line_start = tag == "br" and bool(self.chunks) and self.chunks[-1].rstrip(" \t").endswith(_HYPHENS)
        self.chunks.append("\n")
        self._show("\n")

    def _show(self, text: str) -> None:
        self.shown.append(text)
        self._shown_length += len(text)

    def _enter(self, tag: str, attributes: dict) -> None:
        style = self._rules.style(tag, attributes)
        hides = "hidden" in attributes or (bool(style) and css.conceals(style))
        inherited = self._open[-1][2] if self._open else "ltr"
        written = (attributes.get("dir") or "").lower()
        direction = css.direction(style, written if written in ("rtl", "ltr") else inherited)
        override = direction == "rtl" and (tag == "bdo" or css.overrides(style)) and self._overrides < _MAX_OVERRIDES
        self._concealing += hides
        self._overrides += override
        self._opened[tag] = self._opened.get(tag, 0) + 1
        self._open.append((tag, hides, direction, len(self.shown) if override else None))

    def _close(self, entry: tuple[str, bool, str, int | None]) -> None:
        tag, hides, _, start = entry
        self._concealing -= hides
        self._opened[tag] -= 1
        if start is not None:  # laid out right to left, character by character: as seen, reversed
            self._overrides -= 1
            segment = "".join(self.shown[start:])
            del self.shown[start:]
            self.shown.append(segment[::-1])
            if segment.strip():
                self.cuts += [self._shown_length - len(segment), self._shown_length]

    def _attributes(self, tag: str, attrs) -> None:
        named = dict(attrs)
        for name, value in attrs:
            if not value or not value.strip():
                continue
            if name in self._TEXT_ATTRS or (name == "content" and tag == "meta" and self._meta_text(named)):
                self.chunks.append(f"\n{value}\n")
            elif name == "srcdoc":  # an iframe's whole document, inline
                self.chunks.append("\n" + html_to_text(value) + "\n")
            elif name not in self._CODE_ATTRS and not name.startswith("on") and _prose(value):
                # data-* and any attribute a page invents: not shown, but any script or "view source" reads it
                self.chunks.append(f"\n{value}\n")

    def _meta_text(self, named: dict) -> bool:
        if "http-equiv" in named or "charset" in named:
            return False
        key = (named.get("name") or named.get("property") or named.get("itemprop") or "").lower()
        return bool(key) and key not in self._META_SKIP

    def text(self) -> str:
        visible = "".join(self.chunks)
        hidden = "".join(self.hidden).strip()
        return f"{visible}\n\n{hidden}\n" if hidden else visible

    def visible(self) -> str | None:
        """The page as a browser shows it, around the places where concealed or reordered
        text sits between shown text (`shown.around`); None when there are none."""
        return around("".join(self.shown), self.cuts) if self.cuts else None


_MAX_OVERRIDES = 16  # nested bidi overrides honoured (each reverses what the ones inside it laid out)
_PROSE = re.compile(r"[^\W\d_]{2,}\s+\S*[^\W\d_]{2,}")


def _prose(value: str) -> bool:
    """An attribute value that reads as words (two at least), not a token, a number or a URL."""
    return "://" not in value and bool(_PROSE.search(value))


_HYPHENS = ("-", "\u00ad", "\u2010")
_LEADING_SPACE = re.compile(r"^[ \t\r\n\f]+")
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--)", re.I)
_TAG = re.compile(r"<[^<>]{0,4096}>")
_WORD = re.compile(r"\w+")


def html_to_text(markup: str) -> str:
    return parse_html(markup).text()


def parse_html(markup: str) -> HtmlText:
    parser = HtmlText()
    parser.feed(markup)
    parser.close()
    return parser


def lost_text(markup: str, text: str) -> bool:
    """Whether the parser lost text the source plainly has (an unclosed comment, script
    or attribute swallows the rest of a document): words of the source with its tags cut
    out, against the words the parser returned."""
    source_words = len(_WORD.findall(_TAG.sub(" ", markup)))
    return source_words > 1.1 * len(_WORD.findall(text)) + 10


def html_outputs(locator: str, decoded: Decoded, fmt: str, depth: int = 0, **meta) -> Iterator[Output]:
    """Parts of an HTML text; the page as a browser shows it (``#visible``) when CSS
    conceals or reorders some of its text; the whole source as well (``!/source``) when
    parsing lost text; files carried in ``data:`` URIs as child items."""
    parsed = parse_html(decoded.text)
    text = parsed.text()
    yield from decoded_outputs(locator, decoded, fmt, text, **meta)
    shown = parsed.visible()
    if shown is not None:
        yield Part(f"{locator}#visible", shown, fmt, meta={**meta, "reading": "visible"})
    if lost_text(decoded.text, text):
        yield Part(f"{locator}!/source", decoded.text, "text", meta=meta)
    yield from data_uri_items(locator, decoded.text, depth)


_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[^;,\s\"'<>]*)*)(;base64)?,([A-Za-z0-9+/=%._~!$&*:@\-\s]{8,})",
                       re.I)


def data_uri_items(locator: str, markup: str, depth: int) -> Iterator[Item]:
    """Files inlined as ``data:`` URIs (base64 or percent-encoded), which leave with the
    page whatever it shows: child items ``page.html!/data[N]``, read by content like any
    other item (a picture for its metadata, trailing bytes and text by OCR)."""
    import base64
    import binascii
    import urllib.parse

    for number, match in enumerate(_DATA_URI.finditer(markup), start=1):
        payload = match.group(4)
        try:
            if match.group(3):
                packed = re.sub(r"\s+", "", urllib.parse.unquote(payload))
                data = base64.b64decode(packed + "=" * (-len(packed) % 4))
            else:
                data = urllib.parse.unquote_to_bytes(payload)
        except (binascii.Error, ValueError):
            continue
        if not data.strip():
            continue
        yield Item(locator=f"{locator}!/data[{number}]", name=f"data[{number}]", data=data, depth=depth + 1,
                   meta={"content_type": (match.group(1) or "text/plain").lower()})


class HtmlExtractor:
    name = "html"

    def sniff(self, head: bytes, item: Item) -> bool:
        stripped = head.lstrip(b"\xef\xbb\xbf")
        return bool(_HTML_START.match(stripped)) and b"<" in stripped[:1024]

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        yield from _read_text(item, ctx, lambda decoded: html_outputs(item.locator, decoded, "html", item.depth))


class TextExtractor:
    """Anything that decodes as text: plain text, Markdown, CSV, source code."""

    name = "text"

    def sniff(self, head: bytes, item: Item) -> bool:
        return decode(head) is not None

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        yield from _read_text(item, ctx, lambda decoded: decoded_outputs(item.locator, decoded, "text"))


def _read_text(item: Item, ctx: Context, outputs: Callable[[Decoded], Iterable[Output]]) -> Iterator[Output]:
    """A text item's outputs: streamed a chunk at a time when large (memory stays bounded),
    else decoded whole and read by `outputs`; printable strings when it does not decode."""
    if item.size > STREAM_BYTES:
        yield from stream_text(item, ctx)
        return
    decoded = decode(read_bytes(item, ctx))
    if decoded is None:
        yield from StringsExtractor().extract(item, ctx)
        return
    yield from outputs(decoded)


class StringsExtractor:
    """Last resort: printable runs of unknown binary content in every byte encoding, marked `binary`."""

    name = "strings"

    def sniff(self, head: bytes, item: Item) -> bool:
        return True

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        yield Part(item.locator, printable_strings(data), "binary", binary=True)
