"""The asyncio milter server: sockets, limits, the worker pool and the scan deadline.

Each connection runs a `MilterSession`; at end-of-message the collected message is
scanned by the injected `scan` callable in a worker pool, so the event loop keeps
serving other connections. Replies to one batch of packets leave in one write with
TCP_NODELAY set, so no reply waits for a delayed ACK.

Limits: at most `max_connections` sessions (more are closed at once, which the MTA
treats per its milter_default_action), at most `workers` scans at a time, a scan
deadline below the MTA's milter timeouts, a message size limit and an idle timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import secrets
import socket
import stat
from dataclasses import dataclass
from typing import Callable

from ...types import Destination, FileReport
from . import protocol as p
from .session import BufferLimits, CollectedMessage, MilterSession
from .verdicts import ReplyPolicy, failure_replies, report_replies

log = logging.getLogger(__name__)

ScanFunction = Callable[[bytes, str, Destination], FileReport]
OnUnscanned = Callable[["CollectedMessage", str, str], None]  # message, reason, outcome
READ_SIZE = 256 * 1024


@dataclass(frozen=True)
class ListenAddress:
    """Where the milter listens: `inet` host and port, or a `unix` socket path."""

    family: str  # inet | inet6 | unix
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.family == "unix":
            return f"unix:{self.path}"
        return f"{self.family}:{self.port}@{self.host}"


def parse_listen(spec: str) -> ListenAddress:
    """Sendmail and Postfix spellings: `inet:PORT@HOST`, `inet:HOST:PORT`, `unix:/path`, `local:/path`.

    `inet:PORT` alone listens on 127.0.0.1, not on every interface.
    """
    family, sep, rest = spec.partition(":")
    if not sep and spec.startswith("/"):
        family, rest = "unix", spec
    family = family.lower()
    if family in ("unix", "local"):
        if not rest.startswith("/"):
            raise ValueError(f"{spec!r}: a unix socket needs an absolute path, e.g. unix:/run/dlp/milter.sock")
        return ListenAddress("unix", path=rest)
    if family not in ("inet", "inet6"):
        raise ValueError(f"{spec!r}: use inet:PORT@HOST, inet:HOST:PORT or unix:/path")
    if "@" in rest:
        port_text, host = rest.split("@", 1)
    elif ":" in rest:
        host, port_text = rest.rsplit(":", 1)
    else:
        port_text, host = rest, ("::1" if family == "inet6" else "127.0.0.1")
    host = host.strip("[]")
    if not re.fullmatch(r"\d{1,5}", port_text) or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{spec!r}: {port_text!r} is not a port number")
    if not host:
        raise ValueError(f"{spec!r}: no host")
    return ListenAddress(family, host=host, port=int(port_text))


@dataclass(frozen=True)
class MilterSettings:
    fail_open: bool = False
    scan_timeout: float = 25.0  # Postfix waits milter_content_timeout (300 s), Sendmail T=E:5m
    max_message_bytes: int = 50 * 1024 * 1024
    spool_threshold: int = 1024 * 1024
    spool_dir: str | None = None
    max_connections: int = 200
    workers: int = max(1, min(8, os.cpu_count() or 1))
    idle_timeout: float = 600.0  # between two packets of one connection
    max_packet: int = p.DEFAULT_MAX_PACKET
    socket_mode: int = 0o660


def random_incident_id() -> str:
    return "dlp-" + secrets.token_hex(6)


class MilterServer:
    def __init__(
        self,
        scan: ScanFunction,
        settings: MilterSettings = MilterSettings(),
        *,
        executor: concurrent.futures.Executor | None = None,
        incident_id: Callable[[], str] = random_incident_id,
        on_unscanned: OnUnscanned | None = None,
    ) -> None:
        self.scan = scan
        self.on_unscanned = on_unscanned
        self.settings = settings
        self.incident_id = incident_id
        self._own_executor = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(settings.workers, "dlp-milter-scan")
        self._buffer_limits = BufferLimits(settings.max_message_bytes, settings.spool_threshold, settings.spool_dir)
        self._reply_policy = ReplyPolicy(fail_open=settings.fail_open)
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: dict[asyncio.Task, MilterSession] = {}
        self._scanning: set[asyncio.Task] = set()
        self._slots: asyncio.Semaphore | None = None
        self._closing = False
        self.messages = 0

    # -- lifecycle

    async def start(self, address: ListenAddress) -> list[str]:
        """Bind and start serving; returns the bound addresses (a port of 0 is resolved)."""
        self._slots = asyncio.Semaphore(self.settings.workers)
        if address.family == "unix":
            _remove_stale_socket(address.path)
            server = await asyncio.start_unix_server(self._connection, path=address.path, limit=READ_SIZE)
            os.chmod(address.path, self.settings.socket_mode)
            self._servers.append(server)
            return [f"unix:{address.path}"]
        server = await asyncio.start_server(
            self._connection, host=address.host, port=address.port, limit=READ_SIZE, reuse_address=True
        )
        self._servers.append(server)
        return [f"inet:{sock.getsockname()[1]}@{sock.getsockname()[0]}" for sock in server.sockets]

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, let messages being scanned finish for `grace` seconds, then cut."""
        self._closing = True
        for server in self._servers:
            server.close()
        busy = {task for task, session in self._connections.items() if session.in_message or task in self._scanning}
        for task in set(self._connections) - busy:
            task.cancel()
        if busy:
            await asyncio.wait(busy, timeout=grace)
        remaining = set(self._connections)
        for task in remaining:
            task.cancel()
        if remaining:
            await asyncio.wait(remaining, timeout=grace)
        for server in self._servers:
            await server.wait_closed()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- one connection

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername") or "unix"
        if len(self._connections) >= self.settings.max_connections:
            log.warning("milter connection from %s refused: %d connections open", peer, len(self._connections))
            writer.close()
            return
        session = MilterSession(self._buffer_limits, header=self._reply_policy.header)
        self._connections[task] = session
        sock = writer.get_extra_info("socket")
        tcp = sock if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6) else None
        if tcp is not None:
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = p.PacketDecoder(self.settings.max_packet)
        try:
            await self._serve(session, decoder, reader, writer, task, tcp)
        except p.ProtocolError as error:
            log.warning("milter connection from %s closed: %s", peer, error)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError) as error:
            log.info("milter connection from %s ended: %s", peer, type(error).__name__)
        finally:
            session.close()
            self._connections.pop(task, None)
            self._scanning.discard(task)
            writer.close()

    async def _serve(self, session, decoder, reader, writer, task, tcp) -> None:
        while True:
            data = await asyncio.wait_for(reader.read(READ_SIZE), self.settings.idle_timeout)
            if not data:
                return
            if tcp is not None:
                _ack_at_once(tcp)
            out: list[p.Reply] = []
            for packet in decoder.feed(data):
                step = session.handle(packet)
                out.extend(step.replies)
                if step.message is not None:
                    if out:  # never hold earlier replies back while scanning
                        writer.write(p.encode_replies(out))
                        out = []
                    self._scanning.add(task)
                    try:
                        out.extend(await self._conclude(step.message))
                    finally:
                        self._scanning.discard(task)
                if step.close:
                    if out:
                        writer.write(p.encode_replies(out))
                        await writer.drain()
                    return
            if out:
                writer.write(p.encode_replies(out))
                await writer.drain()
            if self._closing and not session.in_message:
                return  # shutting down and this connection's message is answered

    # -- end of message

    async def _conclude(self, message: CollectedMessage) -> tuple[p.Reply, ...]:
        try:
            replies = await self._verdict(message)
        finally:
            message.content.close()
        self.messages += 1
        return replies

    async def _verdict(self, message: CollectedMessage) -> tuple[p.Reply, ...]:
        where = f"queue id {message.queue_id or 'NOQUEUE'} from {message.sender or '<>'}"
        if message.content.oversize:
            log.warning("%s: not scanned, %d bytes exceed %d", where, message.content.size, self.settings.max_message_bytes)
            return self._unscanned("message too large to scan", message)
        try:
            report = await asyncio.wait_for(self._scan_in_worker(message), self.settings.scan_timeout)
        except TimeoutError:
            log.warning("%s: scan timed out after %g s", where, self.settings.scan_timeout)
            return self._unscanned("scan timed out", message)
        except Exception:
            log.exception("%s: scan failed", where)
            return self._unscanned("scanner error", message)
        incident = str(report.meta.get("incident") or self.incident_id()) if report.action > 0 else ""
        log.info(
            "%s: %s%s to %s (%d findings)",
            where, report.action.label, f" incident {incident}" if incident else "",
            ", ".join(message.recipients), len(report.findings),
        )
        return report_replies(report, message, incident, self._reply_policy)

    def _unscanned(self, reason: str, message: CollectedMessage) -> tuple[p.Reply, ...]:
        replies = failure_replies(reason, message, self._reply_policy)
        if self.on_unscanned is not None:
            outcome = "accepted (fail-open)" if self._reply_policy.fail_open else "tempfail"
            try:
                self.on_unscanned(message, reason, outcome)
            except Exception:  # the reply stands; the missing evidence is logged loudly
                log.exception("recording the unscanned message failed")
        return replies

    async def _scan_in_worker(self, message: CollectedMessage) -> FileReport:
        """Run the scan in the pool. A worker slot is held until the scan really ends,
        even when the deadline gave up on it, so runaway scans cannot pile up."""
        assert self._slots is not None
        await self._slots.acquire()
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor, _scan_message, self.scan, message)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._scan_finished)
        return await asyncio.shield(future)

    def _scan_finished(self, future: asyncio.Future) -> None:
        assert self._slots is not None
        self._slots.release()
        if not future.cancelled():
            future.exception()  # retrieved, so a scan abandoned at its deadline logs no stray warning


def _ack_at_once(sock: socket.socket) -> None:
    """Acknowledge received data at once instead of after the 40 ms delayed-ACK timer.

    The MTA sends most commands without waiting for a reply (NR_* options), so no reply
    carries the ACK; with Nagle on the MTA's side its next small packet would wait for
    that ACK, adding ~40 ms per message. Linux resets TCP_QUICKACK, so it is set after
    every read.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        except OSError:
            pass  # the connection is going away; the read that follows will say so


def _scan_message(scan: ScanFunction, message: CollectedMessage) -> FileReport:
    return scan(message.content.read(), message.name, message.destination)


def _remove_stale_socket(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
    os.unlink(path)


async def serve(
    scan: ScanFunction,
    address: ListenAddress,
    settings: MilterSettings,
    stop: asyncio.Event,
    on_ready: Callable[[list[str]], None] = lambda addresses: None,
    grace: float = 10.0,
    on_unscanned: OnUnscanned | None = None,
) -> int:
    """Serve until `stop` is set, then shut down gracefully. Returns the messages answered."""
    server = MilterServer(scan, settings, on_unscanned=on_unscanned)
    on_ready(await server.start(address))
    try:
        await stop.wait()
    finally:
        await server.close(grace)
    return server.messages
