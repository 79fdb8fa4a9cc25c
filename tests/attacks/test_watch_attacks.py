"""Timing attacks on the watch daemon, started as a user would (`dlp watch` in its own process).

The daemon scans a file and then *renames* it into the release folder: the released
file is the insider's own inode. Whoever still holds another hard link to it, or a
file descriptor opened for writing, can change the released bytes after the scan.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import hole
from .texts import SECRET, UNRELATED


class Watch:
    def __init__(self, dlp, root: Path) -> None:
        self.outbox, self.release, self.quarantine, self.home = (root / n for n in ("outbox", "release", "quarantine",
                                                                                      "home"))
        for folder in (self.outbox, self.home):
            folder.mkdir()
        self.lines: list[dict] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dlp", "--registry", str(dlp.registry), "--state", str(dlp.state), "watch",
             str(self.outbox), "--release", str(self.release), "--quarantine", str(self.quarantine),
             "--settle", "0.2", "--rescan", "1", "--workers", "1", "--no-record"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pump = threading.Thread(target=self._read, daemon=True)
        self.pump.start()
        self.wait(lambda: any(r["event"] == "started" for r in self.lines), "the daemon to start", 60)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(json.loads(line))

    def wait(self, predicate, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"waited for {what}: {self.lines[-3:]}")
            time.sleep(0.05)

    def decision(self, rel: str) -> dict:
        self.wait(lambda: any(r.get("file") == rel for r in self.lines if r["event"] == "decision"), f"{rel} decided")
        return next(r for r in self.lines if r["event"] == "decision" and r.get("file") == rel)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        finally:
            self.pump.join(10)
            self.process.stdout.close()
            self.process.stderr.close()


@pytest.fixture(scope="module")
def watch(dlp, tmp_path_factory):
    running = Watch(dlp, tmp_path_factory.mktemp("watch"))
    yield running
    running.stop()


def test_a_hard_link_cannot_change_a_released_file(watch):
    mine = watch.home / "report.txt"
    mine.write_text(UNRELATED)
    os.link(mine, watch.outbox / "report.txt")
    assert watch.decision("report.txt")["verdict"] == "allow"
    with open(mine, "r+") as handle:  # after the scan: the same inode now sits in the release folder
        handle.write(SECRET)
    assert (watch.release / "report.txt").read_text() == UNRELATED


def test_an_open_descriptor_cannot_change_a_released_file(watch):
    """A writer that keeps its descriptor open used to change the released file after the scan.
    Now the file waits while it is open for writing, and what is decided is what it holds when
    the writer lets go; the daemon's own copy is what moves, never the writer's inode."""
    with open(watch.outbox / "notes.txt", "w") as handle:
        handle.write(UNRELATED)
        handle.flush()
        watch.wait(lambda: any(r["event"] == "waiting" and r.get("file") == "notes.txt" for r in watch.lines),
                   "the daemon to wait for the writer")
        assert not any(r["event"] == "decision" and r.get("file") == "notes.txt" for r in watch.lines)
        handle.seek(0)
        handle.write(SECRET)
    assert watch.decision("notes.txt")["verdict"] == "block"
    assert not (watch.release / "notes.txt").exists()


def test_a_symlink_dropped_in_the_outbox_is_held_not_followed(watch):
    (watch.home / "target.txt").write_text(SECRET)
    (watch.outbox / "link.txt").symlink_to(watch.home / "target.txt")
    line = watch.decision("link.txt")
    assert line["verdict"] == "quarantine" and not (watch.release / "link.txt").exists()
