"""The fast sorts of `dlp.arrays` give exactly what NumPy's slow ones give."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlp.arrays import distinct_pairs, stable_argsort, stable_sort

small = st.lists(st.integers(0, 5), max_size=300)  # many ties
wide = st.lists(st.integers(0, 2**64 - 1), max_size=300)


@settings(max_examples=200, deadline=None)
@given(st.one_of(small, wide), st.sampled_from([np.uint64, np.int64, np.uint32]))
def test_stable_argsort_is_numpys_stable_argsort(raw, dtype):
    values = np.array([v % (2**31) if dtype != np.uint64 else v for v in raw], dtype=dtype)
    assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.integers(0, 4), st.integers(0, 2**64 - 1)),
                          st.one_of(st.integers(0, 3), st.integers(0, 2**64 - 1))), max_size=300))
def test_distinct_pairs_is_unique_along_columns(pairs):
    first = np.array([a for a, _ in pairs], dtype=np.uint64)
    second = np.array([b for _, b in pairs], dtype=np.uint64)
    expected = np.unique(np.stack([first, second]), axis=1) if pairs else np.zeros((2, 0), dtype=np.uint64)
    got = distinct_pairs(first, second)
    assert got.dtype == np.uint64 and np.array_equal(got, expected)


@pytest.mark.parametrize("n", [1_000_000])
def test_stable_argsort_on_many_ties(n):
    values = (np.arange(n, dtype=np.uint64) * np.uint64(7919)) % np.uint64(1000)
    assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(small, wide), st.sampled_from([np.uint64, np.int64, np.uint32]))
def test_distinct_first_is_numpys_unique_with_first_indices(raw, dtype):
    from dlp.arrays import distinct_first

    values = np.array(raw, dtype=np.uint64).astype(dtype)
    expected_values, expected_first = np.unique(values, return_index=True)
    got_values, got_first = distinct_first(values)
    assert got_values.tolist() == expected_values.tolist() and got_first.tolist() == expected_first.tolist()


@settings(max_examples=100, deadline=None)
@given(st.integers(1024, 6000), st.integers(0, 2**32), st.integers(1, 40), st.integers(1, 6),
       st.sampled_from([np.uint64, np.uint32, np.int64]))
def test_stable_argsort_of_values_that_differ_only_in_their_low_bits(n, seed, tops, lows, dtype):
    """Long arrays take the packed sort: values that share their top bits and differ below
    (put in order afterwards), equal values (kept in index order) and disorder in between."""
    rng = np.random.default_rng(seed)
    width = {np.uint64: 64, np.uint32: 32, np.int64: 63}[dtype]
    top = rng.integers(0, 2**20, tops, dtype=np.uint64)[rng.integers(0, tops, n)] << np.uint64(width - 20)
    low = rng.integers(0, 2**12, lows, dtype=np.uint64)[rng.integers(0, lows, n)]
    values = (top | low).astype(dtype)
    assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))
    ranked, order = stable_sort(values)
    assert np.array_equal(order, np.argsort(values, kind="stable")) and np.array_equal(ranked, values[order])


def test_stable_argsort_of_a_few_keyed_hashes_in_millions():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2**64 - 1, 3_000_000, dtype=np.uint64)
    values[rng.integers(0, len(values), 5000)] = values[:5000]  # some repeated
    near = rng.integers(0, len(values), (60, 2))  # and near neighbours: the same top bits, other low bits
    values[near[:, 0]] = values[near[:, 1]] ^ rng.integers(1, 2**20, 60, dtype=np.uint64)
    assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))
    ranked, order = stable_sort(values)
    assert np.array_equal(ranked, np.sort(values)) and np.array_equal(order, np.argsort(values, kind="stable"))


@settings(max_examples=100, deadline=None)
@given(st.integers(1024, 5000), st.integers(0, 2**32), st.integers(0, 40), st.sampled_from([np.int64, np.int32]))
def test_stable_argsort_of_small_numbers_in_long_arrays(n, seed, top, dtype):
    """Sentence and column numbers, doc numbers, all zeros, and negative numbers (sorted the old way)."""
    rng = np.random.default_rng(seed)
    high = 2 ** min(top, 31 if dtype == np.int32 else 40)
    values = rng.integers(-3 if seed % 5 == 0 else 0, high + 1, n).astype(dtype)
    assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 5000), st.booleans())
def test_among_is_isin_for_many_values_too(seed, set_size, low_entropy):
    """Past AMONG_TABLE_FROM values, a table of the set's top bits answers first: keyed hashes,
    and small numbers (whose top bits are all zero, so the table passes every one)."""
    from dlp.arrays import AMONG_TABLE_FROM, among

    rng = np.random.default_rng(seed)
    high = 5000 if low_entropy else 2**64 - 1
    values = rng.integers(0, high, AMONG_TABLE_FROM + 100, dtype=np.uint64)
    the_set = np.sort(np.concatenate([rng.choice(values, set_size // 2), rng.integers(0, high, set_size - set_size // 2,
                                                                                      dtype=np.uint64)]))
    assert np.array_equal(among(values, the_set), np.isin(values, the_set))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 300), max_size=80), st.lists(st.integers(-5, 320), max_size=80), st.booleans(),
       st.sampled_from(["left", "right"]))
def test_positions_are_searched_and_found_as_numpy_does(stored, queries, ascending, side):
    """Token positions (non-negative int64) searched galloping from the previous answer, queries
    in ascending order or not, negative ones too (in `among`): numpy.searchsorted's answers."""
    from dlp.arrays import among, ascending_searchsorted

    stored = np.sort(np.array(stored, dtype=np.int64))
    queries = np.array(sorted(queries) if ascending else queries, dtype=np.int64)
    if len(stored) and (queries >= 0).all():
        assert np.array_equal(ascending_searchsorted(stored, queries, side), np.searchsorted(stored, queries, side=side))
    if len(stored):
        assert np.array_equal(among(queries, stored), np.isin(queries, stored))
