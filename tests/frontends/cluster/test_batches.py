"""Cutting the file list into tasks: sizes balanced, order kept, every file once."""

from __future__ import annotations

import pytest

from dlp.frontends.cluster.batches import MAX_BATCH_BYTES, MIN_BATCH_BYTES, Batch, plan, target_bytes


@pytest.mark.parametrize(
    "sizes, target, max_files, expected",
    [
        ([], 10, 5, []),
        ([3, 3, 3, 3], 6, 5, [((0, 1), 6), ((2, 3), 6)]),
        ([3, 3, 3, 3], 7, 5, [((0, 1), 6), ((2, 3), 6)]),
        ([20, 1, 1], 10, 5, [((0,), 20), ((1, 2), 2)]),        # a big file is a task of its own
        ([1, 20, 1], 10, 5, [((0,), 1), ((1,), 20), ((2,), 1)]),
        ([0] * 7, 10, 3, [((0, 1, 2), 0), ((3, 4, 5), 0), ((6,), 0)]),  # many empty files: bounded count
    ],
)
def test_plan(sizes, target, max_files, expected):
    assert plan(sizes, target, max_files) == [Batch(indexes, size) for indexes, size in expected]


@pytest.mark.parametrize("n, target", [(1, 1), (100, 7), (1000, 64), (37, 1000)])
def test_every_file_once_in_input_order(n, target):
    sizes = [(i * 7919) % 97 for i in range(n)]
    batches = plan(sizes, target)
    assert [i for b in batches for i in b.indexes] == list(range(n))
    assert all(b.bytes == sum(sizes[i] for i in b.indexes) for b in batches)
    assert all(b.bytes <= target or len(b.indexes) == 1 for b in batches)


@pytest.mark.parametrize(
    "total, workers, expected",
    [
        (0, 2, MIN_BATCH_BYTES),
        (512 << 10, 2, MIN_BATCH_BYTES),       # 512 KiB / 16 tasks is below the floor
        (10 << 20, 2, (10 << 20) // 16),       # 10 MiB on 2 workers: 8 tasks each
        (1 << 30, 2, (1 << 30) // 16),         # 1 GiB on 2 workers: 64 MiB tasks
        (1 << 40, 100, MAX_BATCH_BYTES),       # 1 TiB on 100 workers: the ceiling
    ],
)
def test_target_bytes(total, workers, expected):
    assert target_bytes(total, workers) == expected
