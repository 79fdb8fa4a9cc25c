"""Unicode NFKC + case folding, word tokens, sentence starts, and an offset map back to the source.

The whole pipeline is vectorised over code points with numpy: a Python loop runs
only over the *distinct* characters of a text (a few hundred), never over its
characters or tokens.

- Each source character is normalised on its own (NFKC, then casefold), so every
  normalised character maps back to exactly one source offset. Default-ignorable
  code points (zero-width characters, soft hyphen, word joiner, bidirectional
  controls, variation selectors) normalise to nothing: they never split a word.
- Tokens are maximal runs of letters, digits and combining marks; each Han,
  Hiragana or Katakana character is a token of its own (those scripts do not
  separate words with spaces).
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
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from .confusables import CONFUSABLES_VERSION, fold_confusable_tokens

NORMALISER_VERSION = f"nfkc-casefold-ignorable-alnum-cjk/3+{CONFUSABLES_VERSION}"

SEPARATOR, WORD, SINGLE = 0, 1, 2
CHUNK_CHARS = 1 << 22  # longer texts are tokenised in slices, bounding the temporaries

SENTENCE = np.uint8(1)  # token flag: a sentence starts here
DIGITS = np.uint8(2)  # token flag: digits only

_P = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))
_WIDE = np.uint64(0xA5A5_5A5A_C3C3_3C3C)  # separates hashes of tokens with non-ASCII letters


@dataclass(frozen=True)
class Tokens:
    """Tokens of one text: unkeyed hashes, source offsets, flags, and their normalised text.

    `starts`/`ends` are offsets in the *source* text. `norm` holds the normalised code
    points and `nstarts`/`nends` the token bounds in it; `text_of(i)` rebuilds one
    normalised token.
    """

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64, source offsets
    ends: np.ndarray
    norm: np.ndarray  # code points of the normalised text (uint8 for ASCII, else uint32)
    nstarts: np.ndarray
    nends: np.ndarray
    # tokens that hid behind invisible characters or lookalike letters (indices; see `tampered_tokens`)
    tampered: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

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


EMPTY = Tokens(*(np.zeros(0, dtype=t) for t in (np.uint64, np.int64, np.int64, np.uint8, np.int64, np.int64)))


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


def concatenate(pieces: list[Tokens]) -> Tokens:
    if not pieces:
        return EMPTY
    if len(pieces) == 1:
        return pieces[0]
    norm_dtype = np.uint32 if any(p.norm.dtype == np.uint32 for p in pieces) else np.uint8
    firsts = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    return Tokens(
        hashes=np.concatenate([p.hashes for p in pieces]),
        starts=np.concatenate([p.starts for p in pieces]),
        ends=np.concatenate([p.ends for p in pieces]),
        norm=np.concatenate([p.norm.astype(norm_dtype, copy=False) for p in pieces]),
        nstarts=np.concatenate([p.nstarts for p in pieces]),
        nends=np.concatenate([p.nends for p in pieces]),
        tampered=np.concatenate([p.tampered + first for p, first in zip(pieces, firsts)]),
    )


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
        norm, is_word = _ascii_lower(raw)
        nstarts, nends = _runs(is_word)
        hashes = _ascii_hashes(norm, nstarts, nends)
        return Tokens(hashes, nstarts + base, nends + base, norm, nstarts + nbase, nends + nbase)

    source = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    norm, kinds, source_of, hidden = _normalise(source)
    nstarts, nends = _runs(kinds == WORD)
    if (kinds == SINGLE).any():
        singles = np.flatnonzero(kinds == SINGLE)
        nstarts = np.concatenate((nstarts, singles))
        nends = np.concatenate((nends, singles + 1))
        order = np.argsort(nstarts, kind="stable")
        nstarts, nends = nstarts[order], nends[order]
    norm, folded = fold_confusable_tokens(norm, nstarts, nends)
    hashes = _unified_hashes(norm, nstarts, nends)
    if len(nstarts):
        starts = source_of[nstarts].astype(np.int64)
        ends = source_of[nends - 1].astype(np.int64) + 1
    else:
        starts = ends = np.zeros(0, dtype=np.int64)
    tampered = tampered_tokens(norm, nstarts, nends, starts, ends, hidden, len(source), folded)
    return Tokens(hashes, starts + base, ends + base, norm,
                  (nstarts + nbase).astype(np.int64), (nends + nbase).astype(np.int64), tampered)


def tampered_tokens(norm, nstarts, nends, starts, ends, hidden, n_source, folded) -> np.ndarray:
    """Tokens whose letters are ASCII once invisible characters are dropped or lookalikes folded.

    Persian, Indic or emoji text uses zero-width joiners legitimately, but inside their
    own scripts; an invisible character inside an ASCII word, or a Cyrillic letter in one,
    is someone hiding a word. Soft hyphens (hyphenation hints in web pages) are not counted.
    A word made only of lookalikes ("рау" for "pay") counts only in text that is mostly
    ASCII: in Russian or Greek text, "на" or "τα" are simply words.
    """
    mixed, pure = folded
    wide = np.concatenate(([0], np.cumsum(norm >= 128, dtype=np.int64)))
    ascii_token = wide[nends] - wide[nstarts] == 0  # after folding
    if len(pure) and ascii_token.mean() < 0.8:
        pure = pure[:0]
    folded = np.union1d(mixed, pure)
    if len(nstarts) == 0 or len(hidden) == 0:
        return folded.astype(np.int64)
    marks = np.zeros(n_source + 1, dtype=np.int64)
    marks[hidden] = 1
    marks = np.concatenate(([0], np.cumsum(marks[:-1])))
    inside = marks[ends] - marks[starts] > 0
    chosen = np.flatnonzero(inside & ascii_token)
    return np.union1d(chosen, folded).astype(np.int64)


def _runs(is_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the runs of True: transitions alternate start, end."""
    padded = np.zeros(len(is_word) + 2, dtype=bool)
    padded[1:-1] = is_word
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


