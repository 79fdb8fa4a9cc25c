"""The extractor protocol and the walk that applies extractors recursively under limits.

An extractor turns one `Item` (bytes with a locator) into `Part`s (text), child
`Item`s (members of a container, which the walk extracts in turn) and `Problem`s.
Extractors are chosen by content, never by file name alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol, Union

from ..errors import ExtractionError
from ..types import Item, Part, Problem

Output = Union[Part, Item, Problem]

HEAD_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    """Bounds against hostile input. Every breach becomes a problem entry."""

    max_depth: int = 10
    max_item_bytes: int = 256 * 1024 * 1024  # one item or member, before extraction
    max_total_bytes: int = 1024 * 1024 * 1024  # all expanded bytes of one scanned item
    max_ratio: float = 200.0  # expanded / compressed, per member
    max_members: int = 10_000  # per archive or mailbox
    max_text_chars: int = 64 * 1024 * 1024  # text kept per part
    timeout_seconds: float = 120.0  # per scanned item


class Budget:
    """Mutable accounting for one scanned item (expanded bytes, deadline)."""

    def __init__(self, limits: Limits, clock=time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.deadline = clock() + limits.timeout_seconds
        self.expanded = 0

    def charge(self, nbytes: int) -> None:
        self.expanded += nbytes
        if self.expanded > self.limits.max_total_bytes:
            raise ExtractionError(
                "too_large",
                f"expanded content exceeds {self.limits.max_total_bytes} bytes for this item",
            )

    def remaining(self) -> int:
        return max(0, self.limits.max_total_bytes - self.expanded)

    def check_time(self) -> None:
        if self.clock() > self.deadline:
            raise ExtractionError("timeout", f"item took longer than {self.limits.timeout_seconds:g} s")


@dataclass
class Context:
    limits: Limits = field(default_factory=Limits)
    budget: Budget | None = None

    def __post_init__(self) -> None:
        if self.budget is None:
            self.budget = Budget(self.limits)


class Extractor(Protocol):
    """One format family. `sniff` looks at the first bytes (and may peek at the item)."""

    name: str

    def sniff(self, head: bytes, item: Item) -> bool: ...

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]: ...


def child(parent: Item, name: str, data: bytes, *, container: bool = True, **meta) -> Item:
    """A member of `parent`. `container` marks the '!' step of a locator into a container."""
    sep = "!/" if container else "/"
    return Item(
        locator=f"{parent.locator}{sep}{name}",
        name=name,
        data=data,
        depth=parent.depth + 1,
        meta=meta,
    )


def walk(item: Item, extractors: tuple[Extractor, ...], ctx: Context) -> Iterator[Part | Problem]:
    """Extract `item` and every nested item depth-first, yielding parts and problems.

    Errors never escape: an extractor that fails yields a problem and the walk
    continues with the next item.
    """
    stack: list[Item] = [item]
    while stack:
        current = stack.pop()
        if current.depth > ctx.limits.max_depth:
            yield Problem(current.locator, "too_deep", f"nesting deeper than {ctx.limits.max_depth}")
            continue
        try:
            ctx.budget.check_time()
            size = current.size
            if size > ctx.limits.max_item_bytes:
                yield Problem(current.locator, "too_large", f"{size} bytes exceeds {ctx.limits.max_item_bytes}")
                continue
            head = _head(current)
            extractor = choose(head, current, extractors)
            if extractor is None:
                yield Problem(current.locator, "unsupported", "no extractor recognises this content")
                continue
            children: list[Item] = []
            for out in extractor.extract(current, ctx):
                if isinstance(out, Item):
                    children.append(out)
                elif isinstance(out, Part) and len(out.text) > ctx.limits.max_text_chars:
                    yield Problem(out.locator, "truncated", f"text cut at {ctx.limits.max_text_chars} characters")
                    yield Part(out.locator, out.text[: ctx.limits.max_text_chars], out.format, out.pages, out.meta, out.binary)
                else:
                    yield out
            stack.extend(reversed(children))
        except ExtractionError as exc:
            yield Problem(current.locator, exc.kind, exc.detail)
        except OSError as exc:
            yield Problem(current.locator, "unreadable", exc.strerror or str(exc))
        except MemoryError:
            yield Problem(current.locator, "too_large", "out of memory while extracting")
        except RecursionError:
            yield Problem(current.locator, "corrupt", "structure nests too deeply to parse")
        except Exception as exc:  # a parser bug or hostile input: never the end of the scan
            yield Problem(current.locator, "corrupt", f"{type(exc).__name__}: {exc}"[:300])


def choose(head: bytes, item: Item, extractors: tuple[Extractor, ...]) -> Extractor | None:
    for extractor in extractors:
        if extractor.sniff(head, item):
            return extractor
    return None


def _head(item: Item) -> bytes:
    if item.data is not None:
        return item.data[:HEAD_BYTES]
    assert item.path is not None
    with open(item.path, "rb") as handle:
        return handle.read(HEAD_BYTES)
