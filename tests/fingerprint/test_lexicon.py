"""A large lookup through the lexicon's hash table answers exactly what binary search answers."""

import numpy as np
import pytest

from dlp.fingerprint import lexicon as lexicon_module
from dlp.fingerprint.lexicon import Lexicon


def _lexicon(keys: np.ndarray) -> Lexicon:
    keys = np.sort(keys)
    rng = np.random.default_rng(1)
    return Lexicon(keys, rng.integers(1, 2**63, len(keys), dtype=np.uint64),
                   rng.random(len(keys), dtype=np.float32) * 10, rng.integers(0, 4, len(keys), dtype=np.uint8))


@pytest.mark.parametrize("with_zero", [False, True], ids=["keys", "a-zero-key"])
def test_table_lookup_equals_binary_search(monkeypatch, with_zero):
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 2**64 - 1, 50_000, dtype=np.uint64))
    if with_zero:  # 0 marks an empty slot of the table: such a lexicon is searched instead
        keys[0] = 0
    lexicon = _lexicon(keys)
    queries = np.concatenate([rng.choice(keys, 30_000), rng.integers(0, 2**64 - 1, 30_000, dtype=np.uint64),
                              np.array([0, 2**64 - 1], dtype=np.uint64)])
    assert len(queries) >= lexicon_module.TABLE_QUERIES
    fast = lexicon.lookup(queries)
    monkeypatch.setattr(lexicon_module, "TABLE_QUERIES", 1 << 62)
    slow = lexicon.lookup(queries)
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype and np.array_equal(a, b)
