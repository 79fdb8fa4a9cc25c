"""Term sets and structured records: phrases as hashed n-grams of keyed token values.

Each phrase (a term, or one field value of a record row) is stored as the hash of its
keyed token values (`segments.ngram_hashes`), sorted, with its owner, row and column.
Scanning a part costs a few vector operations, whatever the registry holds:

1. the positions whose token starts some phrase (a bitmap of first tokens);
2. for every phrase length the segment has, the n-gram hash at those positions, looked
   up in the sorted phrase hashes (bitmap first).

Matching is therefore exact on token boundaries after normalisation (``Project
HALCYON`` matches ``project halcyon``, ``HX 4471 B`` and ``HX4471B`` match
``HX-4471-B``, ``halcyonic`` does not), and no Python runs per token or per match of a
common word. A token that is two glued CamelCase words (``ProjectHalcyon``,
``#ProjectHalcyon``) is read both ways: as itself, and as its two words (`Tokens.halves`),
so it matches the term ``Project Halcyon`` while a term registered as ``BlueFin`` still
matches ``bluefin``.

Records keep their rule: a row is a hit when at least `min_fields` of its values occur
within `RECORD_WINDOW` words, one of them *identifying* (shared by at most
`IDENTIFYING_ROWS` rows; a country or a price tier identifies no one). Only rows with
an identifying value in the part are examined, through the row's own field hashes.
"""

from __future__ import annotations

import numpy as np

from .. import speedups
from ..arrays import distinct
from ..fingerprint import bitmap, table
from ..fingerprint import fields
from ..segments import ngram_hashes, ngram_hashes_of_lengths
from ..evidence import RecordsEvidence, RowMatch, TermMatch, TermsEvidence
from ..types import Finding
from . import Scanned

RECORD_WINDOW = 50  # words within which fields of one row must occur
IDENTIFYING_ROWS = 2  # a field value shared by more rows than this is not identifying alone
MAX_EVIDENCE = 20
EXPAND_CAP = 64  # a phrase hash with more entries than this is not expanded (a value of many rows)


