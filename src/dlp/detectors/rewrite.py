"""Rewritten passages of registered documents: pair signatures propose, sentence alignment decides.

Two stages, the cheap one deciding whether the expensive one runs (PAN text alignment,
after Sanchez-Perez, Sidorov and Gelbukh 2014), both on the keyed token values the
core computed anyway:

1. **Candidates.** Only tokens that may be a rare lemma of some registered sentence are
   looked at (a bitmap of every word form of those lemmas, stored per segment); the
   lexicon lemmatises them with one sorted-array lookup. Each scanned sentence's rare
   lemmas make pair signatures (`fingerprint.rewrite.pairs`), looked up in every
   segment. A (scanned sentence, registered sentence) couple sharing at least
   `min_pairs` pairs that are not boilerplate (pairs of `boilerplate_docs` families or
   more, or of public content) is a candidate. Unrelated business text on the same
   topics rarely gets one; measure with `stats`.
2. **Alignment**, only around candidates and only against their documents: every
   content lemma of the scanned sentences near a candidate and of the registered
   document's sentences becomes a keyed tf-idf vector; a pair of sentences with cosine
   >= `seed_cosine`, Dice >= `seed_dice` and at least `seed_shared` shared lemmas is a
   seed; seeds close on the scanned side are chained into passages, and a passage is
   kept when its seeds and their similarity say it is more than shared vocabulary.

Evidence names sentence positions on both sides (character offsets in the scanned
part, sentence numbers in the registered document) and the similarities, never text.
Alignment stops at the scan's deadline (`Scanned.deadline`); the scanner reports that.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .. import speedups
from ..arrays import distinct, distinct_first
from ..errors import DeadlineExceeded
from ..fingerprint import bitmap, table
from ..fingerprint.rewrite import COL_BITS, Sentences, SentenceVectors, analyse, passing_pairs, vectors
from ..evidence import RewriteEvidence, SentencePair
from ..types import Finding
from . import Scanned

MAX_EVIDENCE_PAIRS = 20
OWNERS_CACHED = 256  # registered documents whose sentence rows a detector keeps at hand
EXPAND_CAP = 64  # a pair signature stored more often than this is boilerplate


@dataclass(frozen=True)
class RewriteSettings:
    min_pairs: int = 4  # pair signatures a scanned sentence must share with one registered sentence ...
    single_pairs: int = 6  # ... and one sentence alone must share this many (else two sentences close together)
    scan_top: int = 8  # rarest lemmas of a scanned sentence that make its pairs
    context: int = 4  # scanned sentences aligned on each side of a candidate sentence
    seed_cosine: float = 0.50  # a seed: two sentences this similar (keyed tf-idf cosine) ...
    seed_dice: float = 0.45  # ... sharing almost half of their distinct lemmas ...
    seed_shared: int = 5  # ... and at least this many: a few rare shared words are topic, not copying
    max_gap: int = 4  # scanned sentences between seeds of one passage
    min_seeds: int = 2  # seeds that make a passage
    single_seed_cosine: float = 0.85  # one sentence pair this close is a passage on its own ...
    single_seed_dice: float = 0.70  # ... when most of its lemmas are shared ...
    single_seed_shared: int = 7  # ... and they are this many


@dataclass(frozen=True)
class Seed:
    scanned: int  # sentence number in the scanned part
    secret: int  # sentence number (row) in the registered document
    cosine: float
    dice: float
    shared: int


class RewriteDetector:
    name = "rewrite"

    @classmethod
    def from_index(cls, index) -> "RewriteDetector | None":
        return cls(index) if index.has("rp_hash") else None

    def __init__(self, index, settings: RewriteSettings = RewriteSettings()) -> None:
        self.index = index
        self.settings = settings
        rows = np.cumsum([0] + [len(s.get("rw_ptr", np.int64)) for s in index.segments])
        self.parts = [(s, int(off), int(base)) for s, off, base in zip(index.segments, index.offsets, rows)
                      if len(s.get("rp_hash"))]
        self._row_bases = np.array([p[2] for p in self.parts], dtype=np.int64)
        self.public_pairs = [s.get("pub_pair") for s in index.segments if len(s.get("pub_pair"))]
        self.public_sigs = [s.get("pub_sig") for s in index.segments if len(s.get("pub_sig"))]
        self.sig_parts = [(s, int(off)) for s, off in zip(index.segments, index.offsets) if len(s.get("rw_sig_sorted"))]
        self.live = index.live
        self.family = index.family
        self.boilerplate = index.boilerplate_docs
        self.stats = {"parts": 0, "tokens": 0, "candidate_sentences": 0, "aligned_tokens": 0, "candidate_parts": 0}
        # a registered document's rows, as the index holds them: the same few documents come up
        # again and again (103 alignments against 23 documents in 40 MB of mail)
        self._rows_cached: OrderedDict[int, tuple[SentenceVectors, int, np.ndarray]] = OrderedDict()
        self._rows_lock = threading.Lock()

    # -- stage 1: candidates ---------------------------------------------------------------

    def candidates(self, scanned: Scanned, sentences: Sentences) -> dict[int, list[tuple[int, int]]]:
        """Global owner -> [(scanned sentence, global registered row)] of candidate couples."""
        values = scanned.values
        found_pos, found_key = [], []
        native = speedups.native
        tables = [segment.arrays for segment, _, _ in self.parts if len(segment.get("rw_tab_key"))]
        if native is not None:  # tokens that are a word form of a registered rare lemma: every segment
            for group in range(0, len(tables), 64):  # in one C pass over the tokens (64 at a time)
                some = tables[group : group + 64]
                at, packed = native.rare_hits_many(np.ascontiguousarray(values, dtype=np.uint64),
                                                   [a["rw_tab_bits"] for a in some], [a["rw_tab_key"] for a in some],
                                                   [a["rw_tab_val"] for a in some])
                found_pos.append(np.frombuffer(at, dtype=np.int64))
                found_key.append(np.frombuffer(packed, dtype=np.uint64))
        else:
            for a in tables:
                maybe = np.flatnonzero(bitmap.probe(a["rw_tab_bits"], values))
                q, packed = table.lookup(a["rw_tab_key"], a["rw_tab_val"], values[maybe])
                found_pos.append(maybe[q])
                found_key.append(packed)
        if not found_pos:
            return {}
        pos, keys = np.concatenate(found_pos), np.concatenate(found_key)
        if len(found_pos) > 1:  # one token found in several segments counts once, as the first holds it
            uniq, first = distinct_first(pos)
            pos, keys = uniq, keys[first]
        if len(pos) < 2:
            return {}
        # A couple needs `min_pairs` signatures of one scanned sentence: a sentence with fewer that
        # pass the bitmaps of all segments cannot make one, and its signatures are not searched
        # (most false passes of the bitmaps are alone in their sentence).
        hashes, sent, passed = passing_pairs(sentences.of(pos), keys, self.settings.scan_top,
                                             [segment.arrays["rp_bits"] for segment, _, _ in self.parts],
                                             self.settings.min_pairs)
        if len(hashes) == 0:
            return {}
        looked = []
        families = np.zeros(len(hashes), dtype=np.int64)
        for (segment, offset, row_base), maybe in zip(self.parts, passed):
            cand, lo, _ = bitmap.search(segment.arrays["rp_hash"], hashes, np.flatnonzero(maybe),
                                         distinct=True)  # pair values are stored once, with a pointer
            if len(cand):
                looked.append((segment, offset, row_base, cand, lo))
                np.add.at(families, cand, segment.arrays["rp_fam"][lo].astype(np.int64))
        keep_pair = families < self.boilerplate  # dead owners still count here until their segment is merged
        for table_ in self.public_pairs:
            at = np.searchsorted(table_, hashes)
            at[at >= len(table_)] = 0
            keep_pair &= table_[at] != hashes
        qs, rows = [], []
        for segment, offset, row_base, cand, lo in looked:
            ok = keep_pair[cand]
            cand, lo = cand[ok], lo[ok]
            if len(cand) == 0:
                continue
            ptr = segment.arrays["rp_ptr"]
            start, count = ptr[lo], ptr[lo + 1] - ptr[lo]
            qidx, entry = bitmap.expand(cand, start, count)
            qs.append(qidx)
            rows.append(segment.arrays["rp_sent"][entry].astype(np.int64) + row_base)
        if not qs:
            return {}
        q, row = np.concatenate(qs), np.concatenate(rows)
        couple, counts = np.unique((sent[q].astype(np.int64) << 32) | row, return_counts=True)
        chosen = counts >= self.settings.min_pairs
        couple, counts = couple[chosen], counts[chosen]
        row_of = couple & 0xFFFFFFFF
        owner_of = self._owner_of_row(row_of)
        # a couple counts the pairs of one registered sentence, so one owner: the owners that
        # are gone are dropped here, after counting, for the few couples left
        alive = self.live[owner_of]
        couple, counts, row_of, owner_of = couple[alive], counts[alive], row_of[alive], owner_of[alive]
        if len(couple) == 0:
            return {}
        out: dict[int, list[tuple[int, int]]] = {}
        strong: set[int] = set()
        for s_, r, o, c in zip((couple >> 32).tolist(), row_of.tolist(), owner_of.tolist(), counts.tolist()):
            out.setdefault(o, []).append((s_, r))
            if c >= self.settings.single_pairs:
                strong.add(o)
        # what alignment can keep: a passage of two seeds close together, or one very close sentence
        gap = self.settings.max_gap + 1
        for o in list(out):
            if o in strong:
                continue
            near = sorted({s_ for s_, _ in out[o]})
            if not any(b - a <= gap for a, b in zip(near, near[1:])):
                del out[o]
        return out

    def _owner_of_row(self, rows: np.ndarray) -> np.ndarray:
        """Global owner of global registered rows."""
        part = np.searchsorted(self._row_bases, rows, side="right") - 1
        out = np.empty(len(rows), dtype=np.int64)
        for i, (segment, offset, base) in enumerate(self.parts):
            mine = part == i
            if mine.any():
                out[mine] = np.searchsorted(segment.arrays["rw_owner"], rows[mine] - base, side="right") - 1 + offset
        return out

    # -- stage 2: alignment ----------------------------------------------------------------

    def detect(self, scanned: Scanned) -> list[Finding]:
        self.stats["parts"] += 1
        self.stats["tokens"] += len(scanned.values)
        sentences = Sentences(scanned.tokens)
        found = self.candidates(scanned, sentences)
        if not found:
            return []
        self.stats["candidate_parts"] += 1
        findings = []
        for owner, couples in sorted(found.items()):
            if scanned.deadline is not None and time.monotonic() > scanned.deadline:
                raise DeadlineExceeded("rewrite tier stopped at the item's deadline; "
                                       f"{len(found) - len(findings)} candidate documents not aligned")
            finding = self.align(scanned, sentences, owner, couples)
            if finding is not None:
                findings.append(finding)
        return findings

    def align(self, scanned: Scanned, sentences: Sentences, owner: int, couples: list[tuple[int, int]]):
        s = self.settings
        self.stats["candidate_sentences"] += len({c[0] for c in couples})
        wanted = distinct(np.concatenate([np.arange(c - s.context, c + s.context + 1) for c, _ in couples]))
        positions = sentences.positions(wanted)
        self.stats["aligned_tokens"] += len(positions)
        analysis = analyse(scanned.tokens, scanned.values, self.index.lexicon, numbers=sentences.of(positions),
                           positions=positions)
        scanned_vectors, scanned_numbers = vectors(analysis)
        if len(scanned_vectors) == 0:
            return None
        secret_vectors, first_row, live_rows = self._owner_rows(owner)
        if len(secret_vectors) == 0:
            return None
        cos, dice, shared = similarities(scanned_vectors, secret_vectors)
        cos[:, ~live_rows] = 0.0  # boilerplate sentences of the secret never seed
        seeding = (cos >= s.seed_cosine) & (dice >= s.seed_dice) & (shared >= s.seed_shared)
        seeds = [Seed(int(scanned_numbers[i]), int(j), float(cos[i, j]), float(dice[i, j]), int(shared[i, j]))
                 for i, j in zip(*np.nonzero(seeding))]
        passages = _passages(_best_per_sentence(seeds), s.max_gap)
        kept = [p for p in passages if _passage_kept(p, s)]
        if not kept:
            if scanned.explain is not None:
                scanned.discard(self.name, self.index.owner(owner).secret,
                                "no passage aligned" if not seeds else "passages too short or too weak",
                                candidate_pairs=len(couples), best_cosine=round(float(cos.max()), 3) if cos.size else 0.0,
                                seeds=len(seeds), passages=len(passages), seed_cosine=s.seed_cosine)
            return None
        return self._finding(scanned, sentences, owner, [seed for p in kept for seed in p], len(kept),
                             len(secret_vectors), len(scanned_vectors))

    def _owner_rows(self, owner: int) -> tuple[SentenceVectors, int, np.ndarray]:
        """`_owner_rows_of`, the last OWNERS_CACHED asked for kept (not a cycle through `self`, so
        a detector of an index that was replaced goes with it)."""
        with self._rows_lock:
            rows = self._rows_cached.get(owner)
            if rows is not None:
                self._rows_cached.move_to_end(owner)
                return rows
        rows = self._owner_rows_of(owner)
        with self._rows_lock:
            self._rows_cached[owner] = rows
            if len(self._rows_cached) > OWNERS_CACHED:
                self._rows_cached.popitem(last=False)
        return rows

    def _owner_rows_of(self, owner: int) -> tuple[SentenceVectors, int, np.ndarray]:
        """The registered document's sentence vectors, and which of its sentences may be evidence."""
        index = int(np.searchsorted(self.index.offsets, owner, side="right")) - 1
        segment = self.index.segments[index]
        local = owner - int(self.index.offsets[index])
        a = segment.arrays
        lo, hi = int(a["rw_owner"][local]), int(a["rw_owner"][local + 1])
        p = np.asarray(a["rw_ptr"][lo : hi + 1])
        vecs = SentenceVectors(p - p[0], np.asarray(a["rw_cols"][p[0] : p[-1]]), np.asarray(a["rw_weights"][p[0] : p[-1]]))
        return vecs, lo, self._live_sentences(np.asarray(a["rw_sig"][lo:hi]))

    def _live_sentences(self, sigs: np.ndarray) -> np.ndarray:
        """Sentences that may be evidence: not shared by `boilerplate` families or public content."""
        live = sigs != 0
        for table in self.public_sigs:
            at = np.searchsorted(table, sigs)
            at[at >= len(table)] = 0
            live &= table[at] != sigs
        families: list[set[int]] = [set() for _ in range(len(sigs))]
        for segment, offset in self.sig_parts:
            table = segment.arrays["rw_sig_sorted"]
            lo = np.searchsorted(table, sigs, side="left")
            hi = np.searchsorted(table, sigs, side="right")
            for i in np.flatnonzero(hi > lo).tolist():
                rows = segment.arrays["rw_sig_row"][lo[i] : min(hi[i], lo[i] + EXPAND_CAP)].astype(np.int64)
                owners = np.searchsorted(segment.arrays["rw_owner"], rows, side="right") - 1 + offset
                owners = owners[self.live[owners]]
                families[i].update(self.family[owners].tolist())
        for i, fams in enumerate(families):
            if len(fams) >= self.boilerplate:
                live[i] = False
        return live

    def _finding(self, scanned: Scanned, sentences: Sentences, owner: int, pairs_: list[Seed], passages: int,
                 owner_size: int, analysed: int) -> Finding:
        info = self.index.owner(owner)
        spans = {}
        for p in pairs_:
            lo, hi = sentences.span(np.array([p.scanned]))
            spans[p.scanned] = (int(lo[0]), int(hi[0]) - 1)
        scanned_chars = sum(int(scanned.tokens.ends[b]) - int(scanned.tokens.starts[a]) for a, b in
                            (spans[p.scanned] for p in pairs_))
        strength = sum(p.cosine for p in pairs_)
        evidence_pairs = sorted((SentencePair(**scanned.span(*spans[p.scanned]), secret_sentence=p.secret,
                                              cosine=round(p.cosine, 3), dice=round(p.dice, 3), shared_lemmas=p.shared)
                                 # (the closest first; of equal ones, those sharing more lemmas, then the
                                 # first in the text: not the order the pairs came in, which a NumPy
                                 # release changed for the demo's report)
                                 for p in sorted(pairs_, key=lambda p: (-round(p.cosine, 3), -p.shared,
                                                                        spans[p.scanned], p.secret))[:MAX_EVIDENCE_PAIRS]),
                                key=lambda e: e.start)
        words = int(sum(b - a + 1 for a, b in (spans[p.scanned] for p in pairs_)))
        return Finding(
            secret=info.secret, version=info.version, label=info.label, kind="rewrite",
            score=min(1.0, strength / 4.0), matched_words=words,
            coverage=min(1.0, len({p.secret for p in pairs_}) / max(1, owner_size)), locator=scanned.part.locator,
            classification=info.classification, tags=info.tags,
            density=min(1.0, scanned_chars / max(1, len(scanned.part.text))), detector=self.name,
            evidence=RewriteEvidence(tuple(evidence_pairs), len(pairs_), passages, round(strength / len(pairs_), 3),
                                     owner_size, analysed),
        )


