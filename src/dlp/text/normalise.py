"""Unicode NFKC + case folding, word tokens, sentence starts, and an offset map back to the source.

The whole pipeline is vectorised over code points with numpy: a Python loop runs
only over the *distinct* characters of a text (a few hundred), never over its
characters or tokens. Text that is all ASCII (the common case) skips the character
table altogether.

- Each source character is normalised on its own, so every normalised character maps
  back to exactly one source offset: NFKC and case folding, then nonspacing marks
  dropped (``é``, ``e`` + U+0301 and ``e`` + U+0336 are all ``e``; ``İ`` is ``i``;
  Japanese voicing marks stay), letters with a stroke folded (``ø`` ``ł`` ``đ`` ``æ``),
  every decimal digit made ASCII (Arabic-Indic, Devanagari...), and the stylistic
  letters NFKC leaves alone read as letters (small capitals ``ᴘʀᴏ``, negative circled
  and squared, parenthesised and regional-indicator letters, dingbat digits).
  Default-ignorable code points (zero-width characters, word joiner, bidirectional
  controls, variation selectors) normalise to nothing: they never split a word. The
  Hangul fillers that render as a blank (U+3164, U+FFA0) separate words.
- Tokens are maximal runs of letters (and spacing marks) or of digits: a token is cut
  where letters meet digits (``HX4471B`` is ``hx 4471 b``, as ``HX-4471-B`` is); each
  Han, Hiragana or Katakana character is a token of its own (those scripts do not
  separate words with spaces). A glued CamelCase run of three words or more is cut into
  its words (``TheCoatingProcess``; not ``iPhone``, ``McDonald``, ``pRoCeSs``). A token of
  exactly two CamelCase words (``ProjectHalcyon``, ``ToIts``; ``USTrade``, ``IThink``,
  ``PIGMENTIs`` too) stays whole, both sides alike, and records where it could be cut
  (`Tokens.halves`): term matching and the fingerprint tier read it both ways.
- Footnote marks (one or two superscript digits after a word: ``process¹``) and citation
  marks (``[12]``) are not words (term matching reads the number in brackets as a word too:
  `Tokens.citations`). Numbers glued to words (footnotes written as plain digits,
  ``process1``, ``added.3``; ``4process``) stay numbers, since ``windows10`` is one too;
  they are `Tokens.marks`, and the fingerprint tier reads the text without them as well.
- Words are joined where the writer broke them: a hyphen at the end of a line before a
  small letter (``pig-\\nment``; such a word is also one of the `Tokens.halves`), soft
  hyphens, and letter-spaced runs (``c o a t``, ``c.o.a.t``; see `spacing`). A joined
  word keeps its place in the normalised text, so nothing else moves. Text that a
  right-to-left override shows in another order than it is stored is read as shown:
  in place when the override is closed, both ways when it runs to the end of the line.
- Every token gets a 64-bit *unkeyed* hash. It is a function of the normalised
  token alone, whatever text it came from, and never leaves the process: the
  registry key turns it into the keyed value everything stored is built from
  (`fingerprint.keyed`).
- Each token carries flags: whether it starts a sentence (a ``.``, ``!`` or ``?``
  followed by white space, a CJK full stop, or a blank line lies between it and
  the token before) and whether it is made of digits only. The rewrite tier needs
  both and nothing else of the text's punctuation.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Callable, Sequence

import numpy as np

from .confusables import CODE_POINTS, CONFUSABLES_VERSION, fold_confusable_tokens
from .spacing import PAIR_BITS, SPACING_VERSION, cut_tables, pair_bits, pair_key, word_lengths, words_and_costs
from .. import speedups
from ..arrays import among, ascending_searchsorted, distinct, merged, run_starts

NORMALISER_VERSION = f"nfkc-casefold-marks-digits-cuts-joins-glued/6+{CONFUSABLES_VERSION}+{SPACING_VERSION}"

SEPARATOR, WORD, SINGLE = 0, 1, 2
CHUNK_CHARS = 1 << 22  # longer texts are tokenised in slices, bounding the temporaries

SENTENCE = np.uint8(1)  # token flag: a sentence starts here
DIGITS = np.uint8(2)  # token flag: digits only

UPPER, HIDDEN, SUPERSCRIPT = 1, 2, 4  # character flags: an upper-case letter; a character that hides
# (invisible, overlay mark); a superscript digit

_P = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))
_WIDE = np.uint64(0xA5A5_5A5A_C3C3_3C3C)  # separates hashes of tokens with non-ASCII letters
_NO_INT = np.zeros(0, dtype=np.int64)
HALF_CHARS = 4  # two glued CamelCase words (`Tokens.halves`) are read as both from this many characters
# on: ``ToIts``, ``OfThe`` (words of three letters or more on average are asked of a run cut in three or
# more, so that random case such as ``pRoCeSs`` is never cut; reading two words as both only adds a reading)
GLUED_WORD = 1  # a number touching a word this long or longer is one of `Tokens.marks`: any word (``a3``
# too; at 2, a number glued to every word hid a 25-word excerpt behind its one-letter words)


@dataclass(frozen=True)
class Tokens:
    """Tokens of one text: unkeyed hashes, source offsets, flags, and their normalised text.

    `starts`/`ends` are offsets in the *source* text. `norm` holds the normalised code
    points and `nstarts`/`nends` the token bounds in it; `text_of(i)` rebuilds one
    normalised token. `halves` lists the tokens that may also be read as two words (two
    glued CamelCase words, a word joined at a hyphenated line break): rows of (token,
    offset in `norm` where the second word starts). `unsegmented` counts the letters of
    glued or letter-spaced runs that the tokeniser's budgets left as they stand (see
    `SEGMENT_BUDGET`): text it did not fully read, which the scanner reports.

    The arrays are never changed in place: source and normalised bounds of ASCII text are
    often the same array (`starts is nstarts`).
    """

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64, source offsets
    ends: np.ndarray
    norm: np.ndarray  # code points of the normalised text (uint8 for ASCII, else uint32)
    nstarts: np.ndarray
    nends: np.ndarray
    # tokens that hid behind invisible characters or lookalike letters (indices; see `tampered_tokens`)
    tampered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    halves: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    unsegmented: int = 0
    # Latin words with a stray glued to their start or end (``heldж``, ``한batch``: at most TAIL_CHARS
    # characters of a script beyond Latin, a word of one Latin letter or more): rows of (token, where
    # the word starts in `norm`, where it ends). The fingerprint tier reads the text around them with
    # the word alone as well (Korean particles glued to a brand name, ``Samsung은``, are read so too)
    tails: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    # tokens drawn in symbols that read as letters alone (a flag ``🇬🇧``, ``™``, ``🅰🅱``, ``ⓘ``), with
    # no token so drawn beside them. Read as letters (fancy text is written in them: ``gb``, ``tm``),
    # and a mark between two Latin words as a stray is (`marks`)
    symbol_words: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.hashes)

    def text_of(self, i: int) -> str:
        chars = self.norm[self.nstarts[i] : self.nends[i]]
        return chars.tobytes().decode("ascii" if chars.dtype == np.uint8 else "utf-32-le")

    @cached_property
    def sentence_flags(self) -> np.ndarray:
        """SENTENCE per token (uint8), computed on first use: only the rewrite tier needs it."""
        return _sentence_flags(self.norm, self.nstarts, self.nends)

    @cached_property
    def sentence_starts(self) -> np.ndarray:
        """The tokens flagged SENTENCE (int64, ascending), without a flag array where the C
        speedups can list them."""
        native = speedups.native
        if "sentence_flags" in self.__dict__ or len(self) == 0 or native is None \
                or self.norm.dtype not in (np.uint8, np.uint32):
            return np.flatnonzero(self.sentence_flags & SENTENCE)
        listed = native.sentence_flags(np.ascontiguousarray(self.norm), np.ascontiguousarray(self.nstarts, dtype=np.int64),
                                       np.ascontiguousarray(self.nends, dtype=np.int64), None, SENTENCE)
        return np.frombuffer(listed, dtype=np.int64)

    @cached_property
    def flags(self) -> np.ndarray:
        """SENTENCE | DIGITS per token (uint8), computed on first use."""
        return self.sentence_flags | _digit_flags(self.norm, self.nstarts, self.nends)

    def digits_only(self, positions: np.ndarray) -> np.ndarray:
        """Whether each token at `positions` is made of ASCII digits only (reads only those tokens)."""
        if "flags" in self.__dict__:
            return (self.flags[positions] & DIGITS) != 0
        lengths = (self.nends[positions] - self.nstarts[positions]).astype(np.int64)
        if len(positions) == 0 or int(lengths.sum()) == 0:
            return np.zeros(len(positions), dtype=bool)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        chars = self.norm[np.repeat(self.nstarts[positions], lengths) + np.arange(int(lengths.sum()))
                          - np.repeat(offsets, lengths)]
        not_digit = ((chars - chars.dtype.type(48)) >= 10).astype(np.int64)
        return np.add.reduceat(not_digit, offsets) == 0

    @cached_property
    def lengths(self) -> np.ndarray:
        """Normalised length of every token, in code points."""
        return self.nends - self.nstarts

    def sentence_ids(self) -> np.ndarray:
        """Sentence number of every token (0-based, int64)."""
        if len(self.flags) == 0:
            return np.zeros(0, dtype=np.int64)
        ids = np.cumsum((self.flags & SENTENCE) != 0, dtype=np.int64) - 1
        return np.maximum(ids, 0)

    @cached_property
    def marks(self) -> np.ndarray:
        """Numbers glued to a word, computed on first use: footnote numbers written without
        superscript (``the process1 of cooling2``, ``was added.3``, as text copied out of a PDF
        reads), and numbers an evader glues to words or puts in place of spaces (``4process``,
        ``the1process2of3cooling``). A digit token is one when a word (``a3`` too) touches it on
        either side (or the punctuation that ends such a word does, on its left).
        Such a token is a number all the same (``windows10``, ``sha256``, ``2nd``): the tokens
        keep it, and the fingerprint tier reads the text both ways (`without_marks`); as the
        other reading only drops numbers, it can only find words that are there (``F16`` is
        read ``f`` as well). A number standing between two words is one too (``the 12 process``,
        ``cooling.,;: 7 of``): one after every word leaves no shingle of the text. A number here
        is a digit token or a run of them joined by one character each that is not blank (a
        time, ``held 8:07 for``, a date, a phone number glued on: ``held+1-713-853-0100``), and
        every token of it is a mark. A number beside another across a blank (``10 am``, ``713 853
        0100``) is not. So is a stray: a token of STRAY_CHARS
        characters or fewer of a script beyond Latin between two Latin words (``the 日 batch``,
        ``together𠀀 into``, ``held ж for``), or one that hid behind lookalikes there (``held α
        for``: α reads a), which an evader can put after every word as well (quoted Greek or
        Japanese stands beside words of its own script). Like every cut, it depends on the
        words alone."""
        n = len(self)
        if n < 2:
            return _NO_INT
        marks = self._numbers_and_strays()
        hidden = np.union1d(self.tampered, self.symbol_words) if len(self.symbol_words) else self.tampered
        tampered = hidden[(hidden > 0) & (hidden < n - 1)]
        if len(tampered) == 0:
            return marks
        def first(t: np.ndarray) -> np.ndarray:
            return self.norm[self.nstarts[t]]

        def near(a: np.ndarray) -> np.ndarray:  # the gap after token a
            return self.nstarts[a + 1] - self.nends[a] <= BETWEEN_GAP

        def passed(t: np.ndarray) -> np.ndarray:  # a number, or a stray (``held 🇬🇧 7 for``, ``held 🇬🇧 ж for``)
            return (first(t) - first(t).dtype.type(48) < 10) | _stray_shaped(self.norm, self.nstarts[t], self.nends[t])

        # the words on either side, a number or a stray between perhaps: passed over
        lo, hi = tampered - 1, tampered + 1
        skip_lo = (lo > 0) & passed(lo)
        skip_hi = (hi < n - 1) & passed(np.minimum(hi, n - 1))
        words = np.stack([np.where(skip_lo, lo - 1, lo), np.where(skip_hi, hi + 1, hi)])
        latin = ((first(words) < LATIN_END) & ((first(words) - first(words).dtype.type(48)) >= 10)).all(axis=0)
        latin &= ~among(words[0], hidden) & ~among(words[1], hidden)
        short = (self.nends[tampered] - self.nstarts[tampered] <= STRAY_CHARS) | among(tampered, self.symbol_words)
        disguised = tampered[latin & short & near(lo) & near(tampered) & (~skip_lo | near(words[0]))
                             & (~skip_hi | near(np.minimum(hi, n - 2)))]
        return np.union1d(marks, disguised).astype(np.int64, copy=False) if len(disguised) else marks

    @cached_property
    def joins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Words cut in pieces by marks inside them (``t4he``, ``pro7ce日ss``, ``pro7日cess``: the
        tokeniser cuts at a digit, and a CJK character is a token of its own), computed on first
        use: (the first token of each such word, its last token, the unkeyed hash of its pieces
        joined, ``the``; and the later pieces of them all, ascending). A word here is a chain of
        pieces that are not marks, each two with up to JOIN_MARKS marks side by side between
        them, glued to each other or joined by one character that is not blank each
        (``wo8:07rd``), and nothing else: no blank, no punctuation next to a piece (``e-4-mail``
        is three words). The fingerprint tier reads the text around them with each such word
        whole, its marks and later pieces left out. Chains joined longer than JOIN_CHARS are no
        word (hex dumps, ``a1b2c3...``). Such words are rare in mail (some 1,000 in 10 MB:
        ``w3c``, ``Win32IE``, hex colours), and the tokens do not change: a registered ``b2b`` is
        still found as written."""
        n, marks = len(self), self.marks
        none = _NO_INT, _NO_INT, np.zeros(0, dtype=np.uint64), _NO_INT
        norm, nstarts, nends = self.norm, self.nstarts, self.nends
        # groups of marks side by side (``8:07``), listed with the marks (`_glued`), glued to the
        # pieces on either side
        if len(marks) == 0:
            return none
        groups = self._glued[2].reshape(-1, 2)  # (of the marks found in one pass: `marks` adds a few
        first, last = groups[:, 0], groups[:, 1]  # that hid behind lookalikes, which stand alone)
        glued = (last < n - 1) & ~among(first - 1, marks) & ~among(last + 1, marks)
        glued[glued] = _touching(norm, nends[last[glued]], nstarts[last[glued] + 1])
        first, last = first[glued], last[glued]
        ends = norm[nstarts[np.concatenate((first - 1, last + 1))]]
        word = ((ends - ends.dtype.type(48)) >= 10).reshape(2, -1).all(axis=0)  # pieces, not numbers
        first, last = first[word], last[word]
        if len(first) == 0:
            return none
        starts = np.append(True, first[1:] != last[:-1] + 2)  # a chain goes on where one piece joins two groups
        chain = np.cumsum(starts) - 1
        lo, hi = first[starts] - 1, last[np.append(starts[1:], True)] + 1  # each chain's first and last token
        gaps = np.bincount(chain, weights=nstarts[last + 1] - nends[first - 1]).astype(np.int64)  # between its pieces
        length = nends[hi] - nstarts[lo] - gaps
        keep = length <= JOIN_CHARS
        if not keep.any():
            return none
        lo, hi, later = lo[keep], hi[keep], last[keep[chain]] + 1
        count = np.bincount(chain, minlength=len(keep))[keep] + 1  # (a piece more than the groups of marks)
        return lo, hi, self._pieces_hashes(merged(lo, later), count), later

    @cached_property
    def splits(self) -> np.ndarray:
        """Words cut in pieces by up to SPLIT_CHARS characters each that are not blank, all the
        same or all beyond ASCII where more than one (``mole-cular``, ``mole.cular``,
        ``mole🙂🙂cular``, ``mo-le-cu-la-r``; markup, ``a="b``, is none), computed on first
        use: rows of (its first token, its last), ascending (`split_hashes` joins them). A word
        here stands between blanks and has two to SPLIT_PIECES pieces, each Latin and no number.
        In mail they are contractions (``don't``: an evader writes ``ha've``), hyphenated words,
        ``e-mail``, ``and/or``, host names, some 40,000 in 10 MB, and the fingerprint tier reads
        them joined only where they come close together or where a run stops."""
        return self._glued[1].reshape(-1, 2)

    def split_hashes(self, rows: np.ndarray) -> np.ndarray:
        """The unkeyed hash of each word of `splits` (rows of first and last token), its pieces
        joined (``molecular``)."""
        count = rows[:, 1] - rows[:, 0] + 1
        pieces = np.repeat(rows[:, 0], count) + (np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count))
        return self._pieces_hashes(pieces, count)

    @cached_property
    def blank_cuts(self) -> np.ndarray:
        """Words cut in two by blanks (``mole cular``, ``str ucture``, ``t he``: a space, a no-break
        or thin space, a tab, a line break; up to CUT_BLANKS side by side, a mark of punctuation
        among them: ``mole- cular``), computed on first use: rows of (its first token, its
        second), ascending, no token in two. A pair is one when it has that shape (`_cut_shape`),
        one of its tokens is no common English word (CUT_PIECE_COST, or CUT_SHORT_COST for one or
        two letters) and the two together are a word of the English word table of `spacing`
        (CUT_WORD_COST): a word the table lacks (a name, a code word) is not found cut so, nor one
        cut into two common words (``any one``). Mail holds some 6,000 in 10 MB: words that were
        cut indeed (``acti on``), possessives and contractions that lost their apostrophe
        (``william s``, ``don t be``); the fingerprint tier looks up those close together only."""
        lo, costs = self.cut_candidates
        if len(lo) == 0:
            return _NO_HALVES
        lo = _apart_pairs(lo, self.nends[lo + 1] - self.nstarts[lo + 1] + self.nends[lo] - self.nstarts[lo], costs)
        return np.stack((lo, lo + 1), axis=1)

    @cached_property
    def cut_candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(the first token of each pair that is a word cut by a blank, the cost of its word), before
        `blank_cuts` decides between pairs that share a token. `tokenise` lists them as it makes
        the tokens, their arrays still in the processor's cache (listed later, the C pass took
        twice as long), and `concatenate` and `tail` carry them."""
        return _cut_candidates(self, 0, len(self) - 1)

    def _pieces_hashes(self, pieces: np.ndarray, count: np.ndarray) -> np.ndarray:
        """The unkeyed hash of each word made of `count` tokens of `pieces` in turn (ascending
        token indices), their characters joined, as a token with those characters hashes."""
        sizes = self.nends[pieces] - self.nstarts[pieces]
        offsets = np.cumsum(sizes) - sizes
        chars = self.norm[np.repeat(self.nstarts[pieces] - offsets, sizes) + np.arange(int(sizes.sum()))]
        length = np.add.reduceat(sizes, np.cumsum(count) - count) if len(count) else sizes
        firsts = np.cumsum(length) - length
        return span_hashes(chars, firsts, firsts + length)

    def _numbers_and_strays(self) -> np.ndarray:
        """`marks` but those that hid behind lookalikes."""
        return self._glued[0]

    @cached_property
    def _glued(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(`_numbers_and_strays`, the rows of `splits`, and the groups of those marks that touch
        the token before them, no mark (`_mark_groups`), as (first, last) rows), flattened, in one
        pass over the tokens."""
        norm, nstarts, nends = self.norm, self.nstarts, self.nends
        native = speedups.native
        if native is not None and norm.dtype in (np.uint8, np.uint32):  # one C pass over the tokens
            listed = native.glued_marks(np.ascontiguousarray(norm), np.ascontiguousarray(nstarts, np.int64),
                                        np.ascontiguousarray(nends, np.int64), GLUED_WORD, ATTACHED_GAP, BETWEEN_GAP,
                                        STRAY_CHARS, LATIN_END, True)
            return tuple(np.frombuffer(x, dtype=np.int64) for x in listed)
        first = norm[nstarts]
        digit = (first - first.dtype.type(48)) < 10
        d = np.flatnonzero(digit)  # few: the rest is read at those tokens only
        strays = _strays(norm, first, digit, nstarts, nends) if norm.dtype != np.uint8 else _NO_INT
        numbers = self._number_marks(digit, d) if len(d) else _NO_INT
        marks = np.union1d(numbers, strays).astype(np.int64, copy=False) if len(strays) else numbers
        return marks, _split_words(norm, nstarts, nends, digit), _mark_groups(norm, nstarts, nends, marks)

    def _number_marks(self, digit: np.ndarray, d: np.ndarray) -> np.ndarray:
        """`marks` that are numbers, from whether each token is one (`digit`) and which (`d`): every
        token of a number, a digit token or a run of them joined by one character that is not
        blank each (``8:07``, ``12/05/01``, ``+1-713-853-0100``), that touches a word or stands
        between two."""
        n, norm, nstarts, nends = len(self), self.norm, self.nstarts, self.nends
        if len(d) == 0:
            return _NO_INT
        linked = (d[1:] == d[:-1] + 1) & (nstarts[d[1:]] - nends[d[:-1]] == 1)
        linked[linked] = _attached(norm, nends[d[:-1][linked]], nstarts[d[1:][linked]])
        starts = np.append(True, ~linked)
        a, b = d[starts], d[np.append(~linked, True)]  # each number's first token and last
        mark = np.zeros(len(a), dtype=bool)
        # each number beside its neighbour on either side: (the gap's first character, its end)
        for side, t in ((-1, a), (1, b)):
            word = np.clip(t + side, 0, n - 1)
            t_start, t_end, w_start, w_end = nstarts[t], nends[t], nstarts[word], nends[word]
            lo, hi = np.minimum(w_end, t_end), np.maximum(w_start, t_start)
            near = np.flatnonzero((t + side == word) & ~digit[word] & (w_end - w_start >= GLUED_WORD)
                                  & (hi - lo <= ATTACHED_GAP))
            mark[near[_attached(norm, lo[near], hi[near])]] = True
        # a number standing between two words (``the 12 process``, ``cooling.,;: 7 of``, ``held 8:07
        # for``): an evader can put one after every word, and no shingle of the text is left
        inner = (a > 0) & (b < n - 1)
        left, right = np.where(inner, a - 1, 0), np.where(inner, b + 1, 0)
        mark |= inner & ~digit[left] & ~digit[right] & (nstarts[a] - nends[left] <= BETWEEN_GAP) \
            & (nstarts[right] - nends[b] <= BETWEEN_GAP)
        return d[mark[np.cumsum(starts) - 1]].astype(np.int64, copy=False)  # in order, each once

    @cached_property
    def citations(self) -> np.ndarray:
        """Numbers in brackets that were read as citation marks (``[12]``; `_drop_citations`), for
        the readers that need them as words too (a part number written ``BF [220]``): rows of
        (the token after the mark, unkeyed hash of its number), computed on first use."""
        norm = self.norm
        opening = np.flatnonzero(norm == 91)
        if len(opening) == 0:
            return np.zeros((0, 2), dtype=np.uint64)
        n = len(norm)

        def at(i: np.ndarray) -> np.ndarray:  # the code point at each position, -1 past the end
            return np.where(i < n, norm[np.minimum(i, n - 1)].astype(np.int64), -1)

        a = opening + 1 + (at(opening + 1) == 32)
        digits = np.zeros(len(opening), dtype=np.int64)
        going = np.ones(len(opening), dtype=bool)
        for k in range(4):
            c = at(a + k)
            going &= (c >= 48) & (c <= 57)
            digits += going
        e = a + digits
        close = e + (at(e) == 32)
        ok = (digits >= 1) & (digits <= 3) & (at(close) == 93)
        if not ok.any():
            return np.zeros((0, 2), dtype=np.uint64)
        a, e, close = a[ok], e[ok], close[ok]
        after = np.searchsorted(self.nstarts, close + 1).astype(np.uint64)
        return np.stack([after, span_hashes(norm, a, e)], axis=1)

    def without_marks(self) -> "Tokens":
        """The other reading of a text whose words carry glued numbers (``the process1 of
        cooling2``): the same tokens less the `marks`. Offsets still point at the source."""
        if len(self.marks) == 0:
            return self
        keep = np.ones(len(self), dtype=bool)
        keep[self.marks] = False
        return self.kept(keep)

    def kept(self, keep: np.ndarray) -> "Tokens":
        """The tokens where `keep` (a mask) is true, in order. Offsets still point at the source."""
        return self.taken(np.flatnonzero(keep))

    def tail(self, first: int) -> "Tokens":
        """The tokens from `first` on, their normalised text re-based to start at 0, in arrays of
        their own (not views that would keep the whole of these alive)."""
        if first >= len(self):
            return EMPTY
        n0 = int(self.nstarts[first])
        tail = replace(self, hashes=self.hashes[first:].copy(), starts=self.starts[first:].copy(),
                       ends=self.ends[first:].copy(), norm=self.norm[n0:].copy(), nstarts=self.nstarts[first:] - n0,
                       nends=self.nends[first:] - n0, tampered=self.tampered[self.tampered >= first] - first,
                       halves=self.halves[self.halves[:, 0] >= first] - np.array([first, n0], dtype=np.int64),
                       tails=self.tails[self.tails[:, 0] >= first] - np.array([first, n0, n0], dtype=np.int64),
                       symbol_words=self.symbol_words[self.symbol_words >= first] - first,
                       unsegmented=0)  # (reported with the window before)
        if "cut_candidates" in self.__dict__:
            lo, costs = self.cut_candidates
            tail.__dict__["cut_candidates"] = (lo[lo >= first] - first, costs[lo >= first])
        return tail

    def taken(self, at: np.ndarray) -> "Tokens":
        """The tokens at the ascending distinct indices `at`, in order (a few of many: gathered,
        not a mask over all of them). Offsets still point at the source."""
        tampered = self.tampered[among(self.tampered, at)] if len(self.tampered) else self.tampered
        halves = self.halves[among(self.halves[:, 0], at)] if len(self.halves) else self.halves
        tails = self.tails[among(self.tails[:, 0], at)] if len(self.tails) else self.tails
        flags = self._symbol_words_in(at, at)
        starts, ends = self.starts[at], self.ends[at]  # (gathered once where they are one array: ASCII)
        return Tokens(self.hashes[at], starts, ends, self.norm, starts if self.nstarts is self.starts else self.nstarts[at],
                      ends if self.nends is self.ends else self.nends[at],
                      np.searchsorted(at, tampered),
                      np.stack([np.searchsorted(at, halves[:, 0]), halves[:, 1]], axis=1) if len(halves) else halves,
                      self.unsegmented,
                      np.column_stack([np.searchsorted(at, tails[:, 0]), tails[:, 1:]]) if len(tails) else tails, flags)

    def split(self, at: np.ndarray, pairs: bool = True) -> tuple["Tokens", np.ndarray]:
        """The tokens at the ascending distinct indices `at`, each of them that is one of the
        `tails` read as its word alone (``heldж`` as held) and, with `pairs`, each that is one
        of the `halves` read as its two words (``TheFederal ReserveHead`` as four; a tail only
        when the cut leaves two characters or more of its word on either side:
        ``VirusesWrittenж``), and the token of this text each comes from (int64, ascending: a
        split token's two words repeat it). A half's source bounds are its own where the word's
        source and normalised lengths agree, the whole token's otherwise (a word joined at a
        line break, a tail)."""
        rows = self.halves[among(self.halves[:, 0], at)] if pairs else _NO_HALVES
        tails = self.tails[among(self.tails[:, 0], at)] if len(self.tails) else self.tails
        if len(rows) == 0 and len(tails) == 0:
            return self.taken(at), at
        lo, hi, alone = self._pair_words(rows)
        rows, lo, hi = rows[~alone], lo[~alone], hi[~alone]
        split = among(at, rows[:, 0])
        origin = np.repeat(at, 1 + split)
        hashes, starts, ends = self.hashes[origin], self.starts[origin], self.ends[origin]
        nstarts, nends = self.nstarts[origin], self.nends[origin]
        if len(tails):
            place = np.searchsorted(origin, tails[:, 0])
            hashes[place] = latin_hashes(self.norm, tails[:, 1], tails[:, 2])  # (as `tail_hashes`)
            nstarts[place], nends[place] = tails[:, 1], tails[:, 2]
        if len(rows):
            first = np.flatnonzero(split) + np.arange(len(rows))  # where each split token's first word lands
            cut = rows[:, 1]
            nstarts[first], nends[first], nstarts[first + 1], nends[first + 1] = lo, cut, cut, hi
            halves = span_hashes(self.norm, np.stack([lo, cut]).T.ravel(), np.stack([cut, hi]).T.ravel())
            hashes[first], hashes[first + 1] = halves[0::2], halves[1::2]
            exact = (ends[first] - starts[first]) == (hi - lo)
            source_cut = starts[first] + (cut - lo)
            ends[first[exact]], starts[first[exact] + 1] = source_cut[exact], source_cut[exact]
        tampered = self.tampered[among(self.tampered, at)] if len(self.tampered) else self.tampered
        tampered = np.searchsorted(origin, tampered)  # (a split token's first word)
        flags = self._symbol_words_in(at, origin)
        return Tokens(hashes, starts, ends, self.norm, nstarts, nends, tampered, _NO_HALVES, self.unsegmented,
                      symbol_words=flags), origin

    def _symbol_words_in(self, at: np.ndarray, numbered: np.ndarray) -> np.ndarray:
        """`symbol_words` among the tokens `at`, numbered as they stand in `numbered` (ascending)."""
        if len(self.symbol_words) == 0:
            return self.symbol_words
        return np.searchsorted(numbered, self.symbol_words[among(self.symbol_words, at)])

    def _pair_words(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where the word that each of `rows` (of `halves`) cuts in two starts and ends in `norm`:
        the token's bounds, or, where a stray is glued to the token (`tails`), the bounds of the
        word without it when the cut leaves two characters or more of it on either side
        (``VirusesWrittenж``); and whether the stray's word is read instead of the pair (the cut
        is at the stray or beside it: ``жViruses``)."""
        which, cut = rows[:, 0], rows[:, 1]
        lo, hi = self.nstarts[which], self.nends[which]  # (gathered: copies)
        alone = np.zeros(len(rows), dtype=bool)
        if len(self.tails) and len(rows):
            both = np.flatnonzero(among(which, self.tails[:, 0]))
            row = np.searchsorted(self.tails[:, 0], which[both])
            inside = (cut[both] - self.tails[row, 1] >= 2) & (self.tails[row, 2] - cut[both] >= 2)
            lo[both[inside]], hi[both[inside]] = self.tails[row[inside], 1], self.tails[row[inside], 2]
            alone[both[~inside]] = True
        return lo, hi, alone

    def tail_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, unkeyed hash of the word alone) for the tokens in `tails` (``heldж``: held)."""
        if len(self.tails) == 0:
            return _NO_INT, np.zeros(0, dtype=np.uint64)
        return self.tails[:, 0], latin_hashes(self.norm, self.tails[:, 1], self.tails[:, 2])

    def half_hashes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tokens, unkeyed hash of the first word, of the second) for the tokens in `halves` (of a
        pair with a stray glued to it, the words without the stray: ``TheBatchж``)."""
        if len(self.halves) == 0:
            return _NO_INT, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
        which, cut = self.halves[:, 0], self.halves[:, 1]
        lo, hi, _ = self._pair_words(self.halves)
        bounds = np.stack([lo, cut, cut, hi], axis=1).reshape(-1, 2)
        hashes = span_hashes(self.norm, bounds[:, 0], bounds[:, 1])
        return which, hashes[0::2], hashes[1::2]


EMPTY = Tokens(*(np.zeros(0, dtype=t) for t in (np.uint64, np.int64, np.int64, np.uint8, np.int64, np.int64)))


def tokenise_lines(texts: list[str]) -> tuple[Tokens, np.ndarray]:
    """Tokens of many short texts (terms, field values, words of a table) tokenised as one, a
    text per line (a line break inside a text is a blank), and the text each token is from:
    one tokeniser pass instead of one per text."""
    toks = tokenise("\n".join(t.replace("\n", " ").replace("\r", " ") for t in texts))
    line_starts = np.concatenate(([0], np.cumsum([len(t) + 1 for t in texts])[:-1])).astype(np.int64)
    return toks, np.searchsorted(line_starts, toks.starts, side="right") - 1


def tokenise(text: str) -> Tokens:
    """Tokens of `text`, processed in slices cut at white space."""
    if len(text) <= CHUNK_CHARS:
        return _tokenise(text, 0, 0)
    pieces: list[Tokens] = []
    base = nbase = 0
    while base < len(text):
        end = _cut(text, base + CHUNK_CHARS)
        piece = _tokenise(text[base:end], base, nbase)
        pieces.append(piece)
        nbase += len(piece.norm)
        base = end
    return concatenate(pieces)


_BETWEEN = "\n\n00\n\n"  # between texts tokenised together: see `tokenise_many`


def tokenise_many(texts: Sequence[str]) -> list[Tokens]:
    """`tokenise` of each text, for many short ones (the documents of a registration batch).

    ASCII texts are tokenised together, up to CHUNK_CHARS at a time, and the tokens cut apart:
    NumPy's fixed cost per call, some forty calls per text, made tokenising 5 KB documents one
    by one six times slower than tokenising their text in one piece. The tokens are exactly
    those of each text alone: a blank line on each side of a two-digit token stands between two
    texts, so no rule reaches across (a hyphenated line break needs a letter on the next line,
    letter spacing single letters one character apart, and a letter-spaced run's neighbours
    are tokens of one letter), and a batch in which a tokeniser budget ran out is tokenised
    text by text (alone, each text has the whole budget)."""
    out: list[Tokens | None] = [None] * len(texts)
    group: list[int] = []
    size = 0
    for i, text in enumerate(texts):
        if len(text) > CHUNK_CHARS // 4 or not text.isascii():
            out[i] = tokenise(text)
            continue
        if group and size + len(text) > CHUNK_CHARS:
            _tokenise_group(texts, group, out)
            group, size = [], 0
        group.append(i)
        size += len(text) + len(_BETWEEN)
    _tokenise_group(texts, group, out)
    return out  # type: ignore[return-value]


def _tokenise_group(texts: Sequence[str], group: list[int], out: list) -> None:
    if len(group) < 2:
        for i in group:
            out[i] = tokenise(texts[i])
        return
    whole = _tokenise(_BETWEEN.join(texts[i] for i in group), 0, 0)
    if whole.unsegmented:
        for i in group:
            out[i] = tokenise(texts[i])
        return
    lengths = np.array([len(texts[i]) for i in group], dtype=np.int64)
    bases = np.concatenate(([0], np.cumsum(lengths[:-1] + len(_BETWEEN))))
    first = np.searchsorted(whole.starts, bases).tolist()
    end = np.searchsorted(whole.starts, bases + lengths).tolist()
    halves, tails = whole.halves, whole.tails
    half_at, half_end = np.searchsorted(halves[:, 0], first).tolist(), np.searchsorted(halves[:, 0], end).tolist()
    tail_at, tail_end = np.searchsorted(tails[:, 0], first).tolist(), np.searchsorted(tails[:, 0], end).tolist()
    for k, i in enumerate(group):
        a, b, base = first[k], end[k], int(bases[k])
        own = halves[half_at[k]:half_end[k]] - np.array([a, base]) if half_end[k] > half_at[k] else _NO_HALVES
        own_tails = tails[tail_at[k]:tail_end[k]] - np.array([a, base, base]) if tail_end[k] > tail_at[k] else _NO_TAILS
        starts, ends = whole.starts[a:b] - base, whole.ends[a:b] - base
        out[i] = Tokens(whole.hashes[a:b], starts, ends, whole.norm[base:base + int(lengths[k])],
                        starts if whole.nstarts is whole.starts else whole.nstarts[a:b] - base,
                        ends if whole.nends is whole.ends else whole.nends[a:b] - base, halves=own, tails=own_tails)


_NO_HALVES = np.zeros((0, 2), dtype=np.int64)
_NO_TAILS = np.zeros((0, 3), dtype=np.int64)


def tokenise_slice(text: str, offset: int, norm_offset: int) -> Tokens:
    """Tokens of one slice of a longer text, tokenised in one pass (the caller bounds its length),
    with offsets counted from where the slice starts in the text (`offset`) and in the
    normalised text of the slices before it (`norm_offset`): no copy to shift them after."""
    return _tokenise(text, offset, norm_offset)


def concatenate(pieces: list[Tokens]) -> Tokens:
    if not pieces:
        return EMPTY
    if len(pieces) == 1:
        return pieces[0]
    norm_dtype = np.uint32 if any(p.norm.dtype == np.uint32 for p in pieces) else np.uint8
    firsts = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    starts, ends = np.concatenate([p.starts for p in pieces]), np.concatenate([p.ends for p in pieces])
    whole = Tokens(
        hashes=np.concatenate([p.hashes for p in pieces]),
        starts=starts,
        ends=ends,
        norm=np.concatenate([p.norm.astype(norm_dtype, copy=False) for p in pieces]),
        # the same arrays where every piece's are (ASCII text: see _tokenise)
        nstarts=starts if all(p.nstarts is p.starts for p in pieces) else np.concatenate([p.nstarts for p in pieces]),
        nends=ends if all(p.nends is p.ends for p in pieces) else np.concatenate([p.nends for p in pieces]),
        tampered=np.concatenate([p.tampered + first for p, first in zip(pieces, firsts)]),
        halves=np.concatenate([p.halves + np.array([first, 0]) for p, first in zip(pieces, firsts)]),
        unsegmented=sum(p.unsegmented for p in pieces),
        tails=np.concatenate([p.tails + np.array([first, 0, 0]) for p, first in zip(pieces, firsts)]),
        symbol_words=np.concatenate([p.symbol_words + first for p, first in zip(pieces, firsts)]),
    )
    listed = [p.__dict__.get("cut_candidates") for p in pieces]
    if all(c is not None for c in listed):  # (and the pair across each seam)
        los, costs = [], []
        for piece, first, (lo, cost) in zip(pieces, firsts.tolist(), listed):
            if first > 0 and len(piece):
                seam = _cut_candidates(whole, first - 1, first)
                los.append(seam[0])
                costs.append(seam[1])
            los.append(lo + first)
            costs.append(cost)
        whole.__dict__["cut_candidates"] = (np.concatenate(los), np.concatenate(costs))
    return whole


def normalise_words(text: str) -> list[str]:
    """The normalised tokens of a short text (a term, a record field) as strings."""
    toks = tokenise(text)
    return [toks.text_of(i) for i in range(len(toks))]


def _cut(text: str, at: int) -> int:
    """An offset at or after `at` that falls on white space, so no token is split."""
    if at >= len(text):
        return len(text)
    for probe in range(at, min(len(text), at + 4096)):
        if text[probe].isspace():
            return probe
    return at  # a 4 KB run without white space: split it, the tokens were noise anyway


def _tokenise(text: str, base: int, nbase: int) -> Tokens:
    if text.isascii():
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        norm, kind, upper, small = _ascii_lower(raw)
        native = speedups.native
        runs = native.ascii_runs(raw, True, GLUED_LETTERS) if native is not None else None
        words = _words(_Layout(norm, kind, upper, None, None, small), text, runs)
        norm, nstarts, nends = words.norm, words.nstarts, words.nends
        hashes = _ascii_hashes(norm, nstarts, nends)
        # ASCII text is its own normalised text: where the offsets agree too (text that was
        # ASCII up to here), source and normalised bounds are the same arrays, made once
        starts, shifted_nends = _shifted(nstarts, base), _shifted(nends, nbase)
        same = base == nbase
        ends = shifted_nends if same and len(words.spans[0]) == 0 else words.ends(base)
        return _listed(Tokens(hashes, starts, ends, norm, starts if same else _shifted(nstarts, nbase), shifted_nends,
                              halves=_shift(words.halves, nbase), unsegmented=words.unsegmented), nbase)

    native = speedups.native
    wide_codes = None if native is None else np.frombuffer(native.wide_codes(text), dtype=np.uint32)
    if wide_codes is not None and not (wide_codes == _OVERRIDE).any():
        # (no right-to-left override, so nothing is shown in another order: the characters are
        # read from the str where it lies, not from a copy of it as UTF-32)
        order, reversed_spans, open_spans, source = None, [], [], None
        layout, hidden = _normalised(native, text, wide_codes)
    else:
        source = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        order, reversed_spans, open_spans = _visual_order(source)
        layout, hidden = _normalise(source if order is None else source[order])
        if order is not None:
            layout = replace(layout, source_of=order if layout.source_of is None else order[layout.source_of])
            hidden = order[hidden]
    words = _words(layout, None)
    norm, nstarts, nends = words.norm, words.nstarts, words.nends
    flags, drawn_tails = _NO_INT, _NO_TAILS
    drawing = _drawing(wide_codes if source is None else np.unique(source[source >= 128]))
    if len(drawing) and len(nstarts):
        codes = source if source is not None else np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        n = int(nends[-1])  # (each character up to the last token's end: drawn in such a symbol or not)
        drawn = among(codes[np.arange(n) if layout.source_of is None else layout.source_of[:n]], drawing)
        counts = np.concatenate(([0], np.cumsum(drawn)))
        flags = _symbol_words(drawn, counts, nstarts, nends)
        drawn_tails = _drawn_tails(drawn, counts, norm, nstarts, nends, words.spans[0])
    norm, folded = fold_confusable_tokens(norm, nstarts, nends)
    hashes, wide = _hashes_and_wide(norm, nstarts, nends)
    starts, ends = _source_spans(layout.source_of, nstarts, words.ends(), order is not None)
    tampered = tampered_tokens(starts, ends, hidden, len(text), folded, wide)
    if reversed_spans:  # words shown in an order other than the stored one are disguised
        tampered = np.union1d(tampered, _inside(starts, reversed_spans))
    tails = _tails(norm, nstarts, nends, wide)
    if len(drawn_tails):
        tails = _merged_tails(tails, drawn_tails)
    halves = words.halves
    if len(tails):
        halves = _with_tail_halves(layout, tails, halves, words.spans[0])
    toks = Tokens(hashes, starts + base, ends + base, norm, nstarts + nbase, nends + nbase, tampered,
                  _shift(halves, nbase), words.unsegmented, tails + np.array([0, nbase, nbase]) if nbase else tails,
                  flags)
    if open_spans:  # read as shown too, after the text as stored
        return concatenate([_listed(toks, nbase), _shown(text, open_spans, base, nbase + len(norm))])
    return _listed(toks, nbase)


def _listed(tokens: Tokens, nbase: int) -> Tokens:
    """`tokens` (of a slice whose text starts `nbase` characters into the normalised text), their
    `Tokens.cut_candidates` listed now, while their arrays are in the processor's cache."""
    tokens.__dict__["cut_candidates"] = _cut_candidates(tokens, 0, len(tokens) - 1, nbase)
    return tokens


