"""The exposure ledger: the union of what left, per secret and destination, over a window."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from dlp.exposure import ExposureLedger, covered, merge_ranges


@pytest.mark.parametrize("ranges, total, merged", [
    ([(0, 10), (5, 20)], None, [(0, 20)]),          # overlap
    ([(0, 10), (10, 20)], None, [(0, 20)]),         # adjacent
    ([(0, 100), (10, 20)], None, [(0, 100)]),       # contained
    ([(30, 40), (0, 10)], None, [(0, 10), (30, 40)]),  # unsorted
    ([(5, 5), (9, 3)], None, []),                   # empty and reversed
    ([(-5, 10), (90, 120)], 100, [(0, 10), (90, 100)]),  # clamped
    ([], None, []),
])
def test_merge_ranges(ranges, total, merged):
    assert merge_ranges(ranges, total) == merged


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=12))
def test_union_size_is_the_number_of_covered_words(ranges):
    words = {w for start, end in ranges for w in range(start, end)}
    assert covered(merge_ranges(ranges)) == len(words)


class Clock:
    def __init__(self):
        self.now = 1_790_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def ledger(tmp_path):
    clock = Clock()
    led = ExposureLedger(tmp_path / "state" / "exposure.sqlite", clock=clock)
    led.clock_ = clock
    yield led
    led.close()


def test_slices_add_up_and_repeats_do_not(ledger):
    for k in range(20):
        ledger.record("plan", "domain:rival.de", [(k * 100, (k + 1) * 100)], 2000)
        assert ledger.exposure("plan", "domain:rival.de", 30).share == pytest.approx((k + 1) / 20)
    ledger.record("plan", "domain:rival.de", [(0, 100)], 2000)
    exposure = ledger.exposure("plan", "domain:rival.de", 30)
    assert (exposure.words, exposure.total, exposure.events) == (2000, 2000, 21)
    assert ledger.exposure("plan", "domain:other.de", 30).words == 0


def test_preview_writes_nothing_and_the_window_forgets(ledger):
    ledger.record("plan", "country:CN", [(0, 500)], 1000)
    preview = ledger.preview("plan", "country:CN", [(400, 700)], 1000, 30)
    assert (preview.words, preview.share) == (700, 0.7)
    assert ledger.exposure("plan", "country:CN", 30).words == 500
    ledger.clock_.now += 31 * 86400
    assert ledger.exposure("plan", "country:CN", 30).words == 0
    assert ledger.prune(30) == 1


def test_two_processes_lose_no_event(tmp_path):
    path = tmp_path / "exposure.sqlite"
    ExposureLedger(path).close()
    script = ("import sys; from pathlib import Path; from dlp.exposure import ExposureLedger\n"
              "led = ExposureLedger(Path(sys.argv[1]))\n"
              "base = int(sys.argv[2])\n"
              "for i in range(100): led.record('plan', 'domain:x.de', [(base + i, base + i + 1)], 1000)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path), str(base)]) for base in (0, 500)]
    for p in procs:
        assert p.wait(60) == 0
    exposure = ExposureLedger(path).exposure("plan", "domain:x.de", 30)
    assert (exposure.events, exposure.words) == (200, 200)
    assert path.stat().st_mode & 0o777 == 0o600
