"""Registry tricks: boilerplate by numbers, symlinks, remove and register again, compaction
under a running scanner, many small registrations. All through the real CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlp.scanner import open_scanner

from helpers import prose, words

from .conftest import action, fresh, hole, kinds
from .texts import SECRET, UNRELATED, WORDS

APPENDIX_A = ("Revision notes. The finished pails are stored in the cold warehouse, where the temperature must "
              "not fall below five degrees and the pails are stacked no more than three high on wooden pallets. "
              "Pails older than nine months go back to the laboratory for a viscosity check before they may be "
              "shipped, and the warehouse manager signs the stock list every Monday before it goes to planning. "
              "Forklift drivers check the pallets for broken boards when they take them from the racks, and a "
              "pallet with a broken board is emptied by hand and sent back to the joinery for repair. Once a "
              "year the whole stock is counted over a weekend, with the plant closed and the auditors present.")
APPENDIX_B = ("Revision notes. The filling line now weighs every pail twice, once empty and once full, and prints "
              "the difference on the label together with the batch number, the date of manufacture and the "
              "initials of the operator. A pail that is off by more than half a kilogram is set aside for the "
              "shift supervisor, who decides whether it is topped up or scrapped before the end of the shift. "
              "Labels are printed in English and Dutch for the plant in Rotterdam and in English and German for "
              "customers in Hamburg and Bremen, and the label printer is cleaned every morning before the first "
              "batch so that the barcodes can be read by the scanners at the loading dock without errors.")


def leak(n: int, start: int = 100) -> str:
    return f"{UNRELATED}\n{' '.join(WORDS[start:start + n])}\n{UNRELATED}"


@pytest.fixture
def dlp_fresh(tmp_path):
    return fresh(tmp_path)


def _scan_one(dlp, path: Path) -> dict:
    return dlp.scan(path)[str(path)]


def test_variants_of_a_secret_in_a_synced_folder_do_not_turn_it_into_boilerplate(dlp_fresh, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "process.txt").write_text(SECRET)
    (specs / "process-cold-store.txt").write_text(SECRET + "\n" + APPENDIX_A)
    (specs / "process-filling.txt").write_text(SECRET + "\n" + APPENDIX_B)
    dlp_fresh.must("register", str(specs), "--sync")
    (tmp_path / "leak.txt").write_text(leak(60))
    assert action(_scan_one(dlp_fresh, tmp_path / "leak.txt")) == "block"


def test_decoy_registrations_do_not_whitelist_a_passage_of_a_secret(dlp_fresh, tmp_path):
    (tmp_path / "halcyon.txt").write_text(SECRET)
    dlp_fresh.must("register", str(tmp_path / "halcyon.txt"), "--id", "halcyon", "--classification", "secret")
    quoted = " ".join(WORDS[90:170])
    for n in (1, 2):
        (tmp_path / f"decoy{n}.txt").write_text(f"{prose(300, 10 + n)}\n{quoted}\n{prose(300, 20 + n)}")
        dlp_fresh.must("register", str(tmp_path / f"decoy{n}.txt"))
    (tmp_path / "leak.txt").write_text(leak(60))
    assert action(_scan_one(dlp_fresh, tmp_path / "leak.txt")) == "block"


def test_enough_decoys_to_whitelist_a_passage_are_named_at_registration(dlp_fresh, tmp_path):
    """Four documents quoting a passage of a secret make it boilerplate (5 families): the
    registration that does it names the secrets involved and the audit entry keeps it."""
    (tmp_path / "halcyon.txt").write_text(SECRET)
    dlp_fresh.must("register", str(tmp_path / "halcyon.txt"), "--id", "halcyon")
    quoted = " ".join(WORDS[90:170])
    errors = []
    for n in range(1, 5):
        (tmp_path / f"decoy{n}.txt").write_text(f"{prose(300, 10 + n)}\n{quoted}\n{prose(300, 20 + n)}")
        errors.append(dlp_fresh.must("register", str(tmp_path / f"decoy{n}.txt")).err)
    assert not any("boilerplate" in e for e in errors[:3])
    assert "decoy4:" in errors[3] and "halcyon" in errors[3] and "boilerplate from now on" in errors[3]
    assert " ".join(quoted.split()[10:14]) not in errors[3]  # names, never text


def test_the_same_secret_under_three_ids_is_not_boilerplate(dlp_fresh, tmp_path):
    for sid in ("a", "b", "c"):
        (tmp_path / f"{sid}.txt").write_text(SECRET)
        dlp_fresh.must("register", str(tmp_path / f"{sid}.txt"), "--id", sid)
    (tmp_path / "leak.txt").write_text(leak(25))
    report = _scan_one(dlp_fresh, tmp_path / "leak.txt")
    assert action(report) == "block" and {f["secret"] for f in report["findings"]} == {"a", "b", "c"}


def test_remove_then_register_again_protects_again(dlp_fresh, tmp_path):
    (tmp_path / "halcyon.txt").write_text(SECRET)
    (tmp_path / "leak.txt").write_text(leak(25))
    dlp_fresh.must("register", str(tmp_path / "halcyon.txt"), "--id", "halcyon")
    dlp_fresh.must("remove", "halcyon")
    assert action(_scan_one(dlp_fresh, tmp_path / "leak.txt")) == "allow"
    out = dlp_fresh.must("register", str(tmp_path / "halcyon.txt"), "--id", "halcyon").out
    assert "unchanged" not in out  # the removed version is not silently "already there"
    assert action(_scan_one(dlp_fresh, tmp_path / "leak.txt")) == "block"
    dlp_fresh.must("compact")
    assert action(_scan_one(dlp_fresh, tmp_path / "leak.txt")) == "block"


def test_a_renamed_file_in_a_synced_folder_stays_protected(dlp_fresh, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "process.txt").write_text(SECRET)
    dlp_fresh.must("register", str(specs), "--sync")
    (specs / "process.txt").rename(specs / "process-rev2.txt")
    dlp_fresh.must("register", str(specs), "--sync")
    (tmp_path / "leak.txt").write_text(leak(25))
    report = _scan_one(dlp_fresh, tmp_path / "leak.txt")
    assert action(report) == "block" and {f["secret"] for f in report["findings"]} == {"process-rev2"}


def test_a_symlinked_secret_in_a_synced_folder_is_registered_or_reported(dlp_fresh, tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "process-v7.txt").write_text(SECRET)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "current-process.txt").symlink_to(tmp_path / "store" / "process-v7.txt")
    (specs / "handbook.txt").write_text(prose(200, 3))
    result = dlp_fresh.must("register", str(specs), "--sync")
    (tmp_path / "leak.txt").write_text(leak(25))
    assert "current-process" in result.out + result.err or \
        action(_scan_one(dlp_fresh, tmp_path / "leak.txt")) == "block"


def test_a_symlink_to_a_secret_in_a_scanned_folder_is_not_passed_silently(dlp, tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "copy.txt").write_text(leak(60))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "agenda.txt").write_text(UNRELATED)
    (outbox / "attachment.txt").symlink_to(tmp_path / "home" / "copy.txt")
    result = dlp("scan", "--no-record", "--no-progress", str(outbox))
    assert result.code == 1 or "attachment.txt" in result.out, result.out


def test_a_scanner_opened_before_registrations_and_compactions_still_blocks(dlp_fresh, tmp_path):
    (tmp_path / "halcyon.txt").write_text(SECRET)
    dlp_fresh.must("register", str(tmp_path / "halcyon.txt"), "--id", "halcyon")
    scanner = open_scanner(dlp_fresh.registry)  # a long-running front end, never used yet
    for n in range(4):  # more generations than the store keeps for readers
        (tmp_path / f"other{n}.txt").write_text(prose(200, 40 + n))
        dlp_fresh.must("register", str(tmp_path / f"other{n}.txt"))
        dlp_fresh.must("compact")
    report = scanner.scan_bytes(leak(25).encode(), "leak.txt")
    assert report.action.label == "block" and not report.problems


def test_many_small_registrations_then_compact_find_every_secret(dlp_fresh, tmp_path):
    texts = {f"s{n}": " ".join(words(150, seed=500 + n)) for n in range(10)}
    for sid, text in texts.items():
        (tmp_path / f"{sid}.txt").write_text(text)
        dlp_fresh.must("register", str(tmp_path / f"{sid}.txt"), "--id", sid)
    segments = [p for p in os.listdir(dlp_fresh.registry) if p.startswith("seg-")]
    for sid, text in texts.items():
        (tmp_path / f"leak-{sid}.txt").write_text(" ".join(text.split()[60:85]))
    for stage in ("segments", "compacted"):
        reports = dlp_fresh.scan(*(tmp_path / f"leak-{sid}.txt" for sid in texts))
        for sid in texts:
            report = reports[str(tmp_path / f"leak-{sid}.txt")]
            assert action(report) == "block" and "document" in kinds(report, sid), (stage, sid, len(segments))
        dlp_fresh.must("compact")
