"""Scans in worker processes that can be killed: mail that is expensive to read cannot
hold the gateway hostage.

Process tree::

    dlp milter (event loop, sockets, replies, recording)
      └─ zygote          forked once at start, single-threaded, holds the opened scanner
           └─ worker     one per scan slot, its own process group, one scan at a time
                └─ parser children of `extract.isolate` (same process group)

A worker that must go is killed with its whole process group and replaced by a fork of
the zygote: milliseconds, with the registry and spaCy pages shared copy-on-write, where
a new interpreter would load them again for seconds. Forking the event-loop process
itself could copy a lock some other thread holds; the zygote has one thread. Only the
zygote kills and reaps workers, so a process id is never reused under a kill, and as a
child subreaper it also reaps parsers orphaned by a killed worker.

**Reloads** (`switch`): the milter opens the new scanner and a new zygote is forked from
it, on the event loop's thread, while no other thread of the milter runs scanner code
(so no lock the scan needs can be copied held) and the forking thread outlives the
zygote (its parent-death signal follows that thread). The new zygote first points every
descriptor it inherited, but its own two sockets and standard streams, at /dev/null:
connections, listening sockets, the old zygote's and workers' sockets and spooled
messages are not kept open by it. New workers come from the new zygote; the old ones
finish the scans they hold, then exit, and the old zygote goes with the last of them.
This process keeps no scanner: the scan function is handed to the zygote, so an old
scanner's memory and mapped files are released once its zygote is gone.

Scheduling, so that good mail keeps flowing while expensive mail is being read:

- `workers` fast slots. A message takes an idle one.
- When none is idle, the scan that has run longest, once it has run `quantum` seconds,
  is *demoted* to the slow lane: its process group is reniced to 19 (it keeps going
  with the CPU left over) and a fresh worker takes its slot. New mail never waits
  behind an expensive part for more than a quantum.
- The slow lane holds `max_slow` scans; demoting into a full lane kills the slow scan
  that has run longest. Every scan is killed at its message deadline.
- Messages waiting for a slot are served round robin per *sender* (the envelope
  sender, or the client when there is none), so one sender with many expensive
  messages gets one turn in N, not the whole queue. At most `max_waiting` messages
  wait; one more is refused at once.
- A sender whose scan was demoted or stopped for its length within `memory` seconds
  loses its claim to the fast lane: its waiting messages come after everyone
  else's and only ever take an idle worker (they demote no one), its scans start at
  nice 19 (their parser children with them), and they give their slot up at once,
  without a quantum, when someone else waits. Expensive mail
  then costs good mail a fork, not a quantum. (A reniced worker cannot be made nice 0
  again without privileges: it is retired after its scan and replaced.)

Every way a scan can end without a report is a `ScanRefused` with the reason, which the
milter answers with the policy's tempfail (or fail-open) and writes to the audit trail.

A message goes to its worker as bytes over a socket pair; what the scan found comes
back as JSON (`Detection.to_dict`; the milter decides it), never as a pickle: a parser exploited inside a worker
cannot hand the milter code to run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import json
import os
import select
import signal
import socket
import struct
import time
import warnings
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from ...errors import DlpError
from ...types import Detection

ScanFunction = Callable[[bytes, str], Detection]  # e.g. Scanner.detect_bytes
_HEAD = struct.Struct(">QQ")  # header length, data length
_SIZE = struct.Struct(">Q")
MAX_REPORT_BYTES = 64 * 1024 * 1024  # a worker's answer beyond this is not a report
SWITCH_TIMEOUT = 30.0  # seconds a reload's new workers have to start and answer a first scan
PROBE = b"Subject: reload check\r\n\r\nThe scan workers of a reload answer this before they serve mail.\r\n"


class ScanRefused(DlpError):
    """The scan ended without a report; `reason` says why (for the SMTP reply and the audit trail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WorkerSettings:
    workers: int = 2
    max_slow: int = 2
    quantum: float = 1.0
    max_waiting: int = 64
    nice: int = 19
    memory: float = 600.0  # seconds a sender's expensive scan is remembered
    remembered: int = 10_000  # senders remembered at most


class _Zygote:
    """One zygote process (it holds one scanner) and this process's two sockets to it."""

    def __init__(self, pid: int, spawn: socket.socket, orders: socket.socket) -> None:
        self.pid = pid
        self.spawn = spawn  # "S" asks for a worker; the answer carries its pid and socket
        self.orders = orders  # "K<pid>" kills a worker's process group, "N<pid> <nice>" renices it
        self.retired = False  # a newer zygote serves new scans; this one waits for its last worker
        self.spawning = 0  # requests for a worker in flight

    def close(self) -> None:
        """The zygote sees the end of its sockets, kills what is left of its workers and exits."""
        self.spawn.close()
        self.orders.close()


class _Worker:
    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 zygote: _Zygote) -> None:
        self.pid = pid
        self.reader = reader
        self.writer = writer
        self.zygote = zygote  # the one that forked it: it takes the orders about it
        self.started: float | None = None  # clock value when its current scan began
        self.sender = ""  # whose message it scans
        self.slow = False
        self.reniced = False  # running at low priority: retired after its scan
        self.gone: str | None = None  # why it was killed or lost


