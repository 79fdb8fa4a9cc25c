"""Registered documents: winnowed shingle fingerprints, chained into aligned runs.

Every shingle of the scanned part is looked up in every segment (a bitmap rejects
most in one vector operation, `searchsorted` confirms the rest). A shingle is not
evidence when it is boilerplate: found in `boilerplate_docs` or more registered
families (near-identical secrets count once), or in registered public content. That
is decided here, over all segments, so registering never rewrites old segments.

Hits are chained per secret version along diagonals (scanned position minus secret
position), tolerating the small shifts of light edits. A run's extent in words is
what the policy judges. With K-word shingles and window W, a verbatim excerpt of L
words yields a run of at least L - 2W + 2 words; BLOCK_WORDS = 15 therefore blocks
every excerpt of 25 words or more (K=5, W=6).
"""

from __future__ import annotations

import numpy as np

from ..fingerprint import bitmap
from ..fingerprint.shingles import K, W, shingles
from ..types import Finding
from . import Scanned

BLOCK_WORDS = 15  # longest run that makes a finding score 1.0 (the default policy blocks)
REPORT_WORDS = 12  # smallest total of chained runs reported at all
BLOCK_TOTAL = 40  # many shorter runs (an edited copy) that add up to this also score 1.0
MAX_GAP = 2 * W + K  # shingle positions between chained hits
MAX_SHIFT = 3  # diagonal drift tolerated inside a run (insertions, deletions)
MAX_EVIDENCE_RUNS = 20
EXPAND_CAP = 64  # a shingle stored more often than this is boilerplate without counting families

_EMPTY = np.zeros(0, dtype=np.int64)