def similarities(q: SentenceVectors, r: SentenceVectors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cosine, Dice and shared distinct lemmas of every (scanned, registered) sentence pair (dense, small)."""
    columns = distinct(np.concatenate((q.cols, r.cols)))
    qm = _dense(q, columns)
    rm = _dense(r, columns)
    qn = np.linalg.norm(qm, axis=1, keepdims=True)
    rn = np.linalg.norm(rm, axis=1, keepdims=True)
    cos = (qm / np.maximum(qn, 1e-12)) @ (rm / np.maximum(rn, 1e-12)).T
    qb, rb = (qm > 0).astype(np.float32), (rm > 0).astype(np.float32)
    shared = qb @ rb.T
    dice = 2 * shared / np.maximum(1, qb.sum(1)[:, None] + rb.sum(1)[None, :])
    return cos, dice, shared


def _dense(v: SentenceVectors, columns: np.ndarray) -> np.ndarray:
    out = np.zeros((len(v), len(columns)), dtype=np.float32)
    rows = np.repeat(np.arange(len(v)), np.diff(v.ptr))
    out[rows, np.searchsorted(columns, v.cols)] = v.weights
    return out


def _best_per_sentence(seeds: list[Seed]) -> list[Seed]:
    """Each scanned sentence keeps its closest registered sentence (ties: the first)."""
    best: dict[int, Seed] = {}
    for seed in seeds:
        cur = best.get(seed.scanned)
        if cur is None or seed.cosine > cur.cosine:
            best[seed.scanned] = seed
    return [best[k] for k in sorted(best)]


def _passages(seeds: list[Seed], max_gap: int) -> list[list[Seed]]:
    out: list[list[Seed]] = []
    for seed in seeds:
        if out and seed.scanned - out[-1][-1].scanned <= max_gap + 1:
            out[-1].append(seed)
        else:
            out.append([seed])
    return out


def _passage_kept(passage: list[Seed], s: RewriteSettings) -> bool:
    if len(passage) >= s.min_seeds:
        return True
    return any(p.cosine >= s.single_seed_cosine and p.dice >= s.single_seed_dice and p.shared >= s.single_seed_shared
               for p in passage)


__all__ = ["RewriteDetector", "RewriteSettings", "COL_BITS"]
