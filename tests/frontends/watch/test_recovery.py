"""Crash recovery: every state the journal can be left in, then kill -9 in the middle of a burst."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dlp.frontends.watch.journal import WorkFolder
from dlp.frontends.watch.settings import WORK_FOLDER
from dlp.types import escape_path

from .conftest import LEAK, Folders, clean_text, wait_until

ALLOW_REPORT = {"path": "a.txt", "action": "allow", "findings": [], "problems": [], "bytes": 10, "seconds": 0.01,
                "decision": {"action": "allow", "rule": "default:clean", "reasons": []}}
BLOCK_REPORT = {**ALLOW_REPORT, "action": "block",
                "decision": {"action": "block", "rule": "default:document", "reasons": ["plan v1"]}}


def _entry(work: WorkFolder, rel: str, **fields) -> dict:
    return {"id": work.new_id(), "state": "claiming", "outbox": str(work.outbox), "rel": rel, "mode": 0o644, **fields}


def crash_after_intent(f: Folders, work: WorkFolder) -> None:
    (f.outbox / "a.txt").write_text(clean_text(1))
    work.write(_entry(work, "a.txt"))


def crash_after_claim(f: Folders, work: WorkFolder) -> None:
    entry = _entry(work, "a.txt")
    work.write(entry)
    work.file(entry["id"]).write_text(clean_text(1))


def crash_after_claim_of_a_leak(f: Folders, work: WorkFolder) -> None:
    entry = _entry(work, "a.txt")
    work.write(entry)
    work.file(entry["id"]).write_text(LEAK)


def crash_after_decision(f: Folders, work: WorkFolder) -> None:
    entry = _entry(work, "a.txt", state="placing", target="release", final=str(f.release / "a.txt"), suffix=0,
                   report=ALLOW_REPORT)
    work.write(entry)
    work.file(entry["id"]).write_text(clean_text(1))


def crash_between_link_and_unlink(f: Folders, work: WorkFolder) -> None:
    crash_after_decision(f, work)
    [entry_id] = work.entry_ids()
    os.link(work.file(entry_id), f.release / "a.txt")


def crash_before_sidecar(f: Folders, work: WorkFolder) -> None:
    entry = _entry(work, "a.txt", state="placing", target="quarantine", final=str(f.quarantine / "a.txt"),
                   suffix=0, report=BLOCK_REPORT)
    work.write(entry)
    (f.quarantine / "a.txt").write_text(LEAK)


def orphan_in_work_folder(f: Folders, work: WorkFolder) -> None:
    (work.root / "0123abcd").write_text(clean_text(1))


def crash_during_the_copy(f: Folders, work: WorkFolder) -> None:
    """Claimed, the daemon's copy half written: the user's file is still the work file."""
    entry = _entry(work, "a.txt")
    work.write(entry)
    work.file(entry["id"]).write_text(clean_text(1))
    (work.root / f".{entry['id']}.copy.tmp").write_text(clean_text(1)[:20])


def crash_during_the_copy_of_a_leak(f: Folders, work: WorkFolder) -> None:
    entry = _entry(work, "a.txt")
    work.write(entry)
    work.file(entry["id"]).write_text(LEAK)
    (work.root / f".{entry['id']}.copy.tmp").write_text(LEAK[:100])


def crash_after_the_copy(f: Folders, work: WorkFolder) -> None:
    """The copy renamed over the work file, the scan not done."""
    entry = _entry(work, "a.txt")
    work.write(entry)
    work.file(entry["id"]).write_text(clean_text(1))
    work.file(entry["id"]).chmod(0o600)


def crash_after_giving_back(f: Folders, work: WorkFolder) -> None:
    """A writer appeared during the claim: the file went back to the outbox, the entry stayed."""
    entry = _entry(work, "a.txt")
    work.write(entry)
    (f.outbox / "a.txt").write_text(clean_text(1))


def crash_with_an_odd_name(f: Folders, work: WorkFolder) -> None:
    """Decided and placing, under a name that is not UTF-8 (kept escaped in the entry)."""
    name = os.fsdecode(b"caf\xe9\n.txt")
    entry = _entry(work, escape_path(name), state="placing", target="release",
                   final=escape_path(f.release / name), suffix=0, report=ALLOW_REPORT)
    work.write(entry)
    work.file(entry["id"]).write_text(clean_text(1))


@pytest.mark.parametrize("crash, where", [
    (crash_after_intent, "release/a.txt"),
    (crash_after_claim, "release/a.txt"),
    (crash_after_claim_of_a_leak, "quarantine/a.txt"),
    (crash_after_decision, "release/a.txt"),
    (crash_between_link_and_unlink, "release/a.txt"),
    (crash_before_sidecar, "quarantine/a.txt"),
    (orphan_in_work_folder, "quarantine/orphaned/0123abcd"),
    (crash_during_the_copy, "release/a.txt"),
    (crash_during_the_copy_of_a_leak, "quarantine/a.txt"),
    (crash_after_the_copy, "release/a.txt"),
    (crash_after_giving_back, "release/a.txt"),
    (crash_with_an_odd_name, os.fsdecode(b"release/caf\xe9\n.txt")),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_recovery_from_each_journal_state(folders, run_daemon, crash, where):
    for folder in (folders.release, folders.quarantine):
        folder.mkdir()
    work = WorkFolder(folders.outbox, folders.outbox / WORK_FOLDER)
    work.root.mkdir()
    crash(folders, work)
    with run_daemon((folders.box(),)) as running:
        wait_until(lambda: not work.entry_ids() and not work.orphans(), 10, "an empty journal")
        running.log.wait("decision")
    placed = folders.placed()
    assert len(placed) == 1
    [[path]] = placed.values()
    assert os.path.relpath(path, folders.outbox.parent) == where
    assert path.stat().st_nlink == 1
    if where.startswith("quarantine"):
        assert json.loads(Path(f"{path}.dlp.json").read_text())["report"]["action"] in ("block", "quarantine")
    else:  # whole: never the half copy a crash left
        assert path.read_text() == clean_text(1)
    assert sorted(p.name for p in work.root.iterdir()) == [".lock"]


def _daemon(registry: Path, f: Folders, *, workers: int = 2) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlp", "--registry", str(registry), "watch", str(f.outbox), "--release", str(f.release),
         "--quarantine", str(f.quarantine), "--settle", "0.2", "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(process: subprocess.Popen) -> tuple[threading.Thread, list[dict]]:
    """Read the daemon's JSON lines in a thread, so waits stay bounded."""
    out: list[dict] = []

    def pump() -> None:
        for line in process.stdout:
            out.append(json.loads(line))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread, out