class ScanWorkers:
    def __init__(self, scan: ScanFunction, settings: WorkerSettings = WorkerSettings(), *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if settings.workers < 1 or settings.max_slow < 0 or settings.quantum <= 0 or settings.max_waiting < 0:
            raise ValueError("workers >= 1, max_slow >= 0, quantum > 0 and max_waiting >= 0 are required")
        self.scan_function: ScanFunction | None = scan  # handed to the zygote, then dropped (see `switch`)
        self.settings = settings
        self.clock = clock
        self.counts = {"scans": 0, "demoted": 0, "killed": 0, "died": 0, "refused": 0, "spawned": 0,
                       "switched": 0}
        self._zygote: _Zygote | None = None
        self._retired: list[_Zygote] = []  # older zygotes whose workers still finish their scans
        self._reaping: set[asyncio.Future] = set()
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, "dlp-milter-spawn")
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._fast = 0  # fast slots: idle, busy in the fast lane, or being spawned
        self._queues: OrderedDict[str, deque[asyncio.Future]] = OrderedDict()
        self._expensive: OrderedDict[str, float] = OrderedDict()  # sender -> when a scan of theirs ran long
        self._waiting = 0
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # -- lifecycle ------------------------------------------------------------------------

    def fork_zygote(self) -> None:
        """Fork the zygote now (before threads exist, ideally). `open` does it when not done yet."""
        if self._zygote is not None:
            return
        scan, self.scan_function = self.scan_function, None  # this process never scans
        if scan is None:
            raise ScanRefused("no scanner to fork the scan workers from")
        self._zygote = _fork_zygote(scan)

    async def open(self) -> None:
        """Start the zygote (if not yet) and the fast workers."""
        self.fork_zygote()
        self._fast = self.settings.workers
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.settings.workers)))
        self._idle.extend(workers)

    async def close(self) -> None:
        """Stop every worker and every zygote. Scans still running end as ScanRefused."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        for queue in self._queues.values():
            for future in queue:
                if not future.done():
                    future.set_exception(ScanRefused("the milter is shutting down"))
        self._queues.clear()
        for worker in [*self._idle, *self._busy]:
            self._kill(worker, "the milter is shutting down")
        self._idle.clear()
        zygotes = [*self._retired, *([self._zygote] if self._zygote is not None else [])]
        self._retired, self._zygote = [], None
        for zygote in zygotes:
            zygote.close()
        self._spawner.shutdown(wait=True)
        for zygote in zygotes:
            self._reap(zygote)
        if self._reaping:
            await asyncio.wait(self._reaping)

    async def switch(self, scan: ScanFunction, before_commit: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Serve every scan that starts from now on with `scan` (a reload).

        A new zygote is forked from this process, which holds the scanner behind `scan`,
        its fast workers are started and each answers a first scan (`PROBE`); then
        `before_commit` runs (the milter switches its policy there); then idle old workers
        are let go, busy ones finish the scan they hold (answered as usual, once) and exit
        after it, and the old zygote exits with the last of them. When the new zygote or a
        worker cannot start or scan within `SWITCH_TIMEOUT`, or `before_commit` raises, the
        new zygote is stopped and this raises: nothing changed, the old workers go on. Call
        it from the event loop's thread, with no other thread running scanner code."""
        if self._closed or self._zygote is None:
            raise ScanRefused("the scan workers are not running")
        zygote = _fork_zygote(scan)
        del scan  # this process keeps no scanner
        started: list[_Worker] = []

        async def start() -> None:
            results = await asyncio.gather(*(self._spawn_from(zygote) for _ in range(self.settings.workers)),
                                           return_exceptions=True)
            started.extend(r for r in results if isinstance(r, _Worker))
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise failed[0]
            for worker in started:
                await _probe(worker)

        try:
            try:
                await asyncio.wait_for(start(), SWITCH_TIMEOUT)
            except TimeoutError:
                raise ScanRefused(f"the new scan workers did not start and answer within {SWITCH_TIMEOUT:g} s") from None
            if before_commit is not None:
                await before_commit()
            if self._closed:
                raise ScanRefused("the milter is shutting down")
        except BaseException:
            for worker in started:
                worker.writer.close()
            _kill_zygote(zygote)  # with its workers: a spawn request it never answers ends too
            zygote.close()
            self._reap(zygote)
            raise
        old, self._zygote = self._zygote, zygote
        old.retired = True
        self._retired.append(old)
        stale, self._idle = self._idle, started
        for worker in stale:  # idle: it exits at the end of its input
            worker.writer.close()
        self._fast += len(started) - len(stale)
        self.counts["switched"] += 1
        self._retire_done()
        self._dispatch()

    @property
    def zygotes(self) -> list[int]:
        """Process ids of the zygotes still running: the current one first, then retired ones."""
        current = [self._zygote.pid] if self._zygote is not None else []
        return current + [z.pid for z in self._retired]

    # -- one scan -----------------------------------------------------------------------------

    async def scan(self, data: bytes, name: str, deadline: float, *, sender: str = "") -> Detection:
        """What was found in one message, or ScanRefused. `deadline` is a clock value."""
        if self._closed:
            raise ScanRefused("the milter is shutting down")
        sender = sender.lower()
        worker = await self._acquire(deadline, sender)
        worker.sender = sender
        if self._is_expensive(sender):  # before the scan forks its parsers: they inherit the priority
            self._renice(worker)
        try:
            return await self._run(worker, data, name, deadline)
        finally:
            self._release(worker)

    async def _run(self, worker: _Worker, data: bytes, name: str, deadline: float) -> Detection:
        self.counts["scans"] += 1
        worker.started = self.clock()
        header = json.dumps({"name": name}).encode()
        answer = asyncio.ensure_future(self._exchange(worker, header, data))
        try:
            done, _ = await asyncio.wait({answer}, timeout=max(0.0, deadline - self.clock()))
        except asyncio.CancelledError:  # nobody waits for this report any more (the connection went)
            self._kill(worker, "the scan was abandoned")
            answer.cancel()
            raise
        if not done:
            self._kill(worker, f"scan killed at the message deadline ({worker_age(worker, self.clock):.1f} s)")
            self.counts["killed"] += 1
            self._remember_expensive(worker.sender)
            await asyncio.wait({answer})  # the kill closed its socket: this ends at once
        try:
            body = answer.result()
        except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
            if worker.gone is None:
                self.counts["died"] += 1
                self._kill(worker, f"the scan worker died ({type(exc).__name__})")  # and what it started
            raise ScanRefused(worker.gone) from None
        try:  # a whole answer counts, even from a worker stopped just after it gave it
            reply = json.loads(body)
            if "error" in reply:
                raise ScanRefused(f"scanner error: {reply['error']}")
            return Detection.from_dict(reply["detection"])
        except (ValueError, KeyError, TypeError) as exc:
            self._kill(worker, "the scan worker answered nonsense")
            raise ScanRefused(f"the scan worker answered nonsense ({type(exc).__name__})") from None

    @staticmethod
    async def _exchange(worker: _Worker, header: bytes, data: bytes) -> bytes:
        worker.writer.write(_HEAD.pack(len(header), len(data)) + header)
        worker.writer.write(data)
        await worker.writer.drain()
        (size,) = _SIZE.unpack(await worker.reader.readexactly(_SIZE.size))
        if size > MAX_REPORT_BYTES:
            raise ConnectionError(f"a report of {size} bytes")
        return await worker.reader.readexactly(size)

    # -- slots ----------------------------------------------------------------------------------

    async def _acquire(self, deadline: float, sender: str) -> _Worker:
        if self._waiting >= self.settings.max_waiting and not self._idle:
            self.counts["refused"] += 1
            raise ScanRefused(f"overloaded: {self._waiting} messages already wait for a scan worker")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queues.setdefault(sender, deque()).append(future)
        self._waiting += 1
        try:
            self._dispatch()
            await asyncio.wait({future}, timeout=max(0.0, deadline - self.clock()))
        except asyncio.CancelledError:  # the connection went while its message waited
            if future.done() and not future.cancelled() and future.exception() is None:
                self._release(future.result())
            future.cancel()
            raise
        finally:
            self._waiting -= 1
        if future.done():
            return future.result()
        future.cancel()  # still queued: the dispatcher skips it
        self.counts["refused"] += 1
        raise ScanRefused("overloaded: no scan worker became free before the message deadline")

    def _release(self, worker: _Worker) -> None:
        self._busy.discard(worker)
        worker.started = None
        retired = worker.zygote.retired  # a reload gave its slot to a new worker already
        if worker.gone is not None:
            if not worker.slow:  # its fast slot needs a new worker
                self._fast -= 1
                if not retired:
                    self._replace()
        elif worker.slow:  # its slot was filled when it was demoted
            worker.writer.close()  # it exits at the end of its input
        elif worker.reniced or retired:  # a fast slot at low priority: retire it, a fresh worker takes the slot
            worker.writer.close()
            self._fast -= 1
            if not retired:
                self._replace()
        else:
            self._idle.append(worker)
        if retired:
            self._retire_done()
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand idle workers (or demoted slots) to waiting messages, one sender at a time."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while not self._closed:
            future = self._next_waiting()
            if future is None:
                return
            if self._idle:
                worker = self._idle.pop()
                self._busy.add(worker)
                self._take(future).set_result(worker)
                continue
            if self._is_expensive(self._sender_of(future)):
                break  # only senders with expensive scans wait: they get idle workers, never a demotion
            victim = self._demotable()
            if victim is None:
                break
            self._demote(victim)
            self._take(future)
            self._fast += 1
            asyncio.ensure_future(self._spawn_for(future))
        # nothing to hand out now: look again when the oldest fast scan reaches its quantum
        running = [w.started for w in self._busy if not w.slow and w.started is not None]
        if running and self._next_waiting() is not None:
            delay = max(0.01, min(running) + self.settings.quantum - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._dispatch)

    def _next_waiting(self) -> asyncio.Future | None:
        """The message to serve next: senders take turns (the one served goes last), and senders
        with recent expensive scans come after all others."""
        for sender in list(self._queues):
            queue = self._queues[sender]
            while queue and queue[0].done():
                queue.popleft()
            if not queue:
                del self._queues[sender]
        for sender, queue in self._queues.items():
            if not self._is_expensive(sender):
                return queue[0]
        return next(iter(self._queues.values()))[0] if self._queues else None

    def _sender_of(self, future: asyncio.Future) -> str:
        return next(sender for sender, queue in self._queues.items() if queue and queue[0] is future)

    def _take(self, future: asyncio.Future) -> asyncio.Future:
        for sender, queue in self._queues.items():
            if queue[0] is future:
                queue.popleft()
                self._queues.move_to_end(sender)
                if not queue:
                    del self._queues[sender]
                return future
        raise AssertionError("the future taken is not at the head of a queue")

    def _demotable(self) -> _Worker | None:
        """The fast scan to demote for a waiting message: one of a sender with recent expensive
        scans, else the longest running, once past its quantum."""
        now = self.clock()
        running = [w for w in self._busy if not w.slow and w.started is not None and w.gone is None]
        cheap = [w for w in running if self._is_expensive(w.sender)]
        if cheap:
            return min(cheap, key=lambda w: w.started)
        return min((w for w in running if now - w.started >= self.settings.quantum),
                   key=lambda w: w.started, default=None)

    def _is_expensive(self, sender: str) -> bool:
        when = self._expensive.get(sender)
        return when is not None and self.clock() - when < self.settings.memory

    def _remember_expensive(self, sender: str) -> None:
        self._expensive[sender] = self.clock()
        self._expensive.move_to_end(sender)
        while len(self._expensive) > self.settings.remembered:
            self._expensive.popitem(last=False)

    def _demote(self, worker: _Worker) -> None:
        worker.slow = True
        self._fast -= 1
        self.counts["demoted"] += 1
        self._remember_expensive(worker.sender)
        self._renice(worker)
        slow = [w for w in self._busy if w.slow and w.gone is None]
        if len(slow) > self.settings.max_slow:
            oldest = min(slow, key=lambda w: w.started or 0.0)
            self.counts["killed"] += 1
            self._kill(oldest, f"overloaded: more than {self.settings.max_slow} long scans at once; "
                               f"the longest ({worker_age(oldest, self.clock):.1f} s) was stopped")

    async def _spawn_for(self, future: asyncio.Future) -> None:
        try:
            worker = await self._spawn()
        except Exception as exc:
            self._fast -= 1
            if not future.done():
                future.set_exception(ScanRefused(f"cannot start a scan worker: {exc}"))
            return
        if future.done():  # its message gave up meanwhile: the worker is simply idle
            self._idle.append(worker)
            self._dispatch()
            return
        self._busy.add(worker)
        future.set_result(worker)

    def _replace(self) -> None:
        if self._closed:
            return
        self._fast += 1
        zygote = self._zygote

        async def replace() -> None:
            try:
                worker = await self._spawn()
            except Exception:
                self._fast -= 1
                return
            if zygote is not self._zygote:  # a reload started a full set of workers meanwhile
                worker.writer.close()
                self._fast -= 1
                return
            self._idle.append(worker)
            self._dispatch()

        asyncio.ensure_future(replace())

    # -- processes ------------------------------------------------------------------------------

    async def _spawn(self) -> _Worker:
        """A new worker of the current zygote (one that a reload made old on the way is let go)."""
        while True:
            zygote = self._zygote
            if zygote is None or self._closed:
                raise ScanRefused("the scan workers are not started")
            try:
                worker = await self._spawn_from(zygote)
            except Exception:
                if zygote is not self._zygote:  # it was retired (and may be gone) meanwhile
                    continue
                raise
            if zygote is self._zygote:
                return worker
            worker.writer.close()
            self._retire_done()

    async def _spawn_from(self, zygote: _Zygote) -> _Worker:
        loop = asyncio.get_running_loop()
        zygote.spawning += 1
        try:
            pid, sock = await loop.run_in_executor(self._spawner, _spawn_blocking, zygote)
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 20)
        finally:
            zygote.spawning -= 1
        self.counts["spawned"] += 1
        return _Worker(pid, reader, writer, zygote)

    def _retire_done(self) -> None:
        """Let retired zygotes go once none of their workers runs or is being started."""
        members = {w.zygote for w in (*self._idle, *self._busy)}
        for zygote in list(self._retired):
            if zygote.spawning == 0 and zygote not in members:
                self._retired.remove(zygote)
                zygote.close()
                self._reap(zygote)

    def _reap(self, zygote: _Zygote) -> None:
        future = asyncio.get_running_loop().run_in_executor(None, _reap_within, zygote.pid, 10.0)
        self._reaping.add(future)
        future.add_done_callback(self._reaping.discard)

    def _renice(self, worker: _Worker) -> None:
        if not worker.reniced:
            worker.reniced = True
            _order(worker.zygote, b"N%d %d" % (worker.pid, self.settings.nice))

    def _kill(self, worker: _Worker, reason: str) -> None:
        if worker.gone is None:
            worker.gone = reason
        _order(worker.zygote, b"K%d" % worker.pid)
        worker.writer.close()


