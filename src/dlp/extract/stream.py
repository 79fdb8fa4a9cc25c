"""Large text files read a chunk at a time, so memory stays bounded whatever their size.

A text item larger than `STREAM_BYTES` is not read whole: its first chunk decides the
encoding (by evidence, `decoding.decode`), then an incremental decoder reads the rest
`CHUNK_BYTES` at a time. Each chunk is one `Part` at the item's own locator, with
`meta["char_offset"]`, the offset of its first character in the whole text, so evidence
offsets are those of the file. Runs of 64 Ki characters or more without a word (blanks,
rulers) are taken out of a chunk's text and noted in `meta["gaps"]` (evidence offsets
still point into the file), so megabytes of blanks cannot dilute the overlap: consecutive
chunks share the last `OVERLAP_WORDS` words (within `OVERLAP_CHARS` characters), and an
excerpt shorter than that lies whole in one chunk, however far apart its words are.
A file whose first chunk reads doubtfully is decoded chunk by chunk on its own evidence
(with a `doubtful_encoding` problem and each chunk's printable runs in the other encodings,
at ``LOCATOR#chunk=N!/strings``), and its readings are carried on the same way.

What bounds the size is `Limits.max_total_bytes` (charged as the chunks are read), not
`max_item_bytes`, which is about what is held in memory at once.
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Iterator

from ..text.normalise import vanishes
from ..types import Item, Part, Problem
from .base import Context, Output
from .decoding import decode

STREAM_BYTES = 32 << 20  # larger text items are streamed
CHUNK_BYTES = 8 << 20  # bytes decoded at a time
OVERLAP_WORDS = 8192  # words repeated at the start of the next chunk ...
OVERLAP_CHARS = 16 << 20  # ... within at most this many characters
_WORD = re.compile(r"\w+")
GAP_CHARS = 1 << 16  # runs of characters without a word this long are taken out of streamed text
_GAP = re.compile(r"\W{%d,}" % GAP_CHARS)
_WORD_CHAR = re.compile(r"\w")


def stream_text(item: Item, ctx: Context) -> Iterator[Output]:
    """The parts of a large text item, a chunk at a time (see the module's docstring)."""
    with _open(item) as handle:
        first = _read(handle, ctx)
        decoded = decode(first)
        if decoded is None:  # not text after all: its printable runs, a chunk at a time
            from .decoding import printable_strings

            block, number = first, 1
            while block:
                yield Part(f"{item.locator}#chunk={number}", printable_strings(block), "binary", binary=True)
                block, number = _read(handle, ctx), number + 1
            return
        pieces = (_each_on_its_own(item, handle, first, ctx) if decoded.doubt
                  else _incremental(decoded.encoding, handle, first, ctx))
        first = decoded = None  # (the first chunk's bytes and reading: 16 MB held to the end else)
        yield from _carried(item, pieces, ctx)


def _incremental(encoding: str, handle: BinaryIO, first: bytes, ctx: Context) -> Iterator[str]:
    """The text of a file whose first chunk decodes soundly, a chunk at a time."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    block, first = first, None
    while block:
        text = decoder.decode(block)
        block = None
        yield text
        text = None
        ctx.budget.check_time()
        block = _read(handle, ctx)
    yield decoder.decode(b"", final=True)


def _carried(item: Item, pieces: Iterator[str | Output], ctx: Context) -> Iterator[Output]:
    """Parts at the item's locator from successive pieces of its text (other outputs pass
    through): each piece, compacted, after the last OVERLAP_WORDS words of what came before,
    with `char_offset` and the gaps taken out. A piece that brings no word adds no part."""
    carry, carry_gaps, start = "", [], 0
    for piece in pieces:
        if not isinstance(piece, str):
            yield piece
            continue
        fresh, fresh_gaps = _compact(piece, len(carry), carry_gaps[-1][1] if carry_gaps else 0)
        piece = None  # noqa: PLW2901 (only `text` is kept while the part is scanned)
        text, gaps = carry + fresh, carry_gaps + fresh_gaps
        words = bool(fresh) and not fresh.isspace()  # (not fresh.strip(): a copy of megabytes)
        fresh = None
        if words:
            meta = {"char_offset": start, "streamed": True}
            if gaps:
                meta["gaps"] = tuple(gaps)
            yield Part(item.locator, text, "text", meta=meta)
        cut = _overlap_start(text)
        before = _removed_before(gaps, cut)
        carry, start = text[cut:], start + cut + before
        carry_gaps = [(p - cut, r - before) for p, r in gaps if p > cut]
        text = None  # (freed before the next piece is read, once the scanner has let go of its part)


def _compact(text: str, base: int, removed: int) -> tuple[str, list[tuple[int, int]]]:
    """`text` with every run of GAP_CHARS or more characters that hold no word replaced by one
    character, and the gaps: (position in the compacted text, characters removed up to there,
    counting `removed` before it). The tokeniser skips such runs anyway; taken out, they
    cannot push the words of an excerpt into different chunks, nor fill memory. The one
    character left reads as the run did: a newline where the run separates words, but one
    of its own characters where all of them vanish (zero-width spaces or accents packed
    inside a word, which the tokeniser joins again)."""
    pieces, gaps, at, length = [], [], 0, base
    for start, end in _gaps(text):
        run = text[start:end]
        pieces.append(text[at:start] + (run[0] if all(vanishes(c) for c in set(run)) else "\n"))
        length += len(pieces[-1])
        removed += end - start - 1
        gaps.append((length, removed))
        at = end
    if not gaps:
        return text, []
    pieces.append(text[at:])
    return "".join(pieces), gaps


def _gaps(text: str) -> Iterator[tuple[int, int]]:
    """Runs of GAP_CHARS or more characters without a word character, in order. A run that
    long covers a whole aligned block of half its length, so only blocks without a word
    character (found by one short search each, ordinary text answers at once) and their
    neighbours are searched for runs: the regex never walks the prose."""
    step = GAP_CHARS // 2
    empty = [b for b in range(0, len(text), step) if _WORD_CHAR.search(text, b, b + step) is None]
    regions: list[list[int]] = []
    for b in empty:
        lo, hi = max(0, b - step), min(len(text), b + 2 * step)
        if regions and lo <= regions[-1][1]:
            regions[-1][1] = hi
        else:
            regions.append([lo, hi])
    for lo, hi in regions:
        for m in _GAP.finditer(text, lo, hi):
            yield m.start(), m.end()


def _removed_before(gaps: list[tuple[int, int]], position: int) -> int:
    """Characters taken out of the text before `position` of the compacted text."""
    removed = 0
    for p, r in gaps:
        if p > position:
            break
        removed = r
    return removed


def _each_on_its_own(item: Item, handle: BinaryIO, first: bytes, ctx: Context) -> Iterator[str | Output]:
    """The text of a file whose first chunk reads doubtfully: each chunk decoded on its own
    evidence (a multiple of four bytes, so two- and four-byte encodings stay aligned), its
    reading carried on like any streamed text so words far apart still meet; a chunk that is
    no text gives its printable runs. Each chunk's printable runs in the other encodings are
    a part of their own (``LOCATOR#chunk=N!/strings``); the doubt is said once."""
    from .decoding import printable_strings

    said = False
    block, number = first, 1
    while block:
        decoded = decode(block)
        if decoded is None:
            yield printable_strings(block)
        else:
            yield decoded.text
            if decoded.doubt and not said:
                said = True
                yield Problem(item.locator, "doubtful_encoding",
                              f"read as {decoded.encoding}, a chunk at a time: {decoded.doubt}"[:300])
            if decoded.strings:
                yield Part(f"{item.locator}#chunk={number}!/strings", decoded.strings, "strings",
                           meta={"streamed": True})
        number += 1
        ctx.budget.check_time()
        block = _read(handle, ctx)


def _overlap_start(text: str) -> int:
    """Where the next chunk starts: OVERLAP_WORDS words before the end (words as the tokeniser
    sees them: rulers and punctuation do not count), at most OVERLAP_CHARS back. Words are
    counted from the end in a window that doubles until it holds enough of them (the first one
    sized by the words at the very end)."""
    floor = max(0, len(text) - OVERLAP_CHARS)
    # the first window from the density of words at the end (a fifth more than that needs),
    # so that most chunks list some 10,000 words, not twice as many
    sample = len(_WORD.findall(text, max(floor, len(text) - 4096)))
    window = (4096 * (OVERLAP_WORDS + 1) // sample) * 6 // 5 if sample else 1 << 17
    while True:
        lo = max(floor, len(text) - window)
        starts = [m.start() for m in _WORD.finditer(text, lo)]
        if len(starts) > OVERLAP_WORDS or lo == floor:  # one more: the first may be cut by the window
            break
        window *= 2
    if not starts:
        return len(text)
    return starts[max(0, len(starts) - OVERLAP_WORDS)]


def _read(handle: BinaryIO, ctx: Context) -> bytes:
    block = handle.read(CHUNK_BYTES)  # a multiple of four: two- and four-byte encodings stay aligned
    ctx.budget.charge(len(block))
    return block


def _open(item: Item) -> BinaryIO:
    if item.path is not None:
        return item.open()
    import io

    return io.BytesIO(item.data or b"")
