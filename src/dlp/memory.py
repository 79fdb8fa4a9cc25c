"""How a scanning or registering process asks its allocator to keep memory, and when it
stops Python's cycle collector."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

KEEP_FREED = 256 << 20  # bytes: arrays up to this size come from the heap, and this much free heap is kept


def keep_freed_memory() -> None:
    """Let glibc reuse freed heap for large arrays instead of returning it to the system.

    A scan makes and drops arrays of tens of megabytes for every slice of text, and a
    registration for every batch of documents. By default glibc maps each such block fresh
    from the kernel and unmaps it when freed, so every slice pays page faults and zeroing
    again: 0.1-0.3 s of system time per 40 MB scanned (6% of the scan), and 330,000 of the
    930,000 page faults of registering 10,000 documents. With large blocks served from the
    heap and up to `KEEP_FREED` of free heap kept, a long-running process's resident size
    stays near its peak instead of falling back between items; forked workers inherit the
    setting. Elsewhere than glibc this does nothing."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the symbols the interpreter is linked with: libc's among them
    except OSError:
        return
    if not hasattr(libc, "gnu_get_libc_version"):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    libc.mallopt(m_mmap_threshold, KEEP_FREED)
    libc.mallopt(m_trim_threshold, KEEP_FREED)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a bulk registration makes a few objects per document
    and per batch that all live to its end, and the collector traversed them again and again
    as they grew (0.25 s of CPU per 10,000 documents, 5% of the command). Reference counting
    still frees everything without cycles; cycles wait for the collector, back on at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
