"""The extractor protocol and the walk that applies extractors recursively under limits.

An extractor turns one `Item` (bytes with a locator) into `Part`s (text), child
`Item`s (members of a container, which the walk extracts in turn) and `Problem`s.
Extractors are chosen by content, never by file name alone.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Protocol, Union

from ..errors import ExtractionError
from ..types import Item, Part, Problem

Output = Union[Part, Item, Problem]

HEAD_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    """Bounds against hostile input. Every breach becomes a problem entry.

    Defaults (all configurable):

    - `max_depth` 10 containers deep (`too_deep`);
    - `max_item_bytes` 256 MiB for one item or member held in memory (`too_large`);
    - `max_total_bytes` 1 GiB expanded (decompressed or decoded) per scanned item (`too_large`);
    - `max_ratio` 200:1 expanded/compressed per member, checked while streaming once
      a member has grown past `ratio_floor_bytes` (`ratio`); declared sizes are only
      used to refuse early, never to allow;
    - `max_members` 10,000 per archive or mailbox (`too_many`);
    - `max_text_chars` 64 Mi characters kept per part (`truncated`);
    - `timeout_seconds` 120 s per scanned item; parsers that can hang run in a worker
      process that is killed when the item's time is up (`timeout`);
    - `worker_memory_bytes` 1 GiB of address space a worker may add (`too_large`);
    - `max_image_pixels` 50 million pixels per image, frame or rendered page, checked
      from the header before decoding (`too_large`: decompression bombs);
    - `max_ocr_pages` 100 pages or frames read by OCR per document (`too_many`);
    - `max_ocr_images` 500 images or pages read by OCR per scanned item (`too_many`);
    - `ocr_seconds` 60 s per image or page, in the killable worker (`timeout`).
    """

    max_depth: int = 10
    max_item_bytes: int = 256 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1024 * 1024
    max_members: int = 10_000
    max_text_chars: int = 64 * 1024 * 1024
    timeout_seconds: float = 120.0
    worker_memory_bytes: int = 1024 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_ocr_pages: int = 100
    max_ocr_images: int = 500
    ocr_seconds: float = 60.0


class Budget:
    """Mutable accounting for one scanned item (expanded bytes, deadline)."""

    def __init__(self, limits: Limits, clock=time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.deadline = clock() + limits.timeout_seconds
        self.expanded = 0
        self.ocr_images = 0  # images and pages read by OCR (not from the cache)

    def charge(self, nbytes: int) -> None:
        self.expanded += nbytes
        if self.expanded > self.limits.max_total_bytes:
            raise ExtractionError(
                "too_large",
                f"expanded content exceeds {self.limits.max_total_bytes} bytes for this item",
            )

    def remaining(self) -> int:
        return max(0, self.limits.max_total_bytes - self.expanded)

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def check_time(self) -> None:
        if self.clock() > self.deadline:
            raise ExtractionError("timeout", f"item took longer than {self.limits.timeout_seconds:g} s")


@dataclass
class Context:
    """What one scanned item's extraction shares: its limits, its budget, how
    hang-prone parsers are isolated (`isolation` is a multiprocessing start method,
    "fork" where the platform has it; None runs them in this process, without a hard
    kill, for platforms without processes and for debugging), the OCR service (`ocr`:
    engine, settings and the digest cache, shared by every item of a scan), and which
    encoded runs were decoded already, so that a run two readings of one text share is
    read once."""

    limits: Limits = field(default_factory=Limits)
    budget: Budget | None = None
    isolation: str | None = field(default_factory=lambda: default_isolation())
    ocr: Any = field(default_factory=lambda: default_ocr())  # an `ocr.Ocr`
    decoded: set[bytes] = field(default_factory=set)  # digests of encoded runs already read (extract.encoded)
    unreadable: set[bytes] = field(default_factory=set)  # digests of runs that decoded to nothing readable

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = Budget(self.limits)


def default_ocr():
    from .ocr import Ocr

    return Ocr()


def default_isolation() -> str:
    import multiprocessing

    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


class Extractor(Protocol):
    """One format family. `sniff` looks at the first bytes (and may peek at the item)."""

    name: str

    def sniff(self, head: bytes, item: Item) -> bool: ...

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]: ...


def child(parent: Item, name: str, data: bytes, *, container: bool = True, **meta) -> Item:
    """A member of `parent`. `container` marks the '!' step of a locator into a container.

    Names are kept as given (``../../etc/passwd`` included): they only ever become
    locators, never paths on disk.
    """
    sep = "!/" if container else "/"
    return Item(
        locator=f"{parent.locator}{sep}{name}",
        name=name,
        data=data,
        depth=parent.depth + 1,
        meta=meta,
    )


def read_bytes(item: Item, ctx: Context) -> bytes:
    """The item's bytes, refusing items larger than `max_item_bytes`."""
    size = item.size
    if size > ctx.limits.max_item_bytes:
        raise ExtractionError("too_large", f"{size} bytes exceeds {ctx.limits.max_item_bytes}")
    return item.read()