class PhraseDetector:
    name = "phrase-hash"

    @classmethod
    def from_index(cls, index) -> "PhraseDetector | None":
        return cls(index) if index.has("ph_hash") else None

    def __init__(self, index) -> None:
        self.index = index
        self.parts = [(s, int(off)) for s, off in zip(index.segments, index.offsets) if len(s.get("ph_hash"))]
        self.live = index.live
        self.months = fields.month_values(index.keyer)
        self.kinds = {t for segment, _ in self.parts for t in segment.meta.get("field_types", ())}
        self.longest = max([int(s.get("ph_lengths").max()) for s, _ in self.parts if len(s.get("ph_lengths"))] + [1])
        self.joined_chars = distinct(np.concatenate(
            [s.get("jc_chars") for s, _ in self.parts] + [np.zeros(0, dtype=np.uint64)])).astype(np.int64)
        # the first tokens of each segment's terms as a hash table (a few thousand: built here in
        # a fraction of a millisecond), so the C pass `rare_hits_many` probes and confirms them at once
        self._first_tables = {id(s): table.build(s.arrays["ph_first"], np.zeros(len(s.arrays["ph_first"]), np.uint64))
                              for s, _ in self.parts if "ph_first" in s.arrays and len(s.arrays["ph_first"])}

    def _first_tokens(self, segment, values: np.ndarray) -> np.ndarray:
        """Positions of the tokens that are the first token of some term of `segment`."""
        a = segment.arrays
        native = speedups.native
        slots = self._first_tables.get(id(segment))
        if native is not None and slots is not None and values.dtype == np.uint64:
            at, _ = native.rare_hits_many(np.ascontiguousarray(values), [a["ph_first_bits"]], [slots[0]], [slots[1]])
            return np.frombuffer(at, dtype=np.int64)
        starts = np.flatnonzero(bitmap.probe(a["ph_first_bits"], values))
        first = a["ph_first"]
        at = np.searchsorted(first, values[starts])
        at[at >= len(first)] = 0
        return starts[first[at] == values[starts]]

    def _typed(self, scanned: Scanned) -> "fields.Candidates":
        """Typed-field candidates of the part: only name words and value lengths some registered row has."""
        values = scanned.values
        names = None
        if "name" in self.kinds:
            names = np.zeros(len(values), dtype=bool)
            for segment, _ in self.parts:
                if "nm_bits" in segment.arrays:
                    maybe = np.flatnonzero(bitmap.probe(segment.arrays["nm_bits"], values))
                    table = segment.arrays["nm_words"]
                    at = np.searchsorted(table, values[maybe])
                    at[at >= len(table)] = 0
                    names[maybe[table[at] == values[maybe]]] = True
        return fields.candidates(scanned.tokens, values, self.index.keyer, self.kinds, self.months, names,
                                 self.joined_chars)

    def detect(self, scanned: Scanned) -> list[Finding]:
        values = scanned.values
        n = len(values)
        if n == 0:
            return []
        matches: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # every match: (hash, first, length)
        entries: list[tuple[np.ndarray, ...]] = []  # expanded live entries: (first, last, owner, row, col)
        typed = self._typed(scanned) if self.kinds else None
        readings = []
        if len(scanned.tokens.halves):
            readings.append(_Readings.halves(scanned, self.index.keyer, self.longest))
        if len(scanned.tokens.citations):
            readings.append(_Readings.citations(scanned, self.index.keyer, self.longest))
        for segment, offset in self.parts:
            a = segment.arrays
            found = []  # batches to look up: (hashes, first tokens, lengths in tokens)
            if "ph_first_bits" in a and len(a.get("ph_lengths", ())):
                starts = self._first_tokens(segment, values)
                if len(starts):
                    found.append(ngram_hashes_of_lengths(values, starts, a["ph_lengths"].tolist()))
            if readings and "ph_first_bits" in a and len(a.get("ph_lengths", ())):
                for reading in readings:
                    found.extend(reading.lookups(a))
            if typed is not None and segment.meta.get("field_types"):
                found.append((typed.hashes, typed.first, typed.last - typed.first + 1))
            if not found:
                continue
            # one lookup for every batch: a call costs more than the few hashes of a batch
            grams, pos, lengths = found[0] if len(found) == 1 else (np.concatenate(b) for b in zip(*found))
            cand, lo, counts = bitmap.lookup(a["ph_hash"], a["ph_bits"], grams)
            if len(cand):
                matches.append((grams[cand], pos[cand], lengths[cand]))
                small = counts <= EXPAND_CAP
                qidx, entry = bitmap.expand(cand[small], lo[small], counts[small])
                owners = a["ph_owner"][entry].astype(np.int64) + offset
                alive = self.live[owners]
                qidx, entry, owners = qidx[alive], entry[alive], owners[alive]
                firsts = pos[qidx]
                entries.append((firsts, firsts + lengths[qidx] - 1, owners, a["ph_row"][entry].astype(np.int64),
                                a["ph_col"][entry].astype(np.int64)))
        if not entries:
            return []
        first, last, owner, row, col = (np.concatenate(parts) for parts in zip(*entries))
        found = _Matches(*(np.concatenate(parts) for parts in zip(*matches)))
        findings = []
        order = np.argsort(owner, kind="stable")
        first, last, owner, row, col = first[order], last[order], owner[order], row[order], col[order]
        bounds = np.flatnonzero(np.diff(owner)) + 1
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [len(owner)]))):
            info = self.index.owner(int(owner[lo]))
            sel = slice(lo, hi)
            if info.kind == "terms":
                finding = self._terms(scanned, info, first[sel], last[sel], row[sel])
            else:
                finding = self._records(scanned, info, int(owner[lo]), first[sel], last[sel], row[sel], col[sel], found)
            if finding is not None:
                findings.append(finding)
        return findings

    def _base(self, scanned: Scanned, info, **kw) -> Finding:
        return Finding(secret=info.secret, version=info.version, label=info.label, kind=info.kind,
                       locator=scanned.part.locator, classification=info.classification, tags=info.tags,
                       detector=self.name, **kw)

    def _terms(self, scanned: Scanned, info, first, last, row) -> Finding | None:
        minimum = int(info.settings.get("min_distinct", 1))
        terms = len(distinct(row))
        if terms < minimum:
            scanned.discard(self.name, info.secret, "too few distinct terms", distinct=terms, needed=minimum)
            return None
        words = int((last - first + 1).sum())
        order = np.lexsort((row, first))[:MAX_EVIDENCE]
        occurrences = tuple(TermMatch(**scanned.span(f, l), term=r + 1)  # the line in the term file, never the term
                            for f, l, r in zip(first[order].tolist(), last[order].tolist(), row[order].tolist()))
        return self._base(scanned, info, score=min(1.0, terms / max(1, minimum)),
                          matched_words=words, coverage=0.0,
                          density=min(1.0, words / max(1, len(scanned.values))),
                          evidence=TermsEvidence(terms, int(len(first)), minimum, occurrences))

    def _records(self, scanned: Scanned, info, owner: int, first, last, row, col, found: "_Matches") -> Finding | None:
        minimum = int(info.settings.get("min_fields", 2))
        columns = info.settings.get("columns", [])
        # a value found at one place for at most IDENTIFYING_ROWS rows identifies its row
        place = first * 65536 + col
        uniq, inverse = np.unique(place, return_inverse=True)
        pairs = np.unique(np.stack([inverse, row]), axis=1)
        rows_here = np.bincount(pairs[0], minlength=len(uniq))
        identifying_place = set(uniq[rows_here <= IDENTIFYING_ROWS].tolist())
        candidates = distinct(row[rows_here[inverse] <= IDENTIFYING_ROWS]).tolist()
        matched_rows = []
        for r in candidates:
            fields = sorted(self._row_fields(owner, r, found))  # every value of this row found in the part
            best = None
            for i, (f0, _, _) in enumerate(fields):
                window = [f for f in fields[i:] if f[0] - f0 <= RECORD_WINDOW]
                cols = {c for _, _, c in window}
                identifying = any(f * 65536 + c in identifying_place for f, _, c in window)
                if len(cols) >= minimum and identifying and (best is None or len(cols) > len(best[1])):
                    best = (window, cols)
            if best is not None:
                matched_rows.append((r, best[0], best[1]))
        if not matched_rows:
            scanned.discard(self.name, info.secret, "no row with enough identifying fields together",
                            values=int(len(first)), rows=len(candidates), needed=minimum)
            return None
        matched_rows.sort(key=lambda r: r[1][0][0])
        fields = sum(len(cols) for _, _, cols in matched_rows)
        evidence_rows = tuple(
            RowMatch(**scanned.span(min(f for f, _, _ in window), max(l for _, l, _ in window)), row=row + 1,
                     fields=tuple(sorted(columns[c] if c < len(columns) else str(c) for c in cols)))
            for row, window, cols in matched_rows[:MAX_EVIDENCE])
        words = sum(l - f + 1 for _, window, _ in matched_rows for f, l, _ in window)
        return self._base(scanned, info, score=1.0, matched_words=fields, coverage=0.0,
                          density=min(1.0, words / max(1, len(scanned.values))),
                          evidence=RecordsEvidence(len(matched_rows), fields, minimum, evidence_rows))

    def _row_fields(self, owner: int, row: int, found: "_Matches") -> list[tuple[int, int, int]]:
        """(first, last, column) of every occurrence in the part of any value of one record row."""
        segment_index = int(np.searchsorted(self.index.offsets, owner, side="right")) - 1
        segment = self.index.segments[segment_index]
        local = owner - int(self.index.offsets[segment_index])
        a = segment.arrays
        key = np.uint64((local << 32) | row)
        lo = int(np.searchsorted(a["ph_rowkey"], key, side="left"))
        hi = int(np.searchsorted(a["ph_rowkey"], key, side="right"))
        out = []
        for entry in a["ph_rowentry"][lo:hi].tolist():
            for f, length in found.of(int(a["ph_hash"][entry])):
                out.append((f, f + length - 1, int(a["ph_col"][entry])))
        return out


