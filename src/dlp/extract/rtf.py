"""RTF: the visible text, in one linear pass over the control words.

Destinations that hold no document text (font and colour tables, style sheets,
pictures, binary object data, `\\*` extensions other than comments and shape text) are
skipped; document information (title, subject, author, keywords, comments) is read; `\\'hh` bytes are
decoded with the document's code page and `\\uN` with its fallback count.
"""

from __future__ import annotations

import re
from typing import Iterable

from ..errors import ExtractionError
from ..types import Item, Part
from .base import Context, Output, read_bytes

_TOKEN = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|[\r\n]+|([^\\{}\r\n]+)", re.S)
_SKIP = frozenset(
    b"fonttbl colortbl stylesheet listtable listoverridetable revtbl rsidtbl generator pict "
    b"object objdata themedata colorschememapping datastore latentstyles xmlnstbl fldinst "
    b"filetbl pgdsctbl mmathPr".split()
)
# `\*` destinations a reader sees: comments (annotations), the text of shapes and text
# boxes; other `\*` destinations (bookmarks, field instructions, extensions) are skipped.
_READ_STARRED = frozenset(b"annotation atnauthor shpinst shptxt".split())
_FIELD_GROUPS = frozenset(b"title subject author operator keywords doccomm company manager category comment "
                          b"hlinkbase annotation atnauthor shptxt sn sv".split())
_BREAKS = {b"par": "\n", b"line": "\n", b"sect": "\n", b"page": "\n", b"row": "\n", b"cell": "\t",
           b"tab": "\t", b"emdash": "\u2014", b"endash": "\u2013", b"lquote": "\u2018", b"rquote": "\u2019",
           b"ldblquote": "\u201c", b"rdblquote": "\u201d", b"bullet": "\u2022", b"emspace": " ", b"enspace": " "}
_MAX_GROUP_DEPTH = 10_000


class RtfExtractor:
    name = "rtf"

    def sniff(self, head: bytes, item: Item) -> bool:
        return head.lstrip()[:5] == b"{\\rtf"

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        yield Part(item.locator, rtf_to_text(data), "rtf")


def rtf_to_text(data: bytes) -> str:
    codepage = "cp1252"
    out: list[str] = []
    pending = bytearray()  # \'hh bytes waiting to be decoded together (double-byte code pages)
    stack: list[tuple[bool, int]] = []
    group_words: list[bytes] = []  # the first control word of each open group
    skipping = False
    uc = 1  # characters to drop after \uN
    drop = 0
    star = False

    def flush() -> None:
        if pending:
            out.append(bytes(pending).decode(codepage, errors="replace"))
            pending.clear()

    for match in _TOKEN.finditer(data):
        word, arg, hexbyte, symbol, brace, plain = match.groups()
        if brace is not None:
            flush()
            if brace == b"{":
                if len(stack) > _MAX_GROUP_DEPTH:
                    raise ExtractionError("corrupt", "RTF groups nest too deeply")
                stack.append((skipping, uc))
                group_words.append(b"")
                star = False
            elif stack:
                if group_words.pop() in _FIELD_GROUPS and not skipping:
                    out.append("\n")  # info fields, comments, shape text: not glued to what follows
                skipping, uc = stack.pop()
            drop = 0
            continue
        if hexbyte is not None:
            if drop:
                drop -= 1
            elif not skipping:
                pending.append(int(hexbyte, 16))
            continue
        flush()
        if word is not None:
            if group_words and not group_words[-1]:
                group_words[-1] = word
            if (star and word not in _READ_STARRED) or word in _SKIP:
                skipping = True
                star = False
                continue
            star = False
            if word == b"ansicpg" and arg:
                codepage = _codepage(int(arg), codepage)
            elif word == b"uc" and arg:
                uc = max(0, int(arg))
            elif word == b"u" and arg and not skipping:
                value = int(arg)
                out.append(_char(value + 65536 if value < 0 else value))
                drop = uc
            elif word == b"bin" and arg:
                skipping = True  # binary data follows; its group is skipped
            elif not skipping and word in _BREAKS:
                out.append(_BREAKS[word])
            continue
        if symbol is not None:
            if symbol == b"*":
                star = True
            elif not skipping:
                if symbol in (b"\\", b"{", b"}"):
                    out.append(symbol.decode())
                elif symbol == b"~":
                    out.append("\u00a0")
                elif symbol == b"_":
                    out.append("-")
            continue
        if plain is not None and not skipping:
            if drop:
                cut = min(drop, len(plain))
                plain = plain[cut:]
                drop -= cut
            out.append(plain.decode(codepage, errors="replace"))
    flush()
    return "".join(out)


def _codepage(number: int, fallback: str) -> str:
    """The code page `\\ansicpg` names, if it reads ASCII as ASCII (as every RTF reader
    does): `\\ansicpg037` (EBCDIC) must not turn the document's plain text into noise."""
    name = f"cp{number}"
    try:
        probe = bytes(range(0x20, 0x7F))
        return name if probe.decode(name) == probe.decode("ascii") else fallback
    except (LookupError, UnicodeDecodeError):
        return fallback


def _char(code: int) -> str:
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return "\ufffd"
