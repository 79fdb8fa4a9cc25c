"""Unicode NFKC + case folding, word tokens, and an offset map back to the source.

The whole pipeline is vectorised over code points with numpy: a Python loop runs
only over the *distinct* characters of a text (a few hundred), never over its
characters or tokens.

- Each source character is normalised on its own (NFKC, then casefold), so every
  normalised character maps back to exactly one source offset.
- Tokens are maximal runs of letters, digits and combining marks; each Han,
  Hiragana or Katakana character is a token of its own (those scripts do not
  separate words with spaces).
- Every token gets a 64-bit *unkeyed* hash (a polynomial over its code points).
  It never leaves the process: it is only the cache key for the keyed hash.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NORMALISER_VERSION = "nfkc-casefold-alnum-cjk/1"

SEPARATOR, WORD, SINGLE = 0, 1, 2
CHUNK_CHARS = 1 << 22  # longer texts are tokenised in slices, bounding the temporaries

_P = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_P_INV = np.uint64(pow(int(_P), -1, 1 << 64))


@dataclass(frozen=True)
class Tokens:
    """Tokens of one text: unkeyed hashes, source offsets, and their normalised text.

    `starts`/`ends` are offsets in the *source* text. `norm` holds the normalised code
    points and `nstarts`/`nends` the token bounds in it; `text_of(i)` rebuilds one
    normalised token (used only on a keyed-hash cache miss).
    """

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64, source offsets
    ends: np.ndarray
    norm: np.ndarray  # code points of the normalised text (uint8 for ASCII, else uint32)
    nstarts: np.ndarray
    nends: np.ndarray

    def __len__(self) -> int:
        return len(self.hashes)

    def text_of(self, i: int) -> str:
        chars = self.norm[self.nstarts[i] : self.nends[i]]
        return chars.tobytes().decode("ascii" if chars.dtype == np.uint8 else "utf-32-le")


def tokenise(text: str) -> Tokens:
    """Tokens of `text`, processed in slices cut at separators."""
    if len(text) <= CHUNK_CHARS:
        return _tokenise(text, 0, 0)
    pieces, base, nbase = [], 0, 0
    while base < len(text):
        end = _cut(text, base + CHUNK_CHARS)
        piece = _tokenise(text[base:end], base, nbase)
        pieces.append(piece)
        nbase += len(piece.norm)
        base = end
    return Tokens(
        hashes=np.concatenate([p.hashes for p in pieces]),
        starts=np.concatenate([p.starts for p in pieces]),
        ends=np.concatenate([p.ends for p in pieces]),
        norm=np.concatenate([p.norm for p in pieces]),
        nstarts=np.concatenate([p.nstarts for p in pieces]),
        nends=np.concatenate([p.nends for p in pieces]),
    )


def normalise_words(text: str) -> list[str]:
    """The normalised tokens of a short text (a term, a record field) as strings."""
    toks = tokenise(text)
    return [toks.text_of(i) for i in range(len(toks))]


def _cut(text: str, at: int) -> int:
    """An offset at or after `at` that falls on whitespace, so no token is split."""
    if at >= len(text):
        return len(text)
    for probe in range(at, min(len(text), at + 4096)):
        if text[probe].isspace():
            return probe
    return at  # a 4 KB run without whitespace: split it, the tokens were noise anyway


def _tokenise(text: str, base: int, nbase: int) -> Tokens:
    if text.isascii():
        norm, is_word = _ascii_lower(np.frombuffer(text.encode("ascii"), dtype=np.uint8))
        nstarts, nends = _runs(is_word)
        hashes = _ascii_hashes(norm, nstarts, nends)
        return Tokens(hashes, nstarts + base, nends + base, norm, nstarts + nbase, nends + nbase)

    source = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    norm, kinds, source_of = _normalise(source)
    nstarts, nends = _runs(kinds == WORD)
    if (kinds == SINGLE).any():
        singles = np.flatnonzero(kinds == SINGLE)
        nstarts = np.concatenate((nstarts, singles))
        nends = np.concatenate((nends, singles + 1))
        order = np.argsort(nstarts, kind="stable")
        nstarts, nends = nstarts[order], nends[order]

    hashes = _token_hashes(norm, nstarts, nends)
    starts = source_of[nstarts] + base
    ends = source_of[nends - 1] + 1 + base
    return Tokens(hashes, starts.astype(np.int64), ends.astype(np.int64), norm,
                  (nstarts + nbase).astype(np.int64), (nends + nbase).astype(np.int64))


def _runs(is_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the runs of True: transitions alternate start, end."""
    padded = np.zeros(len(is_word) + 2, dtype=bool)
    padded[1:-1] = is_word
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


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
    they never collide; longer ones fold in further 8-byte words. A different function
    from the general path's polynomial, which is fine: the unkeyed hash is only the
    cache key for the keyed value, which is computed from the token's text.
    """
    if len(nstarts) == 0:
        return np.zeros(0, dtype=np.uint64)
    n = len(norm)
    padded = np.zeros(n + 8, dtype=np.uint8)
    padded[:n] = norm
    words = np.ndarray((n + 1,), dtype="<u8", buffer=padded, strides=(1,))  # 8 bytes from every offset
    lengths = nends - nstarts
    h = words[nstarts] & _BYTE_MASKS[np.minimum(lengths, 8)]
    h ^= lengths.astype(np.uint64) << np.uint64(56)
    offset = 8
    longer = np.flatnonzero(lengths > offset)
    while len(longer) and offset < _LONG_TOKEN:
        rest = np.minimum(lengths[longer] - offset, 8)
        chunk = words[nstarts[longer] + offset] & _BYTE_MASKS[rest]
        h[longer] = fmix64(h[longer]) ^ chunk
        offset += 8
        longer = longer[lengths[longer] > offset]
    for i in longer.tolist():  # very long tokens (encoded blobs): hash their bytes whole
        digest = hashlib.blake2b(padded[nstarts[i] : nends[i]].tobytes(), digest_size=8).digest()
        h[i] = np.uint64(int.from_bytes(digest, "little"))
    return fmix64(h)


def _normalise(source: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-character NFKC + casefold of a code point array, with the source index of each output.

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
        return flat[index], flat_kind[index], np.arange(len(source))
    source_of = np.repeat(np.arange(len(source)), per_char)
    out_start = np.concatenate(([0], np.cumsum(per_char)[:-1]))
    index = offsets[inverse][source_of] + (np.arange(len(source_of)) - out_start[source_of])
    return flat[index], flat_kind[index], source_of


@lru_cache(maxsize=65536)
def _char_table(code: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    ch = chr(code)
    if 0xD800 <= code <= 0xDFFF:  # lone surrogate from a broken decode: a separator
        return (code,), (SEPARATOR,)
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


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: full avalanche, vectorised."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB93FE53EC34B)
    return h ^ (h >> np.uint64(33))