def walk(item: Item, extractors: tuple[Extractor, ...], ctx: Context) -> Iterator[Part | Problem]:
    """Extract `item` and every nested item depth-first, yielding parts and problems.

    Children are extracted as soon as their container yields them, so memory holds
    one path of nested members at a time, not a whole archive. Errors never escape:
    an extractor that fails yields a problem, and the walk goes on with the rest of
    its container and then the next item.

    Every text part is searched for encoded runs (base64, hex, escapes,
    quoted-printable); what they decode to is read as nested items of the part's item.
    A part with right-to-left overrides (U+202E) is also read in the order it is shown.

    Sniffing cannot make text disappear: when a format extractor fails on an item
    (corrupt, unsupported, encrypted) or reads no text and no member from it, and the
    item decodes as text (a text file behind two bytes of TIFF or gzip magic), it is
    read as text as well.
    """
    if item.depth > ctx.limits.max_depth:
        yield Problem(item.locator, "too_deep", f"nesting deeper than {ctx.limits.max_depth}")
        return
    extractor = None
    produced = False
    failed = ""
    try:
        ctx.budget.check_time()
        head = _head(item)
        extractor = choose(head, item, extractors)
        if extractor is None:
            yield Problem(item.locator, "unsupported", "no extractor recognises this content")
            return
        if item.data is not None and len(item.data) > ctx.limits.max_item_bytes:
            yield Problem(item.locator, "too_large", f"{len(item.data)} bytes exceeds {ctx.limits.max_item_bytes}")
            return
        for out in extractor.extract(item, ctx):
            if isinstance(out, Item):
                produced = True
                if out.name.startswith("data[") and out.data is not None:
                    from .encoded import already_read

                    if already_read(out.data, ctx):  # read as a base64 run of the page's text already
                        continue
                yield from walk(out, extractors, ctx)
            elif isinstance(out, Part):
                produced = produced or (bool(out.text) and not out.text.isspace())
                if len(out.text) > ctx.limits.max_text_chars:
                    yield Problem(out.locator, "truncated", f"text cut at {ctx.limits.max_text_chars} characters")
                    out = Part(out.locator, out.text[: ctx.limits.max_text_chars], out.format, out.pages, out.meta, out.binary)
                yield out
                yield from _encoded_runs(out, item, extractors, ctx)
                out = None  # noqa: PLW2901 (a streamed chunk's text is freed before the next is read)
            else:
                yield out
    except Exception as exc:  # noqa: BLE001 (a parser bug or hostile input: never the end of the scan)
        problem = problem_of(item, exc)
        yield problem
        failed = problem.kind
    if extractor is not None and not produced and failed in _FALL_BACK_AFTER:
        try:
            for out in _as_text(item, extractor, ctx, failed):
                yield out
                if isinstance(out, Part):
                    yield from _encoded_runs(out, item, extractors, ctx)
        except Exception as exc:  # noqa: BLE001 (the item's time ran out reading it as text, say: as above)
            yield problem_of(item, exc)


