"""The registry key and keyed hashes of tokens and files.

Every value that reaches the store is derived from keyed BLAKE2b: without the key
file, a copy of the store cannot confirm a guessed text. Token values are cached
in a direct-mapped table indexed by the unkeyed token hash, so a scan computes a
keyed hash in Python only for words it has not seen recently.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from pathlib import Path

import numpy as np

from ..errors import KeyMissing
from ..text import Tokens

KEY_BYTES = 32
CACHE_BITS = 20  # 1M slots, 16 MB


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
        size = 1 << CACHE_BITS
        self._mask = np.uint64(size - 1)
        # slot -> (unkeyed hash, keyed value) side by side: one cache line per lookup.
        # An empty slot has tag 0; a token whose unkeyed hash is 0 simply always misses.
        self._table = np.zeros((size, 2), dtype=np.uint64)
        self._lock = threading.Lock()  # scanners in threads share this cache: no torn entries
        self.check_value = self.digest(b"dlp registry key check", person=b"dlp-check")

    def digest(self, data: bytes, *, person: bytes = b"dlp-file") -> str:
        return hashlib.blake2b(data, key=self._key, digest_size=16, person=person).hexdigest()

    def word(self, word: str) -> int:
        raw = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), key=self._key, digest_size=8, person=b"dlp-tok1").digest()
        return int.from_bytes(raw, "little")

    def tokens(self, toks: Tokens) -> np.ndarray:
        """Keyed values of all tokens (uint64), through the cache."""
        with self._lock:
            return self._tokens(toks)

    def _tokens(self, toks: Tokens) -> np.ndarray:
        hashes = toks.hashes
        if len(hashes) == 0:
            return np.zeros(0, dtype=np.uint64)
        slots = (hashes & self._mask).astype(np.intp)
        entries = self._table[slots]
        hit = entries[:, 0] == hashes
        out = entries[:, 1]
        if hit.all():
            return out
        missing = np.flatnonzero(~hit)
        _, first = np.unique(hashes[missing], return_index=True)
        for i in missing[first].tolist():
            value = self.word(toks.text_of(i))
            self._table[slots[i]] = (hashes[i], value)
        # fill every miss from the table; two new words sharing a slot within one text,
        # or a zero hash, are computed directly
        out[missing] = self._table[slots[missing], 1]
        for i in missing[self._table[slots[missing], 0] != hashes[missing]].tolist():
            out[i] = self.word(toks.text_of(i))
        return out

    def words(self, words: list[str]) -> tuple[int, ...]:
        return tuple(self.word(w) for w in words)
