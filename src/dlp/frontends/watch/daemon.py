"""The watch daemon: outbox -> scan -> release or quarantine, crash-safe (see `journal`).

Threads and what they own:

- observer threads (watchdog) only put paths on `_events`;
- the main loop (`run`) owns the settle tracker: it drains events, hands settled files
  to the job queue, rescans every outbox periodically, re-drives stuck journal entries,
  notices a new registry generation and handles stop and reload requests;
- worker threads claim, scan and place one file at a time (scans run in the thread or
  in a process pool, see `scans`);
- a reload thread opens a new registry generation (and the models and policy file with
  it) while the old one keeps scanning, on a new generation or SIGHUP; the decider and
  the recorder (`on_policy`) switch to the new policy with the scanner, or, when the
  reload fails, nothing switches and the log and `on_reload` say why.

Memory stays bounded in a burst: queued jobs are paths, and file contents are only
read by the scanner, one file per worker.

What is released is what was scanned (see `snapshot`): a file some process still holds
open for writing waits (a "waiting" log line says so, and the decision line later
says how long), and the claimed file is replaced by the daemon's own copy before the
scan, so the release folder only ever receives the scanned bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from ...decide import Decider, Hold, Request, held
from ...errors import DlpError
from ...rules import Policy
from ...types import Action, Destination, Detection, FileReport, Problem, escape_path, unescape_path
from .journal import WorkFolder, write_sidecar
from .names import is_temporary
from .scans import TOO_LARGE_RULE, ScannerSpec, Scans
from .settings import Outbox, WatchSettings, prepare_folders
from .settle import SettleTracker
from .snapshot import Changing, open_for_writing, snapshot

OnDecision = Callable[[FileReport, Destination, Path], None]
OnPolicy = Callable[[Policy], None]  # the recorder's `use_policy`: may raise, then the reload fails
OnReload = Callable[[dict[str, Any]], None]  # what a reload did (done or failed), for the audit trail
ORPHAN_RULE = "watch:orphan"
WAIT_RETRY = 1.0  # seconds at least between two looks at a file a writer holds open


class DecisionLog:
    """One JSON object per line: decisions, and the daemon's own events and errors."""

    def __init__(self, stream: TextIO, *, wall: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.wall = wall
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": round(self.wall(), 6), "event": event, **fields}, default=str, sort_keys=False)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()


@dataclass(frozen=True)
class _Job:
    box: Outbox
    path: str
    rel: str
    signature: tuple[int, int, int] | None
    first_seen: float | None


class _Deciders:
    """The daemon's decider, which follows the scanner's policy. Worker threads decide at the
    same time, so one replaced by a reload is closed once the last decision on it is done
    (and only if the daemon made it: one given to the daemon belongs to its giver)."""

    def __init__(self, decider: Decider) -> None:
        self.current = decider
        self._given = decider
        self._users: dict[Decider, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def using(self) -> Iterator[Decider]:
        with self._lock:
            decider = self.current
            self._users[decider] = self._users.get(decider, 0) + 1
        try:
            yield decider
        finally:
            with self._lock:
                self._users[decider] -= 1
                done = not self._users[decider]
                if done:
                    del self._users[decider]
            if done:
                self._close_if_retired(decider)

    def replace(self, decider: Decider) -> None:
        with self._lock:
            old, self.current = self.current, decider
        if old is not decider:
            self._close_if_retired(old)

    def close(self) -> None:
        """At shutdown, once no worker decides any more."""
        if self.current is not self._given:
            self.current.close()

    def _close_if_retired(self, decider: Decider) -> None:
        with self._lock:
            retired = decider is not self.current and decider not in self._users and decider is not self._given
        if retired:
            decider.close()


class Daemon:
    def __init__(self, settings: WatchSettings, spec: ScannerSpec, *, log: DecisionLog,
                 on_decision: OnDecision | None = None,
                 decider: Decider | None = None,
                 on_policy: OnPolicy | None = None,
                 on_reload: OnReload | None = None,
                 reload_settings: Callable[[], WatchSettings] | None = None,
                 clock: Callable[[], float] = time.monotonic, durable: bool = True) -> None:
        self.settings = settings
        self.spec = spec
        self.log = log
        self.on_decision = on_decision
        self.on_policy = on_policy
        self.on_reload = on_reload
        self._deciders = _Deciders(decider or Decider())  # its policy follows the scanner's
        self.reload_settings = reload_settings
        self.clock = clock
        self.durable = durable
        self.ready = threading.Event()  # set once recovery and the first rescan are done
        self.stopped = threading.Event()
        self.decisions = 0
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._busy: set[str] = set()  # outbox paths queued or in a worker
        self._inflight: set[str] = set()  # journal ids a worker owns
        self._waiting: dict[str, float] = {}  # outbox path -> wall time it started waiting for its writer
        self._lease_note = False  # said once that writers cannot be detected on some file
        self._boxes: dict[Path, tuple[Outbox, WorkFolder]] = {}
        self._observers: list[Any] = []
        self._workers: list[threading.Thread] = []
        self._tracker = SettleTracker(settings.settle, clock=clock)
        self._scans: Scans | None = None
        self._registry_thread: threading.Thread | None = None
        self._reload_again = False  # a SIGHUP came while a reload was running: reload once more after it
        self._failed_generation = ""

    # -- control (thread- and signal-safe) ------------------------------------------

    def stop(self) -> None:
        """Finish the files in hand, then return from `run`."""
        self._stop.set()
        self._events.put(None)

    def reload(self) -> None:
        """Re-read the settings (when there is a file) and reopen the registry."""
        self._reload.set()
        self._events.put(None)

    # -- the main loop ---------------------------------------------------------------

    def run(self) -> int:
        try:
            self._scans = Scans(self.spec, mode=self.settings.scan_in, workers=self.settings.workers)
            self._use_policy(self._scans.policy)  # the recorder records under the very policy that decides
            self._open_boxes(self.settings.outboxes)
            for box, work in list(self._boxes.values()):
                self._recover(box, work, startup=True)
            self._start_workers()
            self._start_observers()
            self._rescan()
            self.log.write("started", outboxes=[str(b) for b in self._boxes], workers=self.settings.workers,
                           scan_in=self.settings.scan_in, generation=self._scans.generation_name,
                           observers=[type(o).__name__ for o in self._observers], fail_open=self.settings.fail_open)
            self.ready.set()
            self._loop()
        finally:
            self._shutdown()
        return 0

    def _loop(self) -> None:
        next_rescan = self.clock() + self.settings.rescan
        next_registry = self.clock() + self.settings.registry_check
        while not self._stop.is_set():
            self._drain_events(self.settings.tick)
            if self._stop.is_set():
                break
            self._feed()
            now = self.clock()
            if self._reload.is_set():
                self._reload.clear()
                self._reload_all()
            if self._reload_again and not self._reloading():
                self._reload_again = False
                self._start_registry_reload("SIGHUP")
            if now >= next_rescan:
                self._rescan()
                for box, work in list(self._boxes.values()):
                    self._recover(box, work, startup=False)
                next_rescan = now + self.settings.rescan
            if now >= next_registry:
                self._check_registry()
                next_registry = now + self.settings.registry_check

    def _shutdown(self) -> None:
        self._stop.set()
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:
            observer.join(10)
        self._observers = []
        for worker in self._workers:
            worker.join()
        self._workers = []
        if self._registry_thread is not None:
            self._registry_thread.join()
        if self._scans is not None:
            self._scans.close()
        self._deciders.close()
        for _, work in self._boxes.values():
            work.close()
        if self.ready.is_set():
            self.log.write("stopped", decisions=self.decisions, pending=len(self._tracker), waiting=len(self._waiting))
        self.stopped.set()

    # -- outboxes, observers, events -------------------------------------------------

    def _open_boxes(self, outboxes: tuple[Outbox, ...]) -> None:
        for box in outboxes:
            for note in prepare_folders(box):
                self.log.write("tightened", outbox=escape_path(box.path), detail=note)
            work = WorkFolder(box.path, box.work, durable=self.durable)
            work.open()
            self._boxes[box.path] = (box, work)

    def _start_observers(self) -> None:
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        groups: dict[float | None, list[Outbox]] = {}
        for box, _ in self._boxes.values():
            groups.setdefault(box.poll, []).append(box)
        for poll, boxes in groups.items():
            observer = Observer() if poll is None else PollingObserver(timeout=poll)
            try:
                for box in boxes:
                    observer.schedule(_Events(box, self._events), os.fspath(box.path), recursive=True,
                                      event_filter=_event_types())
                observer.start()
            except OSError as exc:  # e.g. inotify watch limit: the periodic rescan still finds files
                self.log.write("error", error=f"observer for {', '.join(str(b.path) for b in boxes)} failed: "
                                              f"{exc}; relying on rescans every {self.settings.rescan:g} s")
                continue
            self._observers.append(observer)

    def _drain_events(self, timeout: float) -> None:
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            if item is not None:
                self._handle_event(*item)
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return

    def _handle_event(self, kind: str, box: Outbox, path: str) -> None:
        if box.path not in self._boxes:
            return  # an outbox removed by a reload
        if kind == "forget":
            self._tracker.forget(path)
            with self._lock:
                self._waiting.pop(path, None)
            return
        if kind == "wait":
            self._tracker.touch(path, not_before=self.clock() + max(WAIT_RETRY, self.settings.settle))
            return
        rel = os.path.relpath(path, box.path)
        if rel.startswith("..") or is_temporary(rel, self.settings.ignore):
            return
        if kind == "dir":
            if os.path.isdir(path) and not os.path.islink(path):
                for found in _walk(path):
                    self._touch(box, found)
                return
        self._tracker.touch(path, renamed=kind == "renamed")

    def _touch(self, box: Outbox, path: str) -> None:
        rel = os.path.relpath(path, box.path)
        if not is_temporary(rel, self.settings.ignore):
            self._tracker.touch(path)

    def _rescan(self) -> None:
        for box, _ in list(self._boxes.values()):
            for path in _walk(os.fspath(box.path)):
                self._touch(box, path)

    def _feed(self) -> None:
        with self._lock:
            busy = set(self._busy)
        for settled in self._tracker.due(busy):
            box = self._box_of(settled.path)
            if box is None:
                continue
            st = settled.stat
            job = _Job(box, settled.path, os.path.relpath(settled.path, box.path),
                       (st.st_size, st.st_mtime_ns, st.st_ino), settled.first_seen)
            with self._lock:
                self._busy.add(settled.path)
            self._jobs.put(job)

    def _box_of(self, path: str) -> Outbox | None:
        for root, (box, _) in self._boxes.items():
            if Path(path).is_relative_to(root):
                return box
        return None

    # -- workers -----------------------------------------------------------------------

    def _start_workers(self) -> None:
        for n in range(self.settings.workers):
            worker = threading.Thread(target=self._work, name=f"dlp-watch-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._process(job)
            except Exception as exc:  # the entry stays in the journal; the next rescan retries it
                self.log.write("error", outbox=str(job.box.path), file=job.rel,
                               error=f"{type(exc).__name__}: {exc}", retry=f"within {self.settings.rescan:g} s")
            finally:
                with self._lock:
                    self._busy.discard(job.path)

    def _process(self, job: _Job) -> None:
        box, work = self._boxes.get(job.box.path, (None, None))
        if box is None or work is None:
            return
        try:
            st = os.lstat(job.path)
        except FileNotFoundError:
            return
        if job.signature is not None and (st.st_size, st.st_mtime_ns, st.st_ino) != job.signature:
            self._events.put(("touch", box, job.path))  # changed since it settled: settle again
            return
        regular = stat.S_ISREG(st.st_mode)
        if regular and self._held_open(box, job):
            return
        entry = {"id": work.new_id(), "state": "claiming", "outbox": escape_path(box.path),
                 "rel": escape_path(job.rel), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                 "mode": st.st_mode & 0o7777, "claimed": time.time()}
        with self._lock:  # taken now: the claim's rename makes the observer forget the path
            since = self._waiting.pop(job.path, None)
            self._inflight.add(entry["id"])
        if since is not None:
            entry["waited"] = round(time.time() - since, 3)
        try:
            if not work.claim(entry):
                return
            # a writer that opened the file between the look above and the claim: give it back
            if regular and open_for_writing(work.file(entry["id"])) and work.give_back(entry):
                self._held_open(box, job, given_back=True, since=since)
                return
            self._scan_and_place(box, work, entry, job.first_seen)
        finally:
            with self._lock:
                self._inflight.discard(entry["id"])

    def _held_open(self, box: Outbox, job: _Job, *, given_back: bool = False, since: float | None = None) -> bool:
        """True (and the file waits, said in the log) when a process holds the job's file open for
        writing. A claim just `given_back` is known to be held; it has been waiting since `since`."""
        path = job.path
        state = "opened for writing while being claimed" if given_back else "open for writing"
        held = True if given_back else open_for_writing(path)
        if held is None and not self._lease_note:
            self._lease_note = True
            self.log.write("notice", outbox=escape_path(box.path), file=escape_path(job.rel),
                           detail="cannot tell whether a writer still holds files open here (a file lease needs "
                                  "the file's owner or CAP_LEASE, and a local filesystem); files are copied "
                                  "before the scan, so only scanned bytes are released")
        if not held:
            return False
        with self._lock:
            first = given_back or path not in self._waiting
            self._waiting.setdefault(path, since if since is not None else time.time())
        if first:
            self.log.write("waiting", outbox=escape_path(box.path), file=escape_path(job.rel), state=state)
        self._events.put(("wait", box, path))
        return True

    def _scan_and_place(self, box: Outbox, work: WorkFolder, entry: dict[str, Any], first_seen: float | None,
                        *, recovered: bool = False, force: str | None = None) -> None:
        detection = self._scan_copy(box, work, entry)
        # the journal id travels with the report, so a hook that ran before a crash is not repeated
        detection = replace(detection, meta={**detection.meta, "journal": entry["id"]})
        hold = Hold(force, "found in the work folder without a journal entry") if force is not None else None
        request = Request(box.destination, unscannable="open" if self.settings.fail_open else "closed", hold=hold)
        with self._deciders.using() as decider:
            try:
                report = decider.decide(detection, request)
            except Exception as exc:  # allow entries or exposure unreadable: decided without them, kept back
                self.log.write("error", outbox=entry["outbox"], file=entry["rel"],
                               error=f"decision failed: {type(exc).__name__}: {exc}")
                report = Decider(decider.policy).decide(
                    detection, replace(request, hold=Hold("watch:decision-failed", f"decision failed: {exc}")))
        self._place(box, work, entry, report, first_seen, recovered=recovered)

    def _scan_copy(self, box: Outbox, work: WorkFolder, entry: dict[str, Any]) -> Detection:
        """Replace the claimed file by the daemon's own copy, then scan that copy: the bytes
        scanned are the bytes placed. A file that kept changing while it was copied is kept back."""
        path = work.file(entry["id"])
        assert self._scans is not None
        changing = None
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            limit = self._scans.limits.max_total_bytes
            if st.st_size > limit:  # a sparse terabyte would fill the disk: kept back unread, even fail-open
                detection = Detection.unscannable(
                    entry["rel"], f"{st.st_size} bytes: more than {limit} are never copied or scanned", "too_large",
                    st.st_size)
                return held(detection, TOO_LARGE_RULE, "too large to copy and scan: never released")
            try:
                snapshot(path, entry.get("mode", 0o600), durable=self.durable)
            except Changing as exc:
                changing = Problem(entry["rel"], "unreadable", str(exc))
        detection = self._scans.scan(os.fspath(path), entry["rel"])
        return detection if changing is None else detection.with_problem(changing)

    def _place(self, box: Outbox, work: WorkFolder, entry: dict[str, Any], report: FileReport,
               first_seen: float | None, *, recovered: bool = False) -> None:
        quarantine = report.action >= Action.QUARANTINE
        entry.update(target="quarantine" if quarantine else "release", report=report.to_dict(),
                     destination=_destination_dict(box.destination), decided=time.time())
        if quarantine and not os.path.islink(work.file(entry["id"])):
            os.chmod(work.file(entry["id"]), 0o600)  # readable only by the service user
        work.place(entry, box.quarantine if quarantine else box.release, sidecar=quarantine)
        self._complete(box, work, entry, report, first_seen, recovered=recovered)

    def _complete(self, box: Outbox, work: WorkFolder, entry: dict[str, Any], report: FileReport,
                  first_seen: float | None, *, recovered: bool = False) -> None:
        final = Path(unescape_path(entry["final"]))
        if entry["target"] == "quarantine":
            write_sidecar(final, {
                "original": entry["rel"], "outbox": entry["outbox"], "release": escape_path(box.release),
                "release_path": escape_path(box.release / unescape_path(entry["rel"])),
                "mode": oct(entry.get("mode", 0o644)),
                "quarantined": entry.get("decided"), "destination": entry.get("destination"),
                "report": entry["report"],
            }, durable=self.durable)
        if self.on_decision is not None:
            try:
                self.on_decision(report, box.destination, final)
            except Exception as exc:  # the file is placed; say the hook failed, loudly
                self.log.write("error", outbox=entry["outbox"], file=entry["rel"],
                               error=f"on_decision hook failed: {type(exc).__name__}: {exc}")
        fields: dict[str, Any] = {
            "outbox": entry["outbox"], "file": entry["rel"], "verdict": report.action.label,
            "rule": report.decision.rule if report.decision else "", "to": entry["final"],
            "secrets": sorted({f.secret for f in report.findings}),
            "problems": sorted({p.kind for p in report.problems}),
            "bytes": report.bytes, "seconds": round(report.seconds, 4),
        }
        if first_seen is not None:
            fields["latency"] = round(self.clock() - first_seen, 4)
        if "waited" in entry:
            fields["waited"] = entry["waited"]
        if recovered:
            fields["recovered"] = True
        self.log.write("decision", **fields)
        with self._lock:
            self.decisions += 1
        work.drop(entry["id"])

    # -- recovery ----------------------------------------------------------------------

    def _recover(self, box: Outbox, work: WorkFolder, *, startup: bool) -> None:
        """Drive every journal entry no worker owns to its end (see `journal`)."""
        if startup:
            for leftover in work.leftovers():
                leftover.unlink(missing_ok=True)
        for entry_id in work.entry_ids():
            with self._lock:
                if entry_id in self._inflight:
                    continue
            entry = work.read(entry_id)
            if entry is None:
                continue
            try:
                self._recover_entry(box, work, entry)
            except Exception as exc:
                self.log.write("error", outbox=escape_path(box.path), file=entry.get("rel"), journal=entry_id,
                               error=f"recovery failed: {type(exc).__name__}: {exc}",
                               retry=f"within {self.settings.rescan:g} s")
        if startup:
            for orphan in work.orphans():
                entry = {"id": orphan, "state": "claiming", "outbox": escape_path(box.path),
                         "rel": escape_path(os.path.join("orphaned", orphan)), "claimed": time.time()}
                work.write(entry)
                self.log.write("recovery", outbox=escape_path(box.path), journal=escape_path(orphan),
                               action="orphan quarantined")
                self._scan_and_place(box, work, entry, None, recovered=True, force=ORPHAN_RULE)

    def _recover_entry(self, box: Outbox, work: WorkFolder, entry: dict[str, Any]) -> None:
        entry_id = entry["id"]
        present = os.path.lexists(work.file(entry_id))
        state = entry.get("state")
        if state == "claiming" and present:
            self.log.write("recovery", outbox=entry["outbox"], file=entry["rel"], journal=entry_id, action="rescan")
            self._scan_and_place(box, work, entry, None, recovered=True)
        elif state == "claiming":
            work.drop(entry_id)  # the claim rename never happened: the file is still in the outbox
        elif state == "placing":
            report = FileReport.from_dict(entry["report"])
            if present and not work.finish_interrupted_place(entry):
                self.log.write("recovery", outbox=entry["outbox"], file=entry["rel"], journal=entry_id, action="place")
                target = box.quarantine if entry["target"] == "quarantine" else box.release
                work.place(entry, target, sidecar=entry["target"] == "quarantine")
            self._complete(box, work, entry, report, None, recovered=True)
        elif present:  # an entry that cannot be read: keep the file back
            entry = {"id": entry_id, "state": "claiming", "outbox": escape_path(box.path),
                     "rel": os.path.join("orphaned", entry_id), "claimed": time.time()}
            work.write(entry)
            self._scan_and_place(box, work, entry, None, recovered=True, force=ORPHAN_RULE)
        else:
            work.drop(entry_id)

    # -- registry and settings reloads ---------------------------------------------------

    def _check_registry(self) -> None:
        assert self._scans is not None
        if self._reloading():
            return
        name = self._scans.pending()
        if name is None or name == self._failed_generation:
            return
        self._start_registry_reload(f"registry generation {name}", name)

    def _reloading(self) -> bool:
        return self._registry_thread is not None and self._registry_thread.is_alive()

    def _start_registry_reload(self, trigger: str, generation: str | None = None) -> None:
        self._registry_thread = threading.Thread(target=self._reload_registry, args=(trigger, generation),
                                                 name="dlp-watch-reload", daemon=True)
        self._registry_thread.start()

    def _reload_registry(self, trigger: str, generation: str | None = None) -> None:
        """Open the registry, models and policy file again; switch the scanner, the decider and
        the recorder together, or nothing (the old ones go on) and say why."""
        assert self._scans is not None
        old = self._scans.generation_name
        started = time.perf_counter()
        try:
            name = self._scans.reload(before_switch=lambda scanner: self._use_policy(scanner.policy))
        except Exception as exc:  # a broken generation, a policy file with an error, an unusable trail
            self._failed_generation = generation or ""
            error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, DlpError) else str(exc)
            self.log.write("error", error=f"reload failed ({trigger}), still scanning with {old} under the "
                                          f"previous policy: {error}")
            self._reloaded(trigger=trigger, outcome="failed", previous=old, generation=old, error=error[:500])
            return
        seconds = round(time.perf_counter() - started, 3)
        self.log.write("reloaded", registry=f"{old} -> {name}", trigger=trigger,
                       policy=getattr(self._scans.policy, "source", None), seconds=seconds)
        self._reloaded(trigger=trigger, outcome="done", previous=old, generation=name, seconds=seconds)

    def _use_policy(self, policy: Policy) -> None:
        """The decider and the recorder go with `policy`; when the recorder refuses it (a trail
        that cannot take the `policy` entry), neither switches."""
        decider = self._deciders.current.with_policy(policy)
        try:
            if self.on_policy is not None:
                self.on_policy(policy)
        except BaseException:
            if decider is not self._deciders.current:
                decider.close()
            raise
        self._deciders.replace(decider)

    def _reloaded(self, **outcome: Any) -> None:
        if self.on_reload is None:
            return
        try:
            self.on_reload(outcome)
        except Exception as exc:
            self.log.write("error", error=f"on_reload hook failed: {type(exc).__name__}: {exc}")

    def _reload_all(self) -> None:
        """SIGHUP: the configuration file, then the registry, models and policy file."""
        if self.reload_settings is not None:
            try:
                new = self.reload_settings()
            except DlpError as exc:
                self.log.write("error", error=f"configuration reload failed, keeping the old one: {exc}")
                new = None
            if new is not None:
                self._apply_settings(new)
        self._failed_generation = ""
        if self._reloading():
            self._reload_again = True  # the running reload may have read the policy file before it changed
        else:
            self._start_registry_reload("SIGHUP")

    def _apply_settings(self, new: WatchSettings) -> None:
        if (new.workers, new.scan_in) != (self.settings.workers, self.settings.scan_in):
            self.log.write("error", error="workers and scan_in change only with a restart; kept "
                                          f"workers={self.settings.workers} scan_in={self.settings.scan_in}")
        for observer in self._observers:
            observer.stop()
            observer.join(10)
        self._observers = []
        wanted = {box.path: box for box in new.outboxes}
        for path in list(self._boxes):
            if path not in wanted or wanted[path] != self._boxes[path][0]:
                _, work = self._boxes.pop(path)
                work.close()
        opened = [box for path, box in wanted.items() if path not in self._boxes]
        self.settings = replace(new, workers=self.settings.workers, scan_in=self.settings.scan_in)
        self._tracker.settle = new.settle
        try:
            self._open_boxes(tuple(opened))
        except DlpError as exc:
            self.log.write("error", error=f"outbox not opened: {exc}")
        for box in opened:
            if box.path in self._boxes:
                self._recover(box, self._boxes[box.path][1], startup=True)
        self._start_observers()
        self._rescan()
        self.log.write("configured", outboxes=[str(b) for b in self._boxes])


class _Events:
    """watchdog handler: only queues paths for the main loop."""

    def __init__(self, box: Outbox, sink: queue.SimpleQueue) -> None:
        self.box = box
        self.sink = sink

    def dispatch(self, event) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if event.is_directory:
            if kind in ("created", "moved"):
                self.sink.put(("dir", self.box, os.fsdecode(event.dest_path) if kind == "moved" else src))
            return
        if kind == "moved":
            self.sink.put(("forget", self.box, src))
            self.sink.put(("renamed", self.box, os.fsdecode(event.dest_path)))
        elif kind == "deleted":
            self.sink.put(("forget", self.box, src))
        else:  # created, modified, closed
            self.sink.put(("touch", self.box, src))


def _event_types() -> list[type]:
    from watchdog.events import (DirCreatedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                                 FileDeletedEvent, FileModifiedEvent, FileMovedEvent)

    return [FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
            DirCreatedEvent, DirMovedEvent]


def _walk(top: str) -> Iterator[str]:
    """Every non-folder entry under `top` (symbolic links, pipes and sockets included: they are
    quarantined, never followed), skipping dot folders such as the work folder."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path)
            else:
                yield entry.path
        except OSError:
            continue


def _destination_dict(destination: Destination) -> dict[str, Any]:
    return {"addresses": list(destination.addresses), "country": destination.country, "channel": destination.channel,
            "share": destination.share}
