"""What the rewrite tier keeps of a text: keyed sentence vectors and rare-lemma pair signatures.

Both registration and scanning analyse text the same way, on the tokens and keyed
values the core computes anyway (no spaCy, no Python per token):

- Sentences come from the tokeniser's sentence flags; a sentence longer than
  `MAX_SENTENCE_TOKENS` is cut into pieces of that size.
- Content tokens are the tokens that are not stop words, not a lone letter and not
  digits only. The keyed lexicon gives each its keyed lemma and weight (rarer in
  English, heavier).
- A sentence vector sums the weights of its lemmas per column (the top `COL_BITS`
  bits of the keyed lemma): tf x idf, and no lemma in the clear.
- A sentence's *pair signatures* are keyed hashes of the unordered pairs among its
  rarest lemmas (weight >= `PAIR_WEIGHT`, at most `PAIR_LEMMAS` of them). A rewrite
  that keeps three rare words of a sentence, in any order and whatever it does to the
  rest, keeps three of its pairs; an unrelated sentence on the same topic rarely
  shares three pairs with one registered sentence, and pairs that many registered
  secrets share are boilerplate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import speedups
from . import bitmap
from ..text.normalise import Tokens, fmix64
from .lexicon import LEXICON_VERSION, Lexicon
from ..arrays import distinct

COL_BITS = 22
MAX_SENTENCE_TOKENS = 80
PAIR_WEIGHT = 4.0  # lemmas at least this rare (English log-probability below -10) make pairs
PAIR_LEMMAS = 12  # at most this many of a sentence's rarest lemmas make its pairs
REWRITE_VERSION = f"{LEXICON_VERSION}-sent{MAX_SENTENCE_TOKENS}-cols{COL_BITS}-pairs{PAIR_WEIGHT:g}x{PAIR_LEMMAS}/3"

_SIG_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class SentenceVectors:
    """CSR rows, one per (non-empty) sentence: column ids (uint32) and tf x idf weights (float32)."""

    ptr: np.ndarray  # int64, len = sentences + 1
    cols: np.ndarray  # uint32
    weights: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def rows(self, lo: int, hi: int) -> "SentenceVectors":
        p = self.ptr[lo : hi + 1]
        return SentenceVectors(p - p[0], self.cols[p[0] : p[-1]], self.weights[p[0] : p[-1]])


@dataclass(frozen=True)
class Analysis:
    """The content tokens of a text (or of some of its sentences)."""

    positions: np.ndarray  # int64 token index
    sentences: np.ndarray  # int64 sentence number of each content token (non-decreasing)
    lemmas: np.ndarray  # uint64 keyed lemma
    weights: np.ndarray  # float32


class Sentences:
    """The sentences of a text's tokens, numbered, sentences longer than MAX_SENTENCE_TOKENS cut in
    pieces; numbers are found for the tokens asked about, never computed for every token."""

    def __init__(self, tokens: Tokens) -> None:
        n = len(tokens)
        first = tokens.sentence_starts
        if n and (len(first) == 0 or first[0] != 0):
            first = np.concatenate(([0], first))
        self.first = first.astype(np.int64)
        self.end = np.append(self.first[1:], n).astype(np.int64)
        pieces = (self.end - self.first + MAX_SENTENCE_TOKENS - 1) // MAX_SENTENCE_TOKENS
        self.base = np.concatenate(([0], np.cumsum(pieces))).astype(np.int64)  # number of each sentence's first piece

    def of(self, positions: np.ndarray) -> np.ndarray:
        """Sentence number of the tokens at `positions`."""
        s = bitmap.searchsorted(self.first.view(np.uint64), positions.astype(np.int64, copy=False).view(np.uint64),
                                "right") - 1  # ascending positions gallop (offsets are never negative)
        return self.base[s] + (positions - self.first[s]) // MAX_SENTENCE_TOKENS

    def span(self, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and end (exclusive) token of each sentence number (numbers outside the text: empty)."""
        numbers = np.clip(numbers, 0, max(0, int(self.base[-1]) - 1))
        s = np.searchsorted(self.base, numbers, side="right") - 1
        lo = self.first[s] + (numbers - self.base[s]) * MAX_SENTENCE_TOKENS
        return lo, np.minimum(lo + MAX_SENTENCE_TOKENS, self.end[s])

    def positions(self, numbers: np.ndarray) -> np.ndarray:
        """Every token of the sentences `numbers` (distinct, sorted)."""
        if len(numbers) == 0 or len(self.first) == 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = self.span(distinct(numbers))
        lengths = np.maximum(hi - lo, 0)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        return np.repeat(lo, lengths) + np.arange(int(lengths.sum())) - np.repeat(offsets, lengths)


