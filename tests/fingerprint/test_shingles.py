import numpy as np
from hypothesis import given, settings, strategies as st

from dlp.fingerprint import K, W, Keyer, shingles, winnow
from dlp.text import tokenise


def test_keyed_values_depend_on_the_key():
    toks = tokenise("the same words under two keys")
    a = Keyer(b"a" * 32).tokens(toks)
    b = Keyer(b"b" * 32).tokens(toks)
    assert len(a) == 6 and not set(a.tolist()) & set(b.tolist())


def test_cache_returns_the_same_values_as_direct_hashing():
    keyer = Keyer(b"k" * 32)
    toks = tokenise("alpha beta gamma alpha beta delta " * 3)
    first = keyer.tokens(toks)
    again = keyer.tokens(toks)
    direct = [keyer.word(toks.text_of(i)) for i in range(len(toks))]
    assert first.tolist() == again.tolist() == direct


def test_shingle_count_and_order_sensitivity():
    values = np.arange(1, 20, dtype=np.uint64)
    assert len(shingles(values)) == 19 - K + 1
    assert len(shingles(values[: K - 1])) == 0
    swapped = values.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    assert shingles(values)[0] != shingles(swapped)[0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=W + 1, max_size=300))
def test_winnowing_leaves_no_window_without_a_fingerprint(raw):
    hashes = np.array(raw, dtype=np.uint64)
    picks = set(winnow(hashes).tolist())
    for start in range(len(hashes) - W + 1):
        assert picks & set(range(start, start + W))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=K, max_size=40), st.data())
def test_windows_picked_out_of_a_text_have_the_shingles_of_the_text(words, data):
    from dlp.fingerprint.shingles import shingles_of

    values = np.array(words, dtype=np.uint64)
    starts = np.array(data.draw(st.lists(st.integers(0, len(words) - K), max_size=10)), dtype=np.int64)
    picked = shingles_of([values[starts + m] for m in range(K)])
    assert picked.tolist() == shingles(values)[starts].tolist()
