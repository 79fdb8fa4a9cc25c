"""k-word shingles over keyed token values, and winnowing.

Guarantee (Schleimer, Wilkerson and Aiken, 2003): with shingles of K words and a
winnowing window of W shingles, every run of at least W + K - 1 words shared with
a registered document contains at least one of its stored fingerprints.
"""

from __future__ import annotations

import numpy as np

from .. import speedups
from ..text.normalise import fmix64
from ..arrays import distinct

K = 5
W = 6
GUARANTEE_WORDS = W + K - 1
SHINGLE_VERSION = f"k{K}-w{W}-blake2b-poly-fmix/1"

MIX = np.uint64(0x9E3779B97F4A7C15)  # the polynomial's multiplier (what the C passes are given too)


def shingles(values: np.ndarray, k: int = K) -> np.ndarray:
    """One 64-bit value per window of k consecutive token values (empty if fewer)."""
    n = len(values) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    native = speedups.native
    if native is not None and values.dtype == np.uint64:  # one C pass instead of 2k + 6
        out = np.empty(n, dtype=np.uint64)
        native.shingles(np.ascontiguousarray(values), out, k, int(MIX))
        return out
    return shingles_of([values[m : m + n] for m in range(k)])


def shingles_of(columns: list[np.ndarray]) -> np.ndarray:
    """The shingle of windows picked out of a text, given as k arrays: the first token value of
    every window, then the second, ... (`shingles` is every window of a text). A polynomial over
    the (already keyed, uniformly distributed) token values, then one full avalanche:
    order-sensitive, and 2 array operations per word instead of 8. Flat arrays, not the rows
    of a 2-D one: NumPy gathers into them far faster."""
    h = np.array(columns[0], dtype=np.uint64)  # a copy (the columns may be views of one 2-D array)
    for column in columns[1:]:
        h *= MIX
        h += column
    return fmix64(h)


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """Positions of the fingerprints winnowing selects (the minimum of every window)."""
    if len(hashes) <= w:
        return np.arange(len(hashes)) if len(hashes) else np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    picks = windows.argmin(axis=1) + np.arange(len(windows))
    return distinct(picks)