def sentence_numbers(tokens: Tokens) -> np.ndarray:
    """Sentence number of every token."""
    return Sentences(tokens).of(np.arange(len(tokens)))


def analyse(tokens: Tokens, values: np.ndarray, lexicon: Lexicon, *, numbers: np.ndarray | None = None,
            positions: np.ndarray | None = None) -> Analysis:
    """Content tokens with their sentence numbers, keyed lemmas and weights.

    `positions` restricts the analysis to some tokens (the sentences worth aligning), and
    `numbers` are their sentence numbers; without them, every token of the text.
    """
    if positions is None:
        positions = np.arange(len(tokens))
    if numbers is None:
        numbers = Sentences(tokens).of(positions)
    lemmas, weights, flags = lexicon.lookup(values[positions])
    content = ((flags & 1) == 0) & (tokens.lengths[positions] > 1) & ~tokens.digits_only(positions)
    return Analysis(positions[content], numbers[content], lemmas[content], weights[content])


def vectors(analysis: Analysis) -> tuple[SentenceVectors, np.ndarray]:
    """Sentence vectors of the analysed sentences, and the sentence number of each row."""
    if len(analysis.positions) == 0:
        empty = SentenceVectors(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float32))
        return empty, np.zeros(0, dtype=np.int64)
    cols = (analysis.lemmas >> np.uint64(64 - COL_BITS)).astype(np.int64)
    key = analysis.sentences * (1 << COL_BITS) + cols
    uniq, inverse = np.unique(key, return_inverse=True)
    weights = np.bincount(inverse, weights=analysis.weights, minlength=len(uniq)).astype(np.float32)
    row_sentence = uniq >> COL_BITS
    numbers, row_of = np.unique(row_sentence, return_inverse=True)
    ptr = np.concatenate(([0], np.cumsum(np.bincount(row_of, minlength=len(numbers))))).astype(np.int64)
    return SentenceVectors(ptr, (uniq & ((1 << COL_BITS) - 1)).astype(np.uint32), weights), numbers


