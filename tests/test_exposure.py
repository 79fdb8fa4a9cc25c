"""The exposure ledger: the union of what left, per secret and destination, over a window."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from dlp.errors import UsageError
from dlp.exposure import DAY, Exposure, ExposureLedger, covered, merge_ranges

SECRET, DEST = "plan", "domain:rival.de"


class Clock:
    """A clock the test advances by hand."""

    def __init__(self, now: float = 1_790_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock):
    with ExposureLedger(tmp_path / "state" / "exposure.sqlite", clock=clock) as led:
        yield led


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM leaves").fetchone()[0]


# -- merge_ranges and covered -------------------------------------------------------------

@pytest.mark.parametrize("ranges, total, merged", [
    pytest.param([(0, 10), (5, 20)], None, [(0, 20)], id="overlap"),
    pytest.param([(0, 10), (10, 20)], None, [(0, 20)], id="adjacent"),
    pytest.param([(0, 10), (11, 20)], None, [(0, 10), (11, 20)], id="gap-of-one"),
    pytest.param([(0, 100), (10, 20)], None, [(0, 100)], id="contained"),
    pytest.param([(10, 20), (10, 20)], None, [(10, 20)], id="identical"),
    pytest.param([(30, 40), (0, 10), (20, 25)], None, [(0, 10), (20, 25), (30, 40)], id="unsorted"),
    pytest.param([], None, [], id="nothing"),
    pytest.param([(5, 5)], None, [], id="empty"),
    pytest.param([(9, 3)], None, [], id="reversed"),
    pytest.param([(-5, 10)], None, [(0, 10)], id="negative-start"),
    pytest.param([(-5, 10), (90, 120)], 100, [(0, 10), (90, 100)], id="clamped-to-total"),
    pytest.param([(100, 120)], 100, [], id="beyond-total"),
    pytest.param([(0, 10)], 0, [], id="total-zero"),
    pytest.param([(0, 1.5), ("a", 3), (True, 4), (1,), None, (1, 2, 3), (4, 6)], None, [(4, 6)], id="invalid-items"),
    pytest.param([[0, 5], [5, 8]], None, [(0, 8)], id="lists-from-json"),
])
def test_merge_ranges(ranges, total, merged):
    assert merge_ranges(ranges, total) == merged


@pytest.mark.parametrize("merged, words", [([], 0), ([(0, 10)], 10), ([(0, 10), (20, 25)], 15)])
def test_covered(merged, words):
    assert covered(merged) == words


@given(st.lists(st.tuples(st.integers(-5, 60), st.integers(-5, 60)), max_size=12))
def test_union_size_is_the_number_of_covered_words(ranges):
    words = {w for start, end in ranges for w in range(max(0, start), end)}
    merged = merge_ranges(ranges)
    assert covered(merged) == len(words)
    # and the result is sorted, disjoint, non-adjacent and non-empty
    assert all(s < e for s, e in merged)
    assert all(e1 < s2 for (_, e1), (s2, _) in zip(merged, merged[1:]))


# -- the ledger ----------------------------------------------------------------------------

def test_a_slow_leak_adds_up_to_the_whole_secret(ledger):
    for k in range(1, 21):
        ledger.record(SECRET, DEST, [((k - 1) * 100, k * 100)], 2000)
        exposure = ledger.exposure(SECRET, DEST, 30)
        assert exposure.share == k * 100 / 2000
        assert (exposure.words, exposure.events) == (k * 100, k)
    assert ledger.exposure(SECRET, DEST, 30) == Exposure(SECRET, DEST, 2000, 2000, 1.0, 20)


def test_repeated_slices_do_not_add_up(ledger):
    for _ in range(10):
        ledger.record(SECRET, DEST, [(0, 100)], 2000)
    exposure = ledger.exposure(SECRET, DEST, 30)
    assert (exposure.words, exposure.share, exposure.events) == (100, 0.05, 10)


def test_each_destination_and_secret_is_separate(ledger):
    ledger.record(SECRET, DEST, [(0, 1000)], 2000)
    ledger.record("other", "domain:partner.example", [(0, 2000)], 2000)
    assert ledger.exposure(SECRET, "domain:partner.example", 30) == Exposure(SECRET, "domain:partner.example", 0, 0, 0.0, 0)
    assert ledger.exposure(SECRET, "country:DE", 30).words == 0
    assert ledger.exposure("other", DEST, 30).words == 0
    assert ledger.exposure(SECRET, DEST, 30).share == 0.5


def test_events_older_than_the_window_drop_out(ledger, clock):
    ledger.record(SECRET, DEST, [(0, 500)], 1000)
    clock.now += 20 * DAY
    ledger.record(SECRET, DEST, [(500, 700)], 1000)
    assert ledger.exposure(SECRET, DEST, 30).words == 700
    clock.now += 10 * DAY  # the first is exactly 30 days old: still inside
    assert ledger.exposure(SECRET, DEST, 30).words == 700
    clock.now += 1
    assert (ledger.exposure(SECRET, DEST, 30).words, ledger.exposure(SECRET, DEST, 30).events) == (200, 1)
    assert ledger.exposure(SECRET, DEST, 31).words == 700  # a wider window still sees it
    assert ledger.prune(30) == 1
    assert ledger.exposure(SECRET, DEST, 365).words == 200


def test_the_latest_total_counts(ledger, clock):
    ledger.record(SECRET, DEST, [(0, 900)], 1000)
    clock.now += 1
    ledger.record(SECRET, DEST, [(0, 100)], 500)  # the secret was registered again, smaller
    exposure = ledger.exposure(SECRET, DEST, 30)
    assert (exposure.words, exposure.total, exposure.share) == (500, 500, 1.0)


def test_preview_writes_nothing(ledger):
    ledger.record(SECRET, "country:CN", [(0, 500)], 1000)
    preview = ledger.preview(SECRET, "country:CN", [(400, 700)], 1000, 30)
    assert preview == Exposure(SECRET, "country:CN", 700, 1000, 0.7, 1)  # events: recorded ones only
    assert ledger.exposure(SECRET, "country:CN", 30) == Exposure(SECRET, "country:CN", 500, 1000, 0.5, 1)
    assert rows(ledger.path) == 1
    assert ledger.preview(SECRET, "domain:new.example", [(0, 100)], 1000, 30).share == 0.1


def test_nothing_of_the_secret_is_not_an_event(ledger):
    ledger.record(SECRET, DEST, [(5, 5), (2000, 3000)], 1000)
    assert ledger.exposure(SECRET, DEST, 30).events == 0
    assert rows(ledger.path) == 0


@pytest.mark.parametrize("total", [-1, 1.5, True, "2000"])
def test_a_bad_total_is_refused(ledger, total):
    with pytest.raises(UsageError, match="total words"):
        ledger.record(SECRET, DEST, [(0, 1)], total)


def test_no_text_only_ids_keys_and_integers(ledger):
    ledger.record(SECRET, DEST, [(10, 20), (15, 30)], 2000)
    with sqlite3.connect(ledger.path) as db:
        assert db.execute("SELECT secret, destination, total, ranges FROM leaves").fetchall() == \
            [(SECRET, DEST, 2000, "[[10, 30]]")]


def test_files_are_private_and_wal(tmp_path, clock):
    path = tmp_path / "new" / "state" / "exposure.sqlite"
    with ExposureLedger(path, clock=clock) as led:
        led.record(SECRET, DEST, [(0, 1)], 10)
        assert led._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert led._db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_threads_lose_no_event(ledger):
    def send(base: int) -> None:
        for i in range(50):
            ledger.record(SECRET, DEST, [(base + i, base + i + 1)], 1000)

    threads = [threading.Thread(target=send, args=(base,)) for base in (0, 100, 200, 300)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert (ledger.exposure(SECRET, DEST, 30).events, ledger.exposure(SECRET, DEST, 30).words) == (200, 200)


def test_two_processes_lose_no_event(tmp_path):
    path = tmp_path / "exposure.sqlite"
    script = ("import sys; from pathlib import Path; from dlp.exposure import ExposureLedger\n"
              "led = ExposureLedger(Path(sys.argv[1]))\n"
              "base = int(sys.argv[2])\n"
              "for i in range(200): led.record('plan', 'domain:x.de', [(base + i, base + i + 1)], 1000)\n"
              "led.close()\n")
    # both create the file and switch it to WAL at once, then write interleaved
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(base)], stderr=subprocess.PIPE)
             for base in (0, 500)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    with ExposureLedger(path) as led:
        exposure = led.exposure("plan", "domain:x.de", 30)
    assert (exposure.events, exposure.words) == (400, 400)
    assert path.stat().st_mode & 0o777 == 0o600


def test_many_processes_creating_one_store_at_once_all_open_it(tmp_path):
    """Switching a new store to WAL needs the file alone for a moment and SQLite does not wait
    for it: eight processes released together on a new ledger once failed "database is locked"."""
    go = tmp_path / "go"
    script = ("import os, sys, time; from pathlib import Path; from dlp.exposure import ExposureLedger\n"
              "give_up = time.monotonic() + 30\n"
              "while not os.path.exists(sys.argv[2]) and time.monotonic() < give_up: time.sleep(0.001)\n"
              "led = ExposureLedger(Path(sys.argv[1])); led.close()\n")
    for round_ in range(3):
        path = tmp_path / f"exposure-{round_}.sqlite"
        go.unlink(missing_ok=True)
        procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(go)], stderr=subprocess.PIPE)
                 for _ in range(8)]
        time.sleep(1.0)  # every process imported and waiting
        go.touch()
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
