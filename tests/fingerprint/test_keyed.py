"""SipHash-2-4 of token hashes: the vectorised and the one-at-a-time paths are one function."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from dlp.fingerprint import Keyer
from dlp.fingerprint.keyed import _FEW, _siphash24_one, siphash24

WORDS = st.integers(min_value=0, max_value=(1 << 64) - 1)


def test_reference_vector_of_the_siphash_paper():
    # key 00..0f, the 8-byte message 00..07 (Aumasson and Bernstein, appendix A's table)
    key = bytes(range(16))
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    message = int.from_bytes(bytes(range(8)), "little")
    assert _siphash24_one(k0, k1, message) == 0x93F5F5799A932462
    assert int(siphash24(k0, k1, np.array([message], dtype=np.uint64))[0]) == 0x93F5F5799A932462


@settings(max_examples=200, deadline=None)
@given(WORDS, WORDS, st.lists(WORDS, min_size=1, max_size=3 * _FEW))
def test_both_paths_give_the_same_values(k0, k1, words):
    m = np.array(words, dtype=np.uint64)
    assert siphash24(k0, k1, m).tolist() == [_siphash24_one(k0, k1, w) for w in words]


def test_few_and_many_misses_fill_the_cache_alike():
    keyer = Keyer(b"k" * 32)
    hashes = np.arange(1, 4 * _FEW, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    one_by_one = np.concatenate([keyer.values(hashes[i : i + 1]) for i in range(len(hashes))])
    assert one_by_one.tolist() == keyer.values(hashes).tolist()


def test_a_cold_cache_that_meets_words_many_times_keys_each_as_the_uncached_path():
    # more misses than _DEDUPE: hashed once per distinct value, spread back to every position
    from dlp.fingerprint.keyed import _DEDUPE

    rng = np.random.default_rng(7)
    vocabulary = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    hashes = vocabulary[rng.integers(0, len(vocabulary), 3 * _DEDUPE)]
    keyer = Keyer(b"k" * 32)
    assert keyer.cached(hashes).tolist() == Keyer(b"k" * 32).values(hashes).tolist()
    assert keyer.cached(hashes[::-1]).tolist() == keyer.values(hashes[::-1]).tolist()  # now from the cache


def test_words_of_one_text_that_share_a_cache_slot_are_keyed_right(monkeypatch):
    # a cache of 16 slots: most of the 300 words of the text collide with another
    import dlp.fingerprint.keyed as keyed_module

    monkeypatch.setattr(keyed_module, "CACHE_BITS", 4)
    rng = np.random.default_rng(11)
    vocabulary = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    hashes = vocabulary[rng.integers(0, len(vocabulary), 3 * keyed_module._DEDUPE)]
    keyer = Keyer(b"k" * 32)
    expected = keyer.values(hashes).tolist()
    assert keyer.cached(hashes).tolist() == expected
    assert keyer.cached(hashes).tolist() == expected  # again, from what the small cache holds