class DocumentDetector:
    name = "fingerprint"

    def __init__(self, index) -> None:
        self.index = index
        self.parts = [(s, int(off)) for s, off in zip(index.segments, index.offsets) if len(s.get("doc_hash"))]
        self.public = [s.get("pub_hash") for s in index.segments if len(s.get("pub_hash"))]
        self.live = index.live
        self.family = index.family
        self.boilerplate = index.boilerplate_docs

    def lookup(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query position, owner, secret position) of every non-boilerplate match, across segments."""
        found = []
        totals = np.zeros(len(queries), dtype=np.int64)
        for segment, offset in self.parts:
            cand, lo, counts = bitmap.lookup(segment.arrays["doc_hash"], segment.arrays["doc_bits"], queries)
            if len(cand):
                found.append((segment, offset, cand, lo, counts))
                np.add.at(totals, cand, counts)
        if not found:
            return _EMPTY, _EMPTY, _EMPTY
        qs, owners, positions = [], [], []
        for segment, offset, cand, lo, counts in found:
            small = totals[cand] <= EXPAND_CAP
            qidx, entry = bitmap.expand(cand[small], lo[small], counts[small])
            qs.append(qidx)
            owners.append(segment.arrays["doc_owner"][entry].astype(np.int64) + offset)
            positions.append(segment.arrays["doc_pos"][entry].astype(np.int64))
        qpos, owner, spos = np.concatenate(qs), np.concatenate(owners), np.concatenate(positions)
        alive = self.live[owner]
        qpos, owner, spos = qpos[alive], owner[alive], spos[alive]
        if len(qpos) == 0:
            return _EMPTY, _EMPTY, _EMPTY
        common = self._boilerplate(qpos, owner)
        if self.public:
            common |= self._public(queries, qpos)
        keep = ~common
        return qpos[keep], owner[keep], spos[keep]

    def _boilerplate(self, qpos: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """True for matches whose shingle is shared by `boilerplate` families or more."""
        families = self.family[owner]
        pairs = np.unique(np.stack([qpos.astype(np.uint64), families]), axis=1)
        per_query = np.bincount(pairs[0].astype(np.int64), minlength=int(qpos.max()) + 1)
        return per_query[qpos] >= self.boilerplate

    def _public(self, queries: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        wanted = np.unique(qpos)
        public = np.zeros(int(qpos.max()) + 1, dtype=bool)
        for table in self.public:
            at = np.searchsorted(table, queries[wanted])
            at[at >= len(table)] = 0
            public[wanted[table[at] == queries[wanted]]] = True
        return public[qpos]

    def detect(self, scanned: Scanned) -> list[Finding]:
        sh = shingles(scanned.values)
        qpos, owner, spos = self.lookup(sh)
        if len(qpos) == 0:
            return []
        order = np.lexsort((qpos, owner))
        qpos, owner, spos = qpos[order], owner[order], spos[order]
        bounds = np.flatnonzero(np.diff(owner)) + 1
        best: dict[str, Finding] = {}
        total_tokens = max(1, len(scanned.values))
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [len(owner)]))):
            number = int(owner[lo])
            finding = self._judge(scanned, number, qpos[lo:hi], spos[lo:hi], total_tokens)
            if finding is None:
                continue
            current = best.get(finding.secret)
            if current is None or finding.matched_words > current.matched_words:
                best[finding.secret] = finding
        return list(best.values())

    def _judge(self, scanned: Scanned, number: int, qpos: np.ndarray, spos: np.ndarray, total_tokens: int):
        runs = _chain(qpos, spos)
        runs = [r for r in runs if r[4] >= 2]  # a lone shingle is coincidence, not evidence
        if not runs:
            return None
        scan_words = _union([(r[0], r[1] + K) for r in runs])
        if scan_words < REPORT_WORDS:
            return None
        info = self.index.owner(number)
        secret_words = _union([(r[2], r[3] + K) for r in runs])
        longest = max(r[1] - r[0] + K for r in runs)
        score = min(1.0, max(longest / BLOCK_WORDS, scan_words / BLOCK_TOTAL))
        runs.sort(key=lambda r: r[0] - r[1])  # longest first
        evidence_runs = []
        for q0, q1, s0, s1, hits in runs[:MAX_EVIDENCE_RUNS]:
            span = scanned.span(q0, q1 + K - 1)
            span.update(words=int(q1 - q0 + K), secret_words=[int(s0), int(s1 + K)], hits=int(hits))
            evidence_runs.append(span)
        evidence_runs.sort(key=lambda e: e["start"])
        return Finding(
            secret=info.secret, version=info.version, label=info.label, kind="document",
            score=score, matched_words=int(scan_words), coverage=min(1.0, secret_words / max(1, info.tokens)),
            locator=scanned.part.locator, classification=info.classification, tags=info.tags,
            density=min(1.0, scan_words / total_tokens), detector=self.name,
            evidence={"longest_run_words": int(longest), "runs": evidence_runs, "run_count": len(runs),
                      "part_words": int(total_tokens), "secret_words": int(info.tokens)},
        )


def _chain(qpos: np.ndarray, spos: np.ndarray) -> list[list[int]]:
    """Group hits (sorted by scanned position) into runs along nearby diagonals.

    Returns [q_first, q_last, s_first, s_last, hits] per run.
    """
    runs: list[list[int]] = []
    open_runs: list[list[int]] = []  # runs that may still be extended: [q0, q1, s0, s1, hits, diag]
    for q, s in zip(qpos.tolist(), spos.tolist()):
        diag = q - s
        target = None
        for run in open_runs:
            if q - run[1] <= MAX_GAP and abs(diag - run[5]) <= MAX_SHIFT and s >= run[3]:
                target = run
                break
        if target is None:
            open_runs.append([q, q, s, s, 1, diag])
        elif q != target[1] or s != target[3]:
            target[1], target[3], target[5] = q, s, diag
            target[4] += 1
        still = []
        for run in open_runs:
            (still if q - run[1] <= MAX_GAP else runs).append(run)
        open_runs = still
    runs.extend(open_runs)
    return [r[:5] for r in runs]


def _union(intervals: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total
