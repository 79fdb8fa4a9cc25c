"""What is released is what was scanned: real writer processes against the real daemon.

Each attack of issue 14 item 2 runs with a writer in another process: a handle kept
open across a rename, a pause longer than the settle time, a writable memory map, a
second hard link outside the outbox, and, with leases unavailable, a write after the
scan. The released file must hold exactly the bytes that were scanned.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from dlp.frontends.watch import daemon as daemon_module
from dlp.frontends.watch.snapshot import Changing, open_for_writing, snapshot

from .conftest import LEAK, clean_text, wait_until

CLEAN = clean_text(1) * 3


# -- the two primitives ----------------------------------------------------------------


def test_open_for_writing_sees_handles_and_writable_maps(tmp_path, writer):
    target = tmp_path / "f.txt"
    target.write_text(CLEAN)
    assert open_for_writing(target) is False
    writer.do("open", path=target)
    assert open_for_writing(target) is True
    writer.do("write", text=CLEAN)
    writer.do("map", size=len(CLEAN))  # the handle is closed; the mapping keeps the file writable
    assert open_for_writing(target) is True
    writer.do("close")
    assert open_for_writing(target) is False
    with open(target) as reading:  # readers do not count
        assert open_for_writing(target) is False and reading.read(1)


@pytest.mark.parametrize("make", [
    lambda p: os.mkfifo(p), lambda p: os.symlink("/etc/hostname", p), lambda p: p.mkdir(),
], ids=["fifo", "symlink", "folder"])
def test_open_for_writing_cannot_tell_for_what_is_not_a_file(tmp_path, make):
    make(tmp_path / "odd")
    assert open_for_writing(tmp_path / "odd") is None  # and it did not block on the FIFO


def test_snapshot_is_a_new_private_inode_with_the_same_bytes(tmp_path, writer):
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    claimed = work / "id1"
    writer.do("open", path=claimed)  # the user's handle: what it writes after the copy goes nowhere
    writer.do("write", text=CLEAN)
    os.chmod(claimed, 0o4755)
    os.utime(claimed, ns=(1_000_000_000, 2_000_000_000))
    before = os.lstat(claimed)
    after = snapshot(claimed, 0o4755)
    writer.do("write", text=LEAK)
    writer.do("close")
    assert after.st_ino != before.st_ino and claimed.read_text() == CLEAN
    assert stat.S_IMODE(after.st_mode) == 0o755  # no setuid on a copy made by the daemon
    assert after.st_mtime_ns == 2_000_000_000
    assert sorted(p.name for p in work.iterdir()) == ["id1"]


def test_snapshot_of_a_file_that_keeps_changing(tmp_path, monkeypatch):
    claimed = tmp_path / "id2"
    claimed.write_text(CLEAN)
    real_fstat, calls = os.fstat, []

    class Grown:  # each look at the source sees it bigger, as if a writer were appending
        def __init__(self, st, grown):
            self._st, self._grown = st, grown

        def __getattr__(self, name):
            return getattr(self._st, name) + (self._grown if name == "st_size" else 0)

    def moving(fd):
        calls.append(fd)
        return Grown(real_fstat(fd), len(calls))

    monkeypatch.setattr(os, "fstat", moving)
    with pytest.raises(Changing, match="kept changing"):
        snapshot(claimed, 0o644)
    monkeypatch.undo()
    assert claimed.read_text() == CLEAN and sorted(p.name for p in tmp_path.iterdir()) == ["id2"]


# -- the daemon against real writers ---------------------------------------------------------


def test_rename_then_write_through_the_same_handle_waits_for_the_writer(folders, run_daemon, writer):
    """The attack of the issue: r.part renamed to r.txt, the excerpt written after the scan."""
    with run_daemon((folders.box(),), settle=0.2) as running:
        writer.do("open", path=folders.outbox / "r.part")
        writer.do("write", text=CLEAN)
        writer.do("rename", src=folders.outbox / "r.part", dst=folders.outbox / "r.txt")
        [waiting] = running.log.wait("waiting")
        assert waiting["file"] == "r.txt" and waiting["state"] == "open for writing"
        assert not any(folders.release.iterdir())
        writer.do("write", text=LEAK)
        writer.do("close")
        [line] = running.log.wait("decision", timeout=30)
    assert line["verdict"] == "block" and line["waited"] > 0
    assert (folders.quarantine / "r.txt").read_text() == CLEAN + LEAK
    assert not any(folders.release.iterdir())


@pytest.mark.parametrize("hold", ["handle", "map"])
def test_a_writer_pausing_longer_than_the_settle_time_is_waited_for(folders, run_daemon, writer, hold):
    target = folders.outbox / "slow.txt"
    with run_daemon((folders.box(),), settle=0.2) as running:
        writer.do("open", path=target)
        writer.do("write", text=CLEAN + " " * len(LEAK))
        if hold == "map":
            writer.do("map", size=len(CLEAN) + len(LEAK))
        [waiting] = running.log.wait("waiting")  # looked at after it settled, and kept in the outbox
        assert os.path.exists(target) and not any(folders.release.iterdir())
        if hold == "map":
            writer.do("poke", offset=len(CLEAN), text=LEAK)
        else:
            writer.do("write", text=LEAK)
        writer.do("close")
        [line] = running.log.wait("decision", timeout=30)
    assert waiting["file"] == "slow.txt" and line["verdict"] == "block"
    assert LEAK in (folders.quarantine / "slow.txt").read_text()


def test_a_hard_link_outside_the_outbox_cannot_change_the_released_file(folders, run_daemon, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    staging = home / "staging.txt"
    staging.write_text(CLEAN)
    with run_daemon((folders.box(),)) as running:
        os.link(staging, folders.outbox / "a.txt")
        [line] = running.log.wait("decision")
    with open(staging, "a") as handle:  # after the release, through the other name
        handle.write(LEAK)
    released = folders.release / "a.txt"
    assert line["verdict"] == "allow" and released.read_text() == CLEAN
    assert released.stat().st_ino != staging.stat().st_ino and released.stat().st_nlink == 1


def test_without_leases_the_copy_still_releases_only_scanned_bytes(folders, run_daemon, writer, monkeypatch):
    """Where the kernel cannot say whether a writer holds the file (no CAP_LEASE, NFS), the file
    is claimed at once; what the writer adds after the scan must not reach the release folder."""
    monkeypatch.setattr(daemon_module, "open_for_writing", lambda path: None)
    with run_daemon((folders.box(),), settle=0.2) as running:
        writer.do("open", path=folders.outbox / "r.part")
        writer.do("write", text=CLEAN)
        writer.do("rename", src=folders.outbox / "r.part", dst=folders.outbox / "r.txt")
        [line] = running.log.wait("decision")
        writer.do("write", text=LEAK)
        writer.do("close")
    [notice] = [r for r in running.log.all if r["event"] == "notice"]  # said once, before the decision
    assert line["verdict"] == "allow" and line["bytes"] == len(CLEAN)
    assert (folders.release / "r.txt").read_text() == CLEAN
    assert "CAP_LEASE" in notice["detail"]


def test_a_writer_that_opens_the_file_during_the_claim_gets_it_back(folders, run_daemon, writer, monkeypatch):
    """The look before the claim said no writer; one opened the file just then (simulated by
    answering "no writer" the first time): the claim is undone and the file waits."""
    real, looks = daemon_module.open_for_writing, []

    def first_look_misses(path):
        looks.append(os.fspath(path))
        return False if len(looks) == 1 else real(path)

    monkeypatch.setattr(daemon_module, "open_for_writing", first_look_misses)
    with run_daemon((folders.box(),), settle=0.2) as running:
        writer.do("open", path=folders.outbox / "r.part")
        writer.do("write", text=CLEAN)
        writer.do("rename", src=folders.outbox / "r.part", dst=folders.outbox / "r.txt")
        [waiting] = running.log.wait("waiting")
        assert (folders.outbox / "r.txt").exists() and not any(folders.release.iterdir())
        writer.do("write", text=LEAK)
        writer.do("close")
        [line] = running.log.wait("decision", timeout=30)
    assert waiting["state"] == "opened for writing while being claimed" and ".dlp-work" in looks[1]
    assert line["verdict"] == "block" and (folders.quarantine / "r.txt").read_text() == CLEAN + LEAK


@pytest.mark.integration
def test_dlp_watch_process_against_a_writer_process(registry, folders, writer):
    """The same attack against `dlp watch` as a process of its own, stopped by SIGTERM."""
    daemon = subprocess.Popen(
        [sys.executable, "-m", "dlp", "--registry", str(registry), "watch", str(folders.outbox), "--release",
         str(folders.release), "--quarantine", str(folders.quarantine), "--settle", "0.2", "--no-record"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict] = []
    try:
        import threading

        pump = threading.Thread(target=lambda: lines.extend(json.loads(line) for line in daemon.stdout), daemon=True)
        pump.start()
        wait_until(lambda: any(r["event"] == "started" for r in lines), 60, "the daemon to start")
        writer.do("open", path=folders.outbox / "r.part")
        writer.do("write", text=CLEAN)
        writer.do("rename", src=folders.outbox / "r.part", dst=folders.outbox / "r.txt")
        wait_until(lambda: any(r["event"] == "waiting" for r in lines), 20, "the waiting line")
        writer.do("write", text=LEAK)
        writer.do("close")
        wait_until(lambda: any(r["event"] == "decision" for r in lines), 30, "the decision")
    finally:
        daemon.send_signal(signal.SIGTERM)
        status = daemon.wait(30)
        pump.join(10)
        daemon.stdout.close()
        errors = daemon.stderr.read()
        daemon.stderr.close()
    assert status == 0, errors
    [decision] = [r for r in lines if r["event"] == "decision"]
    assert decision["verdict"] == "block" and not any(folders.release.iterdir())
    assert (folders.quarantine / "r.txt").read_text() == CLEAN + LEAK
