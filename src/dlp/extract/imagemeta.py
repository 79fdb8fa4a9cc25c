"""Text a picture carries beside its pixels, and whatever follows its end.

A hostile insider need not draw a secret to hide it in a picture: every image format
keeps text that an image viewer's "properties" or any hex viewer shows, and most
viewers stop reading at the image's end marker, so bytes appended after it (a text, a
zip, a DOCX: a polyglot) leave with the picture unseen. This module reads, without
decoding a single pixel:

- PNG: tEXt, zTXt and iTXt chunks (compressed ones inflated under the limits), eXIf;
- JPEG: comments (COM), EXIF (APP1), XMP packets (APP1, extended XMP too), IPTC
  records (APP13), and the printable text of every other application segment;
- GIF: comment and plain-text extensions, application extensions (XMP);
- TIFF: the text fields of every IFD (EXIF's included); WebP: its EXIF and XMP chunks;
- EXIF anywhere: ASCII fields, UserComment, the Windows XP* fields, embedded XMP/IPTC.

The text is one part, ``photo.jpg!/metadata``. Bytes after the end of the image (PNG
IEND, JPEG EOI, GIF trailer, the end of WebP's RIFF, BMP's declared size), unless
they are only padding, are a child item ``photo.jpg!/trailing`` that the walk reads
by its content. A damaged or over-expanding text chunk is a problem; a picture whose
structure breaks off is read as far as it goes.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Iterator

from ..types import Item, Part, Problem
from .base import Context, Output, read_bytes
from .decoding import decode_text, printable_strings
from .images import image_kind

_MAX_IFDS = 64  # IFDs followed in one TIFF/EXIF block (a loop of offsets ends here)
_MAX_ENTRIES = 4096  # entries read per IFD
_MAX_TIFF_VALUES = 16 * 1024 * 1024  # bytes of field values read from one TIFF structure, at least its size
_PADDING = b"\0 \t\r\n\xff"


def image_outputs(item: Item, ctx: Context) -> Iterator[Output]:
    """The metadata part and the trailing item of one image (PNG, JPEG, GIF, TIFF,
    WebP or BMP, told by its magic)."""
    data = read_bytes(item, ctx)
    texts: list[str] = []
    problems: list[Problem] = []
    reader = _READERS.get(image_kind(data))
    end = None
    inflate = _Inflater(item, ctx, problems)
    if reader is not None:
        end = reader(data, texts, inflate)
    # values first, in order, and the keywords after them all: a keyword between two
    # values would split an excerpt written across several chunks
    lines = [" ".join(line.replace("\0", " ").split())
             for line in texts + [" ".join(inflate.keywords), " ".join(inflate.translated)]]
    text = "\n".join(line for line in lines if line)
    if text:
        yield Part(f"{item.locator}!/metadata", text + "\n", "image-metadata")
    joined = _joined(texts, inflate)
    if joined:
        yield Part(f"{item.locator}!/metadata#joined", joined, "image-metadata", meta={"reading": "joined"})
    yield from problems
    if end is not None and end < len(data) and data[end:].strip(_PADDING):
        yield Item(locator=f"{item.locator}!/trailing", name="trailing", data=data[end:], depth=item.depth + 1)


class _Inflater:
    """zlib streams of text chunks, inflated under the expansion ratio, the text limit
    and the item's budget; a breach or damage is a problem of the metadata part."""

    def __init__(self, item: Item, ctx: Context, problems: list[Problem]) -> None:
        self.locator = f"{item.locator}!/metadata"
        self.ctx = ctx
        self.problems = problems
        self.keywords: list[str] = []  # PNG chunk keywords, read after the values
        self.translated: list[str] = []  # iTXt translated keywords
        self.by_keyword: dict[str, list[str]] = {}  # PNG text chunk values, by keyword, in order

    def __call__(self, packed: bytes, what: str) -> bytes | None:
        limits = self.ctx.limits
        cap = int(min(limits.max_text_chars, max(limits.ratio_floor_bytes, limits.max_ratio * max(1, len(packed)))))
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(packed, cap)
        except zlib.error as exc:
            self.problems.append(Problem(self.locator, "corrupt", f"{what} cannot be inflated: {exc}"[:300]))
            return None
        if inflater.unconsumed_tail:
            self.problems.append(Problem(self.locator, "ratio", f"{what} expands past {cap} bytes; not read"))
            return None
        self.ctx.budget.charge(len(data))
        return data

    def problem(self, kind: str, detail: str) -> None:
        self.problems.append(Problem(self.locator, kind, detail[:300]))


