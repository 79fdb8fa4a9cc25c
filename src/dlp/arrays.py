"""Array helpers the whole code base shares.

`distinct` is ``np.unique`` by sorting. NumPy 2.3 and later answer a plain ``np.unique``
of integers from a hash table, which on this project's keyed 64-bit values is 10 to 100
times slower than sorting (a million random uint64: 600 ms against 6 ms, measured with
NumPy 2.4.6); it cost registration of 10,000 documents seconds in bitmaps alone.
"""

from __future__ import annotations

import numpy as np

from . import speedups


def run_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array starts (bool, one per value)."""
    out = np.empty(len(sorted_values), dtype=bool)
    out[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=out[1:])
    return out


def distinct(values) -> np.ndarray:
    """The sorted distinct values of a 1-D array (what ``np.unique(values)`` returns)."""
    out = np.sort(np.asarray(values).ravel())
    return out if len(out) < 2 else out[run_starts(out)]


def distinct_first(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values and where each first appears: what ``np.unique(values,
    return_index=True)`` gives, four times faster on millions (NumPy 2.4 sorts indices for it)."""
    values = np.asarray(values).ravel()
    ranked, order = stable_sort(values)
    first = run_starts(ranked)
    return ranked[first], order[first]


def among(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted set, by binary search (no sort of `values`).

    Many uint64 values (keyed hashes) are first looked up in a table of the set's top bits:
    a binary search per value of millions, in random order, cost 85 ns each (2.4 million
    fingerprints against 30,000: 206 ms; 20 ms with the table), and most are not there."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    if len(values) >= AMONG_TABLE_FROM and values.dtype == np.uint64 and sorted_set.dtype == np.uint64:
        bits = max(10, min(26, (16 * len(sorted_set)).bit_length()))
        shift = np.uint64(64 - bits)
        table = np.zeros(1 << bits, dtype=bool)
        table[(sorted_set >> shift).astype(np.intp)] = True
        maybe = np.flatnonzero(table[(values >> shift).astype(np.intp)])
        out = np.zeros(len(values), dtype=bool)
        if len(maybe):
            out[maybe] = _searched(values[maybe], sorted_set)
        return out
    return _searched(values, sorted_set)


AMONG_TABLE_FROM = 1 << 16  # values from which `among` looks them up in a table first


def _searched(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if values.dtype == np.int64 and sorted_set.dtype == np.int64 and sorted_set[0] >= 0:
        # positions, ascending as a rule: (a negative value, compared as a huge one, is found
        # nowhere, as it should: the set holds none)
        at = ascending_searchsorted(sorted_set, values)
    else:
        at = np.searchsorted(sorted_set, values)
    at = np.minimum(at, len(sorted_set) - 1)
    return sorted_set[at] == values


def ascending_searchsorted(sorted_values: np.ndarray, queries: np.ndarray, side: str = "left",
                           sample: tuple[np.ndarray, int] | None = None) -> np.ndarray:
    """``np.searchsorted`` of queries that come in ascending order, uint64 values or non-negative
    int64 positions (token numbers, offsets; compared as uint64 alike): in C each search gallops
    on from the previous answer, a few steps near it instead of a binary search of twenty-odd
    cache misses into an array of half a million. `sample`: (every step-th entry, step) of a
    large array, galloped over instead (`fingerprint.bitmap.searchsorted`)."""
    native = speedups.native
    if native is None or sorted_values.dtype != queries.dtype or queries.dtype not in (np.int64, np.uint64) \
            or len(queries) == 0:
        return np.searchsorted(sorted_values, queries, side=side)
    out = np.empty(len(queries), dtype=np.int64)
    sorted_values = np.ascontiguousarray(sorted_values).view(np.uint64)
    queries = np.ascontiguousarray(queries).view(np.uint64)
    if sample is None:
        native.search_sorted(sorted_values, queries, out, side == "right")
    else:
        native.search_sorted(sorted_values, queries, out, side == "right", sample[0], sample[1])
    return out


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")``, several times faster on millions of integers.

    NumPy sorts integers with SIMD quicksort (not stable) but falls back to timsort for a
    stable order: 0.9 s against 0.2 s for 8 million uint64. So: one sort of packed integers
    (`_packed_argsort`), or sort unstably, then put each run of equal values back in index
    order with a second unstable sort of distinct keys (run number, index), which is the
    same thing as stable.
    """
    return stable_sort(values)[1]


def stable_sort(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the values in the order `stable_argsort` gives, that order): keyed hashes come out of
    the packed sort already in order, without a second gather of millions of values."""
    values = np.asarray(values)
    n = len(values)
    bits = max(1, int(n).bit_length())
    if n < 2 or 2 * bits > 62:
        order = np.argsort(values, kind="stable")
        return values[order], order
    if values.dtype in (np.uint64, np.uint32, np.int64, np.int32) and n >= 1024:
        packed = _packed_argsort(values, bits)
        if packed is not None:
            order, ranked = packed
            return (ranked if ranked is not None else gather(values, order)), order
    order = np.argsort(values)
    ranked = values[order]
    change = run_starts(ranked)
    if change.all():
        return ranked, order
    runs = np.cumsum(change, dtype=np.int64) - 1
    keys = (runs << bits) | order.astype(np.int64)
    keys.sort()
    order = keys & ((1 << bits) - 1)
    return values[order], order


def _packed_argsort(values: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray | None] | None:
    """`stable_argsort` of integers that are not negative, by one sort of plain integers (the
    fastest sort NumPy has: an argsort of 8 million uint64 took 0.5 s, a sort 0.1 s): each
    value, shifted so that its highest bit is bit 63, keeps its top 64 - `bits` bits over its
    index. That orders by value, ties in index order, except among values that differ only
    in the bits given up, which are put in order afterwards (keyed hashes: a handful in
    millions; values of 64 - `bits` bits or fewer, such as sentence and column numbers: none).
    Returns (order, the values in that order when they are uint64 using all 64 bits, else
    None); None for negative values, or when there are too many of those: sort otherwise."""
    if values.dtype.kind == "i" and values.min() < 0:
        return None
    top_bit = int(values.max()).bit_length()
    if top_bit == 0:
        return np.arange(len(values), dtype=np.int64), None  # all zero
    as_is = values.dtype == np.uint64 and top_bit == 64
    wide = values if as_is else values.astype(np.uint64) << np.uint64(64 - top_bit)
    low = np.uint64((1 << bits) - 1)
    keys = wide & ~low
    keys |= np.arange(len(values), dtype=np.uint64)
    keys.sort()
    keys &= low
    order = keys.view(np.int64)  # (the index is all that is left of each key)
    ranked = gather(wide, order)
    bad = np.flatnonzero(ranked[1:] < ranked[:-1])
    if len(bad) * 1024 > len(values):
        return None
    # each disorder is inside a run of equal top bits, a few entries long: sort each such run
    # by (value, index)
    shift, done = np.uint64(bits), -1
    for b in bad.tolist():
        if b < done:
            continue
        top = ranked[b] >> shift
        lo, hi = b, b + 2
        while lo > 0 and ranked[lo - 1] >> shift == top:
            lo -= 1
        while hi < len(ranked) and ranked[hi] >> shift == top:
            hi += 1
        run = sorted(zip(ranked[lo:hi].tolist(), order[lo:hi].tolist()))
        ranked[lo:hi] = [v for v, _ in run]
        order[lo:hi] = [i for _, i in run]
        done = hi
    return order, (ranked if as_is else None)


GATHERED_IN_C = 1 << 16  # gathers this long or longer of 8-byte values go through the C pass


def gather(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``values[order]`` for a 1-D array of 4- or 8-byte values and int64 indices; a long gather
    in random order (after a sort) in one C pass that asks for each entry far ahead where the
    speedups are built: 24 ms for 10 million where NumPy's gather, which waits on every cache
    miss, took 100-270 ms."""
    native = speedups.native
    size = values.dtype.itemsize
    if (native is None or len(order) < GATHERED_IN_C or size not in (4, 8) or values.ndim != 1
            or order.dtype != np.int64 or not values.flags.c_contiguous or not order.flags.c_contiguous):
        return values[order]
    view = np.uint64 if size == 8 else np.uint32
    out = np.empty(len(order), dtype=values.dtype)
    try:
        native.gather(values.view(view), order, out.view(view))
    except ValueError:  # an index out of range (or negative): NumPy's answer, or its error
        return values[order]
    return out


def distinct_pairs(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The distinct (first, second) pairs of two uint64 arrays, sorted, as a (2, n) array: what
    ``np.unique(np.stack([first, second]), axis=1)`` gives. One unstable sort by `first`, then
    one sort of (run of equal `first`, rank of `second`) packed into one integer (several
    times faster than a two-key lexsort on millions of pairs)."""
    if len(first) == 0:
        return np.zeros((2, 0), dtype=np.uint64)
    first = np.asarray(first, dtype=np.uint64)
    second = np.asarray(second, dtype=np.uint64)
    order = np.argsort(first)
    a = first[order]
    change = run_starts(a)
    runs = np.cumsum(change, dtype=np.int64) - 1
    seconds = distinct(second)
    rank = np.searchsorted(seconds, second[order]).astype(np.int64)
    bits = max(1, int(len(seconds)).bit_length())
    if int(runs[-1]).bit_length() + bits > 62:  # too many to pack: two keys
        order = np.lexsort((second, first))
        a, b = first[order], second[order]
        keep = np.ones(len(a), dtype=bool)
        keep[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        return np.stack([a[keep], b[keep]]).astype(np.uint64)
    keys = distinct((runs << bits) | rank)
    return np.stack([a[change][keys >> bits], seconds[keys & ((1 << bits) - 1)]]).astype(np.uint64)


class Joined:
    """A 1-D array held as its parts, in order, never joined in memory: what a segment stores
    as the plain concatenation of every owner's values (classifier counts, sentence vectors,
    shingle lists), written part after part (`store.SegmentWriter`). Joining them first cost
    a registration of 10,000 documents 190 MB of copies and their page faults."""

    def __init__(self, parts: list[np.ndarray], dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.parts = [np.ascontiguousarray(p, dtype=self.dtype) for p in parts if len(p)]
        self._len = sum(len(p) for p in self.parts)

    def __len__(self) -> int:
        return self._len


def merged(array: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The sorted `array` with the sorted `values` merged in, each value before the entries
    equal to it (in one C pass where the speedups are built)."""
    native = speedups.native
    if native is not None and array.dtype == np.int64 and values.dtype == np.int64:
        return np.frombuffer(native.merge_sorted(np.ascontiguousarray(array), np.ascontiguousarray(values)),
                             dtype=np.int64)
    if len(values) > 5000:  # many: one merge of two sorted runs beats moving every element by index
        return np.sort(np.concatenate((array, values)), kind="stable")
    return np.insert(array, np.searchsorted(array, values), values)