def _close(process: subprocess.Popen, pump: threading.Thread) -> None:
    pump.join(10)
    process.stdout.close()
    process.stderr.close()


@pytest.mark.integration
def test_kill_9_in_a_burst_then_restart_each_file_in_exactly_one_place(registry, folders):
    total = 1000
    first = _daemon(registry, folders)
    try:
        pump, lines = _lines(first)
        wait_until(lambda: any(r["event"] == "started" for r in lines), 60, "the daemon to start")
        expected = {}
        for n in range(total):
            rel = f"d{n % 7}/f{n:04d}.txt"
            (folders.outbox / rel).parent.mkdir(exist_ok=True)
            text = LEAK + f"\nfile {n}\n" if n % 25 == 0 else clean_text(n)
            (folders.outbox / rel).write_text(text)
            expected[rel] = text
        wait_until(lambda: sum(r["event"] == "decision" for r in lines) >= 300, 60, "300 decisions")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        _close(first, pump)
    decided_before = sum(r["event"] == "decision" for r in lines)
    assert decided_before < total, "the burst was over before the kill; nothing was interrupted"

    second = _daemon(registry, folders)
    try:
        pump, lines = _lines(second)
        wait_until(lambda: not any(any((folders.outbox / f"d{n}").iterdir()) for n in range(7)), 60, "an empty outbox")
        work = folders.outbox / WORK_FOLDER
        wait_until(lambda: sorted(p.name for p in work.iterdir()) == [".lock"], 30, "an empty work folder")
    finally:
        second.send_signal(signal.SIGTERM)
        status = second.wait(30)
        errors = second.stderr.read()
        _close(second, pump)
    assert status == 0, errors
    assert lines[-1]["event"] == "stopped"

    placed = folders.placed()
    assert sorted(placed) == sorted(expected), "files lost or invented"
    for rel, paths in placed.items():
        assert len(paths) == 1, f"{rel} is in {len(paths)} places: {paths}"
        [path] = paths
        assert path.read_text() == expected[rel]
        leaking = expected[rel].startswith(LEAK[:50])
        assert path.is_relative_to(folders.quarantine if leaking else folders.release), f"{rel} ended in {path}"
        if leaking:
            assert Path(f"{path}.dlp.json").exists()