# --- PNG ------------------------------------------------------------------------------


def _joined(texts: list[str], inflate: _Inflater) -> str:
    """Text cut into pieces run on, as a writer who cut it at fixed lengths meant it to: a cut
    through a word is that word again (the plain reading keeps the pieces that end at a word).
    One line for all the values in order; one per PNG keyword whose values another keyword's
    value interleaves (a ``Software`` chunk between two pieces of a ``Comment``); one for the
    keywords and one for the translated keywords (each is a text a writer chooses)."""
    lines = []
    for pieces in (texts, *(inflate.by_keyword.values() if len(inflate.by_keyword) > 1 else ()),
                   inflate.keywords, inflate.translated):
        pieces = [piece.replace("\0", " ") for piece in pieces if piece.strip()]
        if len(pieces) > 1:
            lines.append("".join(pieces))
    return "".join(line + "\n" for line in lines)


def _png(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    """The text chunks of a PNG, also those after IEND (a reader that lists every chunk shows
    them); returns where IEND ends, or None when the chunks run past the data."""
    end = None
    position = 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if len(body) < length:
            return end  # cut short: no end to read after (or the chunks after it end here)
        if kind == b"IEND":
            if end is None:
                end = position
            continue
        if end is not None and not kind.isalpha():
            return end  # after IEND, bytes that are no chunk: the trailing child reads them
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            inflate.keywords.append(_latin(key))
            texts.append(_latin(value))
            inflate.by_keyword.setdefault(_latin(key), []).append(texts[-1])
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            inflate.keywords.append(_latin(key))
            value = inflate(rest[1:], f"zTXt chunk {_latin(key)!r}")
            if value is not None:
                texts.append(_latin(value))
                inflate.by_keyword.setdefault(_latin(key), []).append(texts[-1])
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            inflate.keywords.append(_latin(key))
            compressed = rest[:1] == b"\x01"
            language, _, rest = rest[2:].partition(b"\0")
            translated, _, value = rest.partition(b"\0")
            if compressed:
                value = inflate(value, f"iTXt chunk {_latin(key)!r}")
                if value is None:
                    continue
            inflate.translated.append(_utf8(translated))
            texts.append(_xml_or_text(value))
            inflate.by_keyword.setdefault(_latin(key), []).append(texts[-1])
        elif kind == b"eXIf":
            _tiff(body, texts, inflate)
    return end


# --- JPEG -----------------------------------------------------------------------------

_XMP = b"http://ns.adobe.com/xap/1.0/\0"
_XMP_EXTENSION = b"http://ns.adobe.com/xmp/extension/\0"
_SCAN_END = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")  # the first marker after entropy-coded data


def _jpeg(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    position = 2
    while position + 2 <= len(data):
        if data[position] != 0xFF:
            return None  # not a marker where one must be: damaged, no end to read after
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xD9:  # EOI
            return position + 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        if position + 4 > len(data):
            return None
        length = struct.unpack(">H", data[position + 2:position + 4])[0]
        body = data[position + 4:position + 2 + length]
        position += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next marker
            found = _SCAN_END.search(data, position)
            if found is None:
                return None
            position = found.end() - 2
        elif marker == 0xFE:
            texts.append(_text(body))
        elif marker == 0xE1 and body.startswith(b"Exif\0"):
            _tiff(body[6:], texts, inflate)
        elif marker == 0xE1 and body.startswith(_XMP):
            texts.append(_xml_or_text(body[len(_XMP):]))
        elif marker == 0xE1 and body.startswith(_XMP_EXTENSION):
            texts.append(_xml_or_text(body[len(_XMP_EXTENSION) + 40:]))  # GUID (32) and offsets (8) first
        elif marker == 0xED and body.startswith(b"Photoshop 3.0\0"):
            _photoshop(body[14:], texts)
        elif 0xE0 <= marker <= 0xEF:  # other application data (JFIF, ICC, Adobe, anything a tool wrote)
            texts.append(printable_strings(body))
    return None


def _photoshop(data: bytes, texts: list[str]) -> None:
    """Photoshop image resources: the IPTC block (0x0404) holds caption, keywords, by-line..."""
    position = 0
    while position + 12 <= len(data) and data[position:position + 4] == b"8BIM":
        resource = struct.unpack(">H", data[position + 4:position + 6])[0]
        name_length = data[position + 6]
        position += 6 + name_length + 1 + ((name_length + 1) & 1)  # Pascal name padded to even
        if position + 4 > len(data):
            return
        size = struct.unpack(">I", data[position:position + 4])[0]
        body = data[position + 4:position + 4 + size]
        position += 4 + size + (size & 1)
        if resource == 0x0404:
            _iptc(body, texts)


def _iptc(data: bytes, texts: list[str]) -> None:
    """IPTC-IIM datasets (tag 0x1C, record, dataset, 16-bit size): the text ones."""
    position = 0
    while position + 5 <= len(data) and data[position] == 0x1C:
        record, dataset = data[position + 1], data[position + 2]
        size = struct.unpack(">H", data[position + 3:position + 5])[0]
        if size & 0x8000:  # an extended dataset: its length is in the next bytes; none of these is text
            return
        body = data[position + 5:position + 5 + size]
        position += 5 + size
        if record == 2 and dataset not in (0, 90):  # 2:00 is the record version, 2:90 a charset marker
            texts.append(_text(body))


# --- TIFF and EXIF --------------------------------------------------------------------

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_SUB_IFDS = frozenset({0x8769, 0x8825, 0xA005, 0x014A})  # EXIF, GPS, interoperability, sub-IFDs
_XP_TAGS = frozenset({0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F})  # XPTitle, XPComment, XPAuthor, XPKeywords, XPSubject
_USER_COMMENT = 0x9286
_XMP_TAG = 0x02BC
_IPTC_TAG = 0x83BB


def _tiff(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    """Text fields of a TIFF structure (a TIFF file, or the EXIF block of a JPEG, PNG or
    WebP): every ASCII field, UserComment, the XP* fields, embedded XMP and IPTC."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None or len(data) < 8 or struct.unpack(order + "H", data[2:4])[0] != 42:
        return None
    queue = [struct.unpack(order + "I", data[4:8])[0]]
    seen: set[int] = set()
    left = max(len(data), _MAX_TIFF_VALUES)  # bytes of values read in all: entries may all point at the whole file
    while queue and len(seen) < _MAX_IFDS and left > 0:
        offset = queue.pop(0)
        if offset in seen or offset < 8 or offset + 2 > len(data):
            continue
        seen.add(offset)
        count = min(struct.unpack(order + "H", data[offset:offset + 2])[0], _MAX_ENTRIES)
        for index in range(count):
            entry = data[offset + 2 + 12 * index:offset + 14 + 12 * index]
            if len(entry) < 12:
                break
            tag, kind, number = struct.unpack(order + "HHI", entry[:8])
            size = min(number * _TYPE_SIZES.get(kind, 0), left)
            if size <= 4:
                value = entry[8:8 + size]
            else:
                start = struct.unpack(order + "I", entry[8:12])[0]
                value = data[start:start + size]
                left -= len(value)
            if tag in _SUB_IFDS and kind in (4, 13) and len(value) >= 4:
                queue.extend(struct.unpack(order + "I", value[i:i + 4])[0] for i in range(0, min(len(value), 64) - 3, 4))
            elif kind == 2:
                texts.append(_text(value))
            elif tag == _USER_COMMENT:
                texts.append(_user_comment(value, order))
            elif tag in _XP_TAGS:
                texts.append(value.decode("utf-16-le", errors="replace"))
            elif tag == _XMP_TAG:
                texts.append(_xml_or_text(value))
            elif tag == _IPTC_TAG:
                _iptc(value, texts)
        following = data[offset + 2 + 12 * count:offset + 6 + 12 * count]
        if len(following) == 4:
            queue.append(struct.unpack(order + "I", following)[0])
    return None


def _user_comment(value: bytes, order: str) -> str:
    prefix, body = value[:8], value[8:]
    if prefix.startswith(b"UNICODE"):
        return body.decode("utf-16-le" if order == "<" else "utf-16-be", errors="replace")
    return _text(body)


# --- GIF ------------------------------------------------------------------------------


def _gif(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    if len(data) < 13:
        return None
    position = 13 + _colour_table(data[10])
    while position < len(data):
        block = data[position]
        if block == 0x3B:  # trailer
            return position + 1
        if block == 0x21:  # extension: label, then data sub-blocks
            if position + 2 > len(data):
                return None
            label, start = data[position + 1], position + 2
            body, position = _sub_blocks(data, start)
            if body is None:
                return None
            if label == 0xFE:  # comment
                texts.append(_text(body))
            elif label == 0x01:  # plain text, after its 12-byte header
                texts.append(_text(body[12:]))
            elif label == 0xFF and body[:11] == b"XMP DataXMP":
                # XMP is stored raw (its bytes double as sub-block sizes), then a "magic trailer"
                raw = data[start + 12:position]
                texts.append(_xml_or_text(raw[:raw.rfind(b"?>") + 2] if b"?>" in raw else raw))
            elif label == 0xFF and body[:11] != b"NETSCAPE2.0":  # other application data
                texts.append(printable_strings(body[11:]))
        elif block == 0x2C:  # image: descriptor, local colour table, LZW code size, data sub-blocks
            if position + 10 > len(data):
                return None
            position += 10 + _colour_table(data[position + 9]) + 1
            body, position = _sub_blocks(data, position, keep=False)
            if body is None:
                return None
        else:
            return None  # not a block: damaged
    return None


def _colour_table(flags: int) -> int:
    """Bytes of the colour table a GIF screen or image descriptor's flags announce."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _sub_blocks(data: bytes, position: int, keep: bool = True) -> tuple[bytes | None, int]:
    """GIF data sub-blocks from `position`: their bytes (when `keep`) and the position after."""
    pieces: list[bytes] = []
    while position < len(data):
        size = data[position]
        if size == 0:
            return b"".join(pieces), position + 1
        if keep:
            pieces.append(data[position + 1:position + 1 + size])
        position += 1 + size
    return None, position


# --- WebP and BMP ---------------------------------------------------------------------


def _webp(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    end = 8 + struct.unpack("<I", data[4:8])[0]
    position = 12
    while position + 8 <= min(end, len(data)):
        kind, size = struct.unpack("<4sI", data[position:position + 8])
        body = data[position + 8:position + 8 + size]
        position += 8 + size + (size & 1)
        if kind == b"EXIF":
            _tiff(body[6:] if body.startswith(b"Exif\0") else body, texts, inflate)
        elif kind == b"XMP ":
            texts.append(_xml_or_text(body))
    return end if end <= len(data) else None


def _bmp(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    declared = struct.unpack("<I", data[2:6])[0] if len(data) >= 6 else 0
    return declared if 26 <= declared <= len(data) else None


def _tiff_file(data: bytes, texts: list[str], inflate: _Inflater) -> int | None:
    _tiff(data, texts, inflate)
    return None  # a TIFF's parts may lie anywhere: nothing is "after" it


_READERS = {"png": _png, "jpeg": _jpeg, "gif": _gif, "tiff": _tiff_file, "webp": _webp, "bmp": _bmp}


# --- text -----------------------------------------------------------------------------


def _latin(data: bytes) -> str:
    """PNG tEXt/zTXt text is Latin-1 by the standard; UTF-8 is what tools write anyway."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _utf8(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _text(data: bytes) -> str:
    """A text field in whatever encoding its writer used, decoded by evidence (a field
    longer than any caption, `_MAX_GUESSED` bytes, as UTF-8 or its printable runs)."""
    data = data.rstrip(b"\0")
    if not data:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return (decode_text(data) if len(data) <= _MAX_GUESSED else None) or printable_strings(data)


_MAX_GUESSED = 64 * 1024


def _xml_or_text(data: bytes) -> str:
    """An XMP packet (or any XML) as its text and attribute values; other text as it is."""
    from ..errors import ExtractionError
    from .safexml import MarkupText, parse_text

    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n\0")
    if stripped.startswith(b"<"):
        try:
            return parse_text(stripped, MarkupText()).text
        except ExtractionError:
            pass
    return _text(data)
