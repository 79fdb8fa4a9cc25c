"""Bitmaps over keyed values, and the binary searches behind them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp.arrays import distinct
from dlp.fingerprint import bitmap

values64 = st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 40), max_size=60)


@settings(max_examples=200, deadline=None)
@given(stored=values64, queries=values64)
def test_lookup_finds_exactly_the_stored_values_with_every_entry(stored, queries):
    sorted_values = np.sort(np.array(stored, dtype=np.uint64))
    q = np.array(queries, dtype=np.uint64)
    bits = bitmap.build(sorted_values, bitmap.bits_for(len(sorted_values)))
    cand, lo, counts = bitmap.lookup(sorted_values, bits, q)
    assert sorted(cand.tolist()) == [i for i, v in enumerate(queries) if v in stored]
    for i, start, count in zip(cand.tolist(), lo.tolist(), counts.tolist()):
        assert count == stored.count(queries[i])
        assert (sorted_values[start : start + count] == q[i]).all()


@settings(max_examples=200, deadline=None)
@given(stored=values64, queries=values64)
def test_search_of_distinct_values_answers_as_the_general_search(stored, queries):
    sorted_values = distinct(np.array(stored, dtype=np.uint64))
    q = np.array(queries, dtype=np.uint64)
    everything = np.arange(len(q))
    general = bitmap.search(sorted_values, q, everything)
    once = bitmap.search(sorted_values, q, everything, distinct=True)
    # the same (query, entry, count) answers; queries of one value may come in another order
    assert sorted(zip(*(a.tolist() for a in general))) == sorted(zip(*(b.tolist() for b in once)))
