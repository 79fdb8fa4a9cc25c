"""Cumulative exposure: how much of a secret has reached one destination over time.

Why this exists: every per-message rule (ours, and those of commercial DLP products)
judges one item at a time. A registered document sent in slices (a hundred words
per mail, a page per upload) stays below every per-item threshold, yet after twenty
items the whole document has left. None of the usual products keep track of this.
The ledger does: for each (secret id, destination key) it keeps the word ranges of
the secret that left, and answers with the size of their *union* over a time window.
Sending the same slice again adds nothing; new slices add up.

A front end asks :meth:`ExposureLedger.preview` before content leaves ("what share
would have left if this went too?") and calls :meth:`ExposureLedger.record` only
once the content has really left, so blocked items never count.

Only secret ids, destination keys (``domain:partner.example``, ``country:CN``) and
integers are stored, never text: the ledger can be read without learning anything
of a secret. One SQLite file in WAL mode, guarded by a lock for threads and by
SQLite's own locking (with a 10 s busy timeout) for several processes: the watch
daemon, the milter and CLI commands share it.
"""

from __future__ import annotations

import json
import operator
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import UsageError

DAY = 86400.0  # seconds
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    secret TEXT NOT NULL,
    destination TEXT NOT NULL,
    total INTEGER NOT NULL,
    ranges TEXT NOT NULL  -- JSON [[start, end], ...]: merged, half-open word positions in the secret
);
CREATE INDEX IF NOT EXISTS leaves_key ON leaves(secret, destination, time);
"""

Range = tuple[int, int]


@dataclass(frozen=True)
class Exposure:
    """What share of one secret reached one destination within a window.

    ``events`` counts the *recorded* leaves within the window; a preview does not
    count the item it previews, so a caller can say "this would be the n+1th item".
    """

    secret: str
    destination: str  # the key, e.g. "domain:partner.example" or "country:CN"
    words: int        # size of the union of the ranges that left within the window
    total: int        # the secret's size in words (the latest total recorded)
    share: float      # words / total, 0 when total is 0
    events: int       # recorded leaves within the window

    @classmethod
    def of(cls, secret: str, destination: str, words: int, total: int, events: int) -> Exposure:
        """Build one with ``share`` computed, so it can never disagree with words and total."""
        return cls(secret, destination, words, total, words / total if total > 0 else 0.0, events)


def _as_range(item: Any) -> Range | None:
    """``(start, end)`` as two ints, or None for anything else (floats, bools, wrong shapes)."""
    try:
        start, end = item
    except (TypeError, ValueError):
        return None
    if isinstance(start, bool) or isinstance(end, bool):
        return None
    try:
        return operator.index(start), operator.index(end)
    except TypeError:
        return None


def merge_ranges(ranges: Iterable[Any], total: int | None = None) -> list[Range]:
    """The union of half-open word ranges ``[start, end)`` as sorted, disjoint ranges.

    Overlapping and adjacent ranges join (``[0,10) + [10,20) = [0,20)``), contained
    ones vanish. Ranges are clamped to ``[0, total]`` (to ``[0, inf)`` without a
    total); ranges that are then empty or reversed, and items that are not two
    integers, are ignored: word positions come from matchers, and a bad one must
    not inflate a share.
    """
    cleaned: list[Range] = []
    for item in ranges:
        pair = _as_range(item)
        if pair is None:
            continue
        start, end = max(0, pair[0]), pair[1]
        if total is not None:
            end = min(total, end)
        if end > start:
            cleaned.append((start, end))
    cleaned.sort()
    merged: list[Range] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def covered(ranges: Iterable[Range]) -> int:
    """The number of words in *merged* (disjoint) ranges; merge first, or overlaps count twice."""
    return sum(end - start for start, end in ranges)


def _create_private(path: Path) -> None:
    """Create the parent directory (0700) and the file (0600) so no other user can read the ledger."""
    if not path.parent.exists():
        os.makedirs(path.parent, mode=0o700, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


class ExposureLedger:
    """Leave events per (secret, destination) in one SQLite file; see the module docstring."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time, read_only: bool = False) -> None:
        """`read_only`: for a dry run, which must see what a recorded scan sees and change nothing
        (no ledger yet: an empty one in memory)."""
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        if read_only:
            self._db = read_only_database(self.path, _SCHEMA)
            return
        _create_private(self.path)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                                   isolation_level=None)  # autocommit: each statement is its own transaction
        self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        use_wal(self._db)
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> ExposureLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record(self, secret: str, destination: str, ranges: Iterable[Range], total: int) -> None:
        """One item carrying these words of the secret reached the destination now (``clock()``).

        Call it only for content that really left. An item whose ranges are all empty
        or invalid carried none of the secret and is not recorded.
        """
        total = _checked_total(total)
        merged = merge_ranges(ranges, total)
        if not merged:
            return
        with self._lock:
            self._db.execute("INSERT INTO leaves (time, secret, destination, total, ranges) VALUES (?, ?, ?, ?, ?)",
                             (self.clock(), secret, destination, total, json.dumps(merged)))

    def exposure(self, secret: str, destination: str, window_days: float) -> Exposure:
        """The union of what left for this pair at or after ``now - window_days``."""
        total, ranges, events = self._window(secret, destination, window_days)
        merged = merge_ranges(ranges, total)
        return Exposure.of(secret, destination, covered(merged), total, events)

    def exposures(self, window_days: float) -> list[Exposure]:
        """Every (secret, destination) that received something within the window, largest share first
        (the review console's slow-leak chart)."""
        since = self.clock() - window_days * DAY
        with self._lock:
            pairs = self._db.execute("SELECT DISTINCT secret, destination FROM leaves WHERE time >= ?",
                                     (since,)).fetchall()
        found = [self.exposure(secret, destination, window_days) for secret, destination in pairs]
        return sorted(found, key=lambda e: (-e.share, e.secret, e.destination))

    def preview(self, secret: str, destination: str, ranges: Iterable[Range], total: int,
                window_days: float) -> Exposure:
        """The exposure as it would be if this item left too; writes nothing.

        A front end calls it before content leaves, so it can block the item that
        would cross the threshold. ``total`` is this item's (thus the latest) total;
        ``events`` counts only the items already recorded.
        """
        total = _checked_total(total)
        _, recorded, events = self._window(secret, destination, window_days)
        merged = merge_ranges([*recorded, *merge_ranges(ranges, total)], total)
        return Exposure.of(secret, destination, covered(merged), total, events)

    def prune(self, older_than_days: float) -> int:
        """Delete events older than ``now - older_than_days``; returns how many went."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM leaves WHERE time < ?", (self.clock() - older_than_days * DAY,))
        return cursor.rowcount

    def _window(self, secret: str, destination: str, window_days: float) -> tuple[int, list[Any], int]:
        """(latest total, all stored ranges, event count) for the pair within the window."""
        since = self.clock() - window_days * DAY
        with self._lock:
            rows = self._db.execute("SELECT total, ranges FROM leaves WHERE secret = ? AND destination = ? "
                                    "AND time >= ? ORDER BY time, id", (secret, destination, since)).fetchall()
        ranges: list[Any] = []
        for _, stored in rows:
            ranges.extend(json.loads(stored))
        # a secret re-registered at another size: the latest size counts, older ranges are clamped to it
        total = rows[-1][0] if rows else 0
        return total, ranges, len(rows)


def use_wal(db: sqlite3.Connection, attempts: int = 200) -> None:
    """Write-ahead logging for `db`, so readers never wait for writers. Switching needs the file
    to itself for a moment, and SQLite does not wait for that (its busy timeout does not
    apply): two processes creating a store at once saw "database is locked". The mode is
    kept in the file, so once one of them has switched, the others find it set."""
    for attempt in range(attempts):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 + 0.01 * (attempt % 5))


def read_only_database(path: Path, schema: str) -> sqlite3.Connection:
    """A connection that cannot write: the file opened read-only, or an empty database in memory."""
    if path.exists():
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                             check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        return db
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db.executescript(schema)
    return db


def _checked_total(total: int) -> int:
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise UsageError(f"exposure: a secret's total words must be a non-negative integer, not {total!r}")
    return total
