"""The asyncio server over real sockets: deadlines, failures, limits, shutdown."""

from __future__ import annotations

import asyncio
import struct
import threading

import pytest

from dlp.decisions import Recorder
from dlp.frontends.milter.command import _unscanned
from dlp.verdict import DefaultPolicy
from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.server import ListenAddress, MilterServer, MilterSettings, parse_listen

from .conversation import POSTFIX_OFFER, marker_scan, message_packets

LOCAL = ListenAddress("inet", "127.0.0.1", 0)
TIMEOUT = 5.0


class FakeMta:
    """The MTA side of a milter connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = p.PacketDecoder()
        self.pending: list[p.Packet] = []

    @classmethod
    async def connect(cls, bound: str) -> "FakeMta":
        if bound.startswith("unix:"):
            return cls(*await asyncio.open_unix_connection(bound[5:]))
        port, host = bound[5:].split("@")
        return cls(*await asyncio.open_connection(host, int(port)))

    async def send(self, *packets: p.Packet) -> None:
        self.writer.write(b"".join(packet.encode() for packet in packets))
        await self.writer.drain()

    async def receive(self, count: int) -> list[p.Packet]:
        while len(self.pending) < count:
            data = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
            if not data:
                raise ConnectionError("milter closed the connection")
            self.pending.extend(self.decoder.feed(data))
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    async def closed_by_peer(self) -> bool:
        return await asyncio.wait_for(self.reader.read(1), TIMEOUT) == b""

    async def negotiate(self) -> None:
        await self.send(POSTFIX_OFFER)
        await self.receive(1)

    async def message(self, body: bytes, replies: int) -> list[p.Packet]:
        await self.send(*message_packets("a@example.com", ["b@partner.example"], [("Subject", "t")], body))
        return await self.receive(replies)

    def close(self) -> None:
        self.writer.close()


def serve(test, scan=marker_scan, on_unscanned=None, **settings):
    """Run `test(server, bound_address)` against a started server, then shut it down."""
    async def main():
        server = MilterServer(scan, MilterSettings(**settings), incident_id=lambda: "dlp-test-0001",
                              on_unscanned=on_unscanned)
        (bound,) = await server.start(LOCAL)
        try:
            return await asyncio.wait_for(test(server, bound), 20)
        finally:
            await server.close(grace=2)
    return asyncio.run(main())


def test_a_message_is_answered_over_tcp():
    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        assert await mta.message(b"clean\r\n", 2) == [p.AddHeader("X-DLP-Verdict", "allow").packet(), p.Packet("a")]
        (refusal,) = await mta.message(b"LEAK\r\n", 1)
        assert refusal.payload.startswith(b"550 5.7.1 ") and b"incident dlp-test-0001: S-0001 (document)" in refusal.payload
        mta.close()
        return server.messages
    assert serve(test) == 2


def test_a_failing_scanner_tempfails():
    def broken(data, name, destination):
        raise RuntimeError("boom")

    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        (reply,) = await mta.message(b"clean\r\n", 1)
        mta.close()
        return reply
    reply = serve(test, scan=broken)
    assert reply == p.Respond(p.SmtpReply(451, "4.7.1", "Message could not be checked by data-loss prevention "
                                                        "(scanner error), try again later")).packet()


def test_fail_open_accepts_with_an_unscanned_header():
    def broken(data, name, destination):
        raise RuntimeError("boom")

    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        replies = await mta.message(b"clean\r\n", 2)
        mta.close()
        return replies
    assert serve(test, scan=broken, fail_open=True) == [
        p.AddHeader("X-DLP-Verdict", "unscanned; reason=scanner error").packet(), p.Packet("a")]


def test_the_deadline_tempfails_and_a_runaway_scan_keeps_its_worker():
    release = threading.Event()
    calls = []

    def stuck(data, name, destination):
        calls.append(name)
        if b"STUCK" in data:
            release.wait(10)
        return marker_scan(data, name, destination)

    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        (first,) = await mta.message(b"STUCK\r\n", 1)
        # The only worker is still busy: the next message waits for it and times out too.
        (second,) = await mta.message(b"clean\r\n", 1)
        release.set()
        third = await mta.message(b"clean\r\n", 2)
        mta.close()
        return first, second, third
    first, second, third = serve(test, scan=stuck, scan_timeout=0.3, workers=1)
    assert first.payload.startswith(b"451 4.7.1") and b"timed out" in first.payload
    assert second.payload.startswith(b"451 4.7.1")
    assert third[-1] == p.Packet("a")
    assert len(calls) == 2  # the second message never reached the scanner


def test_an_oversize_message_is_not_scanned(tmp_path):
    recorder = Recorder(tmp_path / "state", DefaultPolicy())
    calls = []

    def counting(data, name, destination):
        calls.append(name)
        return marker_scan(data, name, destination)

    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        (reply,) = await mta.message(b"x" * 5000, 1)
        mta.close()
        return reply
    reply = serve(test, scan=counting, on_unscanned=_unscanned(recorder), max_message_bytes=1000, spool_threshold=100)
    assert reply.payload.startswith(b"451 4.7.1") and b"too large" in reply.payload
    assert calls == []
    [entry] = recorder.audit.entries()  # the tempfail is evidence too
    assert (entry["event"], entry["reason"], entry["outcome"], entry["bytes"]) == (
        "unscanned", "message too large to scan", "tempfail", 5014)  # headers and body
    assert entry["sender"] == "a@example.com" and entry["recipients"] == ["b@partner.example"]


@pytest.mark.parametrize(
    "negotiate, garbage",
    [
        (True, struct.pack(">I", 0x7FFFFFFF) + b"B"),
        (True, b"\0\0\0\0"),
        (True, p.Packet("Z").encode()),
        (True, p.Packet("L", b"Subject\0").encode()),
        (False, p.Packet("M", b"<a@x>\0").encode()),
    ],
    ids=["huge length", "zero length", "unknown command", "header without value", "before negotiation"],
)
def test_malformed_input_closes_only_that_connection(negotiate, garbage):
    async def test(server, bound):
        bad = await FakeMta.connect(bound)
        if negotiate:
            await bad.negotiate()
            await bad.send(p.Packet("M", b"<a@x>\0"))
        bad.writer.write(garbage)
        assert await bad.closed_by_peer()
        good = await FakeMta.connect(bound)
        await good.negotiate()
        replies = await good.message(b"clean\r\n", 2)
        good.close()
        return replies
    assert serve(test)[-1] == p.Packet("a")


def test_connections_over_the_limit_are_closed_at_once():
    async def test(server, bound):
        first = await FakeMta.connect(bound)
        await first.negotiate()
        second = await FakeMta.connect(bound)
        refused = await second.closed_by_peer()
        replies = await first.message(b"clean\r\n", 2)
        first.close()
        return refused, replies
    refused, replies = serve(test, max_connections=1)
    assert refused and replies[-1] == p.Packet("a")


def test_many_concurrent_connections_are_all_answered():
    async def one(bound, i):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        replies = await mta.message(b"LEAK\r\n" if i % 2 else b"clean\r\n", 1 if i % 2 else 2)
        mta.close()
        return replies[-1].command

    async def test(server, bound):
        return await asyncio.gather(*(one(bound, i) for i in range(40)))
    assert serve(test) == ["a", "y"] * 20


def test_unix_socket(tmp_path):
    path = tmp_path / "milter.sock"

    async def main():
        server = MilterServer(marker_scan, MilterSettings(socket_mode=0o600))
        (bound,) = await server.start(ListenAddress("unix", path=str(path)))
        try:
            mta = await FakeMta.connect(bound)
            await mta.negotiate()
            replies = await mta.message(b"clean\r\n", 2)
            mta.close()
            return bound, replies, path.stat().st_mode & 0o777
        finally:
            await server.close(grace=1)
    bound, replies, mode = asyncio.run(main())
    assert bound == f"unix:{path}" and replies[-1] == p.Packet("a") and mode == 0o600


def test_shutdown_lets_a_scan_in_progress_answer():
    started, release = threading.Event(), threading.Event()

    def slow(data, name, destination):
        started.set()
        release.wait(5)
        return marker_scan(data, name, destination)

    async def main():
        server = MilterServer(slow, MilterSettings())
        (bound,) = await server.start(LOCAL)
        mta = await FakeMta.connect(bound)
        idle = await FakeMta.connect(bound)
        await mta.negotiate()
        await idle.negotiate()
        await mta.send(*message_packets("a@x", ["b@y"], [], b"clean"))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        closing = asyncio.create_task(server.close(grace=5))
        await asyncio.sleep(0.1)
        idle_closed = await idle.closed_by_peer()  # nothing in flight: cut at once
        release.set()
        replies = await mta.receive(2)
        await closing
        return idle_closed, replies
    idle_closed, replies = asyncio.run(main())
    assert idle_closed and replies[-1] == p.Packet("a")


@pytest.mark.parametrize(
    "spec, address",
    [
        ("inet:8899@127.0.0.1", ListenAddress("inet", "127.0.0.1", 8899)),
        ("inet:127.0.0.1:8899", ListenAddress("inet", "127.0.0.1", 8899)),
        ("inet:8899", ListenAddress("inet", "127.0.0.1", 8899)),
        ("inet6:8899@[::1]", ListenAddress("inet6", "::1", 8899)),
        ("unix:/run/dlp/milter.sock", ListenAddress("unix", path="/run/dlp/milter.sock")),
        ("local:/run/dlp/milter.sock", ListenAddress("unix", path="/run/dlp/milter.sock")),
        ("/run/dlp/milter.sock", ListenAddress("unix", path="/run/dlp/milter.sock")),
    ],
)
def test_listen_specs(spec, address):
    assert parse_listen(spec) == address


@pytest.mark.parametrize("spec", ["tcp:8899", "inet:port@host", "inet:99999@127.0.0.1", "unix:relative", "inet:8899@"])
def test_bad_listen_specs_say_what_is_expected(spec):
    with pytest.raises(ValueError, match=spec.replace("[", r"\[")):
        parse_listen(spec)
