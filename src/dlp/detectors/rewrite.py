"""Rewritten passages of registered documents: candidate selection, then sentence alignment.

Two stages, the cheap one deciding whether the expensive one runs (PAN text alignment,
after Sanchez-Perez, Sidorov and Gelbukh 2014):

1. Candidates, on the keyed token values the core computed anyway: tokens of the
   part that are rarer content words of some registered document. A window of the
   part holding at least `min_distinct` distinct rare words of one registered
   document is a region, and that document a candidate. Parts without a candidate
   cost one sorted-array lookup.
2. Alignment, only inside the regions and only against candidates: spaCy splits
   sentences and lemmatises; each sentence becomes a keyed tf-idf vector
   (`fingerprint.rewrite`). A pair of sentences with cosine >= `seed_cosine` and
   Dice >= `seed_dice` is a seed; seeds close on the scanned side are chained into
   passages (extension), and a passage is kept when its seeds and their similarity
   say it is more than shared topic vocabulary (filtering).

Evidence names sentence positions on both sides (character offsets in the scanned
part, sentence numbers in the registered document) and the similarities, never text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy.sparse import diags

from ..fingerprint.rewrite import SentenceVectors, signatures, vectorise
from ..text.sentences import Analyser, Sentence
from ..types import Finding
from . import Scanned
from .documents import Owner

MAX_EVIDENCE_PAIRS = 20


@dataclass(frozen=True)
class RewriteSettings:
    window: int = 60  # tokens
    min_distinct: int = 5  # distinct rare words of one registered document inside one window
    pad: int = 40  # tokens analysed around a region, so its sentences are whole
    seed_cosine: float = 0.60  # a seed: two sentences this similar (keyed tf-idf cosine) ...
    seed_dice: float = 0.50  # ... sharing half of their distinct lemmas ...
    seed_shared: int = 5  # ... and at least this many: a few rare shared words are topic, not copying
    max_gap: int = 4  # scanned sentences between seeds of one passage
    min_seeds: int = 2  # seeds that make a passage
    single_seed_cosine: float = 0.85  # one sentence pair this close is a passage on its own ...
    single_seed_dice: float = 0.70  # ... when most of its lemmas are shared ...
    single_seed_shared: int = 7  # ... and they are this many


@dataclass(frozen=True)
class Seed:
    scanned: int  # sentence index in the analysed part
    secret: int  # sentence number in the registered document
    cosine: float
    dice: float
    shared: int


class RewriteDetector:
    name = "rewrite"

    def __init__(self, vectors: SentenceVectors, owner_sentences: np.ndarray, vocab: np.ndarray,
                 vocab_owner: np.ndarray, owners: list[Owner], keyer, analyser: Analyser | None = None,
                 settings: RewriteSettings = RewriteSettings(), boilerplate_docs: int = 3,
                 public: np.ndarray = np.zeros(0, dtype=np.uint64)) -> None:
        self.vectors = vectors
        self.owner_sentences = owner_sentences.astype(np.int64)  # owner i: rows [o[i], o[i+1])
        self.vocab = vocab
        self.vocab_owner = vocab_owner.astype(np.int64)
        self.owners = owners
        self.keyer = keyer
        self.analyser = analyser or Analyser()
        self.settings = settings
        self._matrix = None
        self.live = self._not_boilerplate(boilerplate_docs, public)
        self.stats = {"parts": 0, "candidate_parts": 0, "analysed_chars": 0}

    def _not_boilerplate(self, boilerplate_docs: int, public: np.ndarray) -> np.ndarray:
        """Registered sentences that may be evidence: not in `boilerplate_docs` or more secrets,
        not in registered public content (disclaimers, footers, quoted standards)."""
        sig = signatures(self.vectors)
        owner_of_row = np.repeat(np.arange(len(self.owners)), np.diff(self.owner_sentences))
        numbers: dict[str, int] = {}
        secret = np.array([numbers.setdefault(o.secret, len(numbers)) for o in self.owners],
                          dtype=np.int64)[owner_of_row]  # versions of one secret count once
        pairs = np.unique(np.stack([sig, secret.astype(np.uint64)]), axis=1) if len(sig) else np.zeros((2, 0), np.uint64)
        uniq, counts = np.unique(pairs[0], return_counts=True)
        common = uniq[counts >= boilerplate_docs]
        dead = np.isin(sig, common) | np.isin(sig, public) | (sig == 0)
        return ~dead

    # -- stage 1: candidates -------------------------------------------------------

    def candidates(self, values: np.ndarray) -> tuple[list[tuple[int, int]], list[int]]:
        """Token regions worth aligning and the owners sharing enough rare words with them.

        A region is a window of `window` tokens holding at least `min_distinct` distinct
        rare words of one registered document; that document is a candidate.
        """
        s = self.settings
        if len(self.vocab) == 0 or len(values) < s.min_distinct:
            return [], []
        at = np.searchsorted(self.vocab, values)
        at[at >= len(self.vocab)] = 0
        pos = np.flatnonzero(self.vocab[at] == values)
        if len(pos) < s.min_distinct:
            return [], []
        # every (owner, token position) pair of a hit; a value may belong to several owners
        v = values[pos]
        lo = np.searchsorted(self.vocab, v, side="left")
        counts = np.searchsorted(self.vocab, v, side="right") - lo
        hit_pos = np.repeat(pos, counts)
        entry = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(len(hit_pos))
        owner = self.vocab_owner[entry]
        value = self.vocab[entry]
        # a word counts again only when its previous occurrence is out of the window
        order = np.lexsort((hit_pos, value, owner))
        owner, value, hit_pos = owner[order], value[order], hit_pos[order]
        repeat = np.zeros(len(hit_pos), dtype=bool)
        repeat[1:] = (owner[1:] == owner[:-1]) & (value[1:] == value[:-1]) & (hit_pos[1:] - hit_pos[:-1] < s.window)
        owner, hit_pos = owner[~repeat], hit_pos[~repeat]
        order = np.lexsort((hit_pos, owner))
        owner, hit_pos = owner[order], hit_pos[order]
        key = owner * (len(values) + 2 * s.window) + hit_pos
        reach = np.searchsorted(key, key + s.window, side="left") - np.arange(len(key))
        dense = np.flatnonzero(reach >= s.min_distinct)
        if len(dense) == 0:
            return [], []
        chosen = np.unique(owner[dense]).tolist()
        spans = sorted((int(hit_pos[i]), int(hit_pos[i + reach[i] - 1])) for i in dense.tolist())
        regions: list[tuple[int, int]] = []
        for a, b in spans:
            if regions and a <= regions[-1][1] + s.pad:
                regions[-1] = (regions[-1][0], max(regions[-1][1], b))
            else:
                regions.append((a, b))
        return regions, chosen

    # -- stage 2: alignment ----------------------------------------------------------

    def detect(self, scanned: Scanned) -> list[Finding]:
        self.stats["parts"] += 1
        regions, owners = self.candidates(scanned.values)
        if not owners:
            return []
        self.stats["candidate_parts"] += 1
        sentences = self._sentences(scanned, regions)
        if not sentences:
            return []
        vectors = vectorise(sentences, self.keyer, self.analyser)
        findings = []
        for owner in owners:
            finding = self.align(scanned, sentences, owner, vectors)
            if finding is not None:
                findings.append(finding)
        return findings

    def _sentences(self, scanned: Scanned, regions: list[tuple[int, int]]) -> list[Sentence]:
        text, starts, ends, n = scanned.part.text, scanned.tokens.starts, scanned.tokens.ends, len(scanned.values)
        pad = self.settings.pad
        out: list[Sentence] = []
        last_end = 0
        for lo, hi in regions:
            a = int(starts[max(0, lo - pad)])
            b = int(ends[min(n - 1, hi + pad)])
            a = max(a, last_end)
            if a >= b:
                continue
            self.stats["analysed_chars"] += b - a
            for sent in self.analyser.sentences(text[a:b]):
                out.append(Sentence(sent.start + a, sent.end + a, sent.lemmas))
            last_end = b
        return out

    def _secret_matrix(self):
        """Registered sentences over the compact space of columns they use, transposed once."""
        if self._matrix is None:
            columns = np.unique(self.vectors.cols)
            m = self.vectors.matrix(columns).tocsr()
            m = (diags(self.live.astype(np.float64)) @ m).tocsr()  # boilerplate rows never match
            m.eliminate_zeros()
            b = m.copy()
            b.data[:] = 1.0
            self._matrix = (columns, m.T.tocsr(), b.T.tocsr(), np.diff(self.vectors.ptr))
        return self._matrix

    def similarities(self, sentences: list[Sentence], owner: int, vectors: SentenceVectors | None = None):
        """Cosine, Dice and shared distinct lemmas of every (scanned, registered) sentence pair of one owner."""
        columns, mat_t, binary_t, sizes = self._secret_matrix()
        lo, hi = int(self.owner_sentences[owner]), int(self.owner_sentences[owner + 1])
        if vectors is None:
            vectors = vectorise(sentences, self.keyer, self.analyser)
        q = vectors.matrix(columns)
        qb = q.copy()
        qb.data[:] = 1.0
        cos = (q @ mat_t[:, lo:hi]).toarray()
        shared = (qb @ binary_t[:, lo:hi]).toarray()
        qsizes = np.diff(vectors.ptr)
        dice = 2 * shared / np.maximum(1, qsizes[:, None] + sizes[None, lo:hi])
        return cos, dice, shared

    def align(self, scanned: Scanned, sentences: list[Sentence], owner: int,
              vectors: SentenceVectors | None = None) -> Finding | None:
        s = self.settings
        cos, dice, shared = self.similarities(sentences, owner, vectors)
        if cos.size == 0:
            return None
        seeding = (cos >= s.seed_cosine) & (dice >= s.seed_dice) & (shared >= s.seed_shared)
        seeds = [Seed(int(i), int(j), float(cos[i, j]), float(dice[i, j]), int(shared[i, j]))
                 for i, j in zip(*np.nonzero(seeding))]
        passages = _passages(_best_per_sentence(seeds), s.max_gap)
        kept = [p for p in passages if _passage_kept(p, s)]
        if not kept:
            return None
        info = self.owners[owner]
        pairs = [seed for p in kept for seed in p]
        scanned_chars = sum(sentences[p.scanned].end - sentences[p.scanned].start for p in pairs)
        secret_sentences = len({p.secret for p in pairs})
        owner_size = int(self.owner_sentences[owner + 1] - self.owner_sentences[owner])
        strength = sum(p.cosine for p in pairs)
        evidence_pairs = []
        for p in sorted(pairs, key=lambda p: -p.cosine)[:MAX_EVIDENCE_PAIRS]:
            sent = sentences[p.scanned]
            first = int(np.searchsorted(scanned.tokens.starts, sent.start))
            last = max(first, int(np.searchsorted(scanned.tokens.ends, sent.end, side="right")) - 1)
            span = scanned.span(min(first, len(scanned.values) - 1), min(last, len(scanned.values) - 1))
            span.update(secret_sentence=p.secret, cosine=round(p.cosine, 3), dice=round(p.dice, 3),
                        shared_lemmas=p.shared)
            evidence_pairs.append(span)
        evidence_pairs.sort(key=lambda e: e["start"])
        words = int(sum(len(sentences[p.scanned].lemmas) for p in pairs))
        return Finding(
            secret=info.secret, version=info.version, label=info.label, kind="rewrite",
            score=min(1.0, strength / 4.0), matched_words=words,
            coverage=min(1.0, secret_sentences / max(1, owner_size)), locator=scanned.part.locator,
            classification=info.classification, tags=info.tags,
            density=min(1.0, scanned_chars / max(1, len(scanned.part.text))), detector=self.name,
            evidence={"pairs": evidence_pairs, "pair_count": len(pairs), "passages": len(kept),
                      "similarity": round(strength / len(pairs), 3), "secret_sentences": owner_size,
                      "analysed_sentences": len(sentences)},
        )


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