_MOST_DRAWN = 12  # characters a token drawn in symbols has at most to be a mark (five flags: fancy text)


def _drawing(wide: np.ndarray) -> np.ndarray:
    """Which of the distinct code points `wide` (ascending) are symbols that read as letters
    (``™`` tm, ``🅰`` a, the regional-indicator letters of flags, ``ⓘ`` i): ascending."""
    return np.array([c for c in wide.tolist() if _draws_letters(c)], dtype=np.uint32)


@lru_cache(maxsize=None)
def _draws_letters(code: int) -> bool:
    ch = chr(code)
    return unicodedata.category(ch) == "So" and (
        code in _letterlike() or any(c.isalpha() for c in unicodedata.normalize("NFKC", ch)))


def _symbol_words(drawn: np.ndarray, counts: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """`Tokens.symbol_words`: the tokens of at most _MOST_DRAWN characters drawn in symbols that
    read as letters and nothing else, with no token so drawn beside them, from whether each
    normalised character is so drawn (`drawn`) and their running count (`counts`). A flag or a
    ``™`` after every few words is no word (``the 🇬🇧 batch``, read ``the gb batch``), though
    fancy text spells words in such letters (``🇹🇭🇪 🇧🇦🇹🇨🇭``)."""
    starts_drawn = drawn[nstarts]
    lengths = nends - nstarts
    every = (counts[nends] - counts[nstarts] == lengths) & (lengths <= _MOST_DRAWN)
    padded = np.concatenate(([False], starts_drawn, [False]))
    alone = ~padded[:-2] & ~padded[2:]  # (the tokens before and after it)
    return np.flatnonzero(every & alone).astype(np.int64)


def _drawn_tails(drawn: np.ndarray, counts: np.ndarray, norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray,
                 joined: np.ndarray) -> np.ndarray:
    """`Tokens.tails` of words with symbols that read as letters glued to their start or end
    (``coating🇬🇧`` reads coatinggb; ``Microsoft™``): rows of (token, where the word starts, where it
    ends) in the normalised text `norm`, at most _MOST_DRAWN such characters, none inside the
    word, and strays glued inside them taken off too (``🇬🇧жheld``: held); words joined across a
    break (`joined`, whose letters moved) are left out. From whether each normalised character
    is drawn so (`drawn`) and their running count (`counts`)."""
    n = len(drawn)
    some = np.flatnonzero(counts[nends] - counts[nstarts] > 0)
    some = some[~among(some, joined)] if len(joined) else some
    if len(some) == 0:
        return _NO_TAILS
    plain = np.flatnonzero(~drawn)  # (the characters read as they are)
    s, e = nstarts[some], nends[some]
    first = plain[np.minimum(np.searchsorted(plain, s), len(plain) - 1)] if len(plain) else e
    last = plain[np.maximum(np.searchsorted(plain, e) - 1, 0)] if len(plain) else s
    head, tail = first - s, e - 1 - last
    inside = (first < e) & (last >= s)  # (a character read as it is in the token)
    ok = inside & (head + tail == counts[e] - counts[s]) & (head + tail <= _MOST_DRAWN)
    lo, hi = (s + head)[ok], (e - tail)[ok]
    latin = np.concatenate(([0], np.cumsum(norm[:n] < LATIN_END)))
    strip = latin[hi] - latin[lo] > 0  # (a Latin word: a stray inside the symbols is taken off, a Cyrillic one kept)
    for _ in range(TAIL_CHARS):
        lo += strip & (norm[lo] >= LATIN_END) & (hi - lo > 1)
        hi -= strip & (norm[hi - 1] >= LATIN_END) & (hi - lo > 1)
    return np.stack([some[ok], lo, hi], axis=1).astype(np.int64)


def _with_tail_halves(layout: _Layout, tails: np.ndarray, halves: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """`halves` and the pairs that the words of `tails` are once their strays are off: a stray
    glued before a pair makes a hump of its own (``жIsHeld``: ж, is, held), so the token was no
    pair and was read whole (found attacking stop 36). Words joined across a break (`joined`)
    and tokens that are a pair already are left as they are."""
    rows = tails[~among(tails[:, 0], halves[:, 0])] if len(halves) else tails
    rows = rows[~among(rows[:, 0], joined)] if len(joined) else rows
    rows = rows[rows[:, 2] - rows[:, 1] >= HALF_CHARS]
    if len(rows) == 0:
        return halves
    upper, kind = layout.upper, layout.kind
    lengths = rows[:, 2] - rows[:, 1] - 1
    at = np.repeat(rows[:, 1] + 1 - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
    humped = upper[at] & (kind[at - 1] == LETTER) & ~upper[at - 1]  # (a capital after a small letter, in the word)
    if not humped.any():
        return halves
    # the words with a hump, their characters gathered into arrays of their own (few: no pass over the text)
    rows = rows[np.unique(np.repeat(np.arange(len(rows)), lengths)[humped])]
    sizes = rows[:, 2] - rows[:, 1]
    local = np.cumsum(sizes) - sizes  # (where each word starts in them)
    chars = np.repeat(rows[:, 1] - local, sizes) + np.arange(int(sizes.sum()))
    up = upper[chars]
    small = (kind[chars] == LETTER) & ~up
    humps = np.flatnonzero(up[1:] & small[:-1]) + 1
    humps = humps[~among(humps, local)]  # (a capital that starts a word follows the word before)
    word = np.searchsorted(local, humps, side="right") - 1
    _, cuts = _camel_cuts_in(up, small, humps, local[word], local[word] + sizes[word])
    if len(cuts) == 0:
        return halves
    word = np.searchsorted(local, cuts, side="right") - 1
    more = np.stack([rows[word, 0], cuts - local[word] + rows[word, 1]], axis=1).astype(np.int64)
    both = np.concatenate((halves, more))
    return both[np.argsort(both[:, 0], kind="stable")]


def _merged_tails(tails: np.ndarray, more: np.ndarray) -> np.ndarray:
    """Two lists of `Tokens.tails` rows as one, by token; a token in both keeps what both take
    off (``жcoating🇬🇧``: coating)."""
    rows = np.concatenate((tails, more))
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    same = np.flatnonzero(rows[1:, 0] == rows[:-1, 0])
    if len(same):
        rows[same, 1] = np.maximum(rows[same, 1], rows[same + 1, 1])
        rows[same, 2] = np.minimum(rows[same, 2], rows[same + 1, 2])
        rows = np.delete(rows, same + 1, axis=0)
    return rows


def _shifted(bounds: np.ndarray, by: int) -> np.ndarray:
    return bounds + by if by else bounds


def _shift(halves: np.ndarray, nbase: int) -> np.ndarray:
    return halves + np.array([0, nbase]) if nbase and len(halves) else halves


def _source_spans(source_of: np.ndarray | None, starts: np.ndarray, ends: np.ndarray, unordered: bool):
    """Source offsets of each token from its bounds in the normalised characters: from its first
    character to its last (or, in text read out of storage order, from its smallest source offset
    to its largest)."""
    if len(starts) == 0 or source_of is None:
        return starts, ends
    if not unordered:
        return source_of[starts].astype(np.int64), source_of[ends - 1].astype(np.int64) + 1
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2], bounds[1::2] = starts, ends
    padded = np.append(source_of, 0)
    lo = np.minimum.reduceat(padded, bounds)[0::2]
    hi = np.maximum.reduceat(padded, bounds)[0::2]
    return lo.astype(np.int64), hi.astype(np.int64) + 1


def tampered_tokens(starts, ends, hidden, n_source, folded, wide) -> np.ndarray:
    """Tokens whose letters are ASCII once invisible characters are dropped or lookalikes folded.

    Persian, Indic or emoji text uses zero-width joiners legitimately, but inside their
    own scripts; an invisible character inside an ASCII word, or a Cyrillic letter in one,
    is someone hiding a word. Soft hyphens (hyphenation hints in web pages) are not counted.
    A word made only of lookalikes ("рау" for "pay") counts only in text that is mostly
    ASCII: in Russian or Greek text, "на" or "τα" are simply words.
    """
    mixed, pure = folded
    ascii_token = ~wide  # (`wide`: whether each token holds a character beyond ASCII, after folding)
    if len(pure) and ascii_token.mean() < 0.8:
        pure = pure[:0]
    if len(pure):  # a word of another script quoted in English stands among words of its own script
        pure = pure[~_near(np.flatnonzero(wide), pure, _OWN_SCRIPT_REACH)]
    folded = np.union1d(mixed, pure)
    if len(wide) == 0 or len(hidden) == 0:
        return folded.astype(np.int64)
    marks = np.zeros(n_source + 1, dtype=np.int64)
    marks[hidden] = 1
    marks = np.concatenate(([0], np.cumsum(marks[:-1])))
    inside = marks[ends] - marks[starts] > 0
    chosen = np.flatnonzero(inside & ascii_token)
    return np.union1d(chosen, folded).astype(np.int64)


_OWN_SCRIPT_REACH = 2  # words either side of a word made only of lookalikes in which one of its own script
# (a letter with no Latin lookalike) makes it a word of that script, not a disguise


def _near(anchors: np.ndarray, at: np.ndarray, reach: int) -> np.ndarray:
    """Whether each of the positions `at` has one of the ascending `anchors` within `reach` of it.

    `tampered_tokens` reads a word made only of lookalike letters (``рау``, ``της``) as disguise
    in mostly English text; but a Greek or Russian sentence quoted in an English mail is made
    of such words too (``της``, ``στα``, ``μέσα``, ``много``: Greek and Cyrillic share most
    small letters' shapes with Latin), between words with letters Latin lacks (``λόγω``,
    ``απεργίας``, ``дружеской``): next to those, a lookalike word is one of them (every such
    sentence of a cross-border mail was a disguise warning). A disguised English word stands
    between English ones, and a writer who puts a word of another script within two words of
    every disguised one writes two languages; the text folds to its Latin skeleton for matching
    all the same."""
    if len(anchors) == 0 or len(at) == 0:
        return np.zeros(len(at), dtype=bool)
    first = np.searchsorted(anchors, at - reach)  # the first anchor at or after at - reach
    return (first < len(anchors)) & (anchors[np.minimum(first, len(anchors) - 1)] <= at + reach)


def _runs(is_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the runs of True: transitions alternate start, end."""
    padded = np.zeros(len(is_word) + 2, dtype=bool)
    padded[1:-1] = is_word
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def _one_of(codes) -> Callable[[np.ndarray], np.ndarray]:
    """Membership in a small set of code points, by a table lookup: ``np.isin`` costs some 20 us
    a call whatever the size, and the tokeniser calls it for every document it reads."""
    table = np.zeros(max(codes) + 2, dtype=bool)  # the last entry: anything above the set
    table[list(codes)] = True
    top = len(table) - 1
    return lambda values: table[np.minimum(values, top)]


# -- from normalised characters to word bounds ----------------------------------------------

LETTER, DIGIT = 1, 2  # character classes of a layout (0: anything else)


@dataclass(frozen=True)
class _Layout:
    """The normalised characters of one slice, before they are cut into tokens."""

    norm: np.ndarray
    kind: np.ndarray  # uint8 per character: LETTER (letters, marks), DIGIT (0-9), 0 (anything else)
    upper: np.ndarray  # bool: came from an upper-case letter
    source_of: np.ndarray | None  # source offset of each character (None: the identity)
    singles: np.ndarray | None  # bool: characters that are tokens of their own (CJK), or None
    small: np.ndarray | None = None  # bool: small letters, when the caller has them at hand
    superscripts: np.ndarray | None = None  # positions of superscript digits, if any
    # where norm holds "[" and where a hyphen ("-", U+2010, a soft hyphen), when the pass that made
    # it listed them (`_normalised`): the citation marks and broken words are looked for there only
    brackets: np.ndarray | None = None
    dashes: np.ndarray | None = None

    def letters(self, at: np.ndarray) -> np.ndarray:
        return self.kind[at] == LETTER

    def smalls(self, at: np.ndarray) -> np.ndarray:
        return (self.kind[at] == LETTER) & ~self.upper[at]


def _remove(array: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """`array` without the elements at the sorted positions `drop` (a few: copied slice by slice)."""
    if len(drop) > 1000:
        keep = np.ones(len(array), dtype=bool)
        keep[drop] = False
        return array[keep]
    bounds = zip(np.concatenate(([0], drop + 1)).tolist(), np.concatenate((drop, [len(array)])).tolist())
    return np.concatenate([array[a:b] for a, b in bounds])


@dataclass(frozen=True)
class _Words:
    norm: np.ndarray  # the normalised characters, joined words made contiguous
    nstarts: np.ndarray  # token bounds in norm
    nends: np.ndarray
    # (tokens, where each ends in the layout's characters) of the tokens whose span ends after
    # their word in norm (joined words: blanks fill the rest); every other token ends where its word does
    spans: tuple[np.ndarray, np.ndarray]
    halves: np.ndarray  # (token, offset in norm) of the tokens that are two CamelCase words
    unsegmented: int  # letters of glued or letter-spaced runs past the budgets, left as they stand

    def ends(self, shift: int = 0) -> np.ndarray:
        """Where each token ends in the layout's characters, plus `shift` (a new array)."""
        ends = self.nends + shift
        ends[self.spans[0]] = self.spans[1] + shift
        return ends


def _words(layout: _Layout, text: str | None, runs: tuple | None = None) -> _Words:
    """Token bounds in the normalised text: runs of letters or of digits, glued CamelCase cut,
    then words the writer broke joined (citations dropped, hyphenated line breaks and
    letter-spaced words). `text` is the source when it is character for character the
    normalised text (ASCII), else None; `runs`, what the C pass `ascii_runs` listed for
    that text, if it ran.

    A joined word keeps its place: its letters are moved to the front of its span and the
    characters that separated them become blanks behind it, so no other token moves.
    """
    hyphens = None  # where words may be broken at line ends, when the C pass listed them
    if runs is None:
        layout, starts, ends, half_cuts = _first_cuts(layout, text)
    else:
        layout, starts, ends, half_cuts = _first_cuts_listed(layout, text, runs)
        hyphens = np.frombuffer(runs[3], dtype=np.int64)
    if runs is not None and len(runs) > 5 and len(starts) * 8 == len(runs[0]):  # (listed by the C pass, whose
        links, longs = (np.frombuffer(r, dtype=np.int64) for r in runs[5:7])  # tokens these still are: no citation
    else:  # dropped)
        links, longs = _links_and_long(starts, ends)
    glued, unsegmented = _glued_cuts(layout, starts, ends, longs)
    if len(glued) and layout.source_of is not None:  # never inside what one character became
        glued = glued[layout.source_of[glued] != layout.source_of[glued - 1]]
    if len(glued):
        cut_starts, cut_ends = merged(starts, glued), merged(ends, glued)
        links = _links_cut(links, starts, glued, cut_starts, cut_ends)
        starts, ends = cut_starts, cut_ends
    broken, (spaced, unspaced) = _broken_words(layout, starts, ends, hyphens), _letter_spacing(layout, starts, ends, links)
    unsegmented += unspaced
    joined = [j for j in (broken, spaced) if j is not None]
    norm, nends, spans = layout.norm, ends, (_NO_INT, _NO_INT)
    if joined:
        joined = distinct(np.concatenate(joined))
        # a word joined at one hyphenated line break may also be read as its two parts: its
        # first part keeps its place, so the second starts where the first ended
        two = broken[~among(broken, joined - 1) & ~among(broken, joined + 1)] if broken is not None else _NO_INT
        hyphen_cuts = ends[two]
        norm, starts, nends, spans = _join(norm, starts, ends, joined)
        if len(half_cuts):  # a half inside a joined word is no longer one
            at = _token_of(starts, half_cuts)
            half_cuts = half_cuts[half_cuts < nends[at]]
        if len(hyphen_cuts):
            half_cuts = np.sort(np.concatenate((half_cuts, hyphen_cuts)))
    if layout.singles is not None:
        singles = np.flatnonzero(layout.singles)
        order = np.argsort(np.concatenate((starts, singles)), kind="stable")
        starts = np.concatenate((starts, singles))[order]
        nends = np.concatenate((nends, singles + 1))[order]
        if len(spans[0]):  # the joined words' tokens moved too
            spans = (np.argsort(order)[spans[0]], spans[1])
    halves = np.zeros((0, 2), dtype=np.int64)
    if len(half_cuts):
        halves = np.stack([_token_of(starts, half_cuts), half_cuts], axis=1)
        # a token with two cuts (a CamelCase pair joined to a word at a soft hyphen) is no pair
        alone = np.ones(len(halves), dtype=bool)
        again = halves[1:, 0] == halves[:-1, 0]
        alone[1:] &= ~again
        alone[:-1] &= ~again
        halves = halves[alone]
    return _Words(norm, starts.astype(np.int64, copy=False), nends.astype(np.int64, copy=False),
                  (spans[0].astype(np.int64, copy=False), spans[1].astype(np.int64, copy=False)),
                  halves.astype(np.int64), unsegmented)


def _token_of(starts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The token each offset (in norm) lies in or after: the last one starting at or before it."""
    return ascending_searchsorted(starts, offsets, "right") - 1


def _first_cuts(layout: _Layout, text: str | None):
    """(layout without citations and footnote marks, token starts, token ends, cuts of the tokens
    that are two CamelCase words): runs of letters or of digits, glued CamelCase cut."""
    layout, _ = _drop_citations(layout, text)
    if layout.superscripts is not None:
        layout = _drop_footnotes(layout)
    kind = layout.kind
    native = speedups.native
    if native is not None and kind.dtype == np.uint8:  # (one C pass for the runs and the cuts)
        starts, ends, cuts = (np.frombuffer(r, dtype=np.int64) for r in native.kind_runs(np.ascontiguousarray(kind)))
    else:
        starts, ends = _runs(kind != 0)
        # cuts: where letters meet digits (a letter class 1 next to a digit class 2), and CamelCase
        cuts = np.flatnonzero(kind[1:] * kind[:-1] == LETTER * DIGIT) + 1
    camel, half_cuts = _camel_cuts(layout, starts, ends)
    if len(camel):  # never where letters meet digits: a merge of two sorted runs
        cuts = np.sort(np.concatenate((cuts, camel)), kind="stable")
    if layout.source_of is not None and len(cuts) + len(half_cuts):  # never inside what one character became
        cuts = cuts[layout.source_of[cuts] != layout.source_of[cuts - 1]]
        half_cuts = half_cuts[layout.source_of[half_cuts] != layout.source_of[half_cuts - 1]]
    if len(cuts):
        starts, ends = merged(starts, cuts), merged(ends, cuts)
    return layout, starts, ends, half_cuts


def _first_cuts_listed(layout: _Layout, text: str, runs: tuple):
    """`_first_cuts` of ASCII text from what the C pass listed (`ascii_runs`: tokens already cut
    where letters meet digits and where glued CamelCase words begin, and the half cuts): what
    is left is dropping citation marks, not passes over every character."""
    starts, ends, half_cuts = (np.frombuffer(r, dtype=np.int64) for r in runs[:3])
    layout, spans = _drop_citations(layout, text, np.frombuffer(runs[4], dtype=np.int64))
    if spans:  # their digits are no tokens (brackets, blanks, commas and dashes around them are none anyway)
        bounds = np.array(spans, dtype=np.int64)
        first, last = np.searchsorted(starts, bounds[:, 0]), np.searchsorted(starts, bounds[:, 1])
        keep = np.ones(len(starts), dtype=bool)
        for a, b in zip(first.tolist(), last.tolist()):
            keep[a:b] = False
        starts, ends = starts[keep], ends[keep]
    return layout, starts, ends, half_cuts


def _links_and_long(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tokens one character long followed, one character further on, by another such
    token (`_letter_spacing` reads them: the links of letter-spaced runs, spacers not yet
    read) and the tokens of GLUED_LETTERS or more (`_glued_cuts`), in one C pass where the
    speedups are built."""
    native = speedups.native
    if native is not None and starts.dtype == np.int64 and ends.dtype == np.int64:
        links, longs = native.links_and_long(np.ascontiguousarray(starts), np.ascontiguousarray(ends), GLUED_LETTERS)
        return np.frombuffer(links, dtype=np.int64), np.frombuffer(longs, dtype=np.int64)
    lengths = ends - starts
    one = np.flatnonzero(lengths == 1)
    a, b = one[:-1], one[1:]
    return a[(b == a + 1) & (starts[b] - ends[a] == 1)], np.flatnonzero(lengths >= GLUED_LETTERS)


def _links_cut(links: np.ndarray, starts: np.ndarray, cuts: np.ndarray, cut_starts: np.ndarray,
               cut_ends: np.ndarray) -> np.ndarray:
    """The links of `_links_and_long` once long tokens are cut into words at `cuts` (ascending,
    each inside a token of `starts`; `cut_starts`, `cut_ends`: the bounds after): a link and the
    token after it are one character long, never cut, so each stays a link, numbered on by the cuts
    before it; only the words of a cut token and the token before them are read again (a word cut
    off may be a letter one character from another). A pass over all the bounds again cost ~3 ms
    per 40 MB of mail."""
    cut = _token_of(starts, cuts)  # (ascending, as the cuts are)
    moved = links + np.searchsorted(cut, links, "left")
    tokens, count = np.unique(cut, return_counts=True)
    first = tokens + np.searchsorted(cut, tokens, "left")  # the first word of each cut token, after
    lo, size = np.maximum(first - 1, 0), count + np.minimum(first, 1) + 1  # (from the token before, to its last word)
    near = np.repeat(lo - (np.cumsum(size) - size), size) + np.arange(int(size.sum()))
    near = near[near + 1 < len(cut_starts)]
    one = (cut_ends[near] - cut_starts[near] == 1) & (cut_ends[near + 1] - cut_starts[near + 1] == 1) \
        & (cut_starts[near + 1] - cut_ends[near] == 1)
    return distinct(np.concatenate((moved, near[one])))


def _join(norm: np.ndarray, starts: np.ndarray, ends: np.ndarray, joined: np.ndarray):
    """Each token in `joined` (sorted indices) runs on through the next one: (norm with the
    letters of every joined word moved to the front of its span and blanks behind them,
    starts, ends of the words in norm, (the joined words, where their spans end)). `norm`,
    and where the C speedups are built `starts` and `ends`, are changed in place (they are
    this slice's own arrays)."""
    native = speedups.native
    if native is not None and starts.dtype == np.int64 and ends.dtype == np.int64 \
            and norm.dtype in (np.uint8, np.uint32) and starts.flags.writeable and ends.flags.writeable \
            and starts.flags.c_contiguous and ends.flags.c_contiguous:
        left, at, span = native.join_tokens(norm, starts, ends, np.ascontiguousarray(joined, dtype=np.int64))
        return norm, starts[:left], ends[:left], (np.frombuffer(at, dtype=np.int64), np.frombuffer(span, dtype=np.int64))
    chained = joined[1:] == joined[:-1] + 1  # token i + 1 runs on too
    heads = joined[np.append(True, ~chained)]
    tails = joined[np.append(~chained, True)] + 1
    members = tails - heads + 1  # tokens in each joined word
    first = np.cumsum(members) - members
    token = np.repeat(heads - first, members) + np.arange(int(members.sum()))  # the tokens of every joined word
    lengths = ends[token] - starts[token]
    group = np.repeat(np.arange(len(heads)), members)
    words = np.bincount(group, weights=lengths, minlength=len(heads)).astype(np.int64)  # letters of each word
    char_first = np.cumsum(lengths) - lengths
    source = np.repeat(starts[token] - char_first, lengths) + np.arange(int(lengths.sum()))
    word_first = np.cumsum(words) - words
    target = np.repeat(starts[heads] - word_first, words) + np.arange(int(words.sum()))
    spans = ends[tails] - starts[heads]
    span_first = np.cumsum(spans) - spans
    span = np.repeat(starts[heads] - span_first, spans) + np.arange(int(spans.sum()))
    letters = norm[source]  # norm is this slice's own array: changed in place
    norm[span] = 32
    norm[target] = letters
    word_end = starts[heads] + words
    at = heads - np.searchsorted(joined, heads)  # the joined words' numbers once the tokens run into are gone
    span = ends[tails]
    starts, nends = _remove(starts, joined + 1), _remove(ends, joined)
    nends[at] = word_end
    return norm, starts, nends, (at, span)


_CITATION = re.compile(r"\[ ?\d{1,3}(?: ?[,\u2013-] ?\d{1,3})* ?\]")


def _drop_citations(layout: _Layout, text: str | None, listed: np.ndarray | None = None
                    ) -> tuple[_Layout, list[tuple[int, int]]]:
    """Citation marks (``[3]``, ``[1, 4]``, ``[2-5]``) are not words: a number every few words
    would break every shingle of a quoted passage. Wherever they stand (how many a text holds
    must not matter: an excerpt with one of them must tokenise as its document does), so a
    number of up to three digits in brackets is never part of a term (``BF [220]``). Returns
    the layout with their characters of no class, and their spans. `listed`: in ASCII text, the
    "[" before a digit or a blank and a digit, as the C pass `ascii_runs` found them (42 of the
    8,085 "[" in 40 MB of mail), if it ran."""
    spans = []
    if listed is not None:
        for at in listed.tolist():
            match = _CITATION.match(text, at)
            if match is not None:
                spans.append(match.span())
    elif text is not None:  # ASCII: each "[" found by str.find (a few thousand in 40 MB of mail)
        at = text.find("[")
        while at >= 0:
            match = _CITATION.match(text, at)
            if match is not None:
                spans.append(match.span())
            at = text.find("[", at + 1)
    else:
        norm = layout.norm
        opening = layout.brackets if layout.brackets is not None else np.flatnonzero(norm == 91)
        after = norm[np.minimum(opening + 1, len(norm) - 1)]
        for at in opening[((after - after.dtype.type(48)) < 10) | (after == 32)].tolist():  # before a digit: few
            match = _CITATION.match(norm[at : at + 40].astype(np.uint32).tobytes().decode("utf-32-le", "replace"))
            if match is not None:
                spans.append((at, at + match.end() - match.start()))
    if not spans:
        return layout, spans
    kind = layout.kind.copy()
    for a, b in spans:
        kind[a:b] = 0
    return replace(layout, kind=kind), spans


_after_word = _one_of([ord(c) for c in ".,;:!?)]\"'\u2019\u201d\u00bb"])  # what a footnote mark may follow
ATTACHED_GAP = 3  # a number and a word this many punctuation characters apart, and no blank, touch
BETWEEN_GAP = 8  # a number this many characters or fewer from a word on either side stands between them
STRAY_CHARS = 3  # a token of a script beyond Latin this short between two Latin words is a stray (`Tokens.marks`)
TAIL_CHARS = 8  # characters beyond Latin glued to either end of a Latin word that are read off it (`Tokens.tails`:
# four Cyrillic letters, or the Arabic word one ligature makes, glued to every word let an excerpt through)
LATIN_END = 0x250  # code points below this are Latin (and ASCII): the words strays stand between
SPLIT_CHARS = 3  # characters that cut a word in two (`Tokens.splits`: ``mole--cular``) at most,
SPLIT_PIECES = 8  # into fewer pieces than this
JOIN_CHARS = 32  # pieces of a word cut by marks (`Tokens.joins`) are joined up to this many characters,
JOIN_MARKS = 8  # with up to this many marks side by side between two of them
CUT_PIECE_COST = 12.0  # a word cut in two by a blank (`Tokens.blank_cuts`: ``mole cular``) has a piece that
# is no English word this common (costs are minus log-probabilities: "mol" 15.8, "ess" 15.7, "ing" 12.6;
# "pro" 9.8 is a word) ...
CUT_SHORT_COST = 8.0  # ... or, of one or two letters, this common ("t" 10.8, "nd" 14.1; "to" 3.9, "us" 7.6),
CUT_WORD_COST = 18.0  # ... and its pieces together make a word of the table this common (all of it: the
# 150,000th word costs about 18; "adsorbed" 17.7)
CUT_MAX_LETTERS = 64  # (and no more: as the C pass joins them)
CUT_BLANKS = 3  # blanks side by side that cut a word (``mole  cular``, a space before a line break), one of
# them a mark of punctuation at most (``mole- cular``, ``mole . cular``)
CUT_CHAIN = 64  # pairs of such pieces in a chain (each sharing a token with the next) weighed at most


def _cut_candidates(tokens: Tokens, first: int, last: int, nbase: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`Tokens.cut_candidates` of the pairs (i, i + 1) for i from `first` to `last` (excluded), of
    tokens whose normalised bounds count `nbase` characters before their `norm` (a slice's)."""
    if last <= first:
        return _NO_INT, _NO_COSTS
    common, pairs, words = cut_tables(CUT_PIECE_COST, CUT_SHORT_COST, CUT_WORD_COST)
    native = speedups.native
    if native is not None and tokens.norm.dtype in (np.uint8, np.uint32):
        span = slice(first, last + 1)
        nstarts, nends = tokens.nstarts[span], tokens.nends[span]
        if nbase:
            nstarts, nends = nstarts - nbase, nends - nbase
        firsts, joined = native.blank_cuts(tokens.norm, np.ascontiguousarray(nstarts, dtype=np.int64),
                                           np.ascontiguousarray(nends, dtype=np.int64),
                                           np.ascontiguousarray(tokens.hashes[span], dtype=np.uint64), common, pairs,
                                           words)
        lo, joined = np.frombuffer(firsts, dtype=np.int64) + first, np.frombuffer(joined, dtype=np.uint64)
    else:  # (of those tokens only: a seam between two slices asks about one pair)
        span = slice(first, last + 1)
        some = replace(tokens, hashes=tokens.hashes[span], nstarts=tokens.nstarts[span], nends=tokens.nends[span])
        lo, joined = _blank_pairs(some, common, pairs, nbase)
        lo = lo + first
    if len(lo) == 0:  # (the word table itself read only now: most texts of a few words need none)
        return _NO_INT, _NO_COSTS
    hashes, costs = words_and_costs()
    if len(hashes) == 0:
        return _NO_INT, _NO_COSTS
    at = np.minimum(np.searchsorted(hashes, joined), len(hashes) - 1)
    word = (hashes[at] == joined) & (costs[at] < CUT_WORD_COST)
    return lo[word], costs[at[word]]


_NO_COSTS = np.zeros(0, dtype=np.float32)


def _blank_pairs(tokens: Tokens, common: np.ndarray, pairs: np.ndarray,
                 nbase: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """What the C pass `blank_cuts` lists: (the first token of each pair that `Tokens.blank_cuts`
    may hold, the hash of its two tokens' letters joined), before the table says which are words."""
    from ..fingerprint.bitmap import probe

    starts, ends, norm, hashes = tokens.nstarts - nbase, tokens.nends - nbase, tokens.norm, tokens.hashes
    high, low = pair_bits(pair_key(hashes[:-1], hashes[1:]))
    shift = np.uint64(64 - PAIR_BITS)  # (the bits as values whose top bits they are)
    lo = np.flatnonzero(probe(pairs, high << shift) & probe(pairs, low << shift))
    lo = lo[~(probe(common, hashes[lo]) & probe(common, hashes[lo + 1]))]
    lo = lo[_cut_shape(norm, starts, ends, lo)]
    chars, firsts, letters = _joined_letters(norm, starts, ends, lo)
    return lo, _ascii_hashes(chars.astype(np.uint8), firsts, firsts + letters)


def _apart_pairs(lo: np.ndarray, letters: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Of the pairs of tokens (lo, lo + 1) (ascending), those kept where pairs share a token: in
    each chain of such pairs, as many as can be kept apart, then those of the most letters and
    the most common words (``t he re sin``: "the" and "resin", not "here"; ``i s on ly``: "is"
    and "only", not "son"; ``t he t itanium``: "titanium", not "het"; ``when t he``: "the", not
    "whent"). Each chain is weighed on its own, a pair at a time across all chains at once; one
    of more than CUT_CHAIN pairs (text made of nothing else) keeps every other pair from its first."""
    linked = np.diff(lo) == 1
    if not linked.any():
        return lo
    first = np.flatnonzero(np.append(True, ~linked))  # the first pair of each chain
    length = np.diff(np.append(first, len(lo)))
    chain = np.repeat(np.arange(len(first)), length)
    at = np.arange(len(lo)) - first[chain]  # each pair's place in its chain
    keep = (length[chain] == 1) | ((length[chain] > CUT_CHAIN) & (at % 2 == 0))
    weighed = np.flatnonzero((length > 1) & (length <= CUT_CHAIN))
    if len(weighed):
        starts, sizes = first[weighed], length[weighed]
        weight = 1e6 + letters.astype(np.float64) - costs.astype(np.float64) / 2
        best = np.zeros((int(sizes.max()) + 1, len(weighed)))  # best[k]: the weight kept of a chain's first k pairs
        took = np.zeros((len(best) - 1, len(weighed)), dtype=bool)
        for k in range(1, len(best)):
            inside = sizes >= k
            taken = (best[k - 2] if k > 1 else 0.0) + weight[np.where(inside, starts + k - 1, 0)]
            took[k - 1] = inside & (taken > best[k - 1])
            best[k] = np.where(took[k - 1], taken, best[k - 1])
        k = sizes.copy()  # back from each chain's end: a pair kept where taking it made the best
        while (k > 0).any():
            live = np.flatnonzero(k > 0)
            kept = took[k[live] - 1, live]
            keep[starts[live[kept]] + k[live[kept]] - 1] = True
            k[live] -= np.where(kept, 2, 1)
    return lo[keep]


def cut_pairs(tokens: Tokens, lo: np.ndarray) -> np.ndarray:
    """Whether each pair of tokens (lo, lo + 1) may be a word cut by blanks, the word list aside
    (`_cut_shape`), of five letters or more. For the words of registered documents the list
    lacks (`detectors.documents`)."""
    return _cut_shape(tokens.norm, tokens.nstarts, tokens.nends, lo, least=5)


def _cut_shape(norm: np.ndarray, starts: np.ndarray, ends: np.ndarray, lo: np.ndarray, least: int = 0) -> np.ndarray:
    """Whether each pair of tokens (lo, lo + 1) (their bounds `starts`, `ends` in `norm`) has the
    shape of a word cut by blanks: both a-z only, `least` to CUT_MAX_LETTERS letters together, and
    blanks between them (`_cut_gap`)."""
    gap, letters = starts[lo + 1] - ends[lo], ends[lo] - starts[lo] + ends[lo + 1] - starts[lo + 1]
    ok = np.flatnonzero((gap >= 1) & (gap <= CUT_BLANKS) & (letters >= least) & (letters <= CUT_MAX_LETTERS))
    if len(ok):
        ok = ok[_cut_gap(norm, ends[lo[ok]], gap[ok])]
    if len(ok):
        chars, firsts, _ = _joined_letters(norm, starts, ends, lo[ok])
        ok = ok[np.add.reduceat((chars < 97) | (chars > 122), firsts) == 0]
    out = np.zeros(len(lo), dtype=bool)
    out[ok] = True
    return out


def _joined_letters(norm: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                    lo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the characters of each pair of tokens (lo, lo + 1) joined, as int64, where each pair's
    start, how many each pair has)."""
    pieces = np.stack((lo, lo + 1), axis=1).ravel()
    sizes = ends[pieces] - starts[pieces]
    chars = norm[np.repeat(starts[pieces] - (np.cumsum(sizes) - sizes), sizes) + np.arange(int(sizes.sum()))]
    letters = sizes[0::2] + sizes[1::2]
    return chars.astype(np.int64), np.cumsum(letters) - letters, letters


_GAP_MARKS = np.array([ord(c) for c in "-.,'\"():;/"] + list(range(0x2010, 0x2016)) + list(range(0x2018, 0x201E)))


def _cut_gap(norm: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Whether each of the spans of `norm` (`starts`, `sizes` of one or more) is blanks with one
    mark of punctuation among them at most (``mole cular``, ``mole- cular``): the C pass's cut_gap."""
    firsts = np.cumsum(sizes) - sizes
    chars = norm[np.repeat(starts - firsts, sizes) + np.arange(int(sizes.sum()))].astype(np.int64)
    blank = (chars == 32) | ((chars >= 9) & (chars <= 13)) | (chars == 0x85) | (chars == 0x2028) | (chars == 0x2029)
    mark = np.isin(chars, _GAP_MARKS)
    blanks, marks = np.add.reduceat(blank, firsts), np.add.reduceat(mark, firsts)
    return (np.add.reduceat(~(blank | mark), firsts) == 0) & (blanks > 0) & (marks <= 1)


def _tails(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray, wide: np.ndarray) -> np.ndarray:
    """`Tokens.tails` of tokens of code points, read only in the tokens with a character beyond
    ASCII (`wide`, a flag each): rows of (token, where its word starts, where it ends), the word
    being what is left of a token of Latin letters once at most TAIL_CHARS characters beyond
    Latin are taken off its start, its end or both (``жheldж``), and its Latin letters only
    (`latin_hashes`) where at most TAIL_CHARS more stand inside it (``moleжcular``: the word
    starts and ends with a Latin letter, two of them at least)."""
    which = np.flatnonzero(wide)
    if len(which) == 0:
        return _NO_TAILS
    # (only those with a character beyond Latin at an end and one short of it among the first
    # TAIL_CHARS + 1, or two characters or more, which may hold strays inside: a text in another
    # script is all wide tokens, and listing every character of them cost a Korean text a quarter
    # of its scan)
    lo, last = nstarts[which], nends[which] - 1
    maybe = (norm[lo] >= LATIN_END) | (norm[last] >= LATIN_END) | (last > lo)
    which, lo, last = which[maybe], lo[maybe], last[maybe]
    inside = norm[lo] < LATIN_END
    for step in range(1, TAIL_CHARS + 1):  # (each step reads the tokens still open and that long only)
        open_ = np.flatnonzero(~inside & (lo + step <= last))
        if len(open_) == 0:
            break
        inside[open_] = norm[lo[open_] + step] < LATIN_END
    which = which[inside]
    if len(which) == 0:
        return _NO_TAILS
    lengths = nends[which] - nstarts[which]
    offsets = np.cumsum(lengths) - lengths
    chars = norm[np.repeat(nstarts[which] - offsets, lengths) + np.arange(int(lengths.sum()))]
    beyond = np.flatnonzero(chars >= LATIN_END)
    if len(beyond) == 0:
        return _NO_TAILS
    tok = np.searchsorted(offsets, beyond, side="right") - 1  # (of `which`)
    listed, first, counts = np.unique(tok, return_index=True, return_counts=True)
    rank = np.arange(len(beyond)) - np.repeat(first, counts)  # (among its token's characters beyond Latin)
    at, size, count = beyond - offsets[tok], lengths[tok], np.repeat(counts, counts)
    head = np.add.reduceat((at == rank).astype(np.int64), first)  # the run at its start, the run at its end
    tail = np.add.reduceat((size - 1 - at == count - 1 - rank).astype(np.int64), first)
    size = lengths[listed]
    inner = counts - np.minimum(head + tail, counts)  # (a token all beyond Latin is its head and its tail)
    ok = (head <= TAIL_CHARS) & (tail <= TAIL_CHARS) & (size > counts) & ((inner == 0) | (
        (inner <= TAIL_CHARS) & (size - counts >= 2)))
    start = nstarts[which[listed]]
    rows = np.stack([which[listed], start + head, start + size - tail], axis=1)
    return rows[ok].astype(np.int64, copy=False)


def _split_words(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """The rows of `Tokens.splits`, flattened, in NumPy passes (the C pass of glued_marks lists
    them otherwise)."""
    m = len(nstarts)
    if m < 2:
        return _NO_INT
    latin = (norm[nstarts] < LATIN_END) & ~digit
    gap = nstarts[1:] - nends[:-1]
    blank = _BLANK[np.minimum(norm, len(_BLANK) - 1)] if norm.dtype != np.uint8 else _BLANK[norm]
    blanks = np.concatenate(([0], np.cumsum(blank)))  # (blanks before each offset)
    # each token linked to the next: both Latin, no numbers, one to SPLIT_CHARS characters apart, none
    # blank, and where more than one, all the same character or all beyond ASCII (not markup: ``="``)
    link = latin[:-1] & latin[1:] & (gap >= 1) & (gap <= SPLIT_CHARS) & (blanks[nstarts[1:]] == blanks[nends[:-1]])
    more = np.flatnonzero(link & (gap > 1))
    if len(more):
        at = nends[more]
        same, wide = np.ones(len(more), dtype=bool), np.ones(len(more), dtype=bool)
        for k in range(SPLIT_CHARS):
            inside = k < gap[more]
            c = norm[np.minimum(at + k, len(norm) - 1)]
            same &= ~inside | (c == norm[at])
            wide &= ~inside | (c >= 128)
        link[more[~(same | wide)]] = False
    cut = np.flatnonzero(link)
    if len(cut) == 0:
        return _NO_INT
    # a word in three pieces or more is cut the same way throughout (not an address: ``a/HOU/ECT@ECT``)
    sign = gap[cut].astype(np.int64)
    for k in range(SPLIT_CHARS):
        sign = sign * 0x110001 + np.where(k < gap[cut], norm[np.minimum(nends[cut] + k, len(norm) - 1)], 0x110000)
    starts = np.append(True, (cut[1:] != cut[:-1] + 1) | (sign[1:] != sign[:-1]))
    first, last = cut[starts], cut[np.append(starts[1:], True)] + 1
    before = np.where(first > 0, nends[np.maximum(first - 1, 0)], 0)
    after = last + 1 < m
    tail = np.where(after, nstarts[np.minimum(last + 1, m - 1)], 0)
    ok = ((first == 0) | (blanks[nstarts[first]] > blanks[before])) & (~after | (blanks[tail] > blanks[nends[last]])) \
        & (last - first < SPLIT_PIECES)
    return np.stack([first[ok], last[ok]], axis=1).ravel().astype(np.int64, copy=False)


def _mark_groups(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """(first, last) of each group of `marks` that touches the token before it, flattened (see
    glued_marks in C, which lists them otherwise): marks side by side, each touching the next or
    one character apart that is not blank, JOIN_MARKS at most."""
    first = marks[(marks > 0) & ~np.append(False, marks[1:] == marks[:-1] + 1)]
    first = first[_touching(norm, nends[first - 1], nstarts[first])]
    last, going = first.copy(), np.arange(len(first))
    for _ in range(JOIN_MARKS):
        going = going[among(last[going] + 1, marks)]
        going = going[nstarts[last[going] + 1] - nends[last[going]] <= 1]
        going = going[_attached(norm, nends[last[going]], nstarts[last[going] + 1])]
        if len(going) == 0:
            break
        last[going] += 1
    keep = last - first < JOIN_MARKS  # (a longer group is none)
    return np.stack([first[keep], last[keep]], axis=1).ravel().astype(np.int64, copy=False)


def _touching(norm: np.ndarray, ends: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Whether each token ending at `ends` touches the one starting at `starts`: nothing between
    them but a soft hyphen perhaps (invisible where the line goes on: ``mole\u00ad2cular`` shows
    as ``mole2cular``)."""
    gap = starts - ends
    touching = gap == 0
    one = np.flatnonzero(gap == 1)
    if len(one) and norm.dtype != np.uint8:
        touching[one] = norm[ends[one]] == 0xAD
    return touching


def _stray_shaped(norm: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each token [starts, ends) of `norm` is shaped as a stray: STRAY_CHARS characters
    or fewer, every one beyond Latin (``жaж`` is a word: a)."""
    shaped = (ends - starts <= STRAY_CHARS) & (norm[starts] >= LATIN_END)
    for step in range(1, STRAY_CHARS):
        shaped &= norm[np.minimum(starts + step, ends - 1)] >= LATIN_END
    return shaped


def _strays(norm: np.ndarray, first: np.ndarray, digit: np.ndarray, nstarts: np.ndarray,
            nends: np.ndarray) -> np.ndarray:
    """The tokens (indices) of at most STRAY_CHARS characters of a script beyond Latin (at either
    end: ``жis`` is a word with a stray glued to it), alone or two side by side (``ж ж``,
    ``日本``), between two Latin words (a token that starts or ends with a Latin letter, or has
    one among its first STRAY_CHARS + 1 characters: ``жadded ж only``, ``жheldж ж for``), a
    number between them and a word passed over (``added.ж7 only``, ``held ж 7 for``), each
    gap BETWEEN_GAP characters or fewer (`Tokens.marks`), from the normalised text, the first
    code point of every token and whether it is a number (`digit`)."""
    n = len(first)
    last = norm[nends - 1]
    pad = np.zeros(3, dtype=bool)  # (three tokens that are neither past either end)
    stray = np.concatenate((pad, _stray_shaped(norm, nstarts, nends), pad))
    # (a word with strays glued to both its ends, ``жheldж``, is a Latin word: the lone stray after
    # ``versa.ж`` stood between it and such a word, and was no mark: found attacking stop 36)
    word = (first < LATIN_END) | (last < LATIN_END)
    for step in range(1, STRAY_CHARS + 1):
        word |= norm[np.minimum(nstarts + step, nends - 1)] < LATIN_END
    latin = np.concatenate((pad, word & ~digit, pad))
    number = np.concatenate((pad, digit, pad))
    near = np.concatenate((pad, nstarts[1:] - nends[:-1] <= BETWEEN_GAP, pad, [False]))  # gap after token t
    i = np.arange(n) + 3  # (each token's place in the padded arrays)

    def left(a: np.ndarray) -> np.ndarray:  # a Latin word before the strays from a, a number between perhaps
        return ~stray[a - 1] & ((latin[a - 1] & near[a - 1])
                                | (number[a - 1] & latin[a - 2] & ~stray[a - 2] & near[a - 2] & near[a - 1]))

    def right(b: np.ndarray) -> np.ndarray:  # and one after the strays up to b
        return ~stray[b + 1] & ((latin[b + 1] & near[b])
                                | (number[b + 1] & latin[b + 2] & ~stray[b + 2] & near[b] & near[b + 1]))

    alone = stray[i] & left(i) & right(i)
    second = stray[i] & stray[i - 1] & left(i - 1) & right(i) & near[i - 1]
    first_of_two = np.append(second[1:], False)
    return np.flatnonzero(alone | second | first_of_two).astype(np.int64, copy=False)


def _attached(norm: np.ndarray, ends: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Whether each gap norm[ends:starts] between two tokens (at most ATTACHED_GAP long) is empty or
    punctuation, without a blank or a line break (``cooling2``, ``added.3``, ``word).4``)."""
    gap = starts - ends
    ok = np.ones(len(gap), dtype=bool)
    for k in range(ATTACHED_GAP):
        some = np.flatnonzero(ok & (gap > k))
        if len(some) == 0:
            break
        c = norm[ends[some] + k]
        if c.dtype != np.uint8:
            c = np.minimum(c, len(_BLANK) - 1)
        ok[some] = ~_BLANK[c]
    return ok


_BLANK = np.zeros(0x3002, dtype=bool)  # white space after NFKC, by code point (the last entry: anything above)
_BLANK[:33] = True
_BLANK[[0x85, 0x2028, 0x2029, 0x3000]] = True


def _drop_footnotes(layout: _Layout) -> _Layout:
    """Superscript digits right after a word or its punctuation, one or two of them, are a
    footnote mark or an exponent (``process¹``, ``x²``), not a word; other superscript digits
    are digits (a part number ``HX-⁴⁴⁷¹-B`` is still ``hx 4471 b``)."""
    at = layout.superscripts
    first = at[np.append(True, at[1:] != at[:-1] + 1)]
    last = at[np.append(at[1:] != at[:-1] + 1, True)]
    before = layout.norm[np.maximum(first - 1, 0)].astype(np.int64)
    mark = (last - first < 2) & (first > 0) & ((layout.kind[np.maximum(first - 1, 0)] == LETTER)
                                                | _after_word(before))
    if not mark.any():
        return layout
    kind = layout.kind.copy()
    for a, b in zip(first[mark].tolist(), last[mark].tolist()):
        kind[a : b + 1] = 0
    return replace(layout, kind=kind)


_BLANKS = _one_of([32, 9])
_QUOTED = _one_of([32, 9, 62])  # blanks and the ">" of a line quoted in a reply
_BREAK = _one_of([10, 11, 12, 13, 0x85, 0x2028, 0x2029])  # line feed, vertical tab, form feed, return, NEL,
# line and paragraph separators
LINE_PAD = 64  # blanks before a line break, and blanks and quote marks after it, that a broken word may
# have between its parts (a PDF's text pads lines; a reply quotes them: ``pig-<LF>> > ment``)


def _broken_words(layout: _Layout, nstarts: np.ndarray, nends: np.ndarray, listed: np.ndarray | None = None):
    """Words the writer broke: a hyphen at the end of a line between letters when the next line
    goes on with a small letter (``pig-\\n  ment``; not ``pig-\\nMent``), and a soft hyphen
    between two parts of a word or a number, at the end of a line or not. Returns the tokens to join to the
    next one (the hyphen, the line break and the blanks around it are dropped). `listed`: in
    ASCII text, the hyphens after a letter and before a blank or a line break, as the C pass
    `ascii_runs` found them (else they are looked for here)."""
    norm = layout.norm
    n = len(norm)
    if listed is not None:
        h = listed
    else:
        h = _hyphens(layout)
    if len(h) == 0:
        return None
    soft = norm[h] == _SOFT_HYPHEN
    # soft hyphens come in runs too, of any length (ASCII text has none)
    after_soft = _past(norm, h + 1, _SOFT_HYPHEN) if soft.any() else h + 1
    p = _skip(norm, np.where(soft, after_soft, h + 1), _BLANKS, LINE_PAD)
    c = norm[np.minimum(p, n - 1)].astype(np.int64)
    newline = _BREAK(c) & (p < n)
    p = np.where(newline, p + 1 + ((c == 13) & (norm[np.minimum(p + 1, n - 1)] == 10)), p)
    p = _skip(norm, p, _QUOTED, LINE_PAD)
    ok = (newline | (soft & (p == after_soft))) & (p < n)  # a soft hyphen then a blank is no break in a word
    h, p, soft = h[ok], p[ok], soft[ok]
    # a soft hyphen joins letters to letters and digits to digits (``19\u00ad88`` is 1988: between a
    # letter and a digit the tokens are cut anyway)
    ok = np.where(soft, layout.kind[p] == layout.kind[h - 1], layout.smalls(p))
    h, p = h[ok], p[ok]
    if len(h) == 0:
        return None
    return np.searchsorted(nends, h)  # the tokens that end at the hyphen (the next one starts at p)


def _hyphens(layout: _Layout) -> np.ndarray:
    """Hyphens (and soft hyphens) after a letter that may break a word: before a blank or a line
    break (a soft hyphen anywhere, after a digit too)."""
    norm = layout.norm
    n = len(norm)
    if layout.dashes is not None:  # (listed as the characters were made)
        hyphens = layout.dashes
    elif norm.dtype == np.uint8:
        hyphens = np.flatnonzero(norm == 45)
    else:
        hyphens = np.flatnonzero((norm == 45) | (norm == 0x2010) | (norm == _SOFT_HYPHEN))
    hyphens = hyphens[(hyphens > 0) & (hyphens + 1 < n)]
    after = norm[hyphens + 1].astype(np.int64)
    soft = norm[hyphens] == _SOFT_HYPHEN
    hyphens, soft = (a[_BLANKS(after) | _BREAK(after) | soft] for a in (hyphens, soft))
    return hyphens[layout.letters(hyphens - 1) | (soft & (layout.kind[hyphens - 1] == DIGIT))]


def _past(norm: np.ndarray, p: np.ndarray, char: int) -> np.ndarray:
    """Each position moved past the run of `char` that starts there, however long (a run
    shows as nothing: twenty soft hyphens inside a word must not split it)."""
    other = np.flatnonzero(norm != char)
    at = np.searchsorted(other, p)
    return np.where(at < len(other), other[np.minimum(at, len(other) - 1)], len(norm)) if len(other) else \
        np.full(len(p), len(norm), dtype=np.int64)


def _skip(norm: np.ndarray, p: np.ndarray, chars: Callable[[np.ndarray], np.ndarray], most: int) -> np.ndarray:
    """Each position moved past at most `most` of the characters `chars` (`_one_of`) holds."""
    for _ in range(most):
        inside = p < len(norm)
        c = norm[np.minimum(p, len(norm) - 1)].astype(np.int64)
        more = inside & chars(c)
        if not more.any():
            break
        p = p + more
    return p


_spacer = _one_of([32, 46, 45, 95, 42, 0xB7, 0x2022])  # blank . - _ * · •: what letters are spaced out with


def _letter_spacing(layout: _Layout, nstarts: np.ndarray, nends: np.ndarray, links: np.ndarray | None = None):
    """Letter-spaced runs read as words: the tokens to join to the next one.

    A run is three or more one-letter tokens one spacer apart (``c o a t``, ``c.o.a.t``), the
    same spacer all along; a run of two (``i s``) counts in letter-spaced text (a one-letter
    token beside it) when wide gaps set it apart. `spacing.word_lengths` finds where the words
    of a run end, unless the run is short and set apart by wide gaps (a heading's word).
    That search costs ~10 us a letter: runs are searched in order within `SEGMENT_BUDGET`
    letters per slice; a run past it stays one-letter tokens, and its letters are counted
    (returned with the joins), so that megabytes of ``a b c d`` cost no more and are reported.
    `links`: the one-character tokens one character before another (`_links_and_long`), if
    at hand. Everything here is read at those tokens only.
    """
    t = _links_and_long(nstarts, nends)[0] if links is None else links  # token t and t + 1, one apart
    if len(t) == 0:
        return None, 0
    norm = layout.norm
    spacer = norm[nends[t]].astype(np.int64)
    good = _spacer(spacer) & layout.letters(nstarts[t]) & layout.letters(nstarts[t + 1])
    spaced = t[good & (spacer == 32)]  # letters one blank before another: blank-spaced runs
    # one spacer all along a run: a blank beside dots is the gap between two dotted words (a line
    # break is no dot: ``S I N C E<LF>T H E`` is two runs)
    chained = t[1:] == t[:-1] + 1
    dots = good & (spacer != 32)
    dotted_before = np.append(False, chained & dots[:-1])
    dotted_after = np.append(chained & dots[1:], False)
    good &= ~((spacer == 32) & (dotted_before | dotted_after))
    good[1:] &= ~(chained & good[:-1] & (spacer[1:] != spacer[:-1]))
    t = t[good]
    if len(t) == 0:
        return None, 0
    # runs of links: tokens head .. tail, size = tail - head links (letters - 1)
    new_run = np.append(True, t[1:] != t[:-1] + 1)
    head = t[new_run]
    size = np.diff(np.append(np.flatnonzero(new_run), len(t)))
    tail = head + size
    blank = norm[nends[head]] == 32
    apart = _wide(norm, nstarts[head] - 1, -1, blank) & _wide(norm, nends[tail], 1, blank)
    # spaced-out words beside it, with only a wide gap between: a one-letter token next to it (a digit
    # is none: ``3/4 U.S cents`` is u s, as ``3/4 U.S. cents`` is); beside dotted letters, one that is
    # no letter of a blank-spaced run (``T H E U.S A N D`` is the u s and: letters spaced out with
    # blanks around an abbreviation, whose dots are no spacing of theirs)
    before, after = np.maximum(head - 1, 0), np.minimum(tail + 1, len(nstarts) - 1)
    dotted = ~blank
    beside = ((head > 0) & (nends[before] - nstarts[before] == 1) & layout.letters(nstarts[before])
              & ~(dotted & among(before - 1, spaced))) \
        | ((tail + 1 < len(nstarts)) & (nends[after] - nstarts[after] == 1) & layout.letters(nstarts[after])
           & ~(dotted & among(after, spaced)))
    whole = ((size == 1) & apart & beside) \
        | ((size > 1) & (size < _SPACED_WORD) & apart & (beside | ~blank))  # "E X T R E M E   M A R K E T S"
    joins = [np.repeat(head[whole] - (np.cumsum(size[whole]) - size[whole]), size[whole])
             + np.arange(int(size[whole].sum()))]
    split = np.flatnonzero(~whole & (size > 1))
    unsegmented = 0
    if len(split):  # the rest: where the words of a run end, from a dictionary, within the budget
        kept, budget = [], SEGMENT_BUDGET
        for k, count in zip(split.tolist(), (size[split] + 1).tolist()):
            if count > budget:  # passed over: one huge run cannot use up the budget of the runs after it
                unsegmented += count
                continue
            budget -= count
            kept.append(k)
        split = np.array(kept, dtype=np.int64)
        for lo, hi in zip(head[split].tolist(), tail[split].tolist()):  # the letters of these runs only
            run = norm[nstarts[lo : hi + 1]]
            letters = run.tobytes().decode("ascii") if norm.dtype == np.uint8 else \
                run.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
            joins.append(_joins_in(letters) + lo)
    joined = np.sort(np.concatenate(joins))
    return (joined if len(joined) else None), unsegmented


_SPACED_WORD = 12  # a spaced-out run this long or shorter, in a heading of such runs, is one word
_line = _one_of([9, 10, 13, 0x2028, 0x2029])


def _wide(norm: np.ndarray, at: np.ndarray, step: int, blank: np.ndarray) -> np.ndarray:
    """Whether the gaps that start at `at` (going by `step`) are wide: the edge of the text, a line
    break, a tab or two blanks; around letters spaced out with something else than blanks, any gap."""
    n = len(norm)
    c = norm[np.clip(at, 0, n - 1)].astype(np.int64)
    after = at + step
    d = norm[np.clip(after, 0, n - 1)].astype(np.int64)
    return (at < 0) | (at >= n) | _line(c) | ((c == 32) & ~blank) \
        | ((c == 32) & ((after < 0) | (after >= n) | (d == 32) | _line(d)))


@lru_cache(maxsize=4096)
def _joins_in(letters: str) -> np.ndarray:
    """The letters of a letter-spaced run that join the next one: all but the last of each word."""
    joins = np.ones(len(letters) - 1, dtype=bool)
    joins[np.cumsum(word_lengths(letters)[:-1], dtype=np.int64) - 1] = False
    return np.flatnonzero(joins)


GLUED_LETTERS = 25  # a run of letters this long is no word of the dictionary (words have 24 at most)
GLUED_BUDGET = 1 << 16  # letters of such runs segmented per slice of text: the search costs ~10 us a letter
SEGMENT_BUDGET = 1 << 17  # letters of letter-spaced runs segmented per slice of text (~1.3 s): a letter-spaced
# PDF of some 25,000 words is read whole


def _glued_cuts(layout: _Layout, nstarts: np.ndarray, nends: np.ndarray, longs: np.ndarray | None = None) -> np.ndarray:
    """Where the words of glued text begin: a token of GLUED_LETTERS or more ASCII letters is
    no word, but words written without spaces (``PROJECTHALCYONCOATINGPROCESS``), and is cut
    where the English word table says its words most probably end (`spacing.word_lengths`,
    the same search that rejoins letter-spaced words). The cut depends on the token alone,
    so an excerpt tokenises as its document does. Tokens in order, within the budget;
    a token past it is left whole (hostile text of megabytes of letters costs no more), and
    its letters are counted (returned with the cuts): left whole is not read, and is reported.
    A token longer than the whole budget is passed over, so it cannot use up the budget of
    the glued words after it."""
    long = np.flatnonzero(nends - nstarts >= GLUED_LETTERS) if longs is None else longs
    if len(long) == 0:
        return _NO_INT, 0
    norm, kind = layout.norm, layout.kind
    long = long[kind[nstarts[long]] == LETTER]  # letters, not digits (a token is one or the other)
    cuts, budget, unsegmented = [], GLUED_BUDGET, 0
    for i in long.tolist():
        lo, hi = int(nstarts[i]), int(nends[i])
        if hi - lo > budget:
            unsegmented += hi - lo
            continue
        chars = norm[lo:hi]
        if norm.dtype != np.uint8 and int(chars.max()) >= 128:
            continue  # the word table is English: other scripts are left whole
        budget -= hi - lo
        sizes = word_lengths(chars.astype(np.uint8).tobytes().decode("ascii"))
        cuts.append(lo + np.cumsum(sizes[:-1], dtype=np.int64))
    return (np.concatenate(cuts) if cuts else _NO_INT), unsegmented


def _camel_cuts(layout: _Layout, nstarts: np.ndarray, nends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where glued CamelCase words begin: a capital after a small letter (``coatingProcess``),
    and, in such tokens, the last capital of a run of capitals before small letters
    (``UnderABlanket``). Returns the cuts to make and, apart, the cut of the tokens that are
    exactly two words (of HALF_CHARS characters or more), those without a hump among them
    (``HTMLParser``, `_lone_falls`).

    A token is cut only when its words average three letters or more, so alternating or
    random case (``pRoCeSs``) never is; a token of two words is left whole (a code name
    such as ``BlueFin`` must still match ``BLUEFIN``; term matching and the fingerprint tier
    read it both ways).
    """
    upper = layout.upper
    native = speedups.native
    if native is not None and layout.small is None and upper.dtype == np.bool_ and len(nstarts) \
            and nstarts.dtype == np.int64 and nends.dtype == np.int64:  # (text beyond ASCII: one C pass)
        glued, halves = native.camel_cuts_of(np.ascontiguousarray(layout.kind), np.ascontiguousarray(upper).view(np.uint8),
                                             np.ascontiguousarray(nstarts), np.ascontiguousarray(nends))
        return np.frombuffer(glued, dtype=np.int64), np.frombuffer(halves, dtype=np.int64)
    small = layout.small if layout.small is not None else (layout.kind == LETTER) & ~upper
    humps = np.flatnonzero(small[:-1] & upper[1:]) + 1
    tok = np.searchsorted(nstarts, humps, side="right") - 1
    glued, halves = _camel_cuts_in(upper, small, humps, nstarts[tok], nends[tok])
    lone = _lone_falls(upper, small, tok, nstarts, nends)
    return glued, np.sort(np.concatenate((halves, lone))) if len(lone) else halves


def _lone_falls(upper: np.ndarray, small: np.ndarray, hump_tokens: np.ndarray, nstarts: np.ndarray,
                nends: np.ndarray) -> np.ndarray:
    """Half cuts of the runs of letters and digits without a hump (`hump_tokens`: the runs that
    have one) of HALF_CHARS characters or more, at their one fall: two capitals, the second
    before a small letter that no capital follows (``USTrade``, ``IThink``, ``HTMLParser``,
    ``OFThe``, ``PIGMENTIs``; ``PDFs`` too, which reading both ways does no harm; with digits
    between them a run may hold two: ``ABcd12EFgh`` is no two words)."""
    if len(upper) < 3:
        return _NO_INT
    at = np.flatnonzero(upper[:-2] & upper[1:-1] & small[2:] & ~np.append(upper[3:], False)) + 1
    if len(at) == 0:
        return _NO_INT
    tok = np.searchsorted(nstarts, at, side="right") - 1  # (the letters around a fall are in its run)
    alone = np.append(True, tok[1:] != tok[:-1]) & np.append(tok[1:] != tok[:-1], True)
    alone &= (nends[tok] - nstarts[tok] >= HALF_CHARS) & ~among(tok, distinct(hump_tokens))
    return at[alone]


def _camel_cuts_in(upper: np.ndarray, small: np.ndarray, humps: np.ndarray, tok_starts: np.ndarray,
                   tok_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_camel_cuts` from the humps (a capital after a small letter), each with the bounds of
    the token (run of letters and digits) it lies in."""
    if len(humps) == 0:
        return _NO_INT, _NO_INT
    # capitals before small letters, in a token with a hump (never "IDs" or "PDFs" alone):
    # the last capital starts a word (UnderABlanket)
    heads = run_starts(tok_starts)
    falls, fall_tok = _falls(upper, small, tok_starts[heads], tok_ends[heads])
    if len(falls):
        order = np.argsort(np.concatenate((humps, falls)), kind="stable")  # two sorted runs: a merge
        humps = np.concatenate((humps, falls))[order]
        tok_starts = np.concatenate((tok_starts, tok_starts[heads][fall_tok]))[order]
        tok_ends = np.concatenate((tok_ends, tok_ends[heads][fall_tok]))[order]
    first = np.flatnonzero(run_starts(tok_starts))
    segments = np.diff(np.append(first, len(tok_starts))) + 1  # words of each token with a cut
    length = tok_ends[first] - tok_starts[first]
    glued = np.repeat((length >= 3 * segments) & (segments >= 3), segments - 1)
    pairs = np.repeat((length >= HALF_CHARS) & (segments == 2), segments - 1)
    return humps[glued], humps[pairs]


def _falls(upper: np.ndarray, small: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """Positions after two capitals or more and before two small letters (the B of UnderABlanket)
    in the tokens starts[i]:ends[i] (sorted, apart), and the token each lies in; read in the
    tokens when they are short, else in the whole text."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total * 16 > len(upper):
        at = np.flatnonzero(upper[:-3] & upper[1:-2] & small[2:-1] & small[3:])
        tok = np.searchsorted(starts, at, side="right") - 1
        inside = (tok >= 0) & (at + 3 < ends[np.maximum(tok, 0)])
        return at[inside] + 1, tok[inside]
    tok = np.repeat(np.arange(len(starts)), lengths)
    at = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
    inside = at + 3 < ends[tok]
    at, tok = at[inside], tok[inside]
    chosen = upper[at] & upper[at + 1] & small[at + 2] & small[at + 3]
    return at[chosen] + 1, tok[chosen]


_OVERRIDE, _POP = 0x202E, (0x202C, 0x2069)  # right-to-left override; pop directional formatting / isolate
_LINE_ENDS = (10, 13, 0x85, 0x2028, 0x2029)
_pop_or_line_end = _one_of(_POP + _LINE_ENDS)


def _visual_order(source: np.ndarray):
    """Where the source is shown in another order than it is stored: a right-to-left override
    (U+202E) shows left-to-right letters reversed, up to its pop (U+202C, U+2069) or the end of
    the line. Returns (the source order with every *closed* span reversed, or None; those
    spans; the spans left open to the end of the line). A closed span (a word or a phrase
    flipped on purpose) is read in place as shown; an open one is read both ways (see
    `_tokenise`): as stored, because a stray override in a word garbles what follows rather
    than hiding it, and as shown. Spans holding right-to-left letters (Hebrew or Arabic under
    an override are shown as stored) are left alone."""
    overrides = np.flatnonzero(source == _OVERRIDE)
    if len(overrides) == 0:
        return None, [], []
    n = len(source)
    stops = np.flatnonzero(_pop_or_line_end(source))
    k = np.searchsorted(stops, overrides)
    ends = np.where(k < len(stops), stops[np.minimum(k, len(stops) - 1)] if len(stops) else n, n)
    # an override inside a span another one opened (the same end) adds nothing: the first stands
    first = np.ones(len(overrides), dtype=bool)
    first[1:] = ends[1:] != ends[:-1]
    overrides, ends = overrides[first], ends[first]
    # spans holding right-to-left letters are shown as stored (one test per distinct code point,
    # not one per span: an override on every short line once cost seconds per MB)
    rtl = [c for c in distinct(source).tolist() if _right_to_left(int(c))]
    if rtl:
        where = np.flatnonzero(np.isin(source, rtl))
        shown = np.searchsorted(where, overrides + 1) == np.searchsorted(where, ends)
        overrides, ends = overrides[shown], ends[shown]
    popped = (ends < n) & np.isin(source[np.minimum(ends, n - 1)], _POP)
    order = np.arange(n)
    closed = list(zip((overrides[popped] + 1).tolist(), ends[popped].tolist()))
    for a, b in closed:
        order[a:b] = order[a:b][::-1].copy()
    open_ = list(zip((overrides[~popped] + 1).tolist(), ends[~popped].tolist()))
    return (order if closed else None), closed, open_


def _shown(text: str, spans: list[tuple[int, int]], base: int, nbase: int) -> Tokens:
    """Tokens of the open right-to-left spans as shown (reversed), every one of them placed on
    its whole span in the source and counted as disguised. The spans are tokenised as one text,
    a blank line between them (no word is joined across one): one pass, not one per span (an
    override on every short line once cost ~9 s and 350 MB per MB of text)."""
    shown = [text[a:b][::-1].replace(chr(_OVERRIDE), "") for a, b in spans]
    firsts = np.cumsum([0] + [len(s) + 2 for s in shown[:-1]])
    toks = _tokenise("\n\n".join(shown), 0, nbase)
    span = np.searchsorted(firsts, toks.starts, side="right") - 1
    lo = np.array([a for a, _ in spans], dtype=np.int64) + base
    hi = np.array([b for _, b in spans], dtype=np.int64) + base
    return replace(toks, starts=lo[span], ends=hi[span], tampered=np.arange(len(toks), dtype=np.int64))


@lru_cache(maxsize=4096)
def _right_to_left(code: int) -> bool:
    return 0xD800 <= code <= 0xDFFF or unicodedata.bidirectional(chr(code)) in ("R", "AL")


def _inside(starts: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """Tokens that start inside one of the source spans (sorted, disjoint)."""
    lo = np.array([a for a, _ in spans], dtype=np.int64)
    hi = np.array([b for _, b in spans], dtype=np.int64)
    k = np.searchsorted(lo, starts, side="right") - 1
    return np.flatnonzero((k >= 0) & (starts < hi[np.maximum(k, 0)]))


# -- flags ---------------------------------------------------------------------------------

_cjk_stop = _one_of((0x3002, 0x0964, 0x0965, 0x061F, 0x06D4))  # after NFKC: ideographic, Devanagari, Arabic stops


def _sentence_flags(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """SENTENCE on the first token and on every token after a sentence end in the gap before it.

    Read on the normalised text (NFKC has folded fullwidth stops and odd spaces): a
    sentence ends at `.`, `!` or `?` followed by white space (not inside "3.5" or
    "www.example.com"), at a CJK or Devanagari full stop, or at a blank line.
    """
    n = len(nstarts)
    flags = np.zeros(n, dtype=np.uint8)
    if n == 0:
        return flags
    flags[0] = SENTENCE
    native = speedups.native
    if native is not None and norm.dtype in (np.uint8, np.uint32):  # one C pass over the text
        native.sentence_flags(np.ascontiguousarray(norm), np.ascontiguousarray(nstarts, dtype=np.int64),
                              np.ascontiguousarray(nends, dtype=np.int64), flags, SENTENCE)
        return flags
    stop = (norm == 46) | (norm == 33) | (norm == 63)
    space = (norm == 32) | ((norm - norm.dtype.type(9)) < 5)  # space, \t \n \v \f \r
    marks = np.flatnonzero(stop[:-1] & space[1:])
    newline = norm == 10
    blank = np.flatnonzero(newline[:-2] & (newline[1:-1] | ((norm[1:-1] == 13) & newline[2:])))
    parts = [marks, blank]
    if len(norm) and stop[-1]:
        parts.append(np.array([len(norm) - 1]))
    if norm.dtype != np.uint8:
        parts.append(np.flatnonzero(_cjk_stop(norm)))
    marks = np.concatenate(parts)
    if len(marks):
        after = np.searchsorted(nstarts, marks, side="right")
        flags[after[after < n]] = SENTENCE
    return flags


def _digit_flags(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """DIGITS on tokens made of ASCII digits only (every digit is ASCII once normalised). Tokens
    are runs of letters or of digits, never both, so the first character tells."""
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint8)
    first = norm[nstarts]
    return ((first - first.dtype.type(48)) < 10).view(np.uint8) * DIGITS


# -- hashes ----------------------------------------------------------------------------------

_U8 = np.uint8


def _ascii_lower(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lower-cased bytes, the class of each (LETTER, DIGIT or 0), the capitals and the small
    letters: in one C pass where the speedups are built, else by arithmetic rather than table
    lookups (reusing one scratch array)."""
    native = speedups.native
    if native is not None:
        norm, kind = np.empty_like(raw), np.empty_like(raw)
        upper, small = np.empty(len(raw), dtype=bool), np.empty(len(raw), dtype=bool)
        native.ascii_lower(raw, norm, kind, upper, small)
        return norm, kind, upper, small
    scratch = raw - _U8(65)
    upper = scratch < _U8(26)
    np.subtract(raw, _U8(97), out=scratch)
    small = scratch < _U8(26)
    norm = upper.view(np.uint8) * _U8(32)  # multiplications: numpy shifts bytes far slower
    norm += raw
    np.subtract(raw, _U8(48), out=scratch)
    kind = np.less(scratch, _U8(10)).view(np.uint8) * _U8(DIGIT)
    kind |= upper.view(np.uint8)
    kind |= small.view(np.uint8)
    return norm, kind, upper, small


_BYTE_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LONG_TOKEN = 64


def _ascii_hashes(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """Hashes of ASCII tokens read eight bytes at a time.

    Tokens of up to 8 characters are their own bytes (plus length) before mixing, so
    they never collide; longer ones fold in further 8-byte words, and tokens longer
    than 64 characters (encoded blobs) are hashed whole with BLAKE2b. In one C loop
    where the speedups are built (`_ascii_hashes_numpy` otherwise).
    """
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint64)
    native = speedups.native
    if native is None:
        return _ascii_hashes_numpy(norm, nstarts, nends)
    h = np.empty(len(nstarts), dtype=np.uint64)
    native.ascii_hashes(np.ascontiguousarray(norm, dtype=np.uint8), np.ascontiguousarray(nstarts, dtype=np.int64),
                        np.ascontiguousarray(nends, dtype=np.int64), h)
    long = np.flatnonzero(nends - nstarts > _LONG_TOKEN)
    if len(long):
        h[long] = fmix64(np.array([_blake64(norm[nstarts[i]:nends[i]]) for i in long.tolist()], dtype=np.uint64))
    return h


def _blake64(chars: np.ndarray) -> int:
    return int.from_bytes(hashlib.blake2b(chars.tobytes(), digest_size=8).digest(), "little")


def _ascii_hashes_numpy(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """`_ascii_hashes` in NumPy passes (a few per token, more for long tokens)."""
    n = len(norm)
    padded = np.zeros(n + 16, dtype=np.uint8)
    padded[:n] = norm
    words = np.ndarray((n + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from every offset
    lengths = nends - nstarts
    h = words[nstarts]
    h &= _BYTE_MASKS[np.minimum(lengths, 8)]
    h ^= lengths.view(np.uint64) << np.uint64(56)
    longer = np.flatnonzero(lengths > 8)
    if len(longer):  # fold in the further words of long tokens, on their own small arrays
        part, starts, sizes = h[longer], nstarts[longer], lengths[longer]
        todo = np.arange(len(longer))
        offset = 8
        while len(todo) and offset < _LONG_TOKEN:
            chunk = words[starts[todo] + offset] & _BYTE_MASKS[np.minimum(sizes[todo] - offset, 8)]
            part[todo] = fmix64(part[todo]) ^ chunk
            offset += 8
            todo = todo[sizes[todo] > offset]
        h[longer] = part
        for i in longer[sizes > _LONG_TOKEN].tolist():
            h[i] = np.uint64(_blake64(padded[nstarts[i] : nends[i]]))
    return fmix64(h, in_place=True)


def span_hashes(norm: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hashes of a few spans of a normalised text, exactly as tokens with those characters hash."""
    if norm.dtype == np.uint8 and speedups.native is not None:  # (read where they are, not gathered)
        return _ascii_hashes(norm, starts, ends)
    lengths = (ends - starts).astype(np.int64)
    firsts = np.cumsum(lengths) - lengths
    chars = norm[np.repeat(starts, lengths) + (np.arange(int(lengths.sum())) - np.repeat(firsts, lengths))]
    if norm.dtype == np.uint8:
        return _ascii_hashes(chars, firsts, firsts + lengths)
    return _unified_hashes(chars, firsts, firsts + lengths)


def latin_hashes(norm: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """`span_hashes` of the Latin letters of each span alone: the words of `Tokens.tails`, a
    stray inside one left out (``moleжcular``: molecular)."""
    if norm.dtype == np.uint8 or len(starts) == 0:
        return span_hashes(norm, starts, ends)
    lengths = (ends - starts).astype(np.int64)
    firsts = np.cumsum(lengths) - lengths
    chars = norm[np.repeat(starts - firsts, lengths) + np.arange(int(lengths.sum()))]
    latin = chars < LATIN_END
    if latin.all():
        return _unified_hashes(chars, firsts, firsts + lengths)
    kept = np.concatenate(([0], np.cumsum(latin)))
    return _unified_hashes(chars[latin], kept[firsts], kept[firsts + lengths])


def _unified_hashes(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """Hashes of tokens of a text with non-ASCII characters.

    A token made of ASCII characters hashes exactly as in ASCII text (so "halcyon"
    has one value whatever text it stands in); a token with other characters gets
    a polynomial over its code points, in a separate domain.
    """
    return _hashes_and_wide(norm, nstarts, nends)[0]


def _hashes_and_wide(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(`_unified_hashes`, whether each token holds a character beyond ASCII), in one C pass over
    the tokens where the speedups are built (the NumPy passes counted the wide characters of
    the whole text and made an ASCII copy of it: 18 ms for 4 MB of mail with curly quotes)."""
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    native = speedups.native
    if native is not None and norm.dtype == np.uint32:
        h, wide = np.empty(len(nstarts), dtype=np.uint64), np.empty(len(nstarts), dtype=np.uint8)
        native.code_point_hashes(np.ascontiguousarray(norm), np.ascontiguousarray(nstarts, dtype=np.int64),
                                 np.ascontiguousarray(nends, dtype=np.int64), h, wide, int(_P), int(_WIDE))
        has_wide = wide.view(bool)
        long = np.flatnonzero((nends - nstarts > _LONG_TOKEN) & ~has_wide)  # (as `_ascii_hashes` hashes them)
        if len(long):
            h[long] = fmix64(np.array([_blake64(norm[nstarts[i]:nends[i]].astype(np.uint8)) for i in long.tolist()],
                                      dtype=np.uint64))
        return h, has_wide
    wide = norm >= 128
    counts = np.concatenate(([0], np.cumsum(wide, dtype=np.int64)))
    has_wide = counts[nends] - counts[nstarts] > 0
    narrow = np.where(wide, 0, norm).astype(np.uint8)
    h = _ascii_hashes(narrow, nstarts, nends)
    if has_wide.any():
        h[has_wide] = _token_hashes(norm, nstarts[has_wide], nends[has_wide]) ^ _WIDE
    return h, has_wide


def _token_hashes(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """sum(c_j * P**(j - start)) over each token, for all tokens at once (mod 2**64)."""
    n = len(norm)
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint64)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    np.multiply(norm, _powers(_P, n), out=prefix[1:], dtype=np.uint64)
    np.cumsum(prefix[1:], out=prefix[1:])
    spans = prefix[nends] - prefix[nstarts]
    inverse = _powers(_P_INV, n)[nstarts]
    with np.errstate(over="ignore"):
        lengths = (nends - nstarts).astype(np.uint64)
        return fmix64(spans * inverse + lengths)


_POWER_CACHE: dict[int, np.ndarray] = {}


def _powers(base: np.uint64, n: int) -> np.ndarray:
    """base**0 .. base**(n-1) modulo 2**64, from a table that grows by doubling."""
    table = _POWER_CACHE.get(int(base))
    if table is None or len(table) < n:
        size = max(n, 2 * len(table) if table is not None else 1 << 16)
        table = np.empty(size, dtype=np.uint64)
        table[0] = 1
        table[1:] = np.cumprod(np.full(size - 1, base, dtype=np.uint64), dtype=np.uint64)
        _POWER_CACHE[int(base)] = table
    return table[:n]


_C1, _C2, _S33 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB93FE53EC34B), np.uint64(33)


def fmix64(h: np.ndarray, in_place: bool = False) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: full avalanche, vectorised (in place when asked)."""
    h = h if in_place else h.copy()
    tmp = np.empty_like(h)
    np.right_shift(h, _S33, out=tmp)
    h ^= tmp
    h *= _C1
    np.right_shift(h, _S33, out=tmp)
    h ^= tmp
    h *= _C2
    np.right_shift(h, _S33, out=tmp)
    h ^= tmp
    return h


# -- normalisation of characters ------------------------------------------------------------


_RANK_FROM = 1 << 16  # characters from which code points are ranked through a table of every code point


def _code_ranks(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct code points of `source`, all of ASCII first (0..127, then the others in order),
    and each character's index among them. A long text is ranked through a table over all code
    points (a text holds a few thousand distinct ones: no sort of its millions of characters)."""
    if len(source) < _RANK_FROM:
        wide = source >= 128
        uniq_wide, inverse_wide = np.unique(source[wide], return_inverse=True)
        inverse = source.astype(np.int64)
        inverse[wide] = 128 + inverse_wide.ravel()
        return np.concatenate((np.arange(128, dtype=np.uint32), uniq_wide.astype(np.uint32))), inverse
    present = np.zeros(CODE_POINTS, dtype=bool)
    present[:128] = True
    present[source] = True
    rank = np.cumsum(present, dtype=np.int32) - 1
    return np.flatnonzero(present).astype(np.uint32), rank[source].astype(np.int64)


def _normalise(source: np.ndarray) -> tuple[_Layout, np.ndarray]:
    """Per-character normalisation of a code point array (`_char_table`), with the source index of
    each output character, and the source positions of the characters that hide (invisible ones,
    overlay marks).

    Each distinct code point is looked up once (`_code_ranks`), whatever the text's length; where
    the C speedups are built, each character is then replaced in one pass (`_normalised`).
    """
    native = speedups.native
    if native is not None and source.dtype == np.uint32:
        return _normalised(native, np.ascontiguousarray(source))
    uniq, inverse = _code_ranks(source)
    flat, flat_kind, offsets, lengths, char_flags = _CHARS.of(uniq)

    hides = (char_flags & HIDDEN) != 0
    hidden = np.flatnonzero(hides[inverse]) if hides.any() else _NO_INT
    raised = (char_flags & SUPERSCRIPT) != 0
    superscripts = np.flatnonzero(raised[inverse]) if raised.any() else None
    capital = (char_flags & UPPER) != 0
    per_char = lengths[inverse]
    if np.all(per_char == 1):
        index = offsets[inverse]
        source_of = None
        upper = capital[inverse]
    else:
        source_of = np.repeat(np.arange(len(source)), per_char)
        out_start = np.concatenate(([0], np.cumsum(per_char)[:-1]))
        index = offsets[inverse][source_of] + (np.arange(len(source_of)) - out_start[source_of])
        upper = capital[inverse][source_of]
    norm, kinds = flat[index], flat_kind[index]
    if superscripts is not None and source_of is not None:
        superscripts = np.searchsorted(source_of, superscripts)  # one character each, where it landed
    singles = kinds == SINGLE
    kind = (kinds == WORD).view(np.uint8) * (((norm - np.uint32(48)) < 10).view(np.uint8) + np.uint8(1))
    return _Layout(norm, kind, upper, source_of, singles if singles.any() else None,
                   superscripts=superscripts), hidden


_ASCII_CODES = np.arange(128, dtype=np.uint32)


def _normalised(native, source: np.ndarray | str, wide: np.ndarray | None = None) -> tuple[_Layout, np.ndarray]:
    """`_normalise` in C, of code points or of a str: the text's distinct code points beyond ASCII
    listed in one pass (unless given: `wide`), their table rows taken (`_CHARS`), and every
    character replaced in another (the NumPy passes gathered a dozen arrays over the characters:
    80 ms for 4 MB of mail with curly quotes)."""
    if wide is None:
        wide = np.frombuffer(native.wide_codes(source), dtype=np.uint32)
    flat, flat_kind, offsets, lengths, char_flags = _CHARS.of(np.concatenate((_ASCII_CODES, wide)))
    norm, kind, upper, source_of, singles, hidden, superscripts, brackets, dashes = native.normalise_chars(
        source, wide, np.ascontiguousarray(offsets, dtype=np.int64), np.ascontiguousarray(lengths, dtype=np.int64),
        np.ascontiguousarray(char_flags, dtype=np.uint8), np.ascontiguousarray(flat, dtype=np.uint32),
        np.ascontiguousarray(flat_kind, dtype=np.uint8))
    return _Layout(np.frombuffer(norm, dtype=np.uint32), np.frombuffer(kind, dtype=np.uint8),
                   np.frombuffer(upper, dtype=np.bool_), None if source_of is None else np.frombuffer(source_of, dtype=np.int64),
                   None if singles is None else np.frombuffer(singles, dtype=np.bool_),
                   superscripts=None if superscripts is None else np.frombuffer(superscripts, dtype=np.int64),
                   brackets=np.frombuffer(brackets, dtype=np.int64), dashes=np.frombuffer(dashes, dtype=np.int64)), \
        np.frombuffer(hidden, dtype=np.int64) if len(hidden) else _NO_INT


class _CharTables:
    """`_char_table` of every code point met so far in this process, as arrays: the normalised
    characters of all of them end to end (`flat`, `kind`), and per code point (ascending
    `codes`) where its characters start, how many there are, and its flags. A text's
    distinct code points are looked up in one vector search; only those never met are read
    through `_char_table` (the tables of a few thousand code points were built again per
    slice of text, in Python: 2 ms for each of the readings of decoded noise a mail makes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        none8, none32, none64 = (np.zeros(0, dtype=t) for t in (np.uint8, np.uint32, np.int64))
        # (codes, starts, lengths, flags, flat, kind): replaced whole, never changed in place
        self._tables = (none32, none64, none64, none8, none32, none8)

    def of(self, uniq: np.ndarray) -> tuple[np.ndarray, ...]:
        """(flat, kind, starts, lengths, flags) for the code points `uniq` (distinct): `flat`
        and `kind` are shared by all of them, the others have one entry per code point."""
        codes, starts, lengths, flags, flat, kind = self._tables
        at = np.searchsorted(codes, uniq)
        met = at < len(codes)
        met[met] = codes[at[met]] == uniq[met]
        if not met.all():
            codes, starts, lengths, flags, flat, kind = self._add(uniq[~met])
            at = np.searchsorted(codes, uniq)
        return flat, kind, starts[at], lengths[at], flags[at]

    def _add(self, new: np.ndarray) -> tuple[np.ndarray, ...]:
        with self._lock:  # (another thread may have added some meanwhile: added again, harmless)
            codes, starts, lengths, flags, flat, kind = self._tables
            table = [_char_table(int(c)) for c in new]
            more = np.fromiter((len(t[0]) for t in table), dtype=np.int64, count=len(table))
            more_flat = np.fromiter((c for t in table for c in t[0]), dtype=np.uint32, count=int(more.sum()))
            more_kind = np.fromiter((k for t in table for k in t[1]), dtype=np.uint8, count=int(more.sum()))
            more_flags = np.fromiter((t[2] for t in table), dtype=np.uint8, count=len(table))
            more_starts = len(flat) + np.concatenate(([0], np.cumsum(more)[:-1])).astype(np.int64)
            all_codes = np.concatenate((codes, new.astype(np.uint32)))
            order = np.argsort(all_codes, kind="stable")
            keep = np.append(True, all_codes[order][1:] != all_codes[order][:-1])  # (each code point once)
            order = order[keep]
            self._tables = (all_codes[order], np.concatenate((starts, more_starts))[order],
                            np.concatenate((lengths, more))[order], np.concatenate((flags, more_flags))[order],
                            np.concatenate((flat, more_flat)), np.concatenate((kind, more_kind)))
            return self._tables


_CHARS = _CharTables()

# Format characters that are *not* default-ignorable (Unicode DerivedCoreProperties):
# prepended concatenation marks and interlinear annotation controls are visible.
_VISIBLE_FORMAT = frozenset([*range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD,
                             0xFFF9, 0xFFFA, 0xFFFB, *range(0x13430, 0x13441)])


def is_default_ignorable(code: int) -> bool:
    """Unicode's Default_Ignorable_Code_Point, derived from the character database:
    format controls (Cf) except the visible ones, variation selectors, the combining
    grapheme joiner, Hangul fillers and the Mongolian free variation selectors."""
    if code in _VISIBLE_FORMAT:
        return False
    if unicodedata.category(chr(code)) == "Cf":
        return True
    return (code == 0x034F or 0x180B <= code <= 0x180F or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF
            or code in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5) or 0xFFF0 <= code <= 0xFFF8
            or 0xE0000 <= code <= 0xE0FFF)


def vanishes(ch: str) -> bool:
    """Whether the tokeniser reads `ch` as nothing at all, neither word nor separator: a
    default-ignorable code point or a lone nonspacing mark. Text that takes out long runs
    of such characters (streamed text) must leave one in their place, or it splits a word."""
    return not _char_table(ord(ch))[0]


_BLANK_FILLERS = frozenset((0x3164, 0xFFA0))  # default-ignorable, yet fonts draw them as a wide blank
_SOFT_HYPHEN = 0xAD
# letters with a stroke or ligatures that no decomposition folds, as people write them without it
_PLAIN_LETTERS = {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "ƀ": "b", "ɨ": "i", "ʉ": "u", "ƶ": "z",
                  "ǥ": "g", "æ": "ae", "œ": "oe", "ð": "d", "þ": "th", "ı": "i", "ȷ": "j"}
_KANA_VOICING = frozenset("\u3099\u309a")  # が is not か: Japanese voicing marks are kept


@lru_cache(maxsize=65536)
def _char_table(code: int) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(normalised code points, their kinds, UPPER | HIDDEN flags) of one source character."""
    if code < 128:
        ch = chr(code)
        low = ch.lower()
        return (ord(low),), (_kind(low),), UPPER if "A" <= ch <= "Z" else 0
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate from a broken decode: a separator
        return (code,), (SEPARATOR,), 0
    if code == _SOFT_HYPHEN:  # a hyphenation hint: the words around it are joined (`_broken_words`)
        return (code,), (SEPARATOR,), 0
    if code in _BLANK_FILLERS:
        return (32,), (SEPARATOR,), 0
    if is_default_ignorable(code):
        return (), (), HIDDEN  # invisible: it neither splits nor joins anything
    ch = chr(code)
    flags = UPPER if unicodedata.category(ch) in ("Lu", "Lt") else 0
    out = _letterlike().get(code)
    if out is None:
        out = unicodedata.normalize("NFKC", ch)
        if out.isdigit() and unicodedata.decomposition(ch).startswith("<super>"):
            return (ord(out),), (WORD,), SUPERSCRIPT  # a digit, or a footnote mark (`_drop_footnotes`)
        out = "".join(_PLAIN_LETTERS.get(c, c) for c in out.casefold())
        out = _strip_marks(out)
        out = "".join(chr(48 + unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in out)
    if not out:  # a lone mark: an overlay (U+0336 strikethrough) hides, an accent does not
        return (), (), HIDDEN if unicodedata.combining(ch) == 1 else 0
    return tuple(ord(c) for c in out), tuple(_kind(c) for c in out), flags


def _strip_marks(text: str) -> str:
    """`text` without its nonspacing and enclosing marks (accents, strikethrough, keycaps)."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if c in _KANA_VOICING or unicodedata.category(c) not in ("Mn", "Me"))
    return text if len(kept) == len(decomposed) else unicodedata.normalize("NFC", kept)


_LETTERLIKE_BLOCKS = ((0x0250, 0x02B0), (0x1D00, 0x1D80), (0xA720, 0xA800), (0x2460, 0x2500), (0x2776, 0x2794),
                      (0x1F100, 0x1F200))
_LETTERLIKE_NAME = re.compile(r"(?:LATIN LETTER SMALL CAPITAL ([A-Z]{1,2})"
                              r"|(?:CIRCLED|SQUARED|PARENTHESIZED) LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])"
                              r"|REGIONAL INDICATOR SYMBOL LETTER ([A-Z])"
                              r"|DIGIT (ZERO|ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE)(?: FULL STOP)?)$")
_DIGIT_NAMES = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE")


@lru_cache(maxsize=1)
def _letterlike() -> dict[int, str]:
    """Letters and digits drawn in a style NFKC does not fold, found by their Unicode names:
    small capitals (``ᴘʀᴏ``), negative circled and squared letters (fancy-text generators),
    parenthesised letters and digits (NFKC would add the parentheses), regional-indicator
    letters, dingbat digits (``❶``)."""
    out = {}
    for lo, hi in _LETTERLIKE_BLOCKS:
        for code in range(lo, hi):
            match = _LETTERLIKE_NAME.search(unicodedata.name(chr(code), ""))
            if match is None:
                continue
            letters = next(g for g in match.groups() if g)
            out[code] = str(_DIGIT_NAMES.index(letters)) if letters in _DIGIT_NAMES else letters.lower()
    return out


# scripts written without spaces between words, whose characters are tokens of their own: kana,
# CJK ideographs (extension A, the unified block, compatibility ideographs, the planes above) ...
_SINGLE_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
# ... and the letters of Thai, Lao, Myanmar and Khmer (their blocks hold punctuation and digits too:
# punctuation stays a separator, digits were made ASCII before)
_SINGLE_LETTER_RANGES = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF))


def single_characters(codes: np.ndarray) -> np.ndarray:
    """Whether each code point is of a script whose characters are tokens of their own (for the
    letter ranges, any code point of the block: callers read the characters of tokens)."""
    out = np.zeros(len(codes), dtype=bool)
    for lo, hi in _SINGLE_RANGES + _SINGLE_LETTER_RANGES:
        out |= (codes >= lo) & (codes <= hi)
    return out


def _kind(ch: str) -> int:
    code = ord(ch)
    if any(lo <= code <= hi for lo, hi in _SINGLE_RANGES) \
            or (ch.isalpha() and any(lo <= code <= hi for lo, hi in _SINGLE_LETTER_RANGES)):
        return SINGLE
    if ch.isalnum() or unicodedata.category(ch).startswith("M"):
        return WORD
    return SEPARATOR
