"""The fast sorts of `dlp.arrays` give exactly what NumPy's slow ones give."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlp.arrays import distinct_pairs, stable_argsort

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
