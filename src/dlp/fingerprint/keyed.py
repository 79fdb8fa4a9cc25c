"""The registry key and keyed values of tokens and files.

Every value that reaches the store is derived from the registry key: without the
key file, a copy of the store cannot confirm a guessed text.

- A token's keyed value is SipHash-2-4 (a pseudo-random function designed for short
  inputs, Aumasson and Bernstein 2012) of its 64-bit unkeyed hash, under a 128-bit
  key derived from the registry key. It is computed with numpy for all the tokens of
  a text at once, so no Python runs per word, even in a fresh process.
- A direct-mapped cache indexed by the unkeyed hash keeps recent values: the words
  of business text repeat, and one gather from the cache is cheaper than the eight
  SipHash rounds.
- Files and checks get keyed BLAKE2b digests.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from pathlib import Path

import numpy as np

from .. import speedups
from ..arrays import distinct
from ..errors import KeyMissing, UsageError
from ..text import Tokens, tokenise

KEY_BYTES = 32
CACHE_BITS = 20  # 1M slots, 16 MB
KEYED_VERSION = "siphash24-of-unkeyed64/1"


def new_key_file(path: Path) -> bytes:
    """Create a fresh random key readable by its owner only. Never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.hex().encode() + b"\n")
    return key


def load_key(path: Path) -> bytes:
    try:
        raw = path.read_bytes().strip()
    except FileNotFoundError:
        raise KeyMissing(f"registry key {path} not found (pass --key FILE or set DLP_KEY_FILE)") from None
    except OSError as exc:
        raise KeyMissing(f"registry key {path} cannot be read: {exc.strerror}") from None
    try:
        key = bytes.fromhex(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyMissing(f"registry key {path} is not a dlp key ({KEY_BYTES} bytes in hex)")
    return key


class Keyer:
    """Keyed 64-bit values for tokens, and keyed digests, under one registry key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        sip = hashlib.blake2b(key, digest_size=16, person=b"dlp-siphash24").digest()
        self._k0 = int.from_bytes(sip[:8], "little")
        self._k1 = int.from_bytes(sip[8:], "little")
        size = 1 << CACHE_BITS
        self._mask = np.uint64(size - 1)
        # slot -> unkeyed hash and keyed value, in two flat arrays (NumPy gathers from flat arrays
        # several times faster than rows of a 2-D one, which outweighs the second cache line).
        # An empty slot has tag 0; a token whose unkeyed hash is 0 simply always misses.
        self._keys = np.zeros(size, dtype=np.uint64)  # a slot's unkeyed hash, and its keyed value
        self._values = np.zeros(size, dtype=np.uint64)
        self._lock = threading.Lock()  # scanners in threads share this cache: no torn entries
        self.check_value = self.digest(b"dlp registry key check", person=b"dlp-check")

    def digest(self, data: bytes, *, person: bytes = b"dlp-file") -> str:
        return hashlib.blake2b(data, key=self._key, digest_size=16, person=person).hexdigest()

    def digest_file(self, handle, *, person: bytes = b"dlp-file") -> str:
        """`digest` of a binary file's contents from its current position, read a block at a
        time: a 40 MB item is not held whole (40 MB of fresh pages) only to be hashed."""
        return hashlib.file_digest(
            handle, lambda: hashlib.blake2b(key=self._key, digest_size=16, person=person)).hexdigest()

    def mac(self, data: bytes, *, person: bytes) -> str:
        """A keyed digest for integrity checks (store arrays, verification records)."""
        return hashlib.blake2b(data, key=self._key, digest_size=32, person=person).hexdigest()

    def hasher(self, *, person: bytes):
        """A keyed BLAKE2b object to feed large data in pieces (see `mac`)."""
        return hashlib.blake2b(key=self._key, digest_size=32, person=person)

    def values(self, unkeyed: np.ndarray) -> np.ndarray:
        """Keyed values of unkeyed token hashes, without the cache."""
        if len(unkeyed) <= _FEW:
            return np.array([_siphash24_one(self._k0, self._k1, int(m)) for m in unkeyed.tolist()], dtype=np.uint64)
        return siphash24(self._k0, self._k1, np.ascontiguousarray(unkeyed, dtype=np.uint64))

    def tokens(self, toks: Tokens) -> np.ndarray:
        """Keyed values of all tokens (uint64), through the cache."""
        return self.cached(toks.hashes)

    def cached(self, hashes: np.ndarray) -> np.ndarray:
        """Keyed values of unkeyed token hashes (of one text or of several), through the cache."""
        if len(hashes) == 0:
            return np.zeros(0, dtype=np.uint64)
        native = speedups.native
        with self._lock:
            if native is not None and hashes.dtype == np.uint64:  # hits gathered in one C pass
                out = np.empty(len(hashes), dtype=np.uint64)
                missing = np.frombuffer(native.cache_gather(np.ascontiguousarray(hashes), self._keys, self._values,
                                                            out), dtype=np.int64)
                if len(missing) == 0:
                    return out
                slots = (hashes & self._mask).view(np.int64)
            else:
                slots = (hashes & self._mask).view(np.int64)  # two flat arrays: 5x faster gathers than rows
                hit = np.take(self._keys, slots) == hashes
                out = np.take(self._values, slots)
                if hit.all():
                    return out
                missing = np.flatnonzero(~hit)
            wanted = hashes[missing]
            if len(wanted) <= _DEDUPE:
                out[missing] = self.values(wanted)
                self._keys[slots[missing]] = wanted
                self._values[slots[missing]] = out[missing]
                return out
            # a cold cache meets a text's words many times over: each is keyed once, stored,
            # and every occurrence read back from the cache (words of this text that share a
            # slot, the few the cache cannot hold at once, are looked up among the new ones)
            words = distinct(wanted)
            keyed = self.values(words)
            at = (words & self._mask).view(np.int64)
            self._keys[at] = words
            self._values[at] = keyed
            where = slots[missing]
            out[missing] = np.take(self._values, where)
            lost = np.flatnonzero(np.take(self._keys, where) != wanted)
            if len(lost):
                out[missing[lost]] = keyed[np.searchsorted(words, wanted[lost])]
        return out

    def word(self, word: str) -> int:
        """The keyed value of one normalised word (as `normalise_words` gives it)."""
        toks = tokenise(word)
        if len(toks) != 1:
            raise UsageError(f"not one word after normalisation: {len(toks)} tokens")
        return int(self.values(toks.hashes)[0])

    def words(self, words: list[str]) -> tuple[int, ...]:
        return tuple(self.word(w) for w in words)


# -- SipHash-2-4 over one 64-bit word, vectorised ---------------------------------------------

_DEDUPE = 4096  # more cache misses than this are hashed once per distinct value (a sort costs less)

# Up to this many values are hashed one by one in Python: the vectorised rounds are some
# 200 numpy calls whatever the length, and a mail's cache misses are mostly 2 or 3 tokens
# (80 us through numpy, about 8 us each in Python).
_FEW = 8
_M64 = (1 << 64) - 1

_C = [np.uint64(c) for c in (0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573)]
_LAST = np.uint64(8 << 56)  # the final block of an 8-byte message: its length in the top byte
_FF = np.uint64(0xFF)
_R = {r: (np.uint64(r), np.uint64(64 - r)) for r in (13, 16, 17, 21, 32)}


def siphash24(k0: int, k1: int, m: np.ndarray) -> np.ndarray:
    """SipHash-2-4 of each 64-bit little-endian word of `m` (an 8-byte message), under (k0, k1)."""
    n = len(m)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    v0 = np.full(n, np.uint64(k0) ^ _C[0], dtype=np.uint64)
    v1 = np.full(n, np.uint64(k1) ^ _C[1], dtype=np.uint64)
    v2 = np.full(n, np.uint64(k0) ^ _C[2], dtype=np.uint64)
    v3 = np.full(n, np.uint64(k1) ^ _C[3], dtype=np.uint64)
    tmp = np.empty(n, dtype=np.uint64)
    v3 ^= m
    _rounds(v0, v1, v2, v3, tmp, 2)
    v0 ^= m
    v3 ^= _LAST
    _rounds(v0, v1, v2, v3, tmp, 2)
    v0 ^= _LAST
    v2 ^= _FF
    _rounds(v0, v1, v2, v3, tmp, 4)
    v0 ^= v1
    v0 ^= v2
    v0 ^= v3
    return v0


def _siphash24_one(k0: int, k1: int, m: int) -> int:
    """`siphash24` of one word, in Python integers (the same function; tested against it)."""
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573 ^ m
    v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
    v0 ^= m
    v3 ^= 8 << 56
    v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
    v0 ^= 8 << 56
    v2 ^= 0xFF
    v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _sip_rounds(v0: int, v1: int, v2: int, v3: int, count: int) -> tuple[int, int, int, int]:
    """`count` SipRounds on Python integers (`_rounds` on arrays)."""
    for _ in range(count):
        v0 = (v0 + v1) & _M64
        v1 = ((v1 << 13) | (v1 >> 51)) & _M64 ^ v0
        v0 = ((v0 << 32) | (v0 >> 32)) & _M64
        v2 = (v2 + v3) & _M64
        v3 = ((v3 << 16) | (v3 >> 48)) & _M64 ^ v2
        v0 = (v0 + v3) & _M64
        v3 = ((v3 << 21) | (v3 >> 43)) & _M64 ^ v0
        v2 = (v2 + v1) & _M64
        v1 = ((v1 << 17) | (v1 >> 47)) & _M64 ^ v2
        v2 = ((v2 << 32) | (v2 >> 32)) & _M64
    return v0, v1, v2, v3


def _rotl(x: np.ndarray, r: int, tmp: np.ndarray) -> None:
    left, right = _R[r]
    np.left_shift(x, left, out=tmp)
    np.right_shift(x, right, out=x)
    x |= tmp


def _rounds(v0, v1, v2, v3, tmp, count: int) -> None:
    for _ in range(count):
        v0 += v1
        _rotl(v1, 13, tmp)
        v1 ^= v0
        _rotl(v0, 32, tmp)
        v2 += v3
        _rotl(v3, 16, tmp)
        v3 ^= v2
        v0 += v3
        _rotl(v3, 21, tmp)
        v3 ^= v0
        v2 += v1
        _rotl(v1, 17, tmp)
        v1 ^= v2
        _rotl(v2, 32, tmp)