class _Matches:
    """Every phrase match of a part, searchable by phrase hash."""

    def __init__(self, hashes: np.ndarray, firsts: np.ndarray, lengths: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.firsts, self.lengths = hashes[order], firsts[order], lengths[order]

    def of(self, phrase: int) -> list[tuple[int, int]]:
        value = np.uint64(phrase)
        lo = int(np.searchsorted(self.hashes, value, side="left"))
        hi = int(np.searchsorted(self.hashes, value, side="right"))
        return list(zip(self.firsts[lo:hi].tolist(), self.lengths[lo:hi].tolist()))


class _Readings:
    """Other readings of a part, in windows of keyed values around the places where they differ:
    a token that may be read as two words (two glued CamelCase words, a word joined at a
    hyphenated line break: `Tokens.halves`), and a number in brackets read as a citation mark
    that may be a word of a term all the same (``BF [220]``: `Tokens.citations`). Each window
    holds `longest` - 1 tokens, the `middle` values of the other reading, `longest` - 1 tokens,
    so that phrases through the middle are looked up as well. Only phrases through the middle
    are reported here; the others were found in the part's own reading."""

    def __init__(self, values: np.ndarray, begin: np.ndarray, end: np.ndarray, invalid: np.ndarray,
                 longest: int, middle: int, shortest: int) -> None:
        self.values = values  # keyed values of the windows, one after the other
        self.begin = begin  # the part's token where a phrase that starts at each value starts
        self.end = end  # and where one that ends there ends
        self.invalid = invalid  # int64 prefix counts of positions outside the part
        self.longest = longest
        self.middle = middle  # values of the other reading in each window
        self.shortest = shortest  # phrases shorter than this are not looked up
        self.width = 2 * (longest - 1) + middle

    @classmethod
    def halves(cls, scanned: Scanned, keyer, longest: int) -> "_Readings":
        """Each token of `Tokens.halves` as its two words: the token stands for both."""
        which, first, second = scanned.tokens.half_hashes()
        offsets = np.concatenate((np.arange(-longest + 1, 1), np.arange(0, longest)))
        # keyed through the token cache: the halves are words that repeat from mail to mail
        return cls._of(scanned, which, offsets, [keyer.cached(first), keyer.cached(second)], [which, which],
                       [which, which], longest, 1)

    @classmethod
    def citations(cls, scanned: Scanned, keyer, longest: int) -> "_Readings":
        """Each citation mark's number as a word before the token after it. Evidence spans the
        part's own tokens only: a phrase that ends at the number ends at the word before it, one
        that starts there starts at the word after it; the number alone is never a phrase."""
        rows = scanned.tokens.citations
        after = rows[:, 0].astype(np.int64)
        offsets = np.concatenate((np.arange(-longest + 1, 0), [0], np.arange(0, longest - 1)))
        return cls._of(scanned, after, offsets, [keyer.cached(rows[:, 1])], [after], [after - 1], longest, 2)

    @classmethod
    def _of(cls, scanned: Scanned, at: np.ndarray, offsets: np.ndarray, middle: list, begin: list, end: list,
            longest: int, shortest: int) -> "_Readings":
        n = len(scanned.values)
        token = at[:, None] + offsets[None, :]
        outside = (token < 0) | (token >= n)
        token = np.clip(token, 0, max(0, n - 1))
        values = scanned.values[token]
        first, last = token.copy(), token.copy()
        for k, (v, b, e) in enumerate(zip(middle, begin, end)):
            values[:, longest - 1 + k] = v
            first[:, longest - 1 + k] = np.clip(b, 0, max(0, n - 1))
            last[:, longest - 1 + k] = np.clip(e, 0, max(0, n - 1))
            outside[:, longest - 1 + k] = False
        invalid = np.concatenate(([0], np.cumsum(outside.ravel())))
        return cls(values.ravel(), first.ravel(), last.ravel(), invalid, longest, len(middle), shortest)

    def lookups(self, arrays) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(phrase hashes, first token, tokens spanned in the part) of the phrases of a segment
        that run through the middle of a window."""
        first = arrays["ph_first"]
        rows = np.arange(len(self.values) // self.width) * self.width
        lo = self.longest - 1  # the middle's first place in a window
        may_start = bitmap.probe(arrays["ph_first_bits"], self.values)  # once per value, not per length
        out = []
        for length in arrays["ph_lengths"].tolist():
            if length > self.longest or length < self.shortest:
                continue
            starts = np.arange(max(0, lo + 1 - length), min(lo + self.middle - 1, self.width - length) + 1)
            pos = (rows[:, None] + starts[None, :]).ravel()
            pos = pos[may_start[pos] & (self.invalid[pos + length] == self.invalid[pos])]
            at = np.minimum(np.searchsorted(first, self.values[pos]), len(first) - 1)
            pos = pos[first[at] == self.values[pos]]
            if len(pos):
                begin, end = self.begin[pos], self.end[pos + length - 1]
                out.append((ngram_hashes(self.values, pos, length), begin, end - begin + 1))
        return out