# -- flags ---------------------------------------------------------------------------------

_CJK_STOPS = (0x3002, 0x0964, 0x0965, 0x061F, 0x06D4)  # after NFKC: ideographic, Devanagari, Arabic stops


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
    stop = (norm == 46) | (norm == 33) | (norm == 63)
    space = (norm == 32) | ((norm - norm.dtype.type(9)) < 5)  # space, \t \n \v \f \r
    marks = np.flatnonzero(stop[:-1] & space[1:])
    newline = norm == 10
    blank = np.flatnonzero(newline[:-2] & (newline[1:-1] | ((norm[1:-1] == 13) & newline[2:])))
    parts = [marks, blank]
    if len(norm) and stop[-1]:
        parts.append(np.array([len(norm) - 1]))
    if norm.dtype != np.uint8:
        parts.append(np.flatnonzero(np.isin(norm, _CJK_STOPS)))
    marks = np.concatenate(parts)
    if len(marks):
        after = np.searchsorted(nstarts, marks, side="right")
        flags[after[after < n]] = SENTENCE
    return flags


def _digit_flags(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """DIGITS on tokens made of ASCII digits only (NFKC has folded other digit forms)."""
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint8)
    not_digit = np.zeros(len(norm) + 1, dtype=np.int32)
    np.cumsum((norm - norm.dtype.type(48)) >= 10, out=not_digit[1:])
    inside = not_digit[nends] - not_digit[nstarts]
    return np.where(inside == 0, DIGITS, np.uint8(0)).astype(np.uint8)


# -- hashes ----------------------------------------------------------------------------------

_U8 = np.uint8


