"""The asyncio milter server: sockets, connection limits, and the mail gate.

Each connection runs a `MilterSession`; at end-of-message the collected message goes
to the `MailGate` (see `mail`), which scans it in a killable worker process within the
message deadline, so the event loop keeps serving other connections. Replies to one
batch of packets leave in one write with TCP_NODELAY set, so no reply waits for a
delayed ACK.

A connection cannot hold the milter hostage either:

- it must negotiate within `handshake_timeout` seconds, and then send a packet at
  least every `idle_timeout` seconds (Postfix sends a message's headers and body only
  once the client has sent all of it, so the gap after RCPT TO can be long), and every
  `content_timeout` seconds once a message's headers have begun (the MTA then sends the
  rest at once: a trickle is an attack, not a slow client);
- at `max_connections`, a new connection evicts an idle one: one that never
  negotiated first, then the one idle longest outside a message, then inside one. A
  connection whose message is being scanned, or that negotiated and was active within
  `evict_after` seconds, is never evicted: an attacker reconnecting as fast as it is
  evicted cannot push out a client in the middle of its dialogue. (One that has not
  negotiated yet is expendable after MUTE_GRACE: an MTA negotiates at once.) With no connection to evict, the
  new one is closed at once (the MTA applies its milter_default_action);
- optionally at most `max_per_client` connections per peer (IP address, or the uid of
  a unix-socket peer).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import stat
import struct
import time
from dataclasses import dataclass, field
from typing import Callable

from ...decide import Decider
from ...types import Destination, FileReport
from . import protocol as p
from .mail import MailGate, MailRequest, OnUnscanned, Record, random_incident_id
from .session import BufferLimits, MilterSession
from .verdicts import ReplyPolicy, replies
from .workers import ScanWorkers, WorkerSettings

log = logging.getLogger(__name__)

ScanFunction = Callable[[bytes, str, Destination], FileReport]
READ_SIZE = 256 * 1024
MUTE_GRACE = 0.1  # an MTA negotiates as soon as it connects: a connection still mute after this is expendable


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
    max_per_client: int = 0  # 0: no limit per peer
    workers: int = max(1, min(8, os.cpu_count() or 1))
    max_slow: int = 0  # 0: as many as workers
    quantum: float = 1.0  # seconds a scan keeps its fast slot before it can be demoted
    max_waiting: int = 64  # messages waiting for a scan worker; one more is tempfailed at once
    handshake_timeout: float = 10.0  # from connect to option negotiation
    idle_timeout: float = 600.0  # between two packets of one connection
    content_timeout: float = 60.0  # between two packets once a message's headers have begun
    evict_after: float = 1.0  # a connection idle for less is not evicted (a newcomer is refused instead)
    max_packet: int = p.DEFAULT_MAX_PACKET
    socket_mode: int = 0o660

    @property
    def worker_settings(self) -> WorkerSettings:
        return WorkerSettings(workers=self.workers, max_slow=self.max_slow or self.workers, quantum=self.quantum,
                              max_waiting=self.max_waiting)


@dataclass(eq=False)
class _Connection:
    session: MilterSession
    writer: asyncio.StreamWriter
    peer: str
    client_key: str
    last_activity: float
    scanning: bool = False
    evicted: bool = False
    task: asyncio.Task | None = field(default=None, repr=False)

    def idle_rank(self) -> tuple[int, float]:
        """Lower is evicted first: never negotiated, then outside a message, then inside one;
        within each, the longest idle."""
        stage = 0 if not self.session.negotiated else 1 if not self.session.in_message else 2
        return stage, self.last_activity


class MilterServer:
    def __init__(
        self,
        scan: ScanFunction,
        settings: MilterSettings = MilterSettings(),
        *,
        decider: Decider | None = None,
        record: Record | None = None,
        workers: ScanWorkers | None = None,
        incident_id: Callable[[], str] = random_incident_id,
        on_unscanned: OnUnscanned | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`scan` runs in the worker processes (bytes, name -> detection); `decider` decides and
        `record` records the report in this process; `workers` may be given already started
        (`dlp milter` forks them before the event loop runs)."""
        self.settings = settings
        self.clock = clock
        self._own_workers = workers is None
        self.workers = workers or ScanWorkers(scan, settings.worker_settings)
        self._reply_policy = ReplyPolicy(fail_open=settings.fail_open)
        self.gate = MailGate(self.workers, self._reply_policy, scan_timeout=settings.scan_timeout,
                             decider=decider, record=record,
                             on_unscanned=on_unscanned, incident_id=incident_id)
        self._buffer_limits = BufferLimits(settings.max_message_bytes, settings.spool_threshold, settings.spool_dir)
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: dict[asyncio.Task, _Connection] = {}
        self._closing = False
        self.messages = 0
        self.evicted = 0
        self.refused = 0

    # -- lifecycle

    async def start(self, address: ListenAddress) -> list[str]:
        """Start the scan workers (before any socket exists, so none inherits one), bind and
        serve; returns the bound addresses (a port of 0 is resolved)."""
        if self._own_workers:
            await self.workers.open()
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
        busy = {task for task, conn in self._connections.items() if conn.session.in_message or conn.scanning}
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
        if self._own_workers:
            await self.workers.close()
        await asyncio.get_running_loop().run_in_executor(None, self.gate.close)

    # -- admission

    def _admit(self, peer: str, client_key: str) -> bool:
        """Room for one more connection: within the per-client limit, and under the connection
        limit, if need be by evicting the idlest connection that is not being scanned."""
        limit = self.settings.max_per_client
        if limit and sum(c.client_key == client_key for c in self._connections.values()) >= limit:
            log.warning("milter connection from %s refused: %d connections from this client", peer, limit)
            return False
        if len(self._connections) < self.settings.max_connections:
            return True
        now = self.clock()
        idle = [c for c in self._connections.values() if not c.scanning and not c.evicted
                and now - c.last_activity >= (self.settings.evict_after if c.session.negotiated else MUTE_GRACE)]
        if not idle:
            log.warning("milter connection from %s refused: %d connections open, none idle for %g s",
                        peer, len(self._connections), self.settings.evict_after)
            return False
        victim = min(idle, key=_Connection.idle_rank)
        victim.evicted = True
        self.evicted += 1
        log.warning("milter connection from %s evicted (idle %.1f s%s) to admit %s", victim.peer,
                    self.clock() - victim.last_activity, "" if victim.session.negotiated else ", never negotiated",
                    peer)
        self._connections.pop(victim.task, None)
        victim.task.cancel()
        return True

    # -- one connection

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer, client_key = _peer(writer)
        if self._closing or not self._admit(peer, client_key):
            self.refused += 1
            writer.close()
            return
        session = MilterSession(self._buffer_limits, header=self._reply_policy.header)
        conn = _Connection(session, writer, peer, client_key, self.clock(), task=task)
        self._connections[task] = conn
        sock = writer.get_extra_info("socket")
        tcp = sock if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6) else None
        if tcp is not None:
            tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = p.PacketDecoder(self.settings.max_packet)
        try:
            await self._serve(conn, decoder, reader, writer, tcp)
        except p.ProtocolError as error:
            log.warning("milter connection from %s closed: %s", peer, error)
        except TimeoutError:
            stage = "negotiation" if not session.negotiated else "next packet"
            log.info("milter connection from %s closed: no %s in time", peer, stage)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            log.info("milter connection from %s ended: %s", peer, type(error).__name__)
        except asyncio.CancelledError:  # evicted or cut at shutdown: this task's whole job is the connection
            log.info("milter connection from %s cut%s", peer, " (evicted)" if conn.evicted else "")
        finally:
            session.close()
            if self._connections.get(task) is conn:
                del self._connections[task]
            writer.close()

    async def _serve(self, conn: _Connection, decoder, reader, writer, tcp) -> None:
        session = conn.session
        while True:
            timeout = (self.settings.handshake_timeout if not session.negotiated
                       else self.settings.content_timeout if session.in_content else self.settings.idle_timeout)
            data = await asyncio.wait_for(reader.read(READ_SIZE), timeout)
            if not data:
                return
            conn.last_activity = self.clock()
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
                    conn.scanning = True
                    try:
                        out.extend(await self._conclude(step.message))
                    finally:
                        conn.scanning = False
                        conn.last_activity = self.clock()
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

    async def _conclude(self, message) -> tuple[p.Reply, ...]:
        request = MailRequest(message.sender, message.recipients, message.queue_id, message.client)
        try:
            verdict = await self.gate.check(request, message.content,
                                            can_hold=bool(message.actions & p.ActionFlag.QUARANTINE))
        finally:
            message.content.close()
        self.messages += 1
        return replies(verdict, message, self._reply_policy)


def _peer(writer: asyncio.StreamWriter) -> tuple[str, str]:
    """A printable peer name, and the key per-client limits count by."""
    name = writer.get_extra_info("peername")
    if isinstance(name, tuple) and name:
        return f"{name[0]}:{name[1]}", str(name[0])
    sock = writer.get_extra_info("socket")
    try:
        pid, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        return f"unix pid {pid} uid {uid}", f"uid {uid}"
    except (OSError, AttributeError):
        return "unix", "unix"


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
    *,
    decider: Decider | None = None,
    record: Record | None = None,
    workers: ScanWorkers | None = None,
    on_unscanned: OnUnscanned | None = None,
) -> int:
    """Serve until `stop` is set, then shut down gracefully. Returns the messages answered."""
    server = MilterServer(scan, settings, decider=decider, record=record, workers=workers, on_unscanned=on_unscanned)
    on_ready(await server.start(address))
    try:
        await stop.wait()
    finally:
        await server.close(grace)
    return server.messages
