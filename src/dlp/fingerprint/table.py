"""An open-addressing hash table of 64-bit keyed values, looked up for a whole array at once.

Built when a segment is written, stored as two arrays (keys and a payload), probed with
a few vector gathers: a query's home slot is the top bits of its value (keyed values
are uniformly distributed), and linear probing goes on only for the few queries whose
slot holds another key. At half load a lookup costs about two gathers, against the
twenty steps of a binary search, and it touches one cache line instead of twenty.

Zero marks an empty slot; the value 0 (one in 2**64) is never stored.
"""

from __future__ import annotations

import numpy as np

from .. import speedups
from ..arrays import distinct_first

MIN_BITS = 8


def bits_for(count: int) -> int:
    return max(MIN_BITS, int(max(1, 2 * count) - 1).bit_length())


def build(keys: np.ndarray, payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slot keys, slot payloads) of a table holding each distinct nonzero key once."""
    keys = np.asarray(keys, dtype=np.uint64)
    keep = keys != 0
    keys, payload = keys[keep], np.asarray(payload)[keep]
    keys, first = distinct_first(keys)
    payload = payload[first]
    bits = bits_for(len(keys))
    size = 1 << bits
    slots = np.zeros(size, dtype=np.uint64)
    values = np.zeros(size, dtype=payload.dtype)
    home = (keys >> np.uint64(64 - bits)).astype(np.int64)
    pending = np.arange(len(keys))
    step = 0
    while len(pending):
        where = (home[pending] + step) & (size - 1)
        free = slots[where] == 0
        # of several keys wanting one free slot in this round, the first takes it
        cand = pending[free]
        where = where[free]
        uniq, first = distinct_first(where)
        taken = cand[first]
        slots[uniq] = keys[taken]
        values[uniq] = payload[taken]
        placed = np.zeros(len(keys), dtype=bool)
        placed[taken] = True
        pending = pending[~placed[pending]]
        step += 1
    return slots, values


def lookup(slots: np.ndarray, values: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the queries found, their payloads)."""
    size = len(slots)
    if size == 0 or len(queries) == 0:
        return np.zeros(0, dtype=np.int64), values[:0]
    bits = size.bit_length() - 1
    at = (queries >> np.uint64(64 - bits)).astype(np.int64)
    todo = np.arange(len(queries))
    found_q, found_at = [], []
    while len(todo):
        slot = slots[at]
        hit = (slot == queries[todo]) & (slot != 0)  # a query of 0 would "find" an empty slot
        if hit.any():
            found_q.append(todo[hit])
            found_at.append(at[hit])
        go_on = ~hit & (slot != 0)  # another key sits here: probe on; an empty slot ends the search
        todo, at = todo[go_on], (at[go_on] + 1) & (size - 1)
    if not found_q:
        return np.zeros(0, dtype=np.int64), values[:0]
    q = np.concatenate(found_q)
    return q, values[np.concatenate(found_at)]


def find(slots: np.ndarray, values: np.ndarray, queries: np.ndarray, missing: int) -> np.ndarray:
    """The payload (int64) of each query, `missing` where it is not in the table: `lookup` as one
    array, in one C pass where the speedups are built."""
    native = speedups.native
    if native is not None and len(slots) > 1 and values.dtype.itemsize == 8 and queries.dtype == np.uint64:
        out = np.empty(len(queries), dtype=np.int64)
        native.table_find(np.ascontiguousarray(slots), np.ascontiguousarray(values), np.ascontiguousarray(queries),
                          out, missing)
        return out
    out = np.full(len(queries), missing, dtype=np.int64)
    asked, payload = lookup(slots, values, queries)
    out[asked] = payload
    return out