def problem_of(item: Item, exc: Exception) -> Problem:
    """The problem an exception while extracting `item` is."""
    if isinstance(exc, ExtractionError):
        return Problem(item.locator, exc.kind, exc.detail)
    if isinstance(exc, OSError):
        return Problem(item.locator, "unreadable", exc.strerror or str(exc))
    if isinstance(exc, MemoryError):
        return Problem(item.locator, "too_large", "out of memory while extracting")
    if isinstance(exc, RecursionError):
        return Problem(item.locator, "corrupt", "structure nests too deeply to parse")
    return Problem(item.locator, "corrupt", f"{type(exc).__name__}: {exc}"[:300])


def _encoded_runs(part: Part, item: Item, extractors: tuple[Extractor, ...], ctx: Context) -> Iterator[Part | Problem]:
    """What the base64, hex and other encoded runs of a text part hold, read as nested
    items of `item` (see `extract.encoded`); and the part in visual order, around its
    right-to-left overrides, when it has any (``#visual``, see `extract.shown`)."""
    from .encoded import encoded_items
    from .shown import visual_order

    shown = visual_order(part.text)
    if shown is not None:
        yield Part(f"{part.locator}#visual", shown, part.format, meta={"reading": "visual"})
    for found in encoded_items(part, item, ctx):
        if isinstance(found, Item):
            yield from walk(found, extractors, ctx)
        else:
            yield found


_TEXT_READERS = frozenset({"text", "strings", "html", "xml", "maildir"})
_FALL_BACK_AFTER = frozenset({"", "corrupt", "unsupported", "encrypted", "too_large"})  # too_large: e.g. an image
# header that claims a billion pixels in a file of two kilobytes (the size limit of the bytes still holds)


def _as_text(item: Item, extractor: Extractor, ctx: Context, failed: str) -> Iterator[Part | Problem]:
    """The item read as text after a format extractor failed on it or found nothing in
    it, if it is text (and, when the extractor did not fail, plainly text)."""
    if extractor.name in _TEXT_READERS:
        return
    from .decoding import decode
    from .text import decoded_outputs

    try:
        if item.size > ctx.limits.max_item_bytes:
            return
        if decode(_head(item)) is None:
            if failed in ("corrupt", "unsupported", "too_large"):  # unreadable, not text: printable runs at least
                # (not after "encrypted": the runs of ciphertext say nothing, the problem says it all)
                from .decoding import printable_strings

                strings = printable_strings(item.read())
                if strings.strip():
                    yield Part(item.locator, strings, "binary", binary=True)
            return
        decoded = decode(item.read())
    except (OSError, ExtractionError):
        return
    if decoded is None or (decoded.doubt and not failed):
        return  # a format that parsed and holds no text (a picture-only PDF) is not text either
    if decoded.text.strip():
        for out in decoded_outputs(item.locator, decoded, "text"):
            if isinstance(out, Part) and len(out.text) > ctx.limits.max_text_chars:
                yield Problem(out.locator, "truncated", f"text cut at {ctx.limits.max_text_chars} characters")
                out = Part(out.locator, out.text[: ctx.limits.max_text_chars], out.format)
            yield out


def choose(head: bytes, item: Item, extractors: tuple[Extractor, ...]) -> Extractor | None:
    for extractor in extractors:
        if extractor.sniff(head, item):
            return extractor
    return None


def _head(item: Item) -> bytes:
    if item.data is not None:
        return item.data[:HEAD_BYTES]
    assert item.path is not None
    if os.path.isdir(item.path):
        return b""
    with item.open() as handle:
        return handle.read(HEAD_BYTES)
