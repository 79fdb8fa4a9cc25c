"""Registered documents: winnowed shingle fingerprints, chained into aligned runs.

Every shingle of the scanned part is looked up in every segment (a bitmap rejects
most in one vector operation, `searchsorted` confirms the rest). A shingle is not
evidence when it is boilerplate: found in `boilerplate_docs` or more registered
families (near-identical secrets count once), or in registered public content. That
is decided here, over all segments, so registering never rewrites old segments.

A hit only proposes. From each hit the run is extended both ways over every shingle
the registered version has (`doc_all`, stored keyed) for as long as the scanned text
goes on matching: a run is what truly matches in sequence, and a verbatim excerpt of L
words is reported as exactly L words. Winnowing guarantees a hit in every shared run of
W + K - 1 = 10 words or more, so every such run is found and measured exactly.

A part whose words carry footnote numbers written as plain digits (``the process1 of
cooling2``) or strays of another script (``held 日 for``: `Tokens.marks`), words glued in
pairs (``TheBatch IsHeld``: `Tokens.halves`) or a stray glued to a word (``heldж``:
`Tokens.tails`) is also read without the marks, with the pairs apart and the words alone
around them, where that can make a difference (a fingerprint near one, or one over the gap a
mark leaves or of the pair's words; every glued stray); each secret keeps its stronger
finding.

A run counts only when it carries content: enough tokens that are neither English stop
words nor programming keywords and idioms (`text.code`), nor numbers below 100 (the
counting sequences and small matrices of examples and tests: ``0 1 2 ... 24``). Two unrelated programs share
runs like ``def __repr__(self): return ...`` that say nothing about either. The
longest run decides a verbatim excerpt (BLOCK_WORDS); several runs of one secret in a
part (an edited copy) add up (BLOCK_TOTAL).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .. import speedups
from ..arrays import among, distinct, merged
from ..fingerprint import bitmap
from ..fingerprint.table import lookup as table_lookup
from ..fingerprint.shingles import K, MIX, shingles, shingles_of
from ..text.normalise import JOIN_CHARS, cut_pairs, single_characters
from ..errors import DeadlineExceeded
from ..evidence import DocumentEvidence, Run
from ..types import Finding
from . import Scanned

BLOCK_WORDS = 20  # a verbatim run this long makes a finding score 1.0 (the default policy blocks)
REPORT_WORDS = 12  # smallest total of runs reported at all
BLOCK_TOTAL = 40  # many shorter runs (an edited copy) that add up to this also score 1.0
MIN_RUN_WORDS = 8  # shorter runs are chance
MARK_BLOCK = 1 << 16  # marks whose gap shingles are looked up at a time
MARK_REACH = 8  # shingles after and before a fingerprint found within which a glued number may stop its run
SPLIT_REACH = 9  # words cut in pieces (`Tokens.splits`) this many tokens apart or closer (marks not
# counted) are read joined
GUESS_ROUNDS = 8  # readings again with the words cut by blanks where runs stop (see `_where_runs_stop`)
SECOND_READING_REACH = 64  # tokens read again around a glued number that matters: a run through it
# that goes on further is read in the text as written (64 words or more without a mark)
MIN_CONTENT = 3  # tokens a run needs that are not stop words, code keywords, idioms or small numbers
SMALL_NUMBER_DIGITS = 2  # numbers of at most this many digits are not content
MAX_EVIDENCE_RUNS = 20
_CHUNK = 512  # shingles compared at a time when extending a run
EXPAND_CAP = 64  # a shingle stored more often than this is boilerplate without counting families
BOILERPLATE = "boilerplate: stored by enough families or public content"  # an --explain reason

PER_POSITION = 8  # secret positions kept per scanned shingle and secret: a phrase a secret repeats more often
# than this (a table row) adds the same run again and again; the other shingles of a real excerpt find it
_EMPTY = np.zeros(0, dtype=np.int64)
_EMPTY_ROWS = np.zeros((0, 2), dtype=np.int64)


class DocumentDetector:
    name = "fingerprint"

    @classmethod
    def from_index(cls, index) -> "DocumentDetector | None":
        return cls(index) if index.has("doc_hash") else None

    def __init__(self, index) -> None:
        self.index = index
        self.parts = [(s, int(off)) for s, off in zip(index.segments, index.offsets) if len(s.get("doc_hash"))]
        self.public = [s.get("pub_hash") for s in index.segments if len(s.get("pub_hash"))]
        self.live = index.live
        self.family = index.family
        self.boilerplate = index.boilerplate_docs

    def lookup(self, queries: np.ndarray, set_aside: list | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query position, owner, secret position) of every non-boilerplate match, across segments;
        (owner, matches) of what was boilerplate appended to `set_aside` when one is given."""
        found = []
        totals = np.zeros(len(queries), dtype=np.int64)
        looked = bitmap.lookup_many([(s.arrays["doc_hash"], s.arrays["doc_bits"]) for s, _ in self.parts], queries)
        for (segment, offset), (cand, lo, counts) in zip(self.parts, looked):
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
        if set_aside is not None and common.any():
            dropped, counts = np.unique(owner[common], return_counts=True)
            set_aside.extend(zip(dropped.tolist(), counts.tolist()))
        keep = ~common
        return qpos[keep], owner[keep], spos[keep]

    def _boilerplate(self, qpos: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """True for matches whose shingle is shared by `boilerplate` families or more."""
        codes, family = np.unique(self.family[owner], return_inverse=True)
        if len(codes) < self.boilerplate:
            return np.zeros(len(qpos), dtype=bool)  # fewer families matched at all than boilerplate needs
        pairs = distinct(qpos.astype(np.int64) * len(codes) + family.reshape(-1))  # (query, family) once each
        per_query = np.bincount(pairs // len(codes), minlength=int(qpos.max()) + 1)
        return per_query[qpos] >= self.boilerplate

    def _public(self, queries: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        wanted = distinct(qpos)
        public = np.zeros(int(qpos.max()) + 1, dtype=bool)
        for table in self.public:
            at = np.searchsorted(table, queries[wanted])
            at[at >= len(table)] = 0
            public[wanted[table[at] == queries[wanted]]] = True
        return public[qpos]

    def detect(self, scanned: Scanned) -> list[Finding]:
        """Findings of the part as written and in up to four other readings, each where it can
        change something: without the glued numbers and strays (``the process1 of cooling2``,
        ``held 日 for``: `Tokens.marks`, `_marks_that_matter`), read first, as its runs may stop
        at a word the others read (``🇬🇧TheBatch 🇬🇧IsHeld``: the flags dropped, a run stops at a
        pair, which then matters); with the words that carry a glued
        stray alone (``heldж``: `Tokens.tails`), the marks dropped too; with words glued in
        pairs apart as well (``TheFederal ReserveHead``: `Tokens.halves`, `_halves_that_matter`);
        and with the words that marks, a character or a blank cut in pieces whole (``t4he``,
        ``mole-cular``, ``mole cular``: `Tokens.joins`, `Tokens.splits`, `Tokens.blank_cuts`, `_joined`).
        The stronger finding of each secret is kept. The readings are apart so that a registered
        word with a capital inside (``PowerPoint``) still matches itself where only numbers are
        glued; each covers the text around what it is for only: read whole, a window of mail
        with a few dozen "ext3" and "2001.3" in it was fingerprinted twice."""
        found, stops, long_stops = self._detect(scanned)
        tokens = scanned.tokens
        marks = tokens.marks
        readings: list[Scanned] = []
        matter = self._marks_that_matter(scanned.values, marks, stops) if len(marks) else _EMPTY
        if len(matter):  # read first: where its runs stop, a word of the readings below may be what stopped them
            at = _around(matter, SECOND_READING_REACH, len(scanned.values), marks)
            reading = replace(scanned, tokens=tokens.taken(at), values=scanned.values[at])
            try:
                more, more_stops, more_long = self._detect(reading, total=len(scanned.values))
            except DeadlineExceeded as exc:
                raise DeadlineExceeded(str(exc), tuple(_stronger(found, list(exc.findings)))) from exc
            found = _stronger(found, more)
            stops, long_stops = (distinct(np.concatenate((own, at[other[(other >= 0) & (other < len(at))]])))
                                 for own, other in ((stops, more_stops), (long_stops, more_long)))
        tails = self._tails_that_matter(scanned, marks, stops) if len(tokens.tails) else _EMPTY
        if len(tails):
            readings.append(self._apart(scanned, tails, marks, pairs=False))
        halves = self._halves_that_matter(scanned, marks, stops) if len(tokens.halves) else _EMPTY
        if len(halves):  # every pair within reach read apart (the gate finds the pairs in a winnowed
            # fingerprint, one shingle in W or so: the run must go on through the others)
            readings.append(self._apart(scanned, distinct(np.concatenate((halves, tails))), marks, pairs=True))
        if len(tokens.joins[0]) or len(tokens.splits) or len(tokens.blank_cuts):  # (splits, cuts: rows)
            readings.extend(self._joined(scanned, marks, long_stops))
        for other in readings:
            try:
                found = _stronger(found, self._detect(other, total=len(scanned.values))[0])
            except DeadlineExceeded as exc:
                raise DeadlineExceeded(str(exc), tuple(_stronger(found, list(exc.findings)))) from exc
        return found

    def _apart(self, scanned: Scanned, centres: np.ndarray, marks: np.ndarray, pairs: bool) -> Scanned:
        """The part as read within SECOND_READING_REACH of `centres`, less the marks, the words
        with a stray glued to them alone and, with `pairs`, the pairs apart (`Tokens.split`):
        apart from the pairs, a word of random case (``suBtleж``) is still one word."""
        at = _around(centres, SECOND_READING_REACH, len(scanned.values), marks)
        split, origin = scanned.tokens.split(at, pairs)
        values = scanned.values[origin]
        changed = np.flatnonzero(split.hashes != scanned.tokens.hashes[origin])  # (the words apart or alone)
        values[changed] = self.index.keyer.cached(split.hashes[changed])
        return replace(scanned, tokens=split, values=values)

    def _joined(self, scanned: Scanned, marks: np.ndarray, long_stops: np.ndarray) -> list[Scanned]:
        """The part as read within SECOND_READING_REACH of the words cut in pieces by marks
        (`Tokens.joins`: ``t4he``) or in two by a character (`Tokens.splits`: ``mole-cular``)
        whose joining can make a difference (`_centres_that_matter`), with every such word in
        reach whole and the marks left out (`_whole`); none when none can. Of the words cut in two, only
        those with another within SPLIT_REACH tokens (marks not counted) on both sides or where a run of
        MIN_RUN_WORDS or more stops (`long_stops`) are asked about: an evader cuts many (an
        excerpt cut every ninth word or less often leaves runs of eight words, which stop at the
        cuts), and mail's hyphenated words and contractions stand far apart. Words cut in two by a
        blank (`Tokens.blank_cuts`: ``mole cular``) count as such words, but they are the word
        list's guesses: they are looked up all, read whole only where they matter, and the part is
        read without them as well (a registered ``ne mi`` is two words though "nemi" is in the
        list, and a guess near a cut word matters as its neighbour does)."""
        tokens = scanned.tokens
        rows, cuts = tokens.splits, tokens.blank_cuts
        guessed = np.zeros(len(rows), dtype=bool)
        if len(cuts):  # (but where a piece is part of another disguised word: ``mole-cu lar``)
            cuts = _apart_from(_apart_from(cuts, rows), np.stack(tokens.joins[:2], axis=1))
            rows, guessed = _in_order(rows[:, 0], cuts[:, 0], (rows, cuts), (guessed, np.ones(len(cuts), bool)))
        chosen, probe = _dense_splits(tokens, rows, long_stops, marks)
        rows, guessed = rows[chosen], guessed[chosen]
        probe[guessed] = np.maximum(probe[guessed], 1)
        rare = self._rare_cuts(scanned, rows, rows[guessed & (probe == 2), 0])
        if len(rare) and len(marks):  # (as `_dense_splits` keeps the others: no piece a mark)
            rare = rare[np.searchsorted(marks, rare[:, 0]) == np.searchsorted(marks, rare[:, 1], side="right")]
        if len(rare) and len(tokens.joins[0]):  # (nor a piece of a word that marks cut in pieces)
            rare = _apart_from(rare, np.stack(tokens.joins[:2], axis=1))
        if len(rare):  # (looked up wide, as the guesses around them are)
            rows, guessed, probe = _in_order(rows[:, 0], rare[:, 0], (rows, rare), (guessed, np.ones(len(rare), bool)),
                                             (probe, np.full(len(rare), 2, dtype=np.uint8)))
        lo, hi, hashes = rows[:, 0], rows[:, 1], tokens.split_hashes(rows)
        count = (hi - lo) * ~guessed  # (each word's later pieces; a guess's second, where it matters)
        later = np.repeat(lo + 1, count) + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
        if len(tokens.joins[0]):
            first, last, joined, joins_later = tokens.joins
            lo, hi, hashes, probe, guessed = _in_order(
                lo, first, (lo, first), (hi, last), (hashes, joined), (probe, np.ones(len(first), dtype=np.uint8)),
                (guessed, np.zeros(len(first), dtype=bool)))
            later = merged(later, joins_later)
        if len(lo) == 0:
            return []
        words = self.index.keyer.cached(hashes)
        # each word's later pieces left out of the reading, as the marks are (no word here matters
        # by standing where a run stops alone: its window must be registered, else every chance
        # phrase of mail that stops at a hyphenated word is read again)
        matter = self._centres_that_matter(scanned, lo, (words,), merged(marks, merged(later, lo[guessed] + 1)),
                                           _EMPTY, probe=probe)
        if len(matter) == 0:
            return []
        if guessed.any():
            matter = self._where_runs_stop(scanned, matter, (lo, hi, hashes, words), later, marks, guessed)
        readings = []
        for doubted in (guessed & ~among(lo, matter), guessed):  # the guesses that matter whole, then none
            readings.append(self._whole(scanned, matter, (lo, hi, hashes, words),
                                        merged(later, lo[guessed & ~doubted] + 1), marks, doubted)[0])
            if not (guessed & ~doubted).any():  # (no guess matters: the two are one)
                break
        return readings

    def _rare_cuts(self, scanned: Scanned, rows: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """Words of registered documents that the English word list lacks (``lame llae``), cut in
        two by blanks (`normalise.cut_pairs`) within SPLIT_REACH tokens of `dense`, words cut by
        blanks that come close together (an evader who cuts every few words of an excerpt cuts
        English ones too): rows of (first token, second), sharing no token with `rows`. A word is
        one of them when its keyed value is in a segment's table of the word forms of registered
        rare lemmas (`segments`: ``rw_tab_key``), which holds every registered word the list lacks."""
        tables = [s.arrays for s in self.index.segments if len(s.get("rw_tab_key"))]
        if len(dense) == 0 or not tables:
            return _EMPTY_ROWS
        tokens = scanned.tokens
        lo = _around(dense, SPLIT_REACH, len(tokens) - 1, _EMPTY)  # (pairs: none starts at the last token)
        lo = lo[cut_pairs(tokens, lo)]
        lo = _apart_from(np.stack((lo, lo + 1), axis=1), rows)[:, 0] if len(rows) else lo
        if len(lo) == 0:
            return _EMPTY_ROWS
        words = self.index.keyer.cached(tokens.split_hashes(np.stack((lo, lo + 1), axis=1)))
        found = np.zeros(len(lo), dtype=bool)
        for arrays in tables:
            maybe = np.flatnonzero(bitmap.probe(arrays["rw_tab_bits"], words))
            found[maybe[table_lookup(arrays["rw_tab_key"], arrays["rw_tab_val"], words[maybe])[0]]] = True
        lo = lo[found]
        lo = lo[np.append(True, np.diff(lo) > 1)] if len(lo) > 1 else lo  # (two that share a token: the first)
        return np.stack((lo, lo + 1), axis=1)

    def _where_runs_stop(self, scanned: Scanned, matter: np.ndarray, cut: tuple[np.ndarray, ...], later: np.ndarray,
                         marks: np.ndarray, guessed: np.ndarray) -> np.ndarray:
        """`matter` and the guesses (`guessed`: words cut by blanks) where a run of the reading
        with those that matter whole stops, read so again until no run stops at one, GUESS_ROUNDS
        times at most. A guess matters when a registered fingerprint lies in the windows after it;
        near the end of an excerpt those run into the text around it, and whether one of them
        kept a fingerprint depended on the key: a run stopped at such a guess (``... th en do es
        t he oper ator a dd``), and 25 words cut in every word blocked under most keys only."""
        lo, hi = cut[0], cut[1]
        near = matter  # (after the first round, only the text around the guesses it added is read again)
        for _ in range(GUESS_ROUNDS):
            doubted = guessed & ~among(lo, matter)
            if not doubted.any():
                break
            reading, at = self._whole(scanned, near, cut, merged(later, lo[guessed & ~doubted] + 1), marks, doubted)
            stops = self._hits(reading)[3]  # (where runs stop is all that is asked: no run is judged)
            stops = at[stops[(stops >= 0) & (stops < len(at))]]
            more = doubted & (among(lo, stops) | among(hi, stops))
            if not more.any():
                break
            near = lo[more]
            matter = distinct(np.concatenate((matter, near)))
        return matter

    def _whole(self, scanned: Scanned, matter: np.ndarray, cut: tuple[np.ndarray, ...], later: np.ndarray,
               marks: np.ndarray, doubted: np.ndarray) -> tuple[Scanned, np.ndarray]:
        """The part within SECOND_READING_REACH of `matter`, with the words cut in pieces there
        (`cut`: first tokens, last tokens, unkeyed and keyed hashes of them whole) read whole but
        the `doubted`, their `later` pieces and the `marks` left out; and the token of the part
        each token of that reading is (a word whole: its first piece)."""
        lo, hi, hashes, words = cut
        tokens = scanned.tokens
        skip = merged(marks, later)
        at = _around(matter, SECOND_READING_REACH, len(scanned.values), skip)
        inside = np.flatnonzero(among(lo, at) & ~doubted)  # every word in reach read whole, not only those that matter
        place = np.searchsorted(at, lo[inside])
        read = tokens.taken(at)
        values, joined = scanned.values[at], read.hashes.copy()
        values[place], joined[place] = words[inside], hashes[inside]
        ends = read.ends.copy()  # (a word whole ends where its last piece does)
        ends[place] = tokens.ends[hi[inside]]
        nends = ends if read.nends is read.ends else read.nends.copy()
        nends[place] = tokens.nends[hi[inside]]
        return replace(scanned, tokens=replace(read, hashes=joined, ends=ends, nends=nends), values=values), at

    def _half_words(self, scanned: Scanned) -> tuple[np.ndarray, np.ndarray]:
        """The keyed values of the first and of the second word of each of `Tokens.halves`."""
        _, first, second = scanned.tokens.half_hashes()
        keyed = self.index.keyer.cached(np.concatenate((first, second)))  # (the cache: the same words recur)
        return keyed[: len(first)], keyed[len(first):]

    def _bitmaps(self) -> list[np.ndarray] | None:
        """The segments' bitmaps for the C passes that list only the shingles passing one (the
        lookup's own first step), or None when there are none or too many."""
        bitmaps = [s.arrays["doc_bits"] for s, _ in self.parts]
        return [np.ascontiguousarray(b) for b in bitmaps] if 0 < len(bitmaps) <= 64 and all(map(len, bitmaps)) \
            else None

    def _found(self, matter: np.ndarray, listed: tuple[bytes, bytes], bitmaps: list | None) -> None:
        """Sets `matter` at the number listed with each shingle (the C passes' (which, shingle)
        pairs) that is stored."""
        which, spans = np.frombuffer(listed[0], dtype=np.int64), np.frombuffer(listed[1], dtype=np.uint64)
        if bitmaps is not None:  # the few that pass are mostly a handful repeated (mail quoting mail)
            unique = distinct(spans)
            registered = self._stored(unique)
            matter[which[registered[np.searchsorted(unique, spans)]]] = True
        else:
            matter[which[self.lookup(spans)[0]]] = True

    def _marks_that_matter(self, values: np.ndarray, marks: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """The marks the other reading can make a difference at: one where the run of a
        fingerprint found stops (`stops`: the secret goes on past the mark, perhaps), and one
        whose removal joins words into a registered fingerprint (marks every few words leave no
        fingerprint of their own in the text as written). Of marks side by side (``8:07``), the
        first stands for all: they leave one gap."""
        matter = among(marks, stops)
        # the fingerprints of the other reading that span the gap each mark leaves: the K - 1
        # windows that start up to K - 1 tokens before it, read from the 2K - 2 tokens around
        # it (gathered once per mark; a token of the other reading at p is the text's token
        # p + the number of marks before it)
        native = speedups.native
        if native is not None and values.dtype == np.uint64:  # the same shingles, gathered in one C pass
            skip = matter.view(np.uint8)
            bitmaps = self._bitmaps()
            values, marks = np.ascontiguousarray(values), np.ascontiguousarray(marks, np.int64)
            for at in range(0, len(marks), MARK_BLOCK):
                self._found(matter, native.gap_shingles(values, marks, skip, K, int(MIX), at,
                                                        min(at + MARK_BLOCK, len(marks)), bitmaps), bitmaps)
            return marks[matter]
        gap = marks - np.arange(len(marks))  # where the token after each mark stands without the marks
        after_one = np.append(False, marks[1:] == marks[:-1] + 1)  # (right after another: the same gap, read once)
        kept = len(values) - len(marks)
        before = np.cumsum(np.bincount(gap, minlength=kept + 1))  # marks before each token of the other reading
        for at in range(0, len(marks), MARK_BLOCK):  # a block at a time: text that is all marks
            block = slice(at, at + MARK_BLOCK)  # ("a1b2c3...") once took 700 MB for 4 MB here
            around = gap[block, None] + np.arange(-K + 1, K - 1)[None, :]
            starts = around[:, : K - 1]
            valid = (starts >= 0) & (starts + K <= kept) & ~matter[block, None] & ~after_one[block, None]
            if not valid.any():
                continue
            inside = np.clip(around, 0, kept - 1)
            near = values[inside + before[inside]]
            spans = shingles_of([near[:, m : m + K - 1] for m in range(K)])  # (marks, K - 1) shingles
            rows = np.nonzero(valid)[0]
            registered = self.lookup(spans[valid])[0]
            matter[at + rows[registered]] = True
        return marks[matter]

    def _halves_that_matter(self, scanned: Scanned, marks: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """The tokens of two glued CamelCase words (`Tokens.halves`) that reading them apart can
        make a difference at (`_centres_that_matter`), read as the reading for pairs reads them:
        the words with a stray glued to them alone too (pairs and such words in turn,
        ``CustomersUsing Linuxж ToHelp``, hold one of each in every window, and neither gate
        alone saw them: found attacking stop 36). Such tokens are rare in mail (some 800 a MB:
        ``McMahon``, ``JavaScript``, tags of calendar exports)."""
        values = None
        if len(scanned.tokens.tails):
            tails, words = scanned.tokens.tail_hashes()
            values = scanned.values.copy()
            values[tails] = self.index.keyer.cached(words)
        return self._centres_that_matter(scanned, scanned.tokens.halves[:, 0], self._half_words(scanned), marks, stops,
                                         values)

    def _tails_that_matter(self, scanned: Scanned, marks: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """The words with a stray glued to them (`Tokens.tails`: ``heldж``) that reading them alone
        can make a difference at (`_centres_that_matter`). Rare in mail, but Korean text glues its
        particles to every word it borrows (``API를``, ``DLP에서``): read again around every one, a
        text with one such word in seven cost a tenth more to scan."""
        tails, words = scanned.tokens.tail_hashes()
        return self._centres_that_matter(scanned, tails, (self.index.keyer.cached(words),), marks, stops)

    def _centres_that_matter(self, scanned: Scanned, centres: np.ndarray, words: tuple[np.ndarray, ...],
                             marks: np.ndarray, stops: np.ndarray, values: np.ndarray | None = None,
                             probe: np.ndarray | None = None) -> np.ndarray:
        """Which of `centres` (ascending tokens, each read as the one or two `words` given with
        it, their keyed values) reading so can make a difference at: one where the run of a
        fingerprint found stops, and one whose words are in a registered fingerprint of the text
        read around it without the marks and with the other centres so read (a text of nothing
        but word pairs, ``TheFederal ReserveHead SaidThe``, has no fingerprint of its own). Only
        the K - 1 words either side of each are read, from `values` (None: the part's); with
        `probe` (uint8 per centre), only the centres flagged are looked up so (the others are read
        as their words around them), and those flagged 2 in the K - 1 windows after theirs as well
        (2K - 1 windows in a row: a registered text there has a winnowed fingerprint in them)."""
        centres = np.ascontiguousarray(centres)
        matter = among(centres, stops)
        two = len(words) == 2
        native = speedups.native
        values = scanned.values if values is None else values
        if native is not None and values.dtype == np.uint64:  # each centre's shingles, in one C pass
            bitmaps = self._bitmaps()
            self._found(matter, native.half_shingles(np.ascontiguousarray(values), centres, words[0],
                                                     words[1] if two else None,
                                                     np.ascontiguousarray(marks, np.int64), K, int(MIX), bitmaps,
                                                     None if probe is None else np.ascontiguousarray(probe, np.uint8)),
                        bitmaps)
            return centres[matter]
        # the same from 3(K - 1) tokens either side (as at most two marks stand side by side, K - 1
        # words are left), read as one text (a few shingles span two windows' seam: chance, a reading more)
        at = _around(centres, 6 * (K - 1), len(values), marks)
        split = np.zeros(len(at), dtype=np.int64)
        if two:
            split[np.searchsorted(at, centres)] = 1
        origin = np.repeat(at, 1 + split)
        values = values[origin]
        first = np.searchsorted(origin, centres)  # where each centre's (first) word lands
        values[first] = words[0]
        if two:
            values[first + 1] = words[1]
        looked = self.lookup(shingles(values))[0]
        if len(looked):
            hits = distinct(looked)  # the shingles that start K - 1 before a centre's first word to at its last
            lo = np.searchsorted(hits, first - K + 1)
            if probe is None:
                matter[np.searchsorted(hits, first + two, side="right") > lo] = True
            else:
                hi = np.searchsorted(hits, first + two + (K - 1) * (probe == 2), side="right")
                matter[(hi > lo) & (probe > 0)] = True
        return centres[matter]

    def _stored(self, unique: np.ndarray) -> np.ndarray:
        """Whether each of the distinct, ascending shingles `unique` is stored in a segment, of
        a live secret or not, boilerplate or not: only which marks may matter is asked here (the
        other reading they lead to is looked up in full), and one search each is enough (`lookup`
        of the ~10,000 shingles of 40 MB of mail that pass a bitmap took 6 ms, most of it listing
        and sifting entries that were not needed)."""
        stored = np.zeros(len(unique), dtype=bool)
        everyone = np.arange(len(unique))
        for segment, _ in self.parts:
            stored[bitmap.search(segment.arrays["doc_hash"], unique, everyone, distinct=True)[0]] = True
        return stored

    def _detect(self, scanned: Scanned, total: int | None = None) -> tuple[list[Finding], np.ndarray, np.ndarray]:
        """(findings, the tokens where runs of fingerprints found stop within MARK_REACH
        shingles, ascending, and those of them where runs of MIN_RUN_WORDS or more stop); `total`:
        the part's tokens, when `scanned` holds only some of them (a second reading)."""
        aside: list | None = [] if scanned.explain is not None else None
        sh, scanned32, (qpos, owner, spos), stops, (after, before) = self._hits(scanned, aside)
        for number, matches in aside or ():  # a footer or public text: say so, or --explain is silent
            scanned.discard(self.name, self.index.owner(number).secret, BOILERPLATE, shingles=int(matches))
        if len(qpos) == 0:
            return [], qpos, qpos
        # hits whose run reaches MIN_RUN_WORDS (most chance hits are a phrase of five or six
        # words; only the others are extended one by one, `exact_runs`), and the tokens where
        # the runs of the others stop a few shingles on (`_hits` lists them for every hit): a
        # glued number there may be what stopped one (`_marks_that_matter`)
        need = MIN_RUN_WORDS - K  # further shingles a run needs besides its hit
        keep = np.minimum(after, need) + np.minimum(before, need) >= need
        ending, starting = (after < MARK_REACH) & keep, (before < MARK_REACH) & keep
        long_stops = distinct(np.concatenate((qpos[ending] + after[ending] + K, qpos[starting] - before[starting] - 1)))
        qpos, owner, spos = qpos[keep], owner[keep], spos[keep]
        if len(qpos) == 0:
            return [], stops, long_stops
        _check(scanned, "after the first comparison of hits")
        order = np.lexsort((spos, qpos, owner))
        qpos, owner, spos = qpos[order], owner[order], spos[order]
        qpos, owner, spos = _at_most(qpos, owner, spos, PER_POSITION)
        bounds = np.flatnonzero(np.diff(owner)) + 1
        best: dict[str, Finding] = {}
        total_tokens = max(1, total if total is not None else len(scanned.values))
        words = Words(scanned)
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [len(owner)]))):
            number = int(owner[lo])
            _check(scanned, f"after {len(best)} of {len(bounds) + 1} candidate secrets", best.values())
            finding = self._judge(scanned, number, qpos[lo:hi], spos[lo:hi], scanned32, total_tokens, sh,
                                  scanned.deadline, words)
            if finding is None:
                continue
            current = best.get(finding.secret)
            if current is None or finding.matched_words > current.matched_words:
                best[finding.secret] = finding
        _check(scanned, "after the last candidate", best.values())  # the last one may be cut short
        return list(best.values()), stops, long_stops

    def _hits(self, scanned: Scanned, aside: list | None = None):
        """The shingles of `scanned`, their top halves, the hits of the index lookup (`lookup`),
        the tokens where the runs of fingerprints found stop within MARK_REACH shingles, ascending,
        and how far each hit's run goes on after and before it (`_agreement`)."""
        sh = shingles(scanned.values)
        qpos, owner, spos = self.lookup(sh, aside)
        if len(qpos) == 0:
            return sh, None, (qpos, owner, spos), qpos, (qpos, qpos)
        _check(scanned, "after the index lookup")  # each pass is vectorised: the deadline is checked between
        scanned32 = (sh >> np.uint64(32)).astype(np.uint32)
        after, before = self._agreement(qpos, owner, spos, scanned32, MARK_REACH)
        ending, starting = after < MARK_REACH, before < MARK_REACH
        stops = distinct(np.concatenate((qpos[ending] + after[ending] + K, qpos[starting] - before[starting] - 1)))
        return sh, scanned32, (qpos, owner, spos), stops, (after, before)

    def _judge(self, scanned: Scanned, number: int, qpos: np.ndarray, spos: np.ndarray, scanned32: np.ndarray,
               total_tokens: int, sh: np.ndarray, deadline: float | None = None, words: "Words | None" = None):
        words = words or Words(scanned)
        every = exact_runs(qpos, spos, scanned32, self._shingles_of(number), deadline)
        runs = [r for r in every if words(r[0], r[1] + K) >= MIN_RUN_WORDS]
        if not runs or words.union([(r[0], r[1] + K) for r in runs]) < REPORT_WORDS:  # cheap checks first
            if scanned.explain is not None and every:
                scanned.discard(self.name, self.index.owner(number).secret, "chance",
                                longest_run=int(max(words(r[0], r[1] + K) for r in every)), runs=len(every),
                                needed=REPORT_WORDS)
            return None
        memo: dict = {}
        plain = [r for r in runs if self._has_content(scanned, r[0], r[1] + K)]
        kept = [r for r in plain if not self._shared(sh[r[0] : r[1] + 1], number, memo)]
        if scanned.explain is not None and len(kept) < len(runs):
            secret = self.index.owner(number).secret
            for why, dropped in (("no content: stop words or code idioms", [r for r in runs if r not in plain]),
                                 (BOILERPLATE, [r for r in plain if r not in kept])):
                if dropped:
                    scanned.discard(self.name, secret, why, runs=len(dropped),
                                    longest_run=int(max(words(r[0], r[1] + K) for r in dropped)))
        runs = _distinct_passages(kept, sh)
        if not runs:
            return None
        # words matched: distinct on both sides, so a part that repeats one short chance
        # overlap (a signature, a quoted line in every mail of a long thread) does not add
        # up to an excerpt the secret never gave
        secret_tokens = _union([(r[2], r[3] + K) for r in runs])
        scan_tokens = _union([(r[0], r[1] + K) for r in runs])
        scan_words = words.union([(r[0], r[1] + K) for r in runs])
        # the secret's side in words as the scanned side reads them (its runs are the same text)
        secret_words = secret_tokens if scan_words == scan_tokens else secret_tokens * scan_words // max(1, scan_tokens)
        scan_words = min(scan_words, secret_words)
        if scan_words < REPORT_WORDS:
            if scanned.explain is not None:  # (naming the secret reads the whole catalogue once)
                scanned.discard(self.name, self.index.owner(number).secret, "chance", words=int(scan_words),
                                needed=REPORT_WORDS)
            return None
        info = self.index.owner(number)
        longest = max(words(r[0], r[1] + K) for r in runs)
        score = min(1.0, max(longest / BLOCK_WORDS, scan_words / BLOCK_TOTAL))
        runs.sort(key=lambda r: r[0] - r[1])  # longest first
        evidence_runs = sorted((Run(**scanned.span(q0, q1 + K - 1), words=int(words(q0, q1 + K)),
                                    secret_words=(int(s0), int(s1 + K)), hits=int(hits))
                                for q0, q1, s0, s1, hits in runs[:MAX_EVIDENCE_RUNS]), key=lambda r: r.start)
        return Finding(
            secret=info.secret, version=info.version, label=info.label, kind="document",
            score=score, matched_words=int(scan_words), coverage=min(1.0, secret_tokens / max(1, info.tokens)),
            locator=scanned.part.locator, classification=info.classification, tags=info.tags,
            density=min(1.0, scan_words / total_tokens), detector=self.name,
            evidence=DocumentEvidence(int(longest), tuple(evidence_runs), len(runs), int(total_tokens),
                                      int(info.tokens)),
        )

    def _shared(self, run: np.ndarray, number: int, memo: dict | None = None) -> bool:
        """Whether a run is boilerplate: `boilerplate` families or more store about as much of it as its owner.

        Winnowing picks different shingles of a shared passage in each document (the
        windows reach into the text around it), so one document may keep a pick no other
        keeps. Judging the whole run, not its single hits, sees the sharing anyway.
        `memo` remembers the answer per run content and owner within one part: a part that
        repeats a passage (a table row a thousand times) is judged once per passage.
        """
        key = (run.tobytes(), number)
        if memo is not None and key in memo:
            return memo[key]
        qs, families = [], []
        shared = False
        for segment, offset in self.parts:
            cand, lo, counts = bitmap.lookup(segment.arrays["doc_hash"], segment.arrays["doc_bits"], run)
            if int(counts.sum()) > EXPAND_CAP * max(1, len(run)):
                shared = True
                break
            qidx, entry = bitmap.expand(cand, lo, counts)
            owners = segment.arrays["doc_owner"][entry].astype(np.int64) + offset
            alive = self.live[owners]
            qs.append(qidx[alive])
            families.append(self.family[owners[alive]])
        if not shared and qs:
            q = np.concatenate(qs).astype(np.int64)
            fam = np.concatenate(families)
            codes, fam_index = np.unique(fam, return_inverse=True)
            pairs = distinct(fam_index.astype(np.int64) * (len(run) + 1) + q)  # (family, query) once each
            hits = np.bincount(pairs // (len(run) + 1), minlength=len(codes))  # queries found per family
            mine = np.flatnonzero(codes == self.family[number])
            own = int(hits[mine[0]]) if len(mine) else 0
            shared = int((2 * hits >= own).sum()) >= self.boilerplate
        if memo is not None:
            memo[key] = shared
        return shared

    def _agreement(self, qpos: np.ndarray, owner: np.ndarray, spos: np.ndarray, scanned32: np.ndarray,
                   steps: int) -> tuple[np.ndarray, np.ndarray]:
        """(after, before): how many shingles in a row after each hit, and before it, are the
        secret's there too, counted up to `steps` (all hits at once, a shingle a step; a
        segment without the secret's every shingle counts `steps` both ways)."""
        after, before = np.zeros(len(qpos), dtype=np.int64), np.zeros(len(qpos), dtype=np.int64)
        for i, segment in enumerate(self.index.segments):
            lo, hi = int(self.index.offsets[i]), int(self.index.offsets[i + 1])
            mine = np.flatnonzero((owner >= lo) & (owner < hi))
            ptr = segment.get("doc_all_ptr", np.int64)
            if len(mine) == 0 or len(ptr) == 0:
                after[mine] = before[mine] = steps  # no shingles to extend with: judged one by one
                continue
            local = owner[mine] - lo
            first, end = ptr[local], ptr[local + 1]
            at = first + spos[mine]
            q = qpos[mine]
            every = segment.arrays["doc_all"]
            for step, agree in ((1, after), (-1, before)):
                going = np.arange(len(mine))  # the hits whose run goes on (most stop within a shingle or two)
                for k in range(1, steps + 1):
                    qk, sk = q[going] + step * k, at[going] + step * k
                    inside = (qk >= 0) & (qk < len(scanned32)) & (sk >= first[going]) & (sk < end[going])
                    going, qk, sk = going[inside], qk[inside], sk[inside]
                    going = going[scanned32[qk] == every[sk]]
                    if len(going) == 0:
                        break
                    agree[mine[going]] += 1
        return after, before

    def _shingles_of(self, number: int) -> np.ndarray:
        """Every shingle (top 32 bits) of the registered version behind global owner `number`."""
        i = int(np.searchsorted(self.index.offsets, number, side="right")) - 1
        segment = self.index.segments[i]
        local = number - int(self.index.offsets[i])
        ptr = segment.get("doc_all_ptr", np.int64)
        if len(ptr) <= local + 1:
            return np.zeros(0, dtype=np.uint32)
        return segment.arrays["doc_all"][ptr[local] : ptr[local + 1]]

    def _has_content(self, scanned: Scanned, first: int, end: int) -> bool:
        """Whether tokens first..end-1 say more than stop words, keywords and code idioms. A
        character of a script written without spaces (a token of its own) is content as any
        word is."""
        lemmas, weights, flags = self.index.lexicon.lookup(scanned.values[first:end])
        lengths = scanned.tokens.lengths[first:end]
        content = (flags == 0) & (lengths > 1)
        if scanned.tokens.norm.dtype != np.uint8:
            content |= (flags == 0) & (lengths == 1) & single_characters(scanned.tokens.norm[scanned.tokens.nstarts[first:end]])
        small = content & (lengths <= SMALL_NUMBER_DIGITS)
        if small.any():  # counting and indexing numbers (0 1 2 ... 24, [[1., 2.], [3., 4.]]) say nothing
            content[small] = ~scanned.tokens.digits_only(np.flatnonzero(small) + first)
        return int(content.sum()) >= MIN_CONTENT


def exact_runs(qpos: np.ndarray, spos: np.ndarray, scanned: np.ndarray, secret: np.ndarray,
               deadline: float | None = None) -> list[list[int]]:
    """Maximal exact runs through the hits: [q_first, q_last, s_first, s_last, hits] in shingle positions.

    Hits on one diagonal inside a run already found count for it; every other hit is
    extended both ways for as long as the shingles of both sides agree. Past `deadline`
    the runs found so far are returned (the caller raises the timeout).
    """
    order = np.lexsort((qpos, qpos - spos))
    runs: list[list[int]] = []
    diagonal, reach = None, -1
    for i, (q, s) in enumerate(zip(qpos[order].tolist(), spos[order].tolist())):
        if deadline is not None and i % 4096 == 4095 and time.monotonic() > deadline:
            break
        if q - s == diagonal and q <= reach:
            runs[-1][4] += 1
            continue
        if len(secret) == 0:
            back = forward = 0
        else:
            back = _agree(scanned, q, secret, s, -1)
            forward = _agree(scanned, q, secret, s, 1)
        runs.append([q - back, q + forward, s - back, s + forward, 1])
        diagonal, reach = q - s, q + forward
    return runs


def _agree(a: np.ndarray, i: int, b: np.ndarray, j: int, step: int) -> int:
    """How many positions past (i, j), in direction `step`, a and b go on agreeing."""
    done = 0
    while True:
        if step > 0:
            n = min(len(a) - i - 1 - done, len(b) - j - 1 - done, _CHUNK)
            x, y = a[i + 1 + done : i + 1 + done + n], b[j + 1 + done : j + 1 + done + n]
        else:
            n = min(i - done, j - done, _CHUNK)
            x, y = a[i - done - n : i - done][::-1], b[j - done - n : j - done][::-1]
        if n <= 0:
            return done
        differ = np.flatnonzero(x != y)
        if len(differ):
            return done + int(differ[0])
        done += n


def _at_most(qpos: np.ndarray, owner: np.ndarray, spos: np.ndarray, n: int):
    """The first `n` hits of each (owner, scanned position); the arrays are sorted by owner, then position."""
    if len(qpos) <= n:
        return qpos, owner, spos
    new = np.ones(len(qpos), dtype=bool)
    new[1:] = (qpos[1:] != qpos[:-1]) | (owner[1:] != owner[:-1])
    starts = np.flatnonzero(new)
    rank = np.arange(len(qpos)) - np.repeat(starts, np.diff(np.append(starts, len(qpos))))
    keep = rank < n
    return qpos[keep], owner[keep], spos[keep]


def _distinct_passages(runs: list[list[int]], sh: np.ndarray) -> list[list[int]]:
    """The runs less those that repeat the words of an earlier one: a passage found several times on
    both sides (an idiom such as ``with warnings.catch_warnings(): warnings.simplefilter(...)``,
    five times in the secret and four in the part) is one piece of evidence, not twenty."""
    seen: set[bytes] = set()
    out = []
    for r in runs:
        key = sh[r[0] : r[1] + 1].tobytes()
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _stronger(first: list[Finding], second: list[Finding]) -> list[Finding]:
    """One finding per secret from two readings of a part: the stronger (score, then matched words)."""
    best = {f.secret: f for f in first}
    for f in second:
        current = best.get(f.secret)
        if current is None or (f.score, f.matched_words) > (current.score, current.matched_words):
            best[f.secret] = f
    return list(best.values())


def _dense_splits(tokens, rows: np.ndarray, stops: np.ndarray, marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the words cut in pieces `rows` (`Tokens.splits` and `Tokens.blank_cuts`: rows of first
    and last token, ascending), the indices of those to look up, flagged 2 (wide: see `_centres_that_matter`):
    those next to one of `stops` and those with another within SPLIT_REACH tokens on both sides
    (one of an excerpt's cuts in the gate is enough: the reading goes on through the rest); with
    the others within SPLIT_REACH of those, flagged 0, read as their words around them; no piece
    a mark (a lookalike standing alone, ``a.α``), and no word of more than JOIN_CHARS letters (a
    path, a hex dump: no disguised word)."""
    if len(rows) == 0:
        return _EMPTY, np.zeros(0, dtype=np.uint8)
    first, last = rows[:, 0], rows[:, 1]
    # (counted in the reading without the marks: a number between every two words spaced them out)
    apart = np.diff(first)
    near = apart <= SPLIT_REACH
    maybe = np.flatnonzero(~near & (apart <= 4 * SPLIT_REACH))
    if len(maybe) and len(marks):
        between = np.searchsorted(marks, first[maybe + 1]) - np.searchsorted(marks, first[maybe])
        near[maybe] = apart[maybe] - between <= SPLIT_REACH
    before, after = np.append(False, near), np.append(near, False)
    asked = before & after | among(first, stops) | among(last, stops)
    # and the others near those: read as their words around them
    keep = asked | np.append(False, near & asked[:-1]) | np.append(near & asked[1:], False)
    chosen = np.flatnonzero(keep)
    rows, probe = rows[chosen], (2 * asked).astype(np.uint8)[chosen]
    keep = tokens.nends[rows[:, 1]] - tokens.nstarts[rows[:, 0]] <= 2 * JOIN_CHARS  # (their cuts counted too)
    if len(marks) and len(rows):  # (no mark between a word's first token and its last)
        keep &= np.searchsorted(marks, rows[:, 0]) == np.searchsorted(marks, rows[:, 1], side="right")
    return chosen[keep], probe[keep]


def _in_order(first: np.ndarray, other: np.ndarray, *columns: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """Each of `columns` (pairs of the values of some rows, whose first tokens are `first`, and of
    others, whose first tokens are `other`: both ascending) merged in the order of the rows' first
    tokens, the first rows before the others where two start alike."""
    order = np.argsort(np.concatenate((first, other)), kind="stable")
    return [np.concatenate(column)[order] for column in columns]


def _apart_from(cuts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The rows of `cuts` (first token, last) that share no token with one of `rows` (the same,
    ascending, apart)."""
    if len(rows) == 0 or len(cuts) == 0:
        return cuts
    k = np.searchsorted(rows[:, 0], cuts[:, 1], side="right") - 1  # the last row to start by a cut's end
    return cuts[(k < 0) | (rows[np.maximum(k, 0), 1] < cuts[:, 0])]


def _around(centres: np.ndarray, reach: int, n: int, marks: np.ndarray) -> np.ndarray:
    """The tokens within `reach` of the ascending `centres`, of `n`, but the `marks` (ascending),
    ascending and each once (overlapping reaches merge into one: no sort of their tokens)."""
    lo, hi = np.maximum(centres - reach, 0), np.minimum(centres + reach + 1, n)
    first = np.append(True, lo[1:] > hi[:-1])
    lo, hi = lo[first], hi[np.append(first[1:], True)]
    size = hi - lo
    near = np.repeat(lo - (np.cumsum(size) - size), size) + np.arange(int(size.sum()))
    return near[~among(near, marks)] if len(marks) else near


def _check(scanned: Scanned, where: str, found=()) -> None:
    """Past the item's deadline: stop, keeping what was `found` (findings are evidence all the same)."""
    if scanned.deadline is not None and time.monotonic() > scanned.deadline:
        raise DeadlineExceeded(f"fingerprint tier stopped at the item's deadline {where}", tuple(found))


class Words:
    """How many words token spans of a part hold: a character of a script written without
    spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar: a token each) counts as half a word,
    every other token as one, so that a run of Chinese blocks at about as much text as a run
    of English does (twenty words, some forty characters), not at twenty characters."""

    def __init__(self, scanned: Scanned) -> None:
        self.tokens = scanned.tokens
        self._halves: np.ndarray | None | bool = False  # (read on first use: most parts have no candidate run)

    @property
    def halves(self) -> np.ndarray | None:
        """Prefix sums of half-words over the tokens, when the part has such characters."""
        if self._halves is False:
            toks, self._halves = self.tokens, None
            if toks.norm.dtype != np.uint8 and len(toks):
                one = np.flatnonzero(toks.lengths == 1)  # (the code points of those only)
                single = one[single_characters(toks.norm[toks.nstarts[one]])]
                if len(single):
                    halves = np.full(len(toks), 2, dtype=np.int64)
                    halves[single] = 1
                    self._halves = np.concatenate(([0], np.cumsum(halves)))
        return self._halves

    def __call__(self, first: int, end: int) -> int:
        """Words in tokens first..end-1."""
        halves = self.halves
        return end - first if halves is None else int(halves[end] - halves[first]) // 2

    def union(self, intervals: list[tuple[int, int]]) -> int:
        """Words in the union of token spans [a, b)."""
        return _union(intervals, self.halves)


def _union(intervals: list[tuple[int, int]], halves: np.ndarray | None = None) -> int:
    """Tokens in the union of spans [a, b); with `halves` (prefix sums of half-words), words."""
    total, end = 0, None
    for a, b in sorted(intervals):
        a = a if end is None else max(a, end)
        if b > a:
            total += b - a if halves is None else int(halves[b] - halves[a])
            end = b
    return total if halves is None else total // 2
