"""Reading compressed content under the limits: sizes are counted as bytes come out,
never taken from what a header declares.

`read_limited` drains a readable stream (a zip or tar member); `inflate` drives a
decompressor object (gzip, bzip2, xz). Both stop at the first breach of the
member size, the expansion ratio or the item's total budget, and raise the
matching `ExtractionError`.
"""

from __future__ import annotations

import io
import lzma
import zlib
from typing import BinaryIO, Callable, NamedTuple

from ..errors import ExtractionError
from .base import Context

CHUNK = 1024 * 1024


class Meter:
    """Counts expanded bytes of one member against its compressed size and the budget."""

    def __init__(self, ctx: Context, compressed: int, what: str) -> None:
        self.ctx = ctx
        self.compressed = max(1, compressed)
        self.what = what
        self.expanded = 0
        limits = ctx.limits
        self.cap = min(limits.max_item_bytes, ctx.budget.remaining() + 1)

    def add(self, nbytes: int) -> None:
        self.expanded += nbytes
        limits = self.ctx.limits
        if self.expanded > limits.max_item_bytes:
            raise ExtractionError("too_large", f"{self.what} expands past {limits.max_item_bytes} bytes")
        if self.expanded > limits.ratio_floor_bytes and self.expanded > limits.max_ratio * self.compressed:
            raise ExtractionError(
                "ratio",
                f"{self.what} expands more than {limits.max_ratio:g}:1 "
                f"({self.expanded} bytes out of {self.compressed} and counting)",
            )
        self.ctx.budget.charge(nbytes)
        self.ctx.budget.check_time()

    def room(self) -> int:
        """How many more bytes may come out before some limit is certainly breached."""
        limits = self.ctx.limits
        by_ratio = max(limits.ratio_floor_bytes, int(limits.max_ratio * self.compressed))
        return max(1, min(limits.max_item_bytes, by_ratio, self.ctx.budget.remaining()) - self.expanded + 1)


def refuse_declared(ctx: Context, what: str, declared: int, compressed: int) -> None:
    """Refuse early when a header already declares a breach (a declared size is a lower
    bound of trouble, never a promise of safety)."""
    limits = ctx.limits
    if declared > limits.ratio_floor_bytes and declared > limits.max_ratio * max(1, compressed):
        raise ExtractionError(
            "ratio", f"{what} declares {declared} bytes from {compressed} ({declared / max(1, compressed):.0f}:1)"
        )
    if declared > limits.max_item_bytes:
        raise ExtractionError("too_large", f"{what} declares {declared} bytes (limit {limits.max_item_bytes})")


def read_limited(stream: BinaryIO, ctx: Context, *, compressed: int, what: str) -> bytes:
    """All of `stream`, as long as it stays within the limits."""
    meter = Meter(ctx, compressed, what)
    out = io.BytesIO()
    while True:
        chunk = stream.read(min(CHUNK, meter.room()))
        if not chunk:
            return out.getvalue()
        meter.add(len(chunk))
        out.write(chunk)


class Inflated(NamedTuple):
    data: bytes
    damage: str  # why the stream ended early ("" when it ended properly)


def inflate(source: BinaryIO, make: Callable[[], object], ctx: Context, *, compressed: int, what: str) -> Inflated:
    """Decompress every concatenated stream of `source` with decompressors from `make`
    (zlib, bz2 or lzma objects). Damage after some output keeps what came out."""
    meter = Meter(ctx, compressed, what)
    out = io.BytesIO()
    decompressor = make()
    pending = b""
    try:
        while True:
            if decompressor.eof:
                pending = decompressor.unused_data + pending
                if not pending:
                    pending = source.read(CHUNK)
                if not pending.strip(b"\0"):
                    return Inflated(out.getvalue(), "")  # zero padding after the last stream is allowed
                decompressor = make()
            if _wants_input(decompressor, pending):
                data = source.read(CHUNK)
                if not data:
                    return Inflated(out.getvalue(), f"{what} ends before its compressed stream does")
                pending += data
            chunk = decompressor.decompress(pending, min(CHUNK, meter.room()))
            pending = getattr(decompressor, "unconsumed_tail", b"")
            if chunk:
                meter.add(len(chunk))
                out.write(chunk)
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError) as exc:
        if out.tell() == 0:
            raise ExtractionError("corrupt", f"{what} cannot be decompressed: {exc}") from None
        return Inflated(out.getvalue(), f"{what} is damaged after {out.tell()} bytes: {exc}")


def _wants_input(decompressor, pending: bytes) -> bool:
    if hasattr(decompressor, "unconsumed_tail"):  # zlib keeps unread input outside
        return not pending
    return decompressor.needs_input
