"""Text hidden in an encoding inside text: long base64 and hex runs, percent and
``\\x`` escapes, quoted-printable.

A secret pasted as base64 into a note (``notes.txt``), a JSON field or a mail body is
one "word" to the tokeniser and matches nothing. Every text part is searched for
such runs, and each run that decodes to something readable becomes a child item,
read by its content like an archive member (``notes.txt!/base64[2]``): text, or a
format dlp reads (a zip, a PDF, a DOCX, a picture's metadata...). A decoded run is a
nested item, so the depth, size and time limits of archives hold for it (base64 of
base64 of a zip bomb ends as `too_deep`, `ratio` or `too_large`), and the same run
found twice in one scanned item is decoded once.

What a run decodes to is read only when it is plainly readable: text in some
encoding without doubt (UTF-8 if shorter than 64 bytes, as random bytes that short
can pass for UTF-16 or a legacy code page), or bytes with the magic of a format dlp
reads. Random bytes (hashes, keys, signatures, compressed data without a header) are
not a hiding place anyone can read back without a key, and are left alone: they
would otherwise be a `binary` part of every mail with a DKIM signature.

Cost on ordinary text: one pass that lists where runs could start (a run of the alphabet
MIN_RUN long, or 16 long and ending a line; eight hex bytes with separators), in C where
the speedups are built, else by `bytes.translate` and `bytes.find`; the regular expressions
run only there. The escape patterns are one regex search each, and quoted-printable is
read only when the text holds enough ``=`` to be it. A run that decodes to nothing readable
is judged once per scanned item.
"""

from __future__ import annotations

import binascii
import bisect
import codecs
import hashlib
import quopri
import re
import urllib.parse
from typing import Iterator

import numpy as np

from .. import speedups
from ..types import Item, Part, Problem
from .base import Context
from .decoding import clean_readings, decode, mostly_letters

MIN_RUN = 64  # characters of the alphabet, white space aside, before a run is decoded
_MIN_DISTINCT = 10  # different characters a base64 run shows ("-----" and "_____" lines are not base64)
_MIN_UNSURE_BYTES = 64  # shorter decoded text must be UTF-8
_MIN_ESCAPES = 11  # percent or \\x escapes in one word before it is decoded
_MIN_ESCAPED_WORDS = 8  # words the decoded word must hold (a tracking link holds none)
_CHUNK = 4 * 1024 * 1024  # characters of text searched at once (its bytes and mask are transient)
_TAIL = 4096  # characters before a chunk's edge read again with the next chunk, at most
_EDGE = 1024  # a run whose match ends this close to a chunk's edge is read again, whole, with the next
_KEPT_RUN, _KEPT_RUNS = 1024, 4096  # base64 matches this long at most are kept, decoded, for their repeats in a part
_RUN_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \t\r\n:,;."

# Candidates are found on a mask of the text's bytes (one `bytes.translate`, then
# `bytes.find` of a literal), several times faster than a character-class regex; the
# regex then reads the run at each candidate only.
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_BASE64_MASK = bytes(ord("a") if byte in _ALPHABET else ord("n") if byte in b"\r\n" else ord("t") if byte in b" \t"
                     else ord(" ") for byte in range(256))
_BASE64_FIRST = 16  # characters of the alphabet a base64 run starts with ...
_LONG_NEEDLE = b"a" * MIN_RUN  # ... then either MIN_RUN of them on one line,
_LINE_NEEDLE = b"a" * _BASE64_FIRST + b"n"  # or a line of them that goes on (MIME and PEM wrap),
_BLANK_NEEDLE = b"a" * _BASE64_FIRST + b"t"  # blanks before the line break or not
_HEX_MASK = bytes(ord("h") if byte in b"0123456789abcdefABCDEF" else ord("s") if byte in b" \t:,;.\r\n-"
                  else ord("x") for byte in range(256))
_HEX_NEEDLES = (b"hhs" * 8, b"hhss" * 8, b"hhsss" * 8)  # eight bytes, one to three separators after each
_HEX_DIGITS = b"0123456789abcdefABCDEF"

# base64 (standard and URL-safe): a run of at least 16 characters, then whole lines of
# the alphabet (as MIME and PEM wrap it at 64 or 76)
_BASE64 = re.compile(  # padding ends a run: a line after it starts another
    rb"[A-Za-z0-9+/_-]{16,}(?:[ \t]*(?:\r\n?|\n)[ \t]*(?:[A-Za-z0-9+/_-]{4,}|[A-Za-z0-9+/_-]{2,3}(?==))"
    rb"(?=={0,2}[ \t]*(?:[\r\n]|$)))*={0,2}"
)
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# hex bytes with separators: "de ad be ef", "de:ad:be:ef", "de.ad.be.ef", "0x48, 0x65, ...", hex dumps
_HEX_BYTES = re.compile(
    rb"(?:(?:0[xX])?[0-9A-Fa-f]{2}[ \t:,;.\r\n-]{1,3}){31,}(?:0[xX])?[0-9A-Fa-f]{2}(?![0-9A-Za-z])"
)
# a dump: lines of an offset, then groups of one to eight hex bytes in order (od -t x1,
# hexdump -C, xxd), then perhaps the bytes as text; at least two lines of them
_DUMP_LINE_PATTERN = (rb"[ \t]*[0-7][0-9A-Fa-f]{3,9}:?"
                      rb"(?P<bytes>(?:[ \t]{1,2}(?:[0-9A-Fa-f]{2}){1,8}(?![0-9A-Za-z])){1,32})"
                      rb"(?:[ \t]{2,}[^\r\n]*)?[ \t]*(?:\r\n?|\n|$)")
_DUMP_LINE = re.compile(_DUMP_LINE_PATTERN)
_DUMP = re.compile(rb"(?:" + _DUMP_LINE_PATTERN.replace(b"(?P<bytes>", b"(?:") + rb"){2,}")
_PAIR = re.compile(rb"[0-9A-Fa-f]{2}")
_HEX_ARRAY = re.compile(rb"(?<![0-9A-Za-z])(?:0[xX][0-9A-Fa-f]{2}\s*[,;]?\s*){32,}")
_HEX_ARRAY_BYTE = re.compile(rb"0[xX][0-9A-Fa-f]{2}")
_NOT_HEX = re.compile(rb"0[xX]|[^0-9A-Fa-f]")
_SPACE = re.compile(rb"\s+")
# a word holding percent or \x escapes: "The%20Halcyon%20coating", "\x54\x68\x65"
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}")
_PERCENT, _BACKSLASH_X = re.compile(r"%[0-9A-Fa-f]{2}"), re.compile(r"\\x[0-9A-Fa-f]{2}")  # literal first: fast search
_PERCENT_BYTES, _BACKSLASH_X_BYTES = re.compile(_PERCENT.pattern.encode()), re.compile(_BACKSLASH_X.pattern.encode())
_ESCAPED_WORD = re.compile(r"(?:[^\s%\\]*(?:%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}))+[^\s%\\]*")
_SPACE_CHAR = re.compile(r"\s")
_QP = re.compile(r"=(?:[0-9A-F]{2}|\r?\n)")
_ISO2022_SHIFT = re.compile(rb"\x1b(?:\$|\.|N|O|\(I)")  # an escape to a set other than ASCII, a single shift
_UTF7_SHIFT = re.compile(rb"\+[A-Za-z0-9+/]*")  # a "+" and the base64 after it: a UTF-7 shift perhaps

