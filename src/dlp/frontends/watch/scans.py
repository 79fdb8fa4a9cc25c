"""Scanning claimed files: in the worker threads or in a process pool, with registry reloads.

`ScannerSpec` says how to open the scanner (it is pickled to worker processes);
`Scans` holds the live scanner (or pool) and swaps it when the store's watch
(`Store.watch`) reports another generation, or on SIGHUP. Scans return detections; the daemon decides them
(`decide.Decider`, with its fail-closed request). An entry that is not a regular
file (a symbolic link, a pipe, a socket) is marked held here, where it is seen:
it is quarantined even fail-open, since it has no bytes that could have been
scanned, and a released link would hand the transfer job whatever it points to.
"""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable

from ...decide import held
from ...settings import Settings, load_settings
from ...types import Detection, Item, file_kind

NOT_A_FILE_RULE = "watch:not-a-file"
TOO_LARGE_RULE = "watch:too-large"


@dataclass(frozen=True)
class ScannerSpec:
    """Everything needed to open the scanner again, in this process or another (it is pickled
    to the pool's processes): the command's settings, frozen."""

    settings: Settings

    @classmethod
    def of(cls, registry: str | os.PathLike, policy: str | os.PathLike | None = None) -> "ScannerSpec":
        """A spec for a registry (and policy file) alone, as tests and tools name them."""
        return cls(load_settings(environ={}, registry=registry, policy=policy))

    def open(self):
        from ...scanner import scanner_from

        scanner = scanner_from(self.settings)
        warm_up(scanner)
        return scanner


def warm_up(scanner) -> None:
    """Load lazily read parts before the first file waits for them."""
    scanner.warm_up()


def scan_claimed(scanner, path: str, locator: str) -> Detection:
    """What was found in a claimed file. Never raises: what cannot be scanned is a problem."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            detection = Detection.unscannable(locator, f"not a regular file ({file_kind(st.st_mode)})")
            return held(detection, NOT_A_FILE_RULE, "not a regular file: never released")
        return scanner.detect(Item(locator=locator, name=os.path.basename(locator), path=path))
    except Exception as exc:  # a scanner bug must not stop the daemon; the file is kept back
        return Detection.unscannable(locator, f"scan failed: {type(exc).__name__}: {exc}"[:300])


class Scans:
    """The live scanner (threads) or pool of scanner processes, reloaded when the registry changes."""

    def __init__(self, spec: ScannerSpec, *, mode: str = "threads", workers: int = 1) -> None:
        self.spec = spec
        self.mode = mode
        self.workers = workers
        self._lock = threading.Lock()
        self._scanner = spec.open()  # a bad registry fails here, before any file is claimed
        self._pool: ProcessPoolExecutor | None = self._new_pool() if mode == "processes" else None
        self._watch = _watch(self._scanner)

    @property
    def generation_name(self) -> str:
        """The registry generation the live scanner holds."""
        return self._watch.held

    @property
    def policy(self):
        return self._scanner.policy

    @property
    def limits(self):
        return self._scanner.limits

    def scan(self, path: str, locator: str) -> Detection:
        if self._pool is None:
            return scan_claimed(self._scanner, path, locator)
        pool = self._pool
        try:
            return pool.submit(_scan_in_process, path, locator).result()
        except BrokenProcessPool:  # a worker died (out of memory, killed): the file is not clean
            with self._lock:
                if self._pool is pool:
                    self._pool = self._new_pool()
            pool.shutdown(wait=False)
            return Detection.unscannable(locator, "the scanner process died")

    def pending(self) -> str | None:
        """The registry's current generation when it is not the one the live scanner holds."""
        return self._watch.changed()

    def reload(self, before_switch: Callable[[Any], None] = lambda scanner: None) -> str:
        """Open the registry, models and policy file again and swap them in; scans in progress
        finish with the old scanner. Returns the generation now held.

        `before_switch(scanner)` runs between the opening and the swap (the daemon switches
        its policy there): when it raises, nothing is swapped. So does the store's or the
        policy's error when the new generation or file cannot be used: the old scanner stays."""
        scanner = self.spec.open()
        pool = self._new_pool() if self.mode == "processes" else None
        try:
            before_switch(scanner)
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=False)
            raise
        watch = _watch(scanner)
        with self._lock:
            old_pool, self._pool = self._pool, pool
            self._scanner = scanner
            self._watch = watch
        if old_pool is not None:
            old_pool.shutdown(wait=False)  # queued scans still run to the end
        return watch.held

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


def _watch(scanner):
    """The store's watch for the generation this scanner's index holds."""
    index = scanner.registry
    return index.store.watch(index.generation_name)


_process_scanner = None


def _init_process(spec: ScannerSpec) -> None:
    global _process_scanner
    _process_scanner = spec.open()


def _ping(_: int) -> bool:
    return _process_scanner is not None


def _scan_in_process(path: str, locator: str) -> Detection:
    return scan_claimed(_process_scanner, path, locator)