def _ascii_lower(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower-cased bytes and the word-character mask, by arithmetic rather than table lookups."""
    upper = (raw - _U8(65)) < _U8(26)
    norm = raw + (upper.view(np.uint8) << _U8(5))
    is_word = ((norm - _U8(97)) < _U8(26)) | ((norm - _U8(48)) < _U8(10))
    return norm, is_word


_BYTE_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LONG_TOKEN = 64


def _ascii_hashes(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """Hashes of ASCII tokens read eight bytes at a time.

    Tokens of up to 8 characters are their own bytes (plus length) before mixing, so
    they never collide; longer ones fold in further 8-byte words, and tokens longer
    than 64 characters (encoded blobs) are hashed whole with BLAKE2b.
    """
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint64)
    n = len(norm)
    padded = np.zeros(n + 16, dtype=np.uint8)
    padded[:n] = norm
    words = np.ndarray((n + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from every offset
    lengths = nends - nstarts
    h = words[nstarts]
    h &= _BYTE_MASKS[np.minimum(lengths, 8)]
    h ^= lengths.astype(np.uint64) << np.uint64(56)
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
            digest = hashlib.blake2b(padded[nstarts[i] : nends[i]].tobytes(), digest_size=8).digest()
            h[i] = np.uint64(int.from_bytes(digest, "little"))
    return fmix64(h, in_place=True)


def _unified_hashes(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    """Hashes of tokens of a text with non-ASCII characters.

    A token made of ASCII characters hashes exactly as in ASCII text (so "halcyon"
    has one value whatever text it stands in); a token with other characters gets
    a polynomial over its code points, in a separate domain.
    """
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint64)
    wide = norm >= 128
    counts = np.concatenate(([0], np.cumsum(wide, dtype=np.int64)))
    has_wide = counts[nends] - counts[nstarts] > 0
    narrow = np.where(wide, 0, norm).astype(np.uint8)
    h = _ascii_hashes(narrow, nstarts, nends)
    if has_wide.any():
        h[has_wide] = _token_hashes(norm, nstarts[has_wide], nends[has_wide]) ^ _WIDE
    return h


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


def _normalise(source: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-character NFKC + casefold of a code point array, with the source index of each output,
    and the source positions of the invisible characters dropped (soft hyphens aside).

    Mostly-ASCII text (the common case) pays for sorting only its non-ASCII characters.
    """
    wide = source >= 128
    uniq_wide, inverse_wide = np.unique(source[wide], return_inverse=True)
    uniq = np.concatenate((np.arange(128, dtype=np.uint32), uniq_wide.astype(np.uint32)))
    inverse = source.astype(np.int64)
    inverse[wide] = 128 + inverse_wide
    table = [_char_table(int(c)) for c in uniq]
    lengths = np.fromiter((len(t[0]) for t in table), dtype=np.int64, count=len(table))
    flat = np.fromiter((c for t in table for c in t[0]), dtype=np.uint32, count=int(lengths.sum()))
    flat_kind = np.fromiter((k for t in table for k in t[1]), dtype=np.uint8, count=int(lengths.sum()))
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))

    per_char = lengths[inverse]
    if np.all(per_char == 1):
        index = offsets[inverse]
        return flat[index], flat_kind[index], np.arange(len(source)), np.zeros(0, dtype=np.int64)
    hidden = np.flatnonzero((per_char == 0) & (source != 0xAD))  # invisible characters, soft hyphens aside
    source_of = np.repeat(np.arange(len(source)), per_char)
    out_start = np.concatenate(([0], np.cumsum(per_char)[:-1]))
    index = offsets[inverse][source_of] + (np.arange(len(source_of)) - out_start[source_of])
    return flat[index], flat_kind[index], source_of, hidden


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


@lru_cache(maxsize=65536)
def _char_table(code: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ch = chr(code)
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate from a broken decode: a separator
        return (code,), (SEPARATOR,)
    if code >= 128 and is_default_ignorable(code):
        return (), ()  # invisible: it neither splits nor joins anything
    out = unicodedata.normalize("NFKC", ch).casefold()
    if not out:
        return (), ()
    return tuple(ord(c) for c in out), tuple(_kind(c) for c in out)


def _kind(ch: str) -> int:
    code = ord(ch)
    if (0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
            or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF):
        return SINGLE
    if ch.isalnum() or unicodedata.category(ch).startswith("M"):
        return WORD
    return SEPARATOR
