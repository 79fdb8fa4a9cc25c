"""Cutting the file list into tasks of similar size.

A task should be long enough that the scheduler's cost per task (about a
millisecond) is lost in the noise, and short enough that the last tasks do not
leave workers idle and that a retry after a lost worker repeats little work.
Files stay in input order within a batch; a file larger than the target is a
batch of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

MIN_BATCH_BYTES = 64 << 10  # 64 KiB: about 0.1 s of scanning; below it, per-task overhead shows
MAX_BATCH_BYTES = 64 << 20  # 64 MiB: a retry repeats at most this much
MAX_BATCH_FILES = 500       # many tiny files: bound the work a retry repeats
TASKS_PER_WORKER = 8        # enough tail slack for balancing across workers


@dataclass(frozen=True)
class Batch:
    """Positions (into the input list) of the files of one task, and their total size."""

    indexes: tuple[int, ...]
    bytes: int


def target_bytes(total: int, workers: int) -> int:
    """Bytes per task: about TASKS_PER_WORKER tasks per worker, within the bounds above."""
    share = total // max(1, workers * TASKS_PER_WORKER)
    return max(MIN_BATCH_BYTES, min(MAX_BATCH_BYTES, share))


def plan(sizes: Sequence[int], target: int, max_files: int = MAX_BATCH_FILES) -> list[Batch]:
    """Consecutive runs of files of about `target` bytes (at most `max_files` files) each."""
    out: list[Batch] = []
    current: list[int] = []
    weight = 0
    for index, size in enumerate(sizes):
        if current and (weight + size > target or len(current) >= max_files):
            out.append(Batch(tuple(current), weight))
            current, weight = [], 0
        current.append(index)
        weight += size
    if current:
        out.append(Batch(tuple(current), weight))
    return out
