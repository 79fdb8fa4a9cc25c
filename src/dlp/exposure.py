"""Cumulative exposure: the share of a secret that has reached one destination over time.

A document leaked in slices, each message below every per-message threshold, still
leaves whole in the end. For each (secret, destination) pair the ledger keeps the
word ranges of the secret that left, and answers with the size of their union over a
time window. Repeating the same slice adds nothing; new slices add up.

Only ids, destination keys (``domain:x`` or ``country:XX``) and integers are stored;
never text. One SQLite file, WAL, safe for several processes and threads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

DAY = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    secret TEXT NOT NULL,
    destination TEXT NOT NULL,
    total INTEGER NOT NULL,
    ranges TEXT NOT NULL  -- JSON [[start, end], ...], merged, half-open word positions in the secret
);
CREATE INDEX IF NOT EXISTS leaves_key ON leaves(secret, destination, time);
"""


@dataclass(frozen=True)
class Exposure:
    secret: str
    destination: str
    words: int    # size of the union of the ranges within the window
    total: int    # the secret's size in words
    events: int   # items that left within the window

    @property
    def share(self) -> float:
        return self.words / self.total if self.total > 0 else 0.0


def merge_ranges(ranges: Iterable[tuple[int, int]], total: int | None = None) -> list[tuple[int, int]]:
    """Union of half-open ranges: sorted, overlapping and adjacent ones joined, empty ones dropped;
    clamped to [0, total] when `total` is given."""
    cleaned = []
    for start, end in ranges:
        start, end = int(start), int(end)
        if total is not None:
            start, end = max(0, start), min(total, end)
        if end > start:
            cleaned.append((start, end))
    cleaned.sort()
    merged: list[tuple[int, int]] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def covered(ranges: Iterable[tuple[int, int]]) -> int:
    """Words covered by already merged ranges."""
    return sum(end - start for start, end in ranges)


class ExposureLedger:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        if not self.path.parent.exists():
            os.makedirs(self.path.parent, mode=0o700, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def record(self, secret: str, destination: str, ranges: Iterable[tuple[int, int]], total: int) -> None:
        """One item carrying these words of the secret reached the destination now."""
        merged = merge_ranges(ranges, total)
        if not merged:
            return
        with self._lock:
            self._db.execute("INSERT INTO leaves (time, secret, destination, total, ranges) VALUES (?, ?, ?, ?, ?)",
                             (self.clock(), secret, destination, int(total), json.dumps(merged)))

    def exposure(self, secret: str, destination: str, window_days: float) -> Exposure:
        return self._union(secret, destination, window_days, extra=(), total=None)

    def preview(self, secret: str, destination: str, ranges: Iterable[tuple[int, int]], total: int,
                window_days: float) -> Exposure:
        """The exposure as it would be if this item left too; writes nothing, so a front end can
        decide before the content goes."""
        return self._union(secret, destination, window_days, extra=merge_ranges(ranges, total), total=total)

    def prune(self, older_than_days: float) -> int:
        with self._lock:
            cursor = self._db.execute("DELETE FROM leaves WHERE time < ?", (self.clock() - older_than_days * DAY,))
        return cursor.rowcount

    def _union(self, secret: str, destination: str, window_days: float, extra, total: int | None) -> Exposure:
        since = self.clock() - window_days * DAY
        with self._lock:
            rows = self._db.execute("SELECT total, ranges FROM leaves WHERE secret = ? AND destination = ? "
                                    "AND time >= ? ORDER BY time", (secret, destination, since)).fetchall()
        ranges = list(extra)
        size = total
        for row_total, row_ranges in rows:
            ranges.extend(tuple(r) for r in json.loads(row_ranges))
            size = size if size is not None else row_total
        size = size or 0
        merged = merge_ranges(ranges, size)
        return Exposure(secret, destination, covered(merged), size, len(rows))
