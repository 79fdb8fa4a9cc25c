"""What registration computes for a document, for many documents in one vectorised pass.

A registered document becomes keyed values, shingles, winnowed fingerprints, hashed
word counts (classifier features) and a rewrite record. Done one document at a time,
each step is a handful of NumPy calls on arrays of about a thousand tokens, and the
fixed cost of a call (microseconds) outweighs the work: 10,000 news articles spent
about 1.5 ms each. `prepare` runs every step once over the concatenation of a batch of
documents and cuts the results at the document bounds.

The results are exactly those of the one-document functions (`shingles`, `winnow`,
`hashed_counts`, `rewrite_record`; `tests/fingerprint/test_batch.py` compares them on
random text): every step is local to a token window or a sentence, so windows and
sentences that would straddle two documents are left out or numbered apart, and
sorts are keyed by document first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import stable_argsort
from ..classify.features import token_buckets
from ..text.normalise import SENTENCE, Tokens
from .keyed import Keyer
from .lexicon import Lexicon
from .rewrite import (COL_BITS, MAX_SENTENCE_TOKENS, PAIR_LEMMAS, PAIR_WEIGHT, RewriteRecord, SentenceVectors,
                      pack_lemma, pairs, signatures)
from .shingles import K, W, shingles

_FEATURE_SHIFT = np.uint64(64 - 20)  # classify.features.FEATURE_BITS
_EMPTY_U64 = np.zeros(0, dtype=np.uint64)


@dataclass(frozen=True)
class Prepared:
    """Everything registration stores of one document's text, as keyed values only."""

    tokens: int
    fp_hash: np.ndarray  # uint64: winnowed shingle fingerprints, in text order
    fp_pos: np.ndarray  # uint32: their shingle positions
    all_sh32: np.ndarray  # uint32: the top 32 bits of every shingle
    rewrite: RewriteRecord
    cl_bucket: np.ndarray  # uint32, sorted
    cl_count: np.ndarray  # float32

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays (what holding it costs)."""
        rw = self.rewrite
        return sum(a.nbytes for a in (self.fp_hash, self.fp_pos, self.all_sh32, self.cl_bucket, self.cl_count,
                                      rw.vectors.ptr, rw.vectors.cols, rw.vectors.weights, rw.signatures,
                                      rw.pair_hashes, rw.pair_rows, rw.lemmas))


def prepare(toks: list[Tokens], keyer: Keyer, lexicon: Lexicon) -> list[Prepared]:
    """The registration arrays of each tokenised document (a batch of a few hundred KB is best:
    NumPy's per-call cost is paid once, and the sorts still run in cache)."""
    if not toks:
        return []
    lengths = np.array([len(t) for t in toks], dtype=np.int64)
    off = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    hashes = np.concatenate([t.hashes for t in toks]) if off[-1] else _EMPTY_U64
    values = keyer.cached(hashes)
    sh = shingles(values)
    fp_hash, fp_pos, all_sh32 = _winnowed(sh, off, lengths)
    cl = _hashed_counts(values, off, lengths)
    rewrite = _rewrite_records(toks, values, off, lexicon)
    return [Prepared(int(lengths[i]), fp_hash[i], fp_pos[i], all_sh32[i], rewrite[i], *cl[i]) for i in range(len(toks))]


def _winnowed(sh: np.ndarray, off: np.ndarray, lengths: np.ndarray):
    """Per document: winnowed fingerprints, their positions, and every shingle's top 32 bits.

    `sh` holds the shingles of the concatenated values: document i's are those starting in
    [off[i], off[i] + lengths[i] - K + 1); windows that run into the next document are left out.
    """
    n_sh = np.maximum(lengths - K + 1, 0)
    top = (sh >> np.uint64(32)).astype(np.uint32)
    chosen = np.zeros(len(sh) + 1, dtype=bool)
    # windows of W shingles inside one document (documents of W shingles or fewer keep them all)
    edges = np.zeros(len(sh) + 2, dtype=np.int64)
    long = n_sh > W
    np.add.at(edges, off[:-1][long], 1)
    np.add.at(edges, (off[:-1] + n_sh - W + 1)[long], -1)
    span = max(len(sh) - W + 1, 0)
    inside = np.cumsum(edges[:span]) > 0
    if span:
        # the first minimum of every window (what argmin gives), by W-1 passes over the shingles
        low = sh[:span].copy()
        for d in range(1, W):
            np.minimum(low, sh[d : d + span], out=low)
        first = np.full(span, W - 1, dtype=np.int64)
        for d in range(W - 2, -1, -1):
            first = np.where(sh[d : d + span] == low, d, first)
        picks = np.flatnonzero(inside)
        chosen[picks + first[picks]] = True  # marking positions: what winnow's distinct() keeps
    short = np.flatnonzero(~long & (n_sh > 0))
    if len(short):
        counts = n_sh[short]
        starts = np.repeat(off[:-1][short] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        chosen[starts + np.arange(int(counts.sum()))] = True
    at = np.flatnonzero(chosen)
    bounds = np.searchsorted(at, off)
    fp_hash, fp_pos, all_sh32 = [], [], []
    for i in range(len(lengths)):
        a = int(off[i])
        mine = at[bounds[i] : bounds[i + 1]]
        fp_hash.append(sh[mine])
        fp_pos.append((mine - a).astype(np.uint32))
        all_sh32.append(top[a : a + int(n_sh[i])])
    return fp_hash, fp_pos, all_sh32


def _hashed_counts(values: np.ndarray, off: np.ndarray, lengths: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """`classify.features.hashed_counts` of each document: its unigram and bigram buckets, counted."""
    n = len(lengths)
    doc = np.repeat(np.arange(n, dtype=np.int64), lengths)
    bigram = shingles(values, 2)
    valid = np.ones(len(bigram), dtype=bool)
    ends = off[1:] - 1  # the bigram starting on a document's last token runs into the next
    valid[ends[(lengths > 0) & (ends < len(bigram))]] = False
    keys = np.concatenate((
        (doc << 20) | token_buckets(values),
        (doc[: len(bigram)][valid] << 20) | (bigram[valid] >> _FEATURE_SHIFT).astype(np.int64),
    ))
    keys.sort()
    change = np.empty(len(keys), dtype=bool)
    if len(keys):
        change[0] = True
        np.not_equal(keys[1:], keys[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    uniq = keys[starts]
    counts = np.diff(np.append(starts, len(keys))).astype(np.float32)
    owner = uniq >> 20
    bounds = np.searchsorted(owner, np.arange(n + 1))
    buckets = (uniq & ((1 << 20) - 1)).astype(np.uint32)
    return [(buckets[bounds[i] : bounds[i + 1]], counts[bounds[i] : bounds[i + 1]]) for i in range(n)]


def _rewrite_records(toks: list[Tokens], values: np.ndarray, off: np.ndarray, lexicon: Lexicon) -> list[RewriteRecord]:
    """`rewrite.rewrite_record` of each document, with sentences numbered across the batch."""
    n_docs, total = len(toks), int(off[-1])
    flags = np.concatenate([t.sentence_flags for t in toks]) if total else np.zeros(0, dtype=np.uint8)
    starts = (flags & SENTENCE) != 0
    starts[off[:-1][off[:-1] < total]] = True  # every document starts a sentence
    first = np.flatnonzero(starts)
    end = np.append(first[1:], total)
    pieces = (end - first + MAX_SENTENCE_TOKENS - 1) // MAX_SENTENCE_TOKENS
    base = np.concatenate(([0], np.cumsum(pieces))).astype(np.int64)
    positions = np.arange(total, dtype=np.int64)
    s = np.cumsum(starts, dtype=np.int64) - 1  # the sentence of every token (the first token starts one)
    numbers = base[s] + (positions - first[s]) // MAX_SENTENCE_TOKENS if total else positions
    # the first sentence number of each document (documents without tokens have none)
    doc_sentence = base[np.searchsorted(first, off[:-1])] if len(first) else np.zeros(n_docs, dtype=np.int64)
    doc_sentence = np.append(doc_sentence, base[-1]).astype(np.int64)

    lemmas, weights, lflags = lexicon.lookup(values)
    lengths = np.concatenate([t.lengths for t in toks]) if total else np.zeros(0, dtype=np.int64)
    content = ((lflags & 1) == 0) & (lengths > 1) & ~_digits_only(toks, lengths)
    sent, lem, wt = numbers[content], lemmas[content], weights[content]

    # sentence vectors: rows sorted by sentence, columns within a row sorted
    cols = (lem >> np.uint64(64 - COL_BITS)).astype(np.int64)
    key = sent * (1 << COL_BITS) + cols
    order = stable_argsort(key)
    sorted_key = key[order]
    change = np.empty(len(key), dtype=bool)
    if len(key):
        change[0] = True
        np.not_equal(sorted_key[1:], sorted_key[:-1], out=change[1:])
    uniq = sorted_key[change]
    inverse = np.empty(len(key), dtype=np.int64)
    inverse[order] = np.cumsum(change) - 1
    vweights = np.bincount(inverse, weights=wt, minlength=len(uniq)).astype(np.float32)
    row_sentence = uniq >> COL_BITS
    new_row = np.empty(len(uniq), dtype=bool)
    if len(uniq):
        new_row[0] = True
        np.not_equal(row_sentence[1:], row_sentence[:-1], out=new_row[1:])
    row_first = np.flatnonzero(new_row)  # into uniq: the first column of each row
    row_numbers = row_sentence[row_first]
    vcols = (uniq & ((1 << COL_BITS) - 1)).astype(np.uint32)
    row_ptr = np.append(row_first, len(uniq)).astype(np.int64)
    sigs = signatures(SentenceVectors(row_ptr, vcols, vweights))  # of every row of the batch at once
    doc_rows = np.searchsorted(row_numbers, doc_sentence)  # first row of each document, and the end

    # pair signatures of the rarest lemmas of each sentence
    rare = np.flatnonzero(wt >= PAIR_WEIGHT)
    rare_sent, rare_lem = sent[rare], lem[rare]
    pair_h, pair_sent = pairs(rare_sent, pack_lemma(rare_lem, wt[rare]), top=PAIR_LEMMAS)  # by sentence
    row_of = np.zeros(int(base[-1]) + 1, dtype=np.uint32)  # the row of each sentence that has one
    row_of[row_numbers] = np.arange(len(row_numbers), dtype=np.uint32)
    pair_rows = row_of[pair_sent]  # as the store keeps them: half the bytes sent back
    pair_bounds = np.searchsorted(pair_sent, doc_sentence)  # so each document's pairs are together

    # distinct rare lemmas of each document
    rare_doc = np.searchsorted(doc_sentence, rare_sent, side="right") - 1
    order = stable_argsort(rare_lem)  # (stable: the packed sort, cheaper than an argsort)
    order = order[stable_argsort(rare_doc[order])]  # by document, then lemma
    rare_doc, rare_lem = rare_doc[order], rare_lem[order]
    keep = np.ones(len(rare_lem), dtype=bool)
    keep[1:] = (rare_lem[1:] != rare_lem[:-1]) | (rare_doc[1:] != rare_doc[:-1])
    rare_doc, rare_lem = rare_doc[keep], rare_lem[keep]
    lemma_bounds = np.searchsorted(rare_doc, np.arange(n_docs + 1))

    out = []
    for i in range(n_docs):
        r0, r1 = int(doc_rows[i]), int(doc_rows[i + 1])
        p = row_ptr[r0 : r1 + 1]
        vectors = SentenceVectors(p - p[0], vcols[p[0] : p[-1]], vweights[p[0] : p[-1]])
        a, b = int(pair_bounds[i]), int(pair_bounds[i + 1])
        out.append(RewriteRecord(vectors, sigs[r0:r1], pair_h[a:b], pair_rows[a:b] - np.uint32(r0),
                                 rare_lem[lemma_bounds[i] : lemma_bounds[i + 1]]))
    return out


def _digits_only(toks: list[Tokens], lengths: np.ndarray) -> np.ndarray:
    """Whether each token is made of ASCII digits only (`Tokens.digits_only` over every token)."""
    if len(lengths) == 0:
        return np.zeros(0, dtype=bool)
    out = []
    for t in toks:
        if len(t) == 0:
            continue
        if t.norm.dtype == np.uint8:  # ASCII: a token is a run of letters or of digits (joined words are
            out.append((t.norm[t.nstarts] - np.uint8(48)) < 10)  # letters): its first character says which
            continue
        digit = (t.norm - t.norm.dtype.type(48)) < 10
        nondigit = np.concatenate(([0], np.cumsum(~digit, dtype=np.int64)))
        out.append(nondigit[t.nends] - nondigit[t.nstarts] == 0)
    return np.concatenate(out) if out else np.zeros(len(lengths), dtype=bool)


# -- across processes -------------------------------------------------------------------------

_FIELDS = ("fp_hash", "fp_pos", "all_sh32", "cl_bucket", "cl_count")
_REWRITE_FIELDS = ("signatures", "pair_hashes", "pair_rows", "lemmas")
_VECTOR_FIELDS = ("ptr", "cols", "weights")


def pack(prepared: list[Prepared]) -> dict[str, np.ndarray]:
    """A batch as a few long arrays (a worker process sends these: pickling thirteen small arrays
    per document cost more than fingerprinting it)."""
    columns: dict[str, list[np.ndarray]] = {}
    for p in prepared:
        rw = p.rewrite
        for name in _FIELDS:
            columns.setdefault(name, []).append(getattr(p, name))
        for name in _REWRITE_FIELDS:
            columns.setdefault(name, []).append(getattr(rw, name))
        for name in _VECTOR_FIELDS:
            columns.setdefault("v_" + name, []).append(getattr(rw.vectors, name))
    out = {"tokens": np.array([p.tokens for p in prepared], dtype=np.int64)}
    for name, parts in columns.items():
        out[name] = np.concatenate(parts)
        out[name + "#"] = np.array([len(a) for a in parts], dtype=np.int64)
    return out


def unpack(packed: dict[str, np.ndarray]) -> list[Prepared]:
    """The documents of a packed batch (their arrays are views of the batch's)."""
    n = len(packed["tokens"])
    if n == 0:
        return []
    cut = {name: np.concatenate(([0], np.cumsum(packed[name + "#"]))).tolist()
           for name in (*_FIELDS, *_REWRITE_FIELDS, *("v_" + f for f in _VECTOR_FIELDS))}

    def part(name: str, i: int) -> np.ndarray:
        return packed[name][cut[name][i] : cut[name][i + 1]]

    out = []
    for i, tokens in enumerate(packed["tokens"].tolist()):
        vectors = SentenceVectors(part("v_ptr", i), part("v_cols", i), part("v_weights", i))
        rewrite = RewriteRecord(vectors, *(part(name, i) for name in _REWRITE_FIELDS))
        out.append(Prepared(tokens, *(part(name, i) for name in _FIELDS[:3]), rewrite,
                            *(part(name, i) for name in _FIELDS[3:])))
    return out