def rare_keys(analysis: Analysis, min_weight: float = PAIR_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """(sentence numbers, packed lemma keys) of the rare content tokens: see `pack_lemma`."""
    rare = analysis.weights >= min_weight
    return analysis.sentences[rare], pack_lemma(analysis.lemmas[rare], analysis.weights[rare])


def pack_lemma(lemmas: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A lemma as one sortable 64-bit key: its rarity (higher weight first) over its top 32 bits."""
    quantised = np.clip(weights * 16, 0, 255).astype(np.uint64)
    return ((np.uint64(255) - quantised) << np.uint64(32)) | (lemmas >> np.uint64(32))


def pairs(sentences: np.ndarray, keys: np.ndarray, top: int = PAIR_LEMMAS) -> tuple[np.ndarray, np.ndarray]:
    """Pair signatures of every sentence from its `top` rarest distinct lemmas: (hashes, sentence numbers).

    `keys` are packed lemmas (`pack_lemma`). One integer sort orders the tokens by sentence,
    then rarity, then lemma: duplicates fall together, and the first `top` of each sentence
    are its rarest. The pairs come sentence by sentence, ascending (a batch of documents
    numbered in order gives each document's pairs together), and within a sentence by
    distance in that order, then by position.
    """
    if len(keys) < 2:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    full = (sentences.astype(np.uint64) << np.uint64(40)) | keys
    native = speedups.native
    if native is not None:  # the rest in one C pass, in the same order; it sorts within sentences
        if np.any(sentences[1:] < sentences[:-1]):
            full = np.sort(full)
        hashes, owners = native.lemma_pairs(full, top)
        return np.frombuffer(hashes, dtype=np.uint64), np.frombuffer(owners, dtype=np.int64)
    full = np.sort(full)
    full = full[np.concatenate(([True], full[1:] != full[:-1]))]
    sent = (full >> np.uint64(40)).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], sent[1:] != sent[:-1])))
    rank = np.arange(len(sent)) - np.repeat(starts, np.diff(np.append(starts, len(sent))))
    keep = rank < top
    sent, lemma = sent[keep], full[keep] & np.uint64(0xFFFFFFFF)
    hashes, owners = [], []
    for d in range(1, top):
        if d >= len(sent):
            break
        same = np.flatnonzero(sent[:-d] == sent[d:])  # indices, not a mask: gathers beat compressing
        if len(same) == 0:
            break
        a, b = lemma[same], lemma[same + d]
        hashes.append(pair_hash(np.minimum(a, b), np.maximum(a, b)))
        owners.append(sent[same])
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    hashes, owners = np.concatenate(hashes), np.concatenate(owners)
    order = np.argsort(owners, kind="stable")  # by distance, then position: within each sentence
    return hashes[order], owners[order]


def passing_pairs(sentences: np.ndarray, keys: np.ndarray, top: int, bitmaps: list[np.ndarray],
                  min_pairs: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The pairs of `pairs` (in any order) that pass at least one of `bitmaps`, of the sentences
    where `min_pairs` pairs or more do: (hashes, sentence numbers, and for each bitmap whether
    each passed it). A sentence with fewer passing pairs shares fewer than `min_pairs` with
    any registered sentence; in mail, most are such. In one C pass where the speedups are built."""
    none = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), [np.zeros(0, dtype=bool) for _ in bitmaps]
    if len(keys) < 2 or not bitmaps:
        return none
    native = speedups.native
    if native is not None and len(bitmaps) <= 64:
        full = (sentences.astype(np.uint64) << np.uint64(40)) | keys
        if np.any(sentences[1:] < sentences[:-1]):
            full = np.sort(full)
        hashes, owners, masks = native.pair_candidates(full, top, [np.ascontiguousarray(b) for b in bitmaps], min_pairs)
        masks = np.frombuffer(masks, dtype=np.uint64)
        passed = [masks & np.uint64(1 << k) != 0 for k in range(len(bitmaps))]
        return np.frombuffer(hashes, dtype=np.uint64), np.frombuffer(owners, dtype=np.int64), passed
    hashes, sent = pairs(sentences, keys, top)
    if len(hashes) == 0:
        return none
    passed = [bitmap.probe(b, hashes) for b in bitmaps]
    anywhere = np.logical_or.reduce(passed)
    first = int(sent.min())
    per_sentence = np.bincount(sent[anywhere] - first, minlength=int(sent.max()) - first + 1)
    keep = anywhere & (per_sentence[sent - first] >= min_pairs)
    return hashes[keep], sent[keep], [p[keep] for p in passed]


def pair_hash(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Order-free value of two distinct 32-bit lemma keys given as (smaller, larger)."""
    return fmix64((low << np.uint64(32)) | high)


def signatures(vectors: SentenceVectors) -> np.ndarray:
    """One order-free 64-bit value per sentence from its columns: equal lemma sets, equal values."""
    if len(vectors.cols) == 0:
        return np.zeros(len(vectors), dtype=np.uint64)
    mixed = fmix64(vectors.cols.astype(np.uint64) + _SIG_MIX)
    sums = np.add.reduceat(mixed, vectors.ptr[:-1].clip(max=len(mixed) - 1))
    sums[np.diff(vectors.ptr) == 0] = 0
    return sums.astype(np.uint64)


@dataclass(frozen=True)
class RewriteRecord:
    """Everything the rewrite tier stores for one registered version."""

    vectors: SentenceVectors
    signatures: np.ndarray  # uint64 per row
    pair_hashes: np.ndarray  # uint64
    pair_rows: np.ndarray  # uint32: the vector row each pair belongs to
    lemmas: np.ndarray  # uint64, sorted: the distinct lemmas that make its pairs


def rewrite_record(tokens: Tokens, values: np.ndarray, lexicon: Lexicon) -> RewriteRecord:
    analysis = analyse(tokens, values, lexicon)
    vecs, numbers = vectors(analysis)
    hashes, sentences = pairs(*rare_keys(analysis))
    rows = np.searchsorted(numbers, sentences).astype(np.uint32)  # each (pair, sentence) once: lemmas are distinct per sentence
    rare = analysis.lemmas[analysis.weights >= PAIR_WEIGHT]
    return RewriteRecord(vecs, signatures(vecs), hashes, rows, distinct(rare))
