"""Hashed word and word-pair features built from the keyed token values the core computes.

A feature is a bucket of 2**FEATURE_BITS: the top bits of a keyed token value
(unigram) or of a keyed 2-word shingle (bigram). No Python runs per token, so the
classifier costs a few vector operations per part instead of a scikit-learn text
vectoriser (about 5 MB/s). A model built on these buckets holds no vocabulary: without
the registry key, a bucket cannot be mapped back to a word.
"""

from __future__ import annotations

import numpy as np

from ..fingerprint.shingles import shingles

FEATURE_BITS = 20
N_FEATURES = 1 << FEATURE_BITS
FEATURE_VERSION = f"uni-bi-keyed-top{FEATURE_BITS}/2"  # /2: keyed values by SipHash
_SHIFT = np.uint64(64 - FEATURE_BITS)


def token_buckets(values: np.ndarray) -> np.ndarray:
    """Unigram bucket of every token (int64), aligned with the tokens."""
    return (values >> _SHIFT).astype(np.int64)


def hashed_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct buckets (uint32) of a text's unigrams and bigrams, and their counts (float32)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float32)
    buckets = np.concatenate((token_buckets(values), (shingles(values, 2) >> _SHIFT).astype(np.int64)))
    uniq, counts = np.unique(buckets, return_counts=True)
    return uniq.astype(np.uint32), counts.astype(np.float32)


def weigh(buckets: np.ndarray, counts: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Sublinear tf x idf, scaled to unit length (the values for `buckets`)."""
    w = (1.0 + np.log(counts.astype(np.float64))) * idf[buckets.astype(np.int64)]
    norm = np.sqrt((w * w).sum())
    return w / norm if norm > 0 else w


def matrix(rows: list[tuple[np.ndarray, np.ndarray]], idf: np.ndarray):
    """A scipy CSR matrix of weighted rows."""
    from scipy.sparse import csr_matrix

    ptr = np.concatenate(([0], np.cumsum([len(b) for b, _ in rows]))).astype(np.int64)
    cols = np.concatenate([b for b, _ in rows]).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    data = np.concatenate([weigh(b, c, idf) for b, c in rows]) if rows else np.zeros(0)
    return csr_matrix((data, cols, ptr), shape=(len(rows), N_FEATURES))
