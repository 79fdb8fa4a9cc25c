"""Scanning claimed files: in the worker threads or in a process pool, with registry reloads.

`ScannerSpec` says how to open the scanner (it is pickled to worker processes);
`Scans` holds the live scanner (or pool) and swaps it when the registry's CURRENT
file names another generation. The daemon's fail-closed rule is applied here, at
the edge: a report with problems other than "binary" is at least a quarantine
unless the daemon runs with fail_open, in which case the built-in policy's
unreadable rule is lowered to warn (a policy file keeps its own rule).
"""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ...types import Action, Decision, Destination, FileReport, Finding, Item, Problem
from ...verdict import INFORMATIONAL_PROBLEMS, DefaultPolicy

FAIL_CLOSED_RULE = "watch:fail-closed"


@dataclass(frozen=True)
class ScannerSpec:
    """Everything needed to open the scanner again, in this process or another."""

    registry: str | None = None
    key: str | None = None
    policy: str | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    fail_open: bool = False
    ocr: bool = True

    def open(self):
        from ...scanner import open_scanner

        scanner = open_scanner(self.registry, self.key, self.policy, ocr=self.ocr, environ=dict(self.environ))
        if self.fail_open and isinstance(scanner.policy, DefaultPolicy):
            scanner.policy = replace(scanner.policy, unreadable_action=Action.WARN)
        warm_up(scanner)
        return scanner


def warm_up(scanner) -> None:
    """Load lazily built parts (spaCy for the rewrite tier) before the first file waits for them."""
    scanner.scan_text("warm up")
    if scanner.registry.snapshot.manifest.get("rw_owners"):
        analyser = scanner.registry.analyser
        analyser.sentences("Warm up the sentence splitter.")
        analyser.weight("warm")  # loads the word-frequency table


def scan_claimed(scanner, path: str, locator: str, destination: Destination, fail_open: bool) -> FileReport:
    """The report for a claimed file. Never raises: what cannot be scanned is a problem."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            report = _unscannable(scanner, locator, destination, f"not a regular file ({_kind(st.st_mode)})")
        else:
            report = scanner.scan_item(Item(locator=locator, name=os.path.basename(locator), path=path), destination)
    except Exception as exc:  # a scanner bug must not stop the daemon; the file is kept back
        report = _unscannable(scanner, locator, destination, f"scan failed: {type(exc).__name__}: {exc}"[:300])
    return fail_closed(report) if not fail_open else report


def fail_closed(report: FileReport) -> FileReport:
    """At least quarantine when part of the content could not be read."""
    unreadable = sorted({p.kind for p in report.problems if p.kind not in INFORMATIONAL_PROBLEMS})
    if not unreadable or report.action >= Action.QUARANTINE:
        return report
    reasons = (*(report.decision.reasons if report.decision else ()), f"unscannable content: {', '.join(unreadable)}")
    return replace(report, action=Action.QUARANTINE, decision=Decision(Action.QUARANTINE, FAIL_CLOSED_RULE, reasons))


def _unscannable(scanner, locator: str, destination: Destination, detail: str) -> FileReport:
    problems = (Problem(locator, "unreadable", detail),)
    decision = scanner.policy.decide([], problems, destination)
    return FileReport(path=locator, action=decision.action, problems=problems, decision=decision)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISDIR, "folder"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "unknown type"


class Scans:
    """The live scanner (threads) or pool of scanner processes, reloaded when the registry changes."""

    def __init__(self, spec: ScannerSpec, *, mode: str = "threads", workers: int = 1) -> None:
        self.spec = spec
        self.mode = mode
        self.workers = workers
        self._lock = threading.Lock()
        self._scanner = spec.open()  # a bad registry fails here, before any file is claimed
        self._pool: ProcessPoolExecutor | None = self._new_pool() if mode == "processes" else None
        self.current_file: Path = Path(self._scanner.registry.root) / "CURRENT"
        self.generation_name = _read_current(self.current_file)

    @property
    def policy(self):
        return self._scanner.policy

    def scan(self, path: str, locator: str, destination: Destination) -> FileReport:
        if self._pool is None:
            return scan_claimed(self._scanner, path, locator, destination, self.spec.fail_open)
        pool = self._pool
        try:
            return pool.submit(_scan_in_process, path, locator, destination, self.spec.fail_open).result()
        except BrokenProcessPool:  # a worker died (out of memory, killed): the file is not clean
            with self._lock:
                if self._pool is pool:
                    self._pool = self._new_pool()
            pool.shutdown(wait=False)
            report = _unscannable(self._scanner, locator, destination, "the scanner process died")
            return report if self.spec.fail_open else fail_closed(report)

    def changed(self) -> bool:
        """True when the registry's CURRENT names another generation than the loaded one."""
        return _read_current(self.current_file) != self.generation_name

    def reload(self) -> str:
        """Open the registry again and swap it in; scans in progress finish with the old one.
        Raises the store's error (the old scanner stays) when the new generation cannot be used."""
        name = _read_current(self.current_file)
        scanner = self.spec.open()
        pool = self._new_pool() if self.mode == "processes" else None
        with self._lock:
            old_pool, self._pool = self._pool, pool
            self._scanner = scanner
            self.generation_name = name
        if old_pool is not None:
            old_pool.shutdown(wait=False)  # queued scans still run to the end
        return name

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        import multiprocessing

        # spawn: the daemon has observer and worker threads, which fork would copy mid-lock
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_process, initargs=(self.spec,))
        for _ in pool.map(_ping, range(self.workers)):  # start them now: a slow start is paid here
            pass
        return pool


def _read_current(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


_process_scanner = None


def _init_process(spec: ScannerSpec) -> None:
    global _process_scanner
    _process_scanner = spec.open()


def _ping(_: int) -> bool:
    return _process_scanner is not None


def _scan_in_process(path: str, locator: str, destination: Destination, fail_open: bool) -> FileReport:
    return scan_claimed(_process_scanner, path, locator, destination, fail_open)


def report_from_dict(data: Mapping[str, Any]) -> FileReport:
    """A FileReport back from its `to_dict()` (journal entries keep reports as JSON)."""
    findings = tuple(
        Finding(secret=f["secret"], version=f["version"], label=f.get("label", ""), kind=f["kind"],
                score=f.get("score", 0.0), matched_words=f.get("matched_words", 0), coverage=f.get("coverage", 0.0),
                locator=f.get("locator", ""), classification=f.get("classification", ""),
                tags=tuple(f.get("tags", ())), density=f.get("density", 0.0), detector=f.get("detector", ""),
                evidence=dict(f.get("evidence", {})))
        for f in data.get("findings", ()))
    problems = tuple(Problem(p["locator"], p["kind"], p["detail"]) for p in data.get("problems", ()))
    decision = None
    if data.get("decision"):
        d = data["decision"]
        decision = Decision(Action.parse(d["action"]), d.get("rule", ""), tuple(d.get("reasons", ())))
    return FileReport(path=data["path"], action=Action.parse(data["action"]), findings=findings, problems=problems,
                      bytes=data.get("bytes", 0), seconds=data.get("seconds", 0.0), decision=decision,
                      meta=dict(data.get("meta", {})))
