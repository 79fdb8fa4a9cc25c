"""Placement and load: a verbatim excerpt spread over a huge part, and a part that makes the
fingerprint tier slow.

The scanner scans parts longer than 4 Mi characters in windows of tokens. The overlap was
once counted in characters: an excerpt whose words were far apart (long runs of blanks or
rulers between them, which the tokeniser skips) was never whole in any slice, so no slice
saw a 20-word run. Windows now overlap by 8192 tokens, whatever lies between them.
"""

from __future__ import annotations

import time

import pytest

from dlp.extract import Limits
from dlp.scanner import SLICE_CHARS, open_scanner

from helpers import prose

from .conftest import action, fresh, kinds
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


@pytest.mark.parametrize("name", ["25 words, a slice/11 of blanks apart", "60 words, a slice/11 of rulers apart"])
def test_an_excerpt_spread_across_slices_still_blocks(reports, name):
    report = reports[name]
    assert action(report) == "block" and "document" in kinds(report, "halcyon"), report["findings"]


ROW = "batch sample reading viscosity cup seconds nominal pass\n"


def test_a_part_that_makes_the_fingerprint_tier_slow_stops_at_the_deadline(tmp_path):
    d = fresh(tmp_path)
    (tmp_path / "table.txt").write_text(prose(150, 1) + "\n" + ROW * 60 + prose(150, 2))
    d.must("register", str(tmp_path / "table.txt"), "--id", "table")
    load = (ROW * 40_000).encode()  # 2.2 MB of one row: seconds of fingerprint work without a deadline
    started = time.monotonic()
    open_scanner(d.registry).scan_bytes(load, "load.txt")
    unbounded = time.monotonic() - started
    scanner = open_scanner(d.registry, limits=Limits(timeout_seconds=0.1))
    started = time.monotonic()
    report = scanner.scan_bytes(load, "load.txt")
    elapsed = time.monotonic() - started
    assert any(p.kind == "timeout" and p.detail.startswith("fingerprint") for p in report.problems)
    # relative, not a fixed figure: the deadline cuts the work short whatever the machine's load
    assert elapsed < unbounded / 2, f"a 0.1 s deadline held the scan for {elapsed:.1f} of {unbounded:.1f} s"
