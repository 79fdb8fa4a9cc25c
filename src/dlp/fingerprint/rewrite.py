"""What the store keeps of a registered document for the rewrite tier: keyed sentence vectors.

Each sentence of a registered document becomes a sparse vector: its content lemmas are
keyed with the registry key (`Keyer.word`), folded into 2**COL_BITS columns, and
weighted by term count times the lemma's inverse English frequency. The store keeps
the columns and weights, never a lemma: without the key nobody can tell which column
a guessed word would fall in, so a guessed sentence cannot be confirmed.

For candidate selection it also keeps the keyed *surface* values (the core tokeniser's
values, as scanning computes them anyway) of the document's rarer content words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import tokenise
from ..text.sentences import LEMMA_VERSION, Analyser

COL_BITS = 22
REWRITE_VERSION = f"{LEMMA_VERSION}-cols{COL_BITS}/1"
CANDIDATE_WEIGHT = 4.0  # words at least this rare (English log-prob below -10) are candidate signals


@dataclass(frozen=True)
class SentenceVectors:
    """CSR rows, one per sentence: column ids (uint32) and tf x idf weights (float32)."""

    ptr: np.ndarray  # int64, len = sentences + 1
    cols: np.ndarray  # uint32
    weights: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def unit_weights(self) -> np.ndarray:
        """Weights with every row scaled to unit length (float64)."""
        w = self.weights.astype(np.float64)
        sums = np.add.reduceat(w * w, self.ptr[:-1]) if len(w) else np.zeros(len(self))
        sums[np.diff(self.ptr) == 0] = 1.0
        return w / np.repeat(np.sqrt(sums), np.diff(self.ptr))

    def matrix(self, columns: np.ndarray):
        """Unit rows as a scipy CSR matrix over `columns` (sorted); other columns are dropped
        after scaling, so cosines against rows over the same columns stay exact."""
        from scipy.sparse import csr_matrix

        w = self.unit_weights()
        at = np.searchsorted(columns, self.cols)
        at[at >= len(columns)] = 0
        keep = columns[at] == self.cols if len(columns) else np.zeros(len(self.cols), dtype=bool)
        rows = np.repeat(np.arange(len(self)), np.diff(self.ptr))[keep]
        return csr_matrix((w[keep], (rows, at[keep])), shape=(len(self), max(1, len(columns))))


def column(keyed: int) -> int:
    return keyed >> (64 - COL_BITS)


def vectorise(sentences, keyer, analyser: Analyser) -> SentenceVectors:
    """Keyed, weighted sentence vectors for a list of `Sentence`."""
    ptr, cols, weights = [0], [], []
    cache: dict[str, tuple[int, float]] = {}
    for sent in sentences:
        row: dict[int, float] = {}
        for lemma in sent.lemmas:
            hit = cache.get(lemma)
            if hit is None:
                hit = cache[lemma] = (column(keyer.word(lemma)), analyser.weight(lemma))
            row[hit[0]] = row.get(hit[0], 0.0) + hit[1]
        for c in sorted(row):
            cols.append(c)
            weights.append(row[c])
        ptr.append(len(cols))
    return SentenceVectors(np.array(ptr, dtype=np.int64), np.array(cols, dtype=np.uint32),
                           np.array(weights, dtype=np.float32))


def signatures(vectors: SentenceVectors) -> np.ndarray:
    """One order-free 64-bit value per sentence from its columns: equal lemma sets, equal values."""
    from ..text.normalise import fmix64

    if len(vectors.cols) == 0:
        return np.zeros(len(vectors), dtype=np.uint64)
    mixed = fmix64(vectors.cols.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    sums = np.add.reduceat(mixed, vectors.ptr[:-1].clip(max=len(mixed) - 1))
    sums[np.diff(vectors.ptr) == 0] = 0
    return sums.astype(np.uint64)


def candidate_vocabulary(text: str, keyer, analyser: Analyser) -> np.ndarray:
    """Sorted keyed surface values of the document's rarer content words."""
    toks = tokenise(text)
    if len(toks) == 0:
        return np.zeros(0, dtype=np.uint64)
    values = keyer.tokens(toks)
    uniq, first = np.unique(values, return_index=True)
    keep = []
    for v, i in zip(uniq.tolist(), first.tolist()):
        word = toks.text_of(i)
        if analyser.is_content(word) and analyser.weight(analyser.lemma(word)) >= CANDIDATE_WEIGHT:
            keep.append(v)
    return np.array(sorted(keep), dtype=np.uint64)


@dataclass(frozen=True)
class RewriteRecord:
    """Everything the rewrite tier stores for one registered version."""

    vectors: SentenceVectors
    vocabulary: np.ndarray  # uint64, sorted


def rewrite_record(text: str, keyer, analyser: Analyser) -> RewriteRecord:
    return RewriteRecord(vectorise(analyser.sentences(text), keyer, analyser),
                         candidate_vocabulary(text, keyer, analyser))