async def _probe(worker: _Worker) -> None:
    """A first scan, so a scanner that opens but cannot scan fails the reload, not the mail."""
    header = json.dumps({"name": "reload-check.eml"}).encode()
    try:
        body = await ScanWorkers._exchange(worker, header, PROBE)
    except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
        raise ScanRefused(f"a new scan worker died on its first scan ({type(exc).__name__})") from None
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or not isinstance(reply.get("detection"), dict):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise ScanRefused(f"a new scan worker failed its first scan: {error or 'no report'}")


def _kill_zygote(zygote: _Zygote) -> None:
    """A zygote whose reload failed, killed outright: a spawn request it never answers ends,
    and its workers die with it (their parent-death signal)."""
    try:
        os.kill(zygote.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _order(zygote: _Zygote, message: bytes) -> None:
    try:
        zygote.orders.send(message)
    except OSError:
        pass  # the zygote is gone: its workers died with it (PDEATHSIG)


def _spawn_blocking(zygote: _Zygote) -> tuple[int, socket.socket]:
    zygote.spawn.send(b"S")
    message, fds, _, _ = socket.recv_fds(zygote.spawn, 64, 1)
    if not message or not fds:
        raise ScanRefused("the scan zygote is gone")
    return int(message), socket.socket(fileno=fds[0])


def worker_age(worker: _Worker, clock: Callable[[], float]) -> float:
    return clock() - worker.started if worker.started is not None else 0.0


# -- the zygote and the workers (child processes) ------------------------------------------------

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _child_setup() -> None:
    """A child of the event-loop process: no inherited signal plumbing, dies with its parent.
    SIGTERM and SIGINT (systemd's and a terminal's) are left to the milter, which stops the
    workers itself after letting the scans in progress answer."""
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _fork_zygote(scan: ScanFunction) -> _Zygote:
    """Fork a zygote holding `scan`; see the module docstring for when this is safe."""
    spawn_parent, spawn_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    order_parent, order_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with warnings.catch_warnings():  # Python 3.12+ warns of fork with threads: see the module docstring
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the zygote
        try:
            _only_descriptors(keep=(spawn_child.fileno(), order_child.fileno()))
            _zygote(spawn_child, order_child, scan)
        finally:
            os._exit(0)
    spawn_child.close()
    order_child.close()
    return _Zygote(pid, spawn_parent, order_parent)


def _only_descriptors(keep: tuple[int, ...]) -> None:
    """Point every inherited descriptor but standard streams and `keep` at /dev/null.

    A copy kept here would hold the milter's connections open after it closed them (the
    MTA would wait for an answer that never comes), keep an old zygote or worker from
    seeing the end of its input, and pin spooled messages on disk. The numbers stay
    taken, so an object that still owns one cannot close a descriptor opened later."""
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if fd <= 2 or fd == devnull or fd in keep:
            continue
        try:
            os.get_inheritable(fd)
        except OSError:
            continue  # the listing's own descriptor, closed since
        os.dup2(devnull, fd, inheritable=False)
    os.close(devnull)


def _zygote(spawn: socket.socket, orders: socket.socket, scan: ScanFunction) -> None:
    _child_setup()
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    children: set[int] = set()
    while True:
        ready, _, _ = select.select([spawn, orders], [], [], 0.2)
        _reap(children)
        for sock in ready:
            message = sock.recv(64)
            if not message:  # the milter is gone or closing
                for pid in children:
                    _killpg(pid)
                return
            if message == b"S":
                children.add(_fork_worker(spawn, orders, scan))
            elif message[:1] == b"K":
                pid = int(message[1:])
                if pid in children:
                    _killpg(pid)
            elif message[:1] == b"N":
                pid, nice = (int(x) for x in message[1:].split())
                if pid in children:
                    try:
                        os.setpriority(os.PRIO_PGRP, pid, nice)
                    except OSError:
                        pass


def _fork_worker(spawn: socket.socket, orders: socket.socket, scan: ScanFunction) -> int:
    mine, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            spawn.close()
            orders.close()
            theirs.close()
            _worker(mine, scan)
        finally:
            os._exit(0)
    mine.close()
    try:
        os.setpgid(pid, pid)  # also done by the child: whichever runs first
    except OSError:
        pass
    socket.send_fds(spawn, [str(pid).encode()], [theirs.fileno()])
    theirs.close()
    return pid


def _worker(sock: socket.socket, scan: ScanFunction) -> None:
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    try:  # if memory runs out, the kernel kills a scan, not the milter
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
    except OSError:
        pass
    while True:
        head = _recv_exact(sock, _HEAD.size)
        if head is None:
            return
        header_size, data_size = _HEAD.unpack(head)
        header = json.loads(_recv_exact(sock, header_size) or b"{}")
        data = _recv_exact(sock, data_size) if data_size else b""
        if data is None:
            return
        try:
            reply: dict[str, Any] = {"detection": scan(data, header["name"]).to_dict()}
        except Exception as exc:  # the milter answers with a tempfail and the reason
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        body = json.dumps(reply).encode()
        sock.sendall(_SIZE.pack(len(body)) + body)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    while view:
        got = sock.recv_into(view)
        if not got:
            return None
        view = view[got:]
    return bytes(buffer)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(children: set[int]) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        children.discard(pid)


def _reap_within(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.02)
    _killpg_or_kill(pid)


def _killpg_or_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