# magic numbers of formats dlp reads, which a decoded run may carry
_MAGICS = (
    b"PK\x03\x04", b"PK\x05\x06", b"%PDF-", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x1f\x8b\x08", b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"{\\rtf", b"II*\x00",
    b"MM\x00*",
)


def encoded_items(part: Part, parent: Item, ctx: Context) -> Iterator[Item | Problem]:
    """Child items for the encoded runs of `part` (a part of `parent`), numbered per
    kind: ``!/base64[1]``, ``!/hex[1]``, ``!/escaped[1]``, ``!/quoted-printable``."""
    text = part.text
    if not text or part.meta.get("reading"):  # an extra reading holds no run its part lacks
        return
    count = 0
    # (a 7-bit reading is not read as 7-bit text again: what its encodings left as they were,
    # "C++" and "+1", would make another reading of it, and another, to the depth limit)
    seven_bit = seven_bit_parent(part.locator.split("#", 1)[0]) is None
    for kind, number, data, shifted in _decoded_runs(text, seven_bit):
        ctx.budget.check_time()
        if count >= ctx.limits.max_members:
            yield Problem(part.locator, "too_many", f"more than {ctx.limits.max_members} encoded runs; the rest are not read")
            return
        digest = _digest(data)
        if digest in ctx.decoded:
            continue
        if digest in ctx.unreadable or not _readable(data):  # the same run again (a signature quoted in
            ctx.unreadable.add(digest)  # every mail of a thread) is judged once: charset detection costs
            if not shifted:  # a third of a millisecond
                continue
            # base64 with one to three characters glued in front ("x<base64>") reads as noise:
            # read without them
            data, digest = shifted, _digest(shifted)
            if digest in ctx.decoded or digest in ctx.unreadable:
                continue
            if not _readable(data):
                ctx.unreadable.add(digest)
                continue
        ctx.decoded.add(digest)
        count += 1
        ctx.budget.charge(len(data))
        name = kind if number is None else f"{kind}[{number}]"
        yield Item(locator=f"{part.locator}!/{name}", name=name, data=data, depth=parent.depth + 1)


def already_read(data: bytes, ctx: Context) -> bool:
    """Whether these decoded bytes were read already in this scan (a run two readings of one
    text share, a ``data:`` URI the run search found as base64 too); marks them read."""
    digest = _digest(data)
    if digest in ctx.decoded:
        return True
    ctx.decoded.add(digest)
    return False


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _decoded_runs(text: str, seven_bit: bool = True) -> Iterator[tuple[str, int | None, bytes, bytes | None]]:
    """(kind, number, decoded bytes, the bytes of another reading or None) of each run, and of
    the text's lines in 7-bit encodings when `seven_bit`."""
    numbers = {"base64": 0, "hex": 0, "escaped": 0}
    # "=" (and escapes), counted as the chunks are searched (chunks overlap a little: at least as
    # many as the text holds, but for one cut by a chunk's edge), and the words that may hold an
    # escaped word (`_escape_words`), which decide where escaped words are looked for
    marks, seven, words = [0, 0, 0], [], []
    runs = list(_runs(text, marks, seven if seven_bit else None, words))
    for kind, data, shifted in (*runs, *_escaped(text, words)):
        if data:
            numbers[kind] += 1
            yield kind, numbers[kind], data, shifted
    equals = marks[0]  # as many escapes at most: the escapes are counted only when there can be enough
    if equals >= 4 and (equals + 1) * 80 >= len(text):
        escapes = sum(1 for _ in _QP.finditer(text))
        if escapes >= 4 and (escapes + 1) * 80 >= len(text):  # a soft break every line at least
            decoded = quopri.decodestring(text.encode("utf-8", errors="surrogatepass"))
            if decoded:
                yield "quoted-printable", None, decoded, None
    if seven:
        yield from _seven_bit(seven)


def _runs(text: str, marks: list[int], seven: list | None = None,
          words: list | None = None) -> Iterator[tuple[str, bytes | None, bytes | None]]:
    """Decoded base64 and hex runs, the text searched a chunk at a time. A run that
    reaches the end of a chunk is read again from its start with the next chunk (the
    chunk doubles when one run fills it). `marks`: see `_candidates`; the lines that hold
    marks of 7-bit encodings are appended to `seven` as (bytes, kinds), each once; the words
    that may hold an escaped word (`_escape_words`) to `words`, as (start, end) in the text (a
    word may be there twice, or in part where a chunk's edge cut it)."""
    start, size, seen, decoded = 0, _CHUNK, {}, {}
    while start < len(text):
        end = min(len(text), start + size)
        following = _tail_start(text, start, end) if end < len(text) else end
        data = text[start:end].encode("utf-8", errors="surrogatepass")
        ascii = len(data) == end - start  # (bytes and characters one for one: no offset to convert)
        # (else the bytes of what the next chunk reads again, at most _TAIL characters, come off the end)
        cut = following - start if ascii else len(data) - len(text[following:end].encode("utf-8", errors="surrogatepass"))
        restart = None
        lines: list[tuple[int, int, int]] = []
        escaped: list[tuple[int, int]] = []
        for first, last, kind, payload, shifted in _candidates(data, marks, lines, escaped, decoded):
            if first >= cut:  # read with the next chunk, which starts there
                break
            if end < len(text) and last >= len(data) - _EDGE:  # may go on past the edge: read it whole
                restart = first
                break
            yield kind, payload, shifted
        if seven is not None:  # (what the next chunk reads again is left to it)
            seven.extend(_seven_bit_spans(data, lines, cut if restart is None else restart, seen))
        if words is not None:  # (their bounds fall next to ASCII blanks or at the chunk's ends: no
            bounds = [x for pair in escaped for x in pair]  # character is cut)
            if not ascii:
                bounds = _char_offsets(data, bounds)
            words.extend((start + a, start + b) for a, b in zip(bounds[0::2], bounds[1::2]))
        if restart is None:
            start, size = following, _CHUNK
        elif restart == 0:
            size *= 2
        else:
            start += restart if ascii else len(data[:restart].decode("utf-8", errors="surrogatepass"))
            size = _CHUNK


def _char_offsets(data: bytes, offsets: list[int]) -> list[int]:
    """The character offsets of the byte offsets `offsets` of the UTF-8 text `data` (each at a
    character's start), the pieces between them decoded once each, in order: decoding the chunk
    up to each offset read a chunk of text beyond ASCII again for every escaped word in it (33 ms
    of a 40 MB scan of mail written with typographic quotes)."""
    ordered = sorted(set(offsets))
    native = speedups.native
    if native is not None:  # (the bytes that are not continuation bytes, counted in C)
        counted = np.frombuffer(native.utf8_offsets(data, np.array(ordered, dtype=np.int64)), dtype=np.int64).tolist()
        chars = dict(zip(ordered, counted))
    else:
        chars, at, count = {}, 0, 0
        for x in ordered:
            count += len(data[at:x].decode("utf-8", errors="surrogatepass"))
            chars[x] = count
            at = x
    return [chars[x] for x in offsets]


def _tail_start(text: str, start: int, end: int) -> int:
    """Where the chunk after text[start:end] starts: at the run of characters a base64 or hex
    run can hold (its alphabet, padding, separators, blanks) that the edge falls in, at most
    `_TAIL` back. A run that begins a few characters before the edge (a fragment too short to
    be a candidate) or whose next line does (a match that ends short of the edge) is then read
    whole with the next chunk, from a line or group boundary, not from the middle of a line."""
    floor = max(start + 1, end - _TAIL)
    return floor + len(text[floor:end].rstrip(_RUN_TEXT))


def _candidates(data: bytes, marks: list[int] | None = None, lines: list | None = None,
                words: list | None = None, decoded: dict | None = None) -> list[tuple[int, int, str, bytes | None, bytes | None]]:
    """(start, end, kind, decoded bytes, another reading's bytes or None) of the base64 and hex
    runs of `data`, in order. The counts of "=", "%" escapes and "\\x" escapes in `data` are
    added to `marks`, the lines of 7-bit marks as (start, end, kinds) to `lines`, and the words
    that may hold an escaped word as (start, end) to `words`, when given. `decoded`: what each
    base64 match read as (`_base64_run`), taken from and added to (mail quotes mail: 40 MB of it
    held 612 runs, a quarter of them different; short ones only, and so many)."""
    found: list[tuple[int, int, str, bytes | None, bytes | None]] = []
    base64_starts, hex_starts, offsets, zero_x, counted, marked, escaped = _starts(data)
    if marks is not None:
        for i, count in enumerate(counted):
            marks[i] += count
    if lines is not None:
        lines.extend(marked)
    if words is not None:
        words.extend(escaped)
    position = base64_starts.next(0)
    while position >= 0:
        match = _BASE64.match(data, position)
        run = match.group()
        read = decoded.get(run, False) if decoded is not None else False
        if read is False:
            read = _base64_run(run)
            if decoded is not None and len(run) <= _KEPT_RUN and len(decoded) < _KEPT_RUNS:
                decoded[run] = read
        if read is not None:
            found.append((match.start(), match.end(), *read))
        position = base64_starts.next(max(match.end(), position + 1))
    position = hex_starts.next(0)
    while position >= 0:
        match = _HEX_BYTES.match(data, position) if position == 0 or data[position - 1] not in _HEX_DIGITS else None
        if match is not None:
            found.append((match.start(), match.end(), "hex", _unhex(_NOT_HEX.sub(b"", match.group())), None))
        else:  # sixteen bytes a line between offsets: a dump (od, hexdump -C)
            match = _DUMP.match(data, data.rfind(b"\n", 0, position) + 1)
            if match is not None:
                found.append(_dumped(match))
        position = hex_starts.next(max(match.end(), position + 1) if match is not None else position + 1)
    # dumps whose bytes come in groups of two or more (xxd: "00000000: 4865 6c6c ..."), which the hex
    # search does not see: from the first line's offset, zero, at the start of a line
    read_to = 0
    for position in offsets:
        if position < read_to:
            continue
        line = data.rfind(b"\n", 0, position) + 1
        if not any(s <= line < e for s, e, _, _, _ in found):
            match = _DUMP.match(data, line)
            if match is not None:
                found.append(_dumped(match))
                read_to = match.end()
    # C arrays: 0x48, 0x65, ... (as many as "0x" and "0X" at most)
    if zero_x >= 32 and len(_HEX_ARRAY_BYTE.findall(data)) >= 32:
        for match in _HEX_ARRAY.finditer(data):
            found.append((match.start(), match.end(), "hex", _unhex(_NOT_HEX.sub(b"", match.group())), None))
    return sorted(found, key=lambda run: run[0])


def _base64_run(run: bytes) -> tuple[str, bytes | None, bytes | None] | None:
    """(kind, decoded bytes, another reading's bytes or None) of what `_BASE64` matched, or None
    when it is too short or shows too few different characters."""
    compact = _SPACE.sub(b"", run)
    if len(compact) < MIN_RUN or len(set(compact[:256])) < _MIN_DISTINCT:
        return None
    if _HEX.fullmatch(compact):
        return "hex", _unhex(compact), None
    glued = len(compact) % 4  # (and, in case one to three characters were glued in front, the run without them)
    return "base64", _unbase64(compact), _unbase64(compact[glued:]) if glued else None


def _dumped(match: re.Match) -> tuple[int, int, str, bytes | None, None]:
    """A `_candidates` entry for a dump: its hex bytes in order, offsets and text column left out."""
    pairs = b"".join(pair for line in _DUMP_LINE.finditer(match.group()) for pair in _PAIR.findall(line.group("bytes")))
    return match.start(), match.end(), "hex", _unhex(pairs), None


def _starts(data: bytes):
    """Where runs may start in `data`: base64 (`_Base64Starts`) and hex bytes (`_HexStarts`),
    each with `next(position)`, where a dump's first offset may stand (`_offsets`), how many
    "0x" there are (32 or more, when not counted: a C array may be there), and the counts of
    "=", "%" escapes and "\\x" escapes, the lines of 7-bit marks and the words that may hold an
    escaped word (`_escape_words`), from one C pass where the speedups are built (64 bytes at a
    time where SSE2 is at hand). That pass also reads each base64 match as `_candidates` does
    and leaves out those it would turn down (too short or too few different characters: 94% of
    them in mail), in the same order."""
    native = speedups.native
    if native is None:
        percent, backslash = ([m.start() for m in kind.finditer(data)] for kind in (_PERCENT_BYTES, _BACKSLASH_X_BYTES))
        return (_Base64Starts(data.translate(_BASE64_MASK)), _HexStarts(data.translate(_HEX_MASK)), _offsets(data),
                32 if _HEX_ARRAY_BYTE.search(data) else 0, [data.count(b"="), len(percent), len(backslash)],
                _marked_lines(data), _escape_words(data, sorted(percent + backslash)))
    base64, hexes, offsets, zero_x, *counted, lines, words = native.encoded_starts(data, MIN_RUN, _BASE64_FIRST,
                                                                                   _MIN_DISTINCT, _MIN_ESCAPES)
    lines, words = memoryview(lines).cast("q").tolist(), memoryview(words).cast("q").tolist()
    return (_Listed(base64), _Listed(hexes), memoryview(offsets).cast("q").tolist(), zero_x, counted,
            list(zip(lines[0::3], lines[1::3], lines[2::3])), list(zip(words[0::2], words[1::2])))


def _escape_words(data: bytes, escapes: list[int] | None = None) -> list[tuple[int, int]]:
    """(start, end) of each word of `data` (a run of bytes between ASCII blanks) that may hold a
    word `_escaped` reads: one with _MIN_ESCAPES percent or \\x escapes or more, or with one or
    more and running on past either end of `data` (a chunk of the text: the rest of it is in the
    chunk before or after). An escaped word has no blank in it, so it lies in one of them. Most
    escapes in mail are the few "%20" of a link; the words read for escaped words are these only
    (mail's thousands of "%" each read back for its word took 8 ms per 40 MB). `escapes`: where
    the escapes start, ascending, when they were found already."""
    if escapes is None:
        escapes = sorted(m.start() for pattern in (_PERCENT_BYTES, _BACKSLASH_X_BYTES) for m in pattern.finditer(data))
    words, i, done = [], 0, 0  # (read around the escapes only, as the C pass does)
    while i < len(escapes):
        start = _word_start(data, done, escapes[i], _BLANK_BYTES)
        after = _BLANK_BYTE.search(data, escapes[i])
        end = after.start() if after is not None else len(data)
        held = i
        while i < len(escapes) and escapes[i] < end:
            i += 1
        if i - held >= _MIN_ESCAPES or start == 0 or end == len(data):
            words.append((start, end))
        done = end
    return words


def _word_start(text: str | bytes, floor: int, at: int, blanks: list) -> int:
    """Where the word (a run between ASCII blanks, `blanks` in the type of `text`) that holds
    text[at] starts, not before `floor`: after the last blank before `at`, looked for in windows
    that double (words are short; a blank that is not there is not looked for back to the start)."""
    reach = 256
    while True:
        lo = max(floor, at - reach)
        before = max(text.rfind(blank, lo, at) for blank in blanks)
        if before >= 0:
            return before + 1
        if lo == floor:
            return floor
        reach *= 2


_BLANKS = " \t\n\r\x0b\x0c"
_BLANK_BYTE, _BLANK_BYTES = re.compile(rb"[ \t\n\r\x0b\x0c]"), [bytes([ord(c)]) for c in _BLANKS]
_BLANK_TEXT, _BLANK_CHARS = re.compile("[" + _BLANKS + "]"), list(_BLANKS)
_SEVEN_BIT_MARK = re.compile(rb"|".join((_ISO2022_SHIFT.pattern, rb"\x0e", rb"~\{", _UTF7_SHIFT.pattern)))
_LINE_REACH = 32768  # bytes of a marked line taken each way from its mark at most


def _marked_lines(data: bytes) -> list[tuple[int, int, int]]:
    """(start, end, kinds) of the lines that hold marks of 7-bit encodings (kind 1: an escape to
    a set other than ASCII, ISO-2022; 8: SO, ISO-2022-KR; 2: "~{", HZ; 4: a UTF-7 shift of three
    characters of base64 or more, whole or cut short, `_utf7`), each once, at most _LINE_REACH
    bytes each way from a mark in it."""
    lines: list[list[int]] = []
    for mark in _SEVEN_BIT_MARK.finditer(data):
        q, kind = mark.start(), {0x1B: 1, 0x0E: 8, 0x7E: 2, 0x2B: 4}[data[mark.start()]]
        if kind == 4 and mark.end() - q < 4:  # (fewer than three characters of base64: no character)
            continue
        reach = min(len(data), q + _LINE_REACH)
        if lines and q < lines[-1][1]:
            last = lines[-1]
            last[2] |= kind
            if last[1] < reach and data[last[1]] != 0x0A:  # a line cut short goes on past a mark near the cut
                end = data.find(b"\n", last[1], reach)  # (searched from the cut on: each byte once)
                last[1] = end if end >= 0 else reach
            continue
        floor = max(q - _LINE_REACH, lines[-1][1] if lines else 0)
        start = max(data.rfind(b"\n", floor, q) + 1, floor)
        end = data.find(b"\n", q, reach)
        lines.append([start, end if end >= 0 else reach, kind])
    return [tuple(line) for line in lines]


def _offsets(data: bytes) -> list[int]:
    """Where "0000000" stands at the start of a line, blanks before it aside: the first offset
    of a dump, perhaps (a "0000000" elsewhere never is, and one cannot start within seven
    characters of another at a line start)."""
    out = []
    position = data.find(b"0000000")
    while position >= 0:
        if not data[data.rfind(b"\n", 0, position) + 1 : position].strip(b" \t"):
            out.append(position)
        position = data.find(b"0000000", position + 7)
    return out


class _Listed:
    """`next` over offsets found beforehand (int64 bytes, in order)."""

    def __init__(self, offsets: bytes) -> None:
        self.offsets = memoryview(offsets).cast("q").tolist()
        self.at = 0

    def next(self, position: int) -> int:
        self.at = bisect.bisect_left(self.offsets, position, self.at)
        return self.offsets[self.at] if self.at < len(self.offsets) else -1


class _HexStarts:
    """Where eight hex bytes start, each followed by the same number (one to three) of separators
    (``de ad``, ``de, ad``, ``de\\r\\nad``), on the `_HEX_MASK` of some bytes."""

    def __init__(self, mask: bytes) -> None:
        self.mask = mask
        self.hits = [-2] * len(_HEX_NEEDLES)  # the next hit of each needle (-2: not searched, -1: none)

    def next(self, position: int) -> int:
        for i, needle in enumerate(_HEX_NEEDLES):
            if self.hits[i] == -2 or 0 <= self.hits[i] < position:
                self.hits[i] = self.mask.find(needle, position)
        found = [hit for hit in self.hits if hit >= 0]
        return min(found) if found else -1


class _Base64Starts:
    """Where the base64 regex is tried, on the `_BASE64_MASK` of some bytes: the start of each
    run of the alphabet that is MIN_RUN long, or ends a line (blanks before the line break or
    not) after `_BASE64_FIRST` characters or more. Ordinary text has few: a long word (a link,
    a rule of dashes) is neither, and `bytes.find` passes it by. Each needle's next hit is
    kept, so none is searched twice (one that has no more hits is not searched again)."""

    def __init__(self, mask: bytes) -> None:
        self.mask = mask
        # the next hit of each needle and the run start a line end gives (-2: not searched, -1: none)
        self.long = self.line = self.line_end = self.blank_end = -2

    def next(self, position: int) -> int:
        """The first start at or after `position` (a run boundary), or -1."""
        mask = self.mask
        if self.long == -2 or 0 <= self.long < position:
            self.long = mask.find(_LONG_NEEDLE, position)  # leftmost hit: where a long run starts
        if self.line == -2 or 0 <= self.line < position:
            if self.line_end == -2 or 0 <= self.line_end < position:
                self.line_end = mask.find(_LINE_NEEDLE, position)
            if self.blank_end == -2 or 0 <= self.blank_end < position:
                self.blank_end = _blank_line_end(mask, position)
            ends = [end for end in (self.line_end, self.blank_end) if end >= 0]
            hit = min(ends) if ends else -1
            self.line = -1 if hit < 0 else max(mask.rfind(b" ", position, hit), mask.rfind(b"n", position, hit),
                                               mask.rfind(b"t", position, hit), position - 1) + 1
        if self.long < 0:
            return self.line
        return self.line if 0 <= self.line < self.long else self.long


def _blank_line_end(mask: bytes, position: int) -> int:
    """The first place at or after `position` where `_BASE64_FIRST` characters of the alphabet
    and blanks end a line; -1 when there is none."""
    blank = mask.find(_BLANK_NEEDLE, position)
    while blank >= 0:
        after = blank + len(_BLANK_NEEDLE)
        while after < len(mask) and mask[after] == ord("t"):
            after += 1
        if after < len(mask) and mask[after] == ord("n"):
            return blank
        blank = mask.find(_BLANK_NEEDLE, after)
    return -1


def _escaped(text: str, words: list[tuple[int, int]]) -> Iterator[tuple[str, bytes | None, None]]:
    """Words with many percent or \\x escapes, unescaped, when they hold prose: searched for in
    the words between ASCII blanks that the run search found may hold one (`words`, each taken
    whole: a chunk's edge may have cut it), a kind at a time (a word with both kinds is found
    from either). (Not by the counts of escapes, `marks`: an escape cut by a chunk's edge is
    counted in neither chunk, and a word of exactly eleven, or the one escape of a kind, was
    left unread so.)"""
    if not words:
        return
    spans: list[tuple[int, int]] = []
    for a, b in sorted(_whole_word(text, a, b) for a, b in words):
        if spans and a <= spans[-1][1]:  # (the same word, read by two chunks)
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
        else:
            spans.append((a, b))
    for pattern, first in ((_PERCENT, "%"), (_BACKSLASH_X, "\\")):
        for a, b in spans:  # (what a word's search leaves behind ends before the next blank, so each starts afresh)
            for kind, data in _escaped_words(text, pattern, first, a, b):
                yield kind, data, None  # (no other reading)


def _whole_word(text: str, a: int, b: int) -> tuple[int, int]:
    """text[a:b] (part of a word between ASCII blanks) widened to the whole word."""
    after = _BLANK_TEXT.search(text, b)
    return _word_start(text, 0, a, _BLANK_CHARS), after.start() if after is not None else len(text)


def _escaped_words(text: str, pattern: re.Pattern, first: str, start: int = 0,
                   stop: int | None = None) -> Iterator[tuple[str, bytes | None]]:
    """The escaped words of `text` found from its escapes (of `pattern`) in text[start:stop]."""
    done = 0
    for escape in _found(text, pattern, first, start, stop):
        if escape.start() < done:
            continue
        lo = max(done, escape.start() - 4096)
        space = _SPACE_CHAR.search(text[lo:escape.start()][::-1])  # the last one before the escape
        word = _ESCAPED_WORD.match(text, escape.start() - space.start() if space else lo)
        if word is None:
            done = escape.end()
            continue
        done = word.end()
        run = word.group()
        if len(_ESCAPE.findall(run)) >= _MIN_ESCAPES:
            data = _unescape(run)
            if _words_in(data) >= _MIN_ESCAPED_WORDS:  # prose, not a long link
                yield "escaped", data


def _words_in(data: bytes) -> int:
    """Words of unescaped bytes, between blanks of any kind: ASCII ones, and the no-break and other
    Unicode spaces, read in UTF-8, or as Latin-1 where the bytes are not UTF-8 (an excerpt whose
    spaces were escaped as ``%C2%A0`` or ``%A0`` counted as one word of bytes and was left
    unread: attack 14)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # (a legacy code page: Latin-1's no-break space is A0)
        text = data.decode("latin-1")
    return len(text.split())


def _found(text: str, pattern: re.Pattern, first: str, lo: int = 0, hi: int | None = None) -> Iterator[re.Match]:
    """`pattern.finditer(text)` for a pattern whose matches start with the character `first`
    (those that start in text[lo:hi]): that is looked for with `str.find`, the pattern tried
    only there (the regular expression engine walked 40 MB of mail at 3 GB/s to find its 991
    percent escapes)."""
    at, hi = lo, len(text) if hi is None else hi
    while True:
        at = text.find(first, at, hi)
        if at < 0:
            return
        escape = pattern.match(text, at)
        if escape is not None:
            yield escape
            at = escape.end()
        else:
            at += 1


def _unhex(digits: bytes) -> bytes | None:
    try:
        return bytes.fromhex(digits[: len(digits) // 2 * 2].decode("ascii"))
    except ValueError:
        return None


def _unbase64(compact: bytes) -> bytes | None:
    body = compact.rstrip(b"=")
    if b"-" in body or b"_" in body:
        body = body.replace(b"-", b"+").replace(b"_", b"/")
    body = body[: len(body) // 4 * 4 + (len(body) % 4 if len(body) % 4 > 1 else 0)]
    try:
        return binascii.a2b_base64(body + b"=" * (-len(body) % 4), strict_mode=False)
    except (binascii.Error, ValueError):
        return None


def seven_bit_parent(locator: str) -> str | None:
    """The part a 7-bit reading's locator (``mail.txt!/utf-7``) was read from, or None."""
    parent, _, name = locator.rpartition("!/")
    return parent if parent and set(name.split("+")) <= set(_SEVEN_BIT_NAMES) else None


def _seven_bit_spans(data: bytes, lines: list[tuple[int, int, int]], limit: int,
                     seen: dict | None = None) -> list[tuple[bytes, int]]:
    """The marked lines of `data` that start before `limit` (`_marked_lines`) as (bytes, kinds):
    a line whose ISO-2022, ISO-2022-KR or HZ text does not shift back to ASCII at its end goes on
    to the line of the next escape, SI or "~}" (a mebibyte on at most, 64 times while still
    shifted), a folded UTF-7 shift to the next line, and the pieces of one long line are one.
    An SO is a mark only where ISO-2022-KR's designation is in `data` or was in the chunks of the
    text before (`seen`, kept from one chunk to the next: mail has stray SO bytes)."""
    spans: list[list[int]] = []
    seen = {} if seen is None else seen
    # (the designation is an escape, on a line marked 1: searching all of `data` for it cost 2 ms)
    seen["kr"] = seen.get("kr") or any(k & 1 and data.find(b"\x1b$)C", s, e) >= 0 for s, e, k in lines)
    for start, end, kinds in lines:
        if start >= limit:
            break
        if kinds & 8:
            if not seen["kr"]:
                kinds &= ~8
                if not kinds:
                    continue
        if spans and start <= spans[-1][1] and end <= spans[-1][1]:  # inside the span before, which went
            kinds, spans[-1][2] = kinds & ~spans[-1][2], spans[-1][2] | kinds  # on past it already
            if not kinds:  # (each line of a file of "~{" lines searched a mebibyte on: hours for 4 MB)
                continue
            start, end = spans[-1][0], spans[-1][1]  # a kind new to it goes on from its end
        for _ in range(64):
            if end >= len(data) or not _goes_on(data, start, end, kinds):
                break
            # on to the line of the next escape, "~}" or SI (which may shift back), 1 MiB at most
            reach = min(len(data), end + (1 << 20))
            back = min((i for i in (data.find(b"\x1b", end, reach) if kinds & 1 else -1,
                                    data.find(b"~}", end, reach) if kinds & 2 else -1,
                                    data.find(b"\x0f", end, reach) if kinds & 8 else -1) if i >= 0), default=-1)
            following = data.find(b"\n", back if back >= 0 else end + 1 if kinds & 4 else reach - 1)
            end = len(data) if following < 0 else following
        if spans and start <= spans[-1][1]:
            spans[-1][1], spans[-1][2] = max(end, spans[-1][1]), spans[-1][2] | kinds
        else:
            spans.append([start, end, kinds])
    return [(data[start:end], kinds) for start, end, kinds in spans]


def _goes_on(data: bytes, start: int, end: int, kinds: int) -> bool:
    """Whether the text of data[start:end] goes on at the next line: ISO-2022 or HZ text still
    in another set than ASCII where it ends, or a UTF-7 shift cut short at its end (folded at
    76 columns) before a line that starts in base64. (Searched in place: a span may be long.)"""
    escape = data.rfind(b"\x1b", start, end) if kinds & 1 else -1
    if escape >= 0 and _ISO2022_SHIFT.match(data, escape) and data[escape + 1 : escape + 2] not in (b"N", b"O"):
        return True
    if kinds & 8 and data.rfind(b"\x0e", start, end) > data.rfind(b"\x0f", start, end):  # KR shifted out
        return True
    if kinds & 2 and (data.rfind(b"~{", start, end) > data.rfind(b"~}", start, end)
                      or data[end - 2 : end] in (b"~\r",) or data[end - 1 : end] == b"~"):
        return True
    if not kinds & 4 or _BASE64_HEAD.match(data, end + 1) is None:
        return False
    # the shift the span ends in, folded over lines perhaps: from the first "+" of the run of base64
    # and line breaks that ends it (found from the end: unfolding the last 4 KB of lines at each
    # of 64 steps cost 23 s for 4 MB of short folded lines)
    tail = data[max(start, end - 4096) : end]
    run = tail[len(tail.rstrip(_BASE64_OR_BREAK)) :]
    plus = run.find(b"+")
    return plus >= 0 and _folded(run[plus:].replace(b"\r", b"").replace(b"\n", b""))


def _folded(text: bytes) -> bool:
    """Whether `text` ends in a UTF-7 shift of 16 characters or more that is cut short (the
    line was folded in it: it goes on at the next line's start)."""
    shift = _FOLDED_SHIFT.search(text[-4096:])
    return shift is not None and not _whole_shift(shift.group(1))


def _unfolded(data: bytes) -> bytes:
    """`data` with the line breaks that fold UTF-7 shifts taken out."""
    lines = data.split(b"\n")
    out = lines[:1]
    for line in lines[1:]:
        if _BASE64_HEAD.match(line) and _folded(out[-1].rstrip(b"\r")):
            out[-1] = out[-1].rstrip(b"\r") + line
        else:
            out.append(line)
    return b"\n".join(out)


def _seven_bit(spans: list[tuple[bytes, int]]) -> Iterator[tuple[str, None, bytes, None]]:
    """The marked lines (`_seven_bit_spans`) read in the 7-bit encodings their marks point at, in
    turn: ISO-2022-JP (Japanese mail's own; escapes switch the set), HZ (Chinese, between "~{"
    and "~}"), UTF-7 (any script, base64 after "+"). Their bytes are all ASCII, so a file in
    one read as ASCII (``$BEv<R$N...``, ``+BB8EQAQ-``) and a registered Japanese, Chinese,
    Korean, Russian or French text saved so went unread. What an encoding does not decode
    stays as it was (other text on the line, UTF-8 between the encoded pieces), and no line is
    judged by what else it holds: an evader adds symbols or other scripts at will (UTF-7 is
    judged a shift at a time: `_utf7`). A line is left out only when its encodings changed
    nothing in it (a "+1" or a "C++"): one character a line, a mark or an invisible character
    in a word is enough to hide a text from a reader of the line as written (attack 10). Where
    UTF-7 shares a line with another 7-bit encoding, the line is read in UTF-7 alone as well
    (ISO-2022 read first turns the base64 of UTF-7 into ideographs: a lone escape before a UTF-7
    text hid it)."""
    readings, names = [], set()
    read: dict[bytes, tuple[str, int]] = {}  # (each distinct line read in UTF-7 once: `_utf7_lines`)
    for span, kinds in spans:
        if kinds == 4:  # (most: a line with "+" in it; UTF-7 alone)
            text, made = _utf7_lines(span, read)
            if made:
                readings.append(text)
                names.add("utf-7")
            continue
        raw = span.decode("utf-8", errors="surrogateescape")
        text, used, made = raw, [], 0
        if kinds & 1:  # the variant that makes the most of the line (JIS X 0213, or GB 2312 and KS X 1001)
            text = max((_decoded(span, codec) for codec in _ISO2022), key=_beyond_ascii)
            used.append("iso-2022-jp")
        if kinds & 8:  # SO and SI into and out of KS X 1001, designated once at the top of the file
            text = _decoded(b"\x1b$)C" + text.encode("utf-8", errors="surrogateescape"), "iso2022_kr")
            used.append("iso-2022-kr")
        for bit, codec in ((2, "hz"), (4, "utf-7")):
            if kinds & bit:
                data = text.encode("utf-8", errors="surrogateescape")
                if bit == 4:
                    text, made = _utf7_lines(data, read)
                else:
                    text = _decoded(data, codec)
                used.append(codec)
        if made or len(_NOT_ASCII.findall(text)) > len(_NOT_ASCII.findall(raw)):  # (a "、" a line too)
            readings.append(text)
            names.update(used)
        if kinds & 4:  # (UTF-7 alone too: see above)
            text, made = _utf7_lines(span, read)
            if made:
                readings.append(text)
                names.add("utf-7")
    if readings:  # (as UTF-8 text: the controls and lone surrogates random code units make, blanks)
        name = "+".join(n for n in _SEVEN_BIT_NAMES if n in names)
        yield name, None, _once_a_run(_NOT_TEXT.sub(" ", "\n".join(readings))).encode("utf-8"), None


def _once_a_run(text: str) -> str:
    """`text` with each run of equal lines of words read once: mail repeats the lines that make
    this reading's noise (a script line of an HTML mail, ``ord='+Math.random()+'``, some hundred
    times over: the readings of 40 MB of mail shrank by a third, a third of their cost). Only a
    line equal to the one before it goes: a line that was read earlier, further up, is read
    again, so copies of an excerpt's lines put before it, in another order, take none of it away.
    And only a line of `_RUN_WORDS` words or more as the tokeniser reads them: a text written a
    letter or a syllable a line, joined across the lines by a hyphen of any kind (blanks or
    invisible characters after it) or spaced out, has equal lines wherever a word doubles a
    letter, and lost one of them (attacks 11 and 12, against rules on the line's length and last
    character; blanks, "_" or a Hangul filler between the letters make no word either). Only the
    first and the last word of a line are joined to the lines around it: equal lines of more
    words are a repeat of the text's own."""
    lines = text.split("\n")
    repeats = [i for i in range(1, len(lines)) if lines[i] == lines[i - 1]]
    if not repeats:
        return text
    from ..text.normalise import tokenise_lines

    repeated = list(dict.fromkeys(lines[i] for i in repeats))  # (each once: tokenised in one call)
    _, line_of = tokenise_lines(repeated)
    words = np.bincount(line_of, minlength=len(repeated))  # (a word joined across these lines counts for the first)
    long = {line for line, count in zip(repeated, words.tolist()) if count >= _RUN_WORDS}
    dropped = {i for i in repeats if lines[i] in long}
    return "\n".join([line for i, line in enumerate(lines) if i not in dropped])


_RUN_WORDS = 4  # words a line needs before an equal line after it is left out (`_once_a_run`)


def _utf7_lines(data: bytes, read: dict[bytes, tuple[str, int]] | None = None) -> tuple[str, int]:
    """`_utf7` of each line of `data`, a shift folded onto the next line read there (a decoder that
    fails at a line's end takes its break with it). `read`: the lines read so far and what they
    read as, taken from and added to (a part's marked lines are mostly a few lines over and over:
    the script line of an HTML mail, a sender's address of "+20" escapes in every header of a
    thread; 1,512 lines of 40 MB of mail were 201 different ones)."""
    read = {} if read is None else read
    if b"\n" not in data:  # (most: one line, read as it is)
        return read.get(data) or _utf7_read(data, read)
    out = [read.get(line) or _utf7_read(line, read) for line in _unfolded(data).split(b"\n")]
    return "\n".join(t for t, _ in out), sum(n for _, n in out)


def _utf7_read(line: bytes, read: dict[bytes, tuple[str, int]]) -> tuple[str, int]:
    """`_utf7` of a line not read yet, kept in `read`."""
    read[line] = done = _utf7(line)
    return done


def _utf7(line: bytes) -> tuple[str, int]:
    """(`line` read as UTF-7 a shift at a time, how many shifts were read): a shift that makes no
    code unit ("+1") or ASCII read two bytes a character (a line of base64 after a "+" in it)
    stays as it was; in the others what no text holds (a surrogate, a private-use character, a
    control, and the bits left over where a shift was cut short, which no encoder writes but
    every lenient decoder reads past: a junk character after each shift) is dropped and the
    rest kept. Each is judged by itself, so that no shift an evader adds, nor a character put
    in one, takes a reading away."""
    # only the shifts go through the decoder, each ended by "-" (a decoder that fails on a shift
    # takes the character that ends it with it: a blank), in one call, marked apart (by a control:
    # a shift that makes one is noise); what lies between them holds no "+", and UTF-7 reads it
    # as it is (ASCII, and UTF-8 beyond it, as `_decoded` does): read through the decoder, a line
    # of Korean text with a "+" in it called the error handler a word at a time
    shifts, between, ended, at = [], [], [], 0
    for shift in _SHIFT.finditer(line):
        shifts.append(shift.group())
        ended.append(shift.group(1) + b"-")
        between.append(line[at : shift.start()].decode("utf-8", errors="replace"))
        at = shift.end()
    between.append(line[at:].decode("utf-8", errors="replace"))
    made_by = _decoded(b"\x1f".join(ended), "utf-7").split("\x1f")
    if len(made_by) != len(shifts):  # a shift made the mark itself: one at a time, then
        made_by = [_decoded(shift, "utf-7") for shift in ended]
    pieces = [between[0], *(a + b for a, b in zip(made_by, between[1:]))]
    out, decoded = [pieces[0]], 0
    for shift, piece in zip(shifts, pieces[1:]):
        # what the shift made: a character for 16 of its bits, and a replacement for bits left over
        made = len(shift[1:].rstrip(b"-")) * 6 // 16
        # (bits left over, which no encoder writes: decoders read past them, and so does this)
        cut = piece[made : made + 1] == "\ufffd"
        if not made or (made >= 8 and _ascii_pairs(piece[:made])):  # (eight: two CJK characters can be so)
            out.append(shift.decode("ascii") + piece[made + cut :])
        else:  # what no text holds is dropped, the rest kept: one such character cannot hide a shift
            out.append(_NOT_MADE_BY_TEXT.sub("", piece[:made]) + piece[made + cut :])
            decoded += 1
    return "".join(out), decoded


def _ascii_pairs(text: str) -> bool:
    """Whether every character of `text` is two printable ASCII bytes (ASCII read as UTF-16)."""
    return all(0x20 <= ord(ch) >> 8 <= 0x7E and 0x20 <= ord(ch) & 0xFF <= 0x7E for ch in text)


_SHIFT = re.compile(rb"(\+[A-Za-z0-9+/]*)-?")  # a UTF-7 shift (group 1: without the "-" that may end it)
_NOT_MADE_BY_TEXT = re.compile("[\ufffd\ud800-\udfff\ue000-\uf8ff\x00-\x08\x0b-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


def _decoded(data: bytes, codec: str) -> str:
    """`data` decoded in `codec`, what it does not decode left as it was (`_as_is`); in a line of
    ASCII that is noise, replaced without a call of the handler for each piece."""
    return data.decode(codec, errors="replace" if data.isascii() else _AS_IS)


def _beyond_ascii(text: str) -> int:
    """Letters beyond ASCII in `text` (word characters but digits and "_")."""
    return len(_LETTER_BEYOND_ASCII.findall(text))


_NOT_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_LETTER_BEYOND_ASCII = re.compile("[^\\W\\d_\x00-\x7f]")
_NOT_ASCII = re.compile("[^\x00-\x7f]")
# a UTF-7 shift of 16 characters or more that runs to a line's end; a line that may go on with one
_FOLDED_SHIFT = re.compile(rb"(\+[A-Za-z0-9+/]{16,})\r?$")
_BASE64_HEAD = re.compile(rb"[A-Za-z0-9/]")
_BASE64_OR_BREAK = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\r\n"


def _whole_shift(shift: bytes) -> bool:
    """Whether a UTF-7 shift that a line break ends holds whole characters (its last bits are
    zero padding): one an encoder ended there, not one a line was folded in the middle of."""
    try:
        (shift + b"-").decode("utf-7")
    except UnicodeDecodeError:
        return False
    return True


_ISO2022 = ("iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_ext")
_SEVEN_BIT_NAMES = ("iso-2022-jp", "iso-2022-kr", "hz", "utf-7")  # (a reading's name: those it was read in, joined by "+")
_AS_IS = "dlp-as-is"


def _as_is(error: UnicodeDecodeError) -> tuple[str, int]:
    """A decoding error handler: what the encoding does not decode stays as it was, ASCII as
    ASCII and UTF-8 as its characters (replacement characters for bytes of neither)."""
    data, start = error.object, error.start
    if data[start] < 0x80:
        end = start + 1
        while end < error.end and data[end] < 0x80:
            end += 1
        return data[start:end].decode("ascii"), end
    # the whole run of bytes beyond ASCII at once (as UTF-8, a replacement character for what is
    # not): a character a call, a line of Korean text read as UTF-7 for a "+" in it called this
    # handler 100,000 times, a third of the scan
    end = _BEYOND_ASCII.match(data, start).end()
    return data[start:end].decode("utf-8", errors="replace"), end


_BEYOND_ASCII = re.compile(rb"[\x80-\xff]+")


codecs.register_error(_AS_IS, _as_is)


def _unescape(run: str) -> bytes:
    raw = run.encode("utf-8", errors="surrogatepass")
    raw = re.sub(rb"\\x([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return urllib.parse.unquote_to_bytes(raw)


def _readable(data: bytes) -> bool:
    """Whether decoded bytes are worth reading: a format dlp reads, or text without doubt
    (UTF-8 when short; in a legacy code page, text with spaces between its words, as random
    bytes that decode in one have none to speak of, unless the code page is one of Chinese,
    Japanese or Thai, written without spaces, and the text mostly letters; text of a script
    other than Latin in UTF-16 without a byte-order mark, which `decode` reads too)."""
    if data.startswith(_MAGICS) or data[257:262] == b"ustar":
        return True
    if len(data) < _MIN_UNSURE_BYTES:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    decoded = decode(data, worth_guessing=_may_be_code_page_text)
    if decoded is None or decoded.doubt or not decoded.text.strip():
        return False
    encoding = decoded.encoding.lower().replace("_", "-")
    if encoding.startswith(("utf-8", "ascii", "utf-16", "utf-32")):
        return True
    sample = decoded.text[:4096]
    if encoding in _SPACELESS:
        return mostly_letters(sample)
    return sample.count(" ") * 40 >= len(sample)


def _may_be_code_page_text(data: bytes) -> bool:
    """Whether a legacy code page can make of `data` what `_readable` keeps, asked before
    charset-normalizer guesses one: the guess takes a fifth of a millisecond even for 64 bytes,
    and runs of "/" in mail decode to dozens of 0xFF bytes (42 such runs in 40 MB of Enron
    mail). A blank in 40 characters of the first 4,096 in a code page of one byte a character
    (EBCDIC's blank is "@"), or in one of more bytes read as that code page; or four fifths
    letters as read in one of the code pages written without blanks. (UTF-16 and UTF-32
    without a mark are `decode`'s own readings, made before any guess.)"""
    head = data[:4096]
    if max(head.count(b" "), head.count(b"@")) * 40 >= len(head):
        return True
    head = data[: 4 * 4096]  # (4,096 characters of a code page of up to four bytes a character)
    if any(text[:4096].count(" ") * 40 >= len(text[:4096]) for text in clean_readings(head, _SPACED_WIDE)):
        return True
    return any(mostly_letters(text[:4096]) for text in clean_readings(head, _SPACELESS))


# code pages of scripts written without spaces between words (as charset_normalizer names them,
# "_" as "-"): Chinese, Japanese, Thai
_SPACELESS = frozenset({"gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp950", "shift-jis", "cp932",
                        "euc-jp", "euc-jis-2004", "euc-jisx0213", "shift-jis-2004", "shift-jisx0213", "iso2022-jp",
                        "iso2022-jp-1", "iso2022-jp-2", "iso2022-jp-2004", "iso2022-jp-3", "iso2022-jp-ext", "tis-620",
                        "cp874", "iso8859-11"})
# the other code pages of more than one byte a character charset_normalizer may guess (Korean,
# written with blanks; UTF-7)
_SPACED_WIDE = ("cp949", "euc-kr", "johab", "iso2022-kr", "utf-7")
