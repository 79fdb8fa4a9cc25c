"""Placement and load: a verbatim excerpt spread over the scanner's 4 Mi-character slices, and
a part that makes the fingerprint tier slow.

The scanner cuts parts longer than 4 Mi characters into slices that overlap by 64 Ki
characters. The overlap is counted in characters, not words: an excerpt whose words are
far apart (long runs of blanks or rulers between them, which the tokeniser skips) is
never whole in any slice, so no slice sees a 20-word run.
"""

from __future__ import annotations

import time

import pytest

from dlp.extract import Limits
from dlp.scanner import SLICE_CHARS, open_scanner

from helpers import prose

from .conftest import action, fresh, hole, kinds
from .texts import UNRELATED, excerpt

RULER = "-" * 71 + "\n"


def spaced(n: int, gap_chars: int, separator: str) -> str:
    gap = separator * (gap_chars // len(separator))
    return UNRELATED + gap.join(excerpt(n)) + "\n" + UNRELATED


@pytest.fixture(scope="module")
def reports(dlp, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("slices")
    wide = SLICE_CHARS // 11  # at most 11 words of the excerpt in any one slice
    cases = {
        "25 words, 8 KB of blanks apart": spaced(25, 8 * 1024, " "),
        "25 words, a slice/11 of blanks apart": spaced(25, wide, " "),
        "60 words, a slice/11 of rulers apart": spaced(60, wide, RULER),
    }
    for i, text in enumerate(cases.values()):
        (folder / f"{i}.txt").write_text(text)
    by_path = dlp.scan(folder)
    return {name: by_path[str(folder / f"{i}.txt")] for i, name in enumerate(cases)}


def test_an_excerpt_spread_inside_one_slice_blocks(reports):
    report = reports["25 words, 8 KB of blanks apart"]
    assert action(report) == "block" and "document" in kinds(report, "halcyon")


@pytest.mark.parametrize("name", [
    pytest.param("25 words, a slice/11 of blanks apart", marks=hole(
        "slices overlap by 64 Ki characters, not words: a verbatim excerpt spread over three slices (9 MB of "
        "blanks) is never whole in one, and is allowed")),
    pytest.param("60 words, a slice/11 of rulers apart", marks=hole(
        "a 60-word verbatim excerpt spread over six slices by ruler lines: each slice reports 11 words, the "
        "strongest slice stands for the part (no sum), and the item only warns")),
])
def test_an_excerpt_spread_across_slices_still_blocks(reports, name):
    report = reports[name]
    assert action(report) == "block" and "document" in kinds(report, "halcyon"), report["findings"]


ROW = "batch sample reading viscosity cup seconds nominal pass\n"


@hole("the fingerprint tier never looks at the deadline: a registered table with a repeated row, and a "
      "scanned part repeating it, cost ~0.2 ms per word (400,000 words: 90 s), so a milter worker or a watch "
      "worker is held far past its deadline; the timeout problem comes only from the rewrite tier that runs next (the milter answers tempfail but its thread runs on)")
def test_a_part_that_makes_the_fingerprint_tier_slow_stops_at_the_deadline(tmp_path):
    d = fresh(tmp_path)
    (tmp_path / "table.txt").write_text(prose(150, 1) + "\n" + ROW * 60 + prose(150, 2))
    d.must("register", str(tmp_path / "table.txt"), "--id", "table")
    scanner = open_scanner(d.registry, limits=Limits(timeout_seconds=0.1))
    started = time.monotonic()
    report = scanner.scan_bytes((ROW * 2500).encode(), "load.txt")
    elapsed = time.monotonic() - started
    # the rewrite tier, which runs next, does report a timeout: the time is already spent
    assert any(p.kind == "timeout" for p in report.problems)
    assert elapsed < 0.6, f"a 0.1 s deadline held the scan for {elapsed:.1f} s"
