"""Fixtures for the watch daemon: a tiny registry, outbox folders, a daemon running in a thread.

Nothing sleeps for a fixed time: tests wait on the decision log (a queue) or poll
the folders, always with a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import pytest

from dlp.frontends.watch.daemon import Daemon, DecisionLog
from dlp.frontends.watch.scans import ScannerSpec
from dlp.frontends.watch.settings import Outbox, WatchSettings
from dlp.registry import Registry
from helpers import prose

SECRET_TEXT = prose(400, seed=11)
LEAK = "Forwarded for review.\n\n" + SECRET_TEXT[:2000] + "\n"


def clean_text(n: int) -> str:
    return f"Meeting notes {n}: the quarterly picnic moves to Friday; bring sandwiches and a hat.\n"


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("watch-registry") / "reg"
    reg = Registry(root, create=True)
    reg.add_document(SECRET_TEXT, SECRET_TEXT.encode(), "plan.txt", secret_id="plan", label="Plan")
    reg.commit()
    return root


@dataclass
class Folders:
    outbox: Path
    release: Path
    quarantine: Path

    def box(self, **changes) -> Outbox:
        return replace(Outbox(self.outbox, self.release, self.quarantine), **changes)

    def placed(self) -> dict[str, list[Path]]:
        """Relative path -> where it is, over outbox (without the work folder), release and quarantine."""
        out: dict[str, list[Path]] = {}
        for root in (self.outbox, self.release, self.quarantine):
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    path = Path(folder) / name
                    if name.endswith(".dlp.json"):
                        continue
                    out.setdefault(os.path.relpath(path, root), []).append(path)
        return out


@pytest.fixture
def folders(tmp_path) -> Folders:
    f = Folders(tmp_path / "outbox", tmp_path / "release", tmp_path / "quarantine")
    f.outbox.mkdir()
    return f


class LogSink:
    """A text stream for DecisionLog that hands each parsed line to a queue."""

    def __init__(self) -> None:
        self.lines: queue.Queue = queue.Queue()
        self.all: list[dict] = []

    def write(self, text: str) -> None:
        for line in text.splitlines():
            if line.strip():
                record = json.loads(line)
                self.all.append(record)
                self.lines.put(record)

    def flush(self) -> None:
        pass

    def wait(self, event: str, count: int = 1, timeout: float = 20.0) -> list[dict]:
        """The next `count` records of `event` (others are skipped), or fail after `timeout` seconds."""
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"waited {timeout} s for {count} {event!r} log lines, got {len(found)}: {found[-3:]}")
            try:
                record = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if record["event"] == event:
                found.append(record)
        return found


_OPENED: dict = {}


@dataclass(frozen=True)
class SharedSpec(ScannerSpec):
    """Opens each registry's scanner once per session: warming spaCy up costs seconds."""

    def open(self):
        key = self.settings
        if key not in _OPENED:
            _OPENED[key] = ScannerSpec.open(self)
        return _OPENED[key]


@dataclass
class Running:
    daemon: Daemon
    log: LogSink


@pytest.fixture
def run_daemon(registry) -> Iterator[Callable[..., contextlib.AbstractContextManager[Running]]]:
    """run_daemon(outboxes, **settings) -> context manager running a Daemon in a thread."""

    @contextlib.contextmanager
    def start(outboxes: tuple[Outbox, ...], *, spec: ScannerSpec | None = None, on_decision=None, decider=None,
              reload_settings=None, on_policy=None, on_reload=None, **options) -> Iterator[Running]:
        settings = WatchSettings(outboxes=outboxes, **{"settle": 0.2, "rescan": 5.0, "workers": 2, **options})
        sink = LogSink()
        daemon = Daemon(settings, spec or SharedSpec.of(str(registry)), log=DecisionLog(sink),
                        on_decision=on_decision, decider=decider, reload_settings=reload_settings,
                        on_policy=on_policy, on_reload=on_reload)
        failure: list[BaseException] = []

        def body() -> None:
            try:
                daemon.run()
            except BaseException as exc:  # surfaced in the test thread below
                failure.append(exc)
                daemon.ready.set()

        thread = threading.Thread(target=body, name="watch-daemon", daemon=True)
        thread.start()
        assert daemon.ready.wait(60), "daemon did not start within 60 s"
        if failure:
            raise failure[0]
        try:
            yield Running(daemon, sink)
        finally:
            daemon.stop()
            thread.join(30)
            assert not thread.is_alive(), "daemon did not stop within 30 s of stop()"
        if failure:
            raise failure[0]

    yield start


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Writer:
    """A separate process that writes files on command (see writer.py), so a handle, a
    mapping or a rename belongs to another process exactly as a user's program would."""

    def __init__(self) -> None:
        import subprocess
        import sys

        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("writer.py"))],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._answers: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._answers.put(line.strip())

    def do(self, op: str, **fields) -> None:
        self.process.stdin.write(json.dumps({"op": op, **{k: os.fspath(v) if isinstance(v, Path) else v
                                                          for k, v in fields.items()}}) + "\n")
        self.process.stdin.flush()
        try:
            answer = self._answers.get(timeout=10)
        except queue.Empty:
            pytest.fail(f"the writer process did not answer {op!r} within 10 s")
        assert answer == "ok", answer

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)
        self._reader.join(5)
        self.process.stdout.close()


@pytest.fixture
def writer() -> Iterator[Writer]:
    w = Writer()
    try:
        yield w
    finally:
        w.stop()
