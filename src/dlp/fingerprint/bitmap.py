"""Bitmaps over the top bits of 64-bit keyed values: one vector operation rejects most lookups.

A bitmap of 2**bits bits has a bit set for every stored value's top `bits` bits. A
query whose bit is clear is certainly absent; the few that pass are confirmed with a
binary search. Bitmaps are built when a segment is written and stored with it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np

from .. import speedups
from ..arrays import ascending_searchsorted, stable_sort

MIN_BITS = 16
MAX_BITS = 28
BITS_PER_VALUE = 16  # about 6% of absent queries pass when the bitmap is full


def bits_for(count: int) -> int:
    """Bitmap size (log2 of bits) for `count` values."""
    need = max(1, count) * BITS_PER_VALUE
    return int(min(MAX_BITS, max(MIN_BITS, int(need - 1).bit_length())))


def build(values: np.ndarray, bits: int) -> np.ndarray:
    """The bitmap (uint8, 2**bits / 8 bytes) of `values` (uint64)."""
    out = np.zeros(1 << (bits - 3), dtype=np.uint8)
    if len(values) == 0:
        return out
    slots = np.asarray(values, dtype=np.uint64) >> np.uint64(64 - bits)
    if len(slots) > 1 and not (slots[1:] >= slots[:-1]).all():  # stored values come sorted: no sort then
        slots = np.sort(slots)
    index = (slots >> np.uint64(3)).astype(np.int64)
    bit = np.left_shift(np.uint8(1), (slots & np.uint64(7)).astype(np.uint8))
    starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
    out[index[starts]] = np.bitwise_or.reduceat(bit, starts)
    return out


def probe(bitmap: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """True where a query may be present (its bit is set)."""
    native = speedups.native
    if native is not None and queries.dtype == np.uint64 and bitmap.dtype == np.uint8 and len(bitmap):
        out = np.empty(len(queries), dtype=bool)
        native.probe(np.ascontiguousarray(bitmap), np.ascontiguousarray(queries), out)
        return out
    bits = int(len(bitmap) * 8).bit_length() - 1
    slots = queries >> np.uint64(64 - bits)
    return ((bitmap[(slots >> np.uint64(3)).astype(np.intp)] >> (slots & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)


def lookup(sorted_values: np.ndarray, bitmap: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query indices, first entry, entry count) for the queries found in `sorted_values`.

    Queries are probed in the bitmap, then the survivors are searched in sorted order,
    so the binary searches walk the array in one direction (fewer cache misses).
    """
    return lookup_many([(sorted_values, bitmap)], queries)[0]


def lookup_many(pairs: list[tuple[np.ndarray, np.ndarray]], queries: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """`lookup` of the same queries in each of several (sorted values, bitmap) pairs (a
    registry's segments), the bitmaps probed in one pass over the queries where the C speedups
    are built (an empty bitmap passes every query)."""
    native = speedups.native
    if native is not None and queries.dtype == np.uint64 and len(pairs) <= 64 and all(len(b) for _, b in pairs):
        lists = native.probe_lists([np.ascontiguousarray(b) for _, b in pairs], np.ascontiguousarray(queries))
        cands = [np.frombuffer(listed, dtype=np.int64) for listed in lists]
    else:
        cands = [np.flatnonzero(probe(b, queries)) if len(b) else np.arange(len(queries)) for _, b in pairs]
    return [search(v, queries, cand) for (v, _), cand in zip(pairs, cands)]


def search(sorted_values: np.ndarray, queries: np.ndarray, cand: np.ndarray,
           distinct: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`lookup` of the queries at indices `cand` (those that passed the probe, or some of them).

    `distinct`: `sorted_values` holds each value once, so one binary search per query tells
    whether it is there (half the searches, on an array too large for the cache)."""
    empty = np.zeros(0, dtype=np.int64)
    if len(sorted_values) == 0 or len(cand) == 0:
        return empty, empty, empty
    q = queries[cand]
    q, order = stable_sort(q)  # the queries of one value in index order (one packed sort: `stable_sort`)
    cand = cand[order]
    lo = searchsorted(sorted_values, q, "left")
    found = sorted_values[np.minimum(lo, len(sorted_values) - 1)] == q
    cand, lo = cand[found], lo[found]
    if distinct:
        return cand, lo, np.ones(len(cand), dtype=np.int64)
    # where each run of equal values ends, for the found queries only: most that pass the
    # bitmap are not in the array at all
    return cand, lo, searchsorted(sorted_values, q[found], "right") - lo


def searchsorted(sorted_values: np.ndarray, queries: np.ndarray, side: str) -> np.ndarray:
    """`np.searchsorted` of uint64 queries; where the C speedups are built, ascending queries
    gallop on from the previous answer (those here are sorted, and a few dozen entries apart
    in arrays of millions: a few steps each instead of twenty-odd cache misses), over a sample
    of every `SAMPLE_STEP`-th entry when the array is large (`_sample`): then only the block an
    answer lies in is read from the array itself (an array of a store is seldom in the cache:
    the rewrite tier's 481,000 searches per 40 MB of mail took 31 ms, chained cache misses)."""
    if speedups.native is None or sorted_values.dtype != np.uint64 or queries.dtype != np.uint64:
        return np.searchsorted(sorted_values, queries, side=side)
    sorted_values = np.ascontiguousarray(sorted_values)
    sample = _sample(sorted_values) if len(queries) >= SAMPLED_QUERIES else None
    return ascending_searchsorted(sorted_values, queries, side, None if sample is None else (sample, SAMPLE_STEP))


SAMPLE_STEP = 16  # entries of a large sorted array per entry of its sample (a block: two cache lines)
SAMPLED_ARRAYS = 1 << 16  # arrays this long or longer are searched through a sample ...
SAMPLED_QUERIES = 1024  # ... by this many queries or more (fewer do not pay for making one)
_SAMPLES_KEPT = 64
_samples: "OrderedDict[int, tuple[weakref.ref, np.ndarray]]" = OrderedDict()
_samples_lock = threading.Lock()


def _sample(sorted_values: np.ndarray) -> np.ndarray | None:
    """Every SAMPLE_STEP-th entry of a large sorted array, made once per array object and kept
    while it lives (the arrays searched again and again are a store's, which live as long as the
    index; at most `_SAMPLES_KEPT` are kept)."""
    if len(sorted_values) < SAMPLED_ARRAYS:
        return None
    key = id(sorted_values)
    with _samples_lock:
        kept = _samples.get(key)
        if kept is not None and kept[0]() is sorted_values:
            _samples.move_to_end(key)
            return kept[1]
    try:
        ref = weakref.ref(sorted_values)
    except TypeError:
        return None
    sample = np.ascontiguousarray(sorted_values[::SAMPLE_STEP])
    with _samples_lock:
        _samples[key] = (ref, sample)
        _samples.move_to_end(key)
        while len(_samples) > _SAMPLES_KEPT:
            _samples.popitem(last=False)
    return sample


def expand(cand: np.ndarray, lo: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query index, entry index) for every entry of every found query."""
    total = int(counts.sum())
    if total == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e
    qidx = np.repeat(cand, counts)
    base = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return qidx, base + np.arange(total)
