"""`dlp milter` follows the registry and its policy file without a restart.

Every second the store's watch (`Store.watch`: one `stat`) is asked whether another
registry generation is current; SIGHUP asks for a reload whatever it says. A reload:

1. opens the scanner again (registry generation, models, policy file) in a thread of
   this process, off the event loop, and warms it up;
2. forks a new zygote from it and starts its workers (`ScanWorkers.switch`);
3. switches the gate's decider and the recorder to the new policy, on the recording
   thread, between two decisions (`MailGate.switch`);
4. only then lets the old workers go: each finishes the scan it holds, which is
   answered once, as usual; the old zygote exits with the last of them, and with it
   the old scanner (this process keeps none).

A reload that fails at any step (a broken generation, a policy file with an error, a
zygote that cannot start, an audit trail that refuses the `policy` entry) changes
nothing: the old workers and policy go on, and the log and a `reload` audit entry say
why. A generation that failed is not tried again until another one appears or SIGHUP.
Reloads run one at a time; a SIGHUP during one makes another after it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import gc
import logging
import time
from typing import Any, Callable

from ...decide import Decider
from ...errors import DlpError
from ...rules import Policy
from ...store import GenerationWatch
from .mail import MailGate
from .workers import ScanWorkers

log = logging.getLogger("dlp.frontends.milter")

REGISTRY_CHECK = 1.0  # seconds between two looks at the registry

OpenScanner = Callable[[], Any]  # a warmed-up scanner with the mail limits (`command.open_mail_scanner`)
UsePolicy = Callable[[Policy], Decider]  # on the recording thread: switch the recorder, return its decider
AuditReload = Callable[..., Any]  # writes a `reload` audit entry with the fields given


def generation_watch(scanner: Any) -> GenerationWatch | None:
    """The store's watch for the generation the scanner holds (None for a scanner without a registry)."""
    index = getattr(scanner, "registry", None)
    store = getattr(index, "store", None)
    return store.watch(index.generation_name) if store is not None else None


class Reloads:
    def __init__(self, open_scanner: OpenScanner, workers: ScanWorkers, gate: MailGate, *,
                 watch: GenerationWatch | None, use_policy: UsePolicy, audit: AuditReload | None = None,
                 every: float = REGISTRY_CHECK) -> None:
        self.open_scanner = open_scanner
        self.workers = workers
        self.gate = gate
        self.watch = watch
        self.use_policy = use_policy
        self.audit = audit
        self.every = every
        self.done = 0  # reloads that switched
        self.failed = 0
        # one thread opens every scanner: its memory comes back to the same allocator arena each time
        self._opener = concurrent.futures.ThreadPoolExecutor(1, "dlp-milter-reload")
        self._wake = asyncio.Event()
        self._requested: str | None = None  # the trigger of a reload asked for (SIGHUP)
        self._failed_generation: str | None = None

    @property
    def generation(self) -> str:
        """The registry generation new scans use."""
        return self.watch.held if self.watch is not None else ""

    def close(self) -> None:
        """After `run` was cancelled: the opening thread ends once a scanner it may be opening is open."""
        self._opener.shutdown(wait=False)

    def request(self, trigger: str = "SIGHUP") -> None:
        """Reload as soon as possible (from the event loop's thread: a signal handler)."""
        self._requested = trigger
        self._wake.set()

    async def run(self) -> None:
        """Look for a new generation every `every` seconds and reload on request, until cancelled."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.every)
            except TimeoutError:
                pass
            self._wake.clear()
            if self._requested is not None:
                trigger, self._requested = self._requested, None
                self._failed_generation = None
                await self.reload(trigger)
                continue
            name = self.watch.changed() if self.watch is not None else None
            if name is not None and name != self._failed_generation:
                await self.reload(f"registry generation {name}", name)

    async def reload(self, trigger: str, generation: str | None = None) -> bool:
        """One reload, all or nothing (see the module docstring). True when it switched."""
        previous = self.generation
        started = time.perf_counter()
        try:
            scanner = await asyncio.get_running_loop().run_in_executor(self._opener, self.open_scanner)
            policy = scanner.policy
            watch = generation_watch(scanner)

            async def switch_policy() -> None:
                await self.gate.switch(lambda: self.use_policy(policy))

            await self.workers.switch(scanner.detect_bytes, before_commit=switch_policy)
            del scanner  # the new zygote holds it; this process keeps none
        except Exception as exc:
            self.failed += 1
            self._failed_generation = generation
            error = str(exc) if isinstance(exc, DlpError) else f"{type(exc).__name__}: {exc}"
            log.error("reload failed (%s), still scanning with %s under the previous policy: %s", trigger,
                      previous or "the previous scanner", error)
            await self._audit(trigger=trigger, outcome="failed", previous=previous, generation=previous,
                              error=error[:500])
            return False
        if watch is not None:
            self.watch = watch
        self.done += 1
        await asyncio.get_running_loop().run_in_executor(self._opener, _release_memory)
        seconds = round(time.perf_counter() - started, 3)
        log.info("reloaded (%s): registry %s -> %s, policy %s, in %.3f s", trigger, previous, self.generation,
                 getattr(policy, "source", None) or "built in", seconds)
        await self._audit(trigger=trigger, outcome="done", previous=previous, generation=self.generation,
                          seconds=seconds)
        return True

    async def _audit(self, **fields: Any) -> None:
        if self.audit is None:
            return
        try:  # fsynced under a file lock: off the event loop
            await asyncio.get_running_loop().run_in_executor(None, lambda: self.audit(**fields))
        except Exception:  # the reload stands (or not); the missing evidence is logged loudly
            log.exception("the reload could not be written to the audit trail")


def _release_memory() -> None:
    """Hand the memory of the scanner this process just let go back to the system: the C
    allocator keeps freed pages for reuse otherwise, and the next zygote is forked with them."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc
