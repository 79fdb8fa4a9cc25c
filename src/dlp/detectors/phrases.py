"""Term sets and structured records: phrases of keyed token values, found with Aho-Corasick.

Each phrase (a term, or one field value of a record row) is a tuple of keyed token
values. The vocabulary of all phrase tokens gets compact ids; pyahocorasick runs
over id sequences, and only over the stretches of a part whose tokens are in the
vocabulary (a bitmap finds them in one vector operation). Matching is therefore on
word boundaries after normalisation, and costs nothing for words no phrase uses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import ahocorasick
import numpy as np

from ..types import Finding
from . import Scanned

VOCAB_BITS = 24
RECORD_WINDOW = 50  # words within which fields of one row must occur
IDENTIFYING_ROWS = 2  # a field value shared by more rows than this is not identifying alone
MAX_EVIDENCE = 20


@dataclass(frozen=True)
class PhraseOwner:
    secret: str
    version: int
    kind: str  # terms | records
    label: str
    classification: str
    tags: tuple[str, ...]
    min_count: int  # min distinct terms, or min fields per row
    columns: tuple[str, ...] = ()


class PhraseDetector:
    name = "aho-corasick"

    def __init__(self, values: np.ndarray, offsets: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 owners: np.ndarray, owner_info: list[PhraseOwner]) -> None:
        self.info = owner_info
        self.vocab = np.unique(values)
        self.bitmap = np.zeros(1 << (VOCAB_BITS - 3), dtype=np.uint8)  # one bit per slot: 2 MB
        slots = self.vocab >> np.uint64(64 - VOCAB_BITS)
        np.bitwise_or.at(self.bitmap, (slots >> np.uint64(3)).astype(np.intp),
                         np.left_shift(1, (slots & np.uint64(7)).astype(np.uint8)).astype(np.uint8))
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_SEQUENCE)
        payloads: dict[tuple[int, ...], list[tuple[int, int, int]]] = defaultdict(list)
        ids = np.searchsorted(self.vocab, values)
        self.single = np.zeros(len(self.vocab) + 1, dtype=bool)  # ids that are whole one-token phrases
        for j in range(len(rows)):
            if offsets[j + 1] - offsets[j] == 1:
                self.single[ids[offsets[j]]] = True
            key = tuple(ids[offsets[j] : offsets[j + 1]].tolist())
            payloads[key].append((int(owners[j]), int(rows[j]), int(cols[j])))
        for key, items in payloads.items():
            self.automaton.add_word(key, (len(key), tuple(items)))
        if len(payloads):
            self.automaton.make_automaton()
        self.empty = not payloads
        self.gap_id = len(self.vocab)  # never part of a phrase

    def detect(self, scanned: Scanned) -> list[Finding]:
        if self.empty or len(scanned.values) == 0:
            return []
        values = scanned.values
        slots = values >> np.uint64(64 - VOCAB_BITS)
        maybe = self.bitmap[(slots >> np.uint64(3)).astype(np.intp)] >> (slots & np.uint64(7)).astype(np.uint8)
        cand = np.flatnonzero(maybe & 1)
        if len(cand) == 0:
            return []
        ids = np.searchsorted(self.vocab, values[cand])
        ids = np.minimum(ids, len(self.vocab) - 1)
        real = self.vocab[ids] == values[cand]
        cand, ids = cand[real], ids[real]
        if len(cand) == 0:
            return []
        # A lone vocabulary token can only match a one-token phrase: drop the others.
        starts = np.ones(len(cand), dtype=bool)
        starts[1:] = np.diff(cand) != 1
        run = np.cumsum(starts) - 1
        lone = np.bincount(run)[run] == 1
        keep = ~lone | self.single[ids]
        if not keep.all():
            cand, ids = cand[keep], ids[keep]
            if len(cand) == 0:
                return []
        # One pass of the automaton over the vocabulary tokens, with a gap marker wherever
        # tokens outside the vocabulary were skipped, so no phrase spans a gap.
        gap = np.flatnonzero(np.diff(cand) != 1) + 1
        if len(gap):
            seq = np.insert(ids, gap, self.gap_id)
            where = np.insert(cand, gap, -1)
        else:
            seq, where = ids, cand
        hits: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)  # owner -> (first, last, row, col)
        for end, (length, items) in self.automaton.iter(tuple(seq.tolist())):
            last = int(where[end])
            first = last - length + 1
            for owner, row, col in items:
                hits[owner].append((first, last, row, col))
        findings = []
        for owner, found in hits.items():
            info = self.info[owner]
            judge = self._terms if info.kind == "terms" else self._records
            finding = judge(scanned, info, found)
            if finding is not None:
                findings.append(finding)
        return findings

    def _base(self, scanned: Scanned, info: PhraseOwner, **kw) -> Finding:
        return Finding(secret=info.secret, version=info.version, label=info.label, kind=info.kind,
                       locator=scanned.part.locator, classification=info.classification, tags=info.tags,
                       detector=self.name, **kw)

    def _terms(self, scanned: Scanned, info: PhraseOwner, found) -> Finding | None:
        distinct = {row for _, _, row, _ in found}
        if len(distinct) < info.min_count:
            return None
        words = sum(last - first + 1 for first, last, _, _ in found)
        occurrences = []
        for first, last, row, _ in sorted(found)[:MAX_EVIDENCE]:
            span = scanned.span(first, last)
            span["term"] = row + 1  # line number in the registered term file, never the term
            occurrences.append(span)
        return self._base(scanned, info, score=min(1.0, len(distinct) / max(1, info.min_count)),
                          matched_words=words, coverage=0.0,
                          density=min(1.0, words / max(1, len(scanned.values))),
                          evidence={"distinct_terms": len(distinct), "occurrences": len(found),
                                    "min_distinct": info.min_count, "matches": occurrences})

    def _records(self, scanned: Scanned, info: PhraseOwner, found) -> Finding | None:
        rows_of_value: dict[tuple[int, int], set[int]] = defaultdict(set)
        by_row: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for first, last, row, col in found:
            by_row[row].append((first, last, col))
        # a value matched for many rows (a country, a price tier) identifies no one by itself
        for first, last, row, col in found:
            rows_of_value[(first, col)].add(row)
        matched_rows = []
        for row, fields in by_row.items():
            fields.sort()
            best = None
            for i, (first, _, _) in enumerate(fields):
                window = [f for f in fields[i:] if f[0] - first <= RECORD_WINDOW]
                cols = {c for _, _, c in window}
                identifying = any(len(rows_of_value[(f, c)]) <= IDENTIFYING_ROWS for f, _, c in window)
                if len(cols) >= info.min_count and identifying and (best is None or len(cols) > len(best[1])):
                    best = (window, cols)
            if best is not None:
                matched_rows.append((row, best[0], best[1]))
        if not matched_rows:
            return None
        matched_rows.sort(key=lambda r: r[1][0][0])
        fields = sum(len(cols) for _, _, cols in matched_rows)
        evidence_rows = []
        for row, window, cols in matched_rows[:MAX_EVIDENCE]:
            span = scanned.span(min(f for f, _, _ in window), max(l for _, l, _ in window))
            span.update(row=row + 1, fields=sorted(info.columns[c] if c < len(info.columns) else str(c) for c in cols))
            evidence_rows.append(span)
        words = sum(l - f + 1 for _, window, _ in matched_rows for f, l, _ in window)
        return self._base(scanned, info, score=1.0, matched_words=fields, coverage=0.0,
                          density=min(1.0, words / max(1, len(scanned.values))),
                          evidence={"rows": len(matched_rows), "fields": fields, "min_fields": info.min_count,
                                    "matches": evidence_rows})
