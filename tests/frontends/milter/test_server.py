"""The asyncio server over real sockets, with real worker processes: deadlines that kill,
a slow lane, overload, idle connections, limits, shutdown.

Scans run in forked worker processes, so the scanner here is `worker_scan`, steered by
lines in the message body (see conversation.py); what a test needs to observe from a
worker goes through files.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time

import pytest

from dlp.recording import Recorder
from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.mail import unscanned_recording
from dlp.frontends.milter.server import ListenAddress, MilterServer, MilterSettings, parse_listen
from dlp.rules import DefaultPolicy

from .conversation import MARKERS, POSTFIX_OFFER, message_packets, worker_scan

LOCAL = ListenAddress("inet", "127.0.0.1", 0)
TIMEOUT = 10.0


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

    async def message(self, body: bytes, replies: int, sender: str = "a@example.com") -> list[p.Packet]:
        await self.send(*message_packets(sender, ["b@partner.example"], [("Subject", "t")], body))
        return await self.receive(replies)

    def close(self) -> None:
        self.writer.close()


def serve(test, scan=worker_scan, on_unscanned=None, **settings):
    """Run `test(server, bound_address)` against a started server, then shut it down."""
    async def main():
        server = MilterServer(scan, MilterSettings(**{"workers": 2, **settings}), incident_id=lambda: "dlp-test-0001",
                              decider=MARKERS, on_unscanned=on_unscanned)
        (bound,) = await server.start(LOCAL)
        try:
            return await asyncio.wait_for(test(server, bound), 60)
        finally:
            await server.close(grace=2)
    return asyncio.run(main())


def tempfail(reason: str) -> p.Packet:
    return p.Respond(p.SmtpReply(451, "4.7.1", f"Message could not be checked by data-loss prevention ({reason}), "
                                               "try again later")).packet()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead too
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):  # gone, or reaped between the two looks
        return False


async def eventually(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


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


@pytest.mark.parametrize("body, reason", [
    (b"dlp-test: raise\r\n", "scanner error: RuntimeError: boom"),
    (b"dlp-test: crash\r\n", "the scan worker died (IncompleteReadError)"),
])
def test_a_failing_scan_tempfails_and_the_next_message_is_scanned(body, reason):
    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        (reply,) = await mta.message(body, 1)
        after = await mta.message(b"clean\r\n", 2)
        mta.close()
        return reply, after
    reply, after = serve(test, workers=1)
    assert reply == tempfail(reason)
    assert after[-1] == p.Packet("a")


def test_fail_open_accepts_with_an_unscanned_header():
    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        replies = await mta.message(b"dlp-test: raise\r\n", 2)
        mta.close()
        return replies
    assert serve(test, fail_open=True) == [
        p.AddHeader("X-DLP-Verdict", "unscanned; reason=scanner error: RuntimeError: boom").packet(), p.Packet("a")]


def test_a_scan_past_its_deadline_is_killed_with_its_children_and_the_worker_comes_back(tmp_path, recorder):
    pids = tmp_path / "pids"

    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        started = time.monotonic()
        (first,) = await mta.message(f"dlp-test: fork {pids}\r\n".encode(), 1)
        took = time.monotonic() - started
        worker, child = (int(x) for x in pids.read_text().split())
        await eventually(lambda: not alive(worker) and not alive(child))  # the whole process group
        second = await mta.message(b"clean\r\n", 2)  # a new worker took the slot
        mta.close()
        return first, took, second, server.workers.counts
    first, took, second, counts = serve(test, scan_timeout=1.0, workers=1, on_unscanned=unscanned_recording(recorder))
    assert first.payload.startswith(b"451 4.7.1") and b"scan killed at the message deadline" in first.payload
    assert took < 5
    assert second[-1] == p.Packet("a")
    assert counts["killed"] == 1 and counts["spawned"] >= 2  # the first worker, and its replacement
    [entry] = recorder.audit.entries()
    assert entry["event"] == "unscanned" and entry["reason"].startswith("scan killed at the message deadline")


@pytest.fixture
def recorder(tmp_path):
    return Recorder(tmp_path / "state", DefaultPolicy())


def test_an_expensive_message_is_demoted_and_new_mail_passes_it(tmp_path):
    """One worker: a scan that runs past the quantum gives its slot up to a new message and goes on at
    low priority; both are answered, the cheap one first."""
    async def test(server, bound):
        slow, quick = await FakeMta.connect(bound), await FakeMta.connect(bound)
        await slow.negotiate()
        await quick.negotiate()
        await slow.send(*message_packets("a@x", ["b@y"], [], b"dlp-test: sleep 2\r\n"))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        quick_replies = await quick.message(b"clean\r\n", 2)
        quick_took = time.monotonic() - started
        slow_replies = await slow.receive(2)
        slow_took = time.monotonic() - started
        slow.close()
        quick.close()
        return quick_replies, quick_took, slow_replies, slow_took, dict(server.workers.counts)
    quick_replies, quick_took, slow_replies, slow_took, counts = serve(test, workers=1, quantum=0.5)
    assert quick_replies[-1] == p.Packet("a") and slow_replies[-1] == p.Packet("a")
    assert quick_took < slow_took
    assert counts["demoted"] == 1 and counts["killed"] == 0


def test_a_full_slow_lane_stops_the_longest_scan(recorder):
    async def test(server, bound):
        first, second, third = [await FakeMta.connect(bound) for _ in range(3)]
        for mta in (first, second, third):
            await mta.negotiate()
        await first.send(*message_packets("a@x", ["b@y"], [], b"dlp-test: stuck\r\n", queue_id="Q1"))
        await asyncio.sleep(0.5)
        await second.send(*message_packets("a@x", ["b@y"], [], b"dlp-test: stuck\r\n", queue_id="Q2"))
        await asyncio.sleep(0.5)
        clean = await third.message(b"clean\r\n", 2)
        (stopped,) = await first.receive(1)
        for mta in (first, second, third):
            mta.close()
        return clean, stopped
    clean, stopped = serve(test, workers=1, max_slow=1, quantum=0.3, on_unscanned=unscanned_recording(recorder))
    assert clean[-1] == p.Packet("a")
    assert stopped.payload.startswith(b"451 4.7.1 ") and b"overloaded: more than 1 long scans at once" in stopped.payload
    [entry] = [e for e in recorder.audit.entries() if e["event"] == "unscanned"]
    assert entry["item"] == "Q1.eml" and entry["outcome"] == "tempfail" and "overloaded" in entry["reason"]


def test_a_sender_with_expensive_mail_loses_its_claim_to_the_fast_lane(tmp_path):
    """Once mallory's scan had to be demoted, mallory's next scan runs at nice 19 and gives its
    slot up to other mail at once, not after a quantum."""
    nice = tmp_path / "nice"

    async def test(server, bound):
        first, second, g1, g2 = [await FakeMta.connect(bound) for _ in range(4)]
        for mta in (first, second, g1, g2):
            await mta.negotiate()
        await first.send(*message_packets("mallory@x", ["b@y"], [], b"dlp-test: stuck\r\n", queue_id="M1"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await g1.message(b"clean\r\n", 2, sender="alice@x")  # waits for mallory's quantum
        waited_first = time.monotonic() - started
        await second.send(*message_packets("mallory@x", ["b@y"], [], f"dlp-test: nice {nice}\r\ndlp-test: stuck\r\n"
                                           .encode(), queue_id="M2"))
        await eventually(nice.exists)
        started = time.monotonic()
        await g2.message(b"clean\r\n", 2, sender="bob@x")  # mallory's scan steps aside at once
        waited_second = time.monotonic() - started
        return waited_first, waited_second, int(nice.read_text())
    waited_first, waited_second, niceness = serve(test, workers=1, quantum=2.0, max_slow=4)
    assert waited_first > 1.5 and waited_second < 1.0
    assert niceness == 19


def test_overload_is_refused_at_once_with_the_reason(recorder):
    async def test(server, bound):
        busy, late = await FakeMta.connect(bound), await FakeMta.connect(bound)
        await busy.negotiate()
        await late.negotiate()
        await busy.send(*message_packets("a@x", ["b@y"], [], b"dlp-test: sleep 1\r\n"))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        (refused,) = await late.message(b"clean\r\n", 1)
        return refused, time.monotonic() - started
    refused, took = serve(test, workers=1, max_waiting=0, quantum=5, on_unscanned=unscanned_recording(recorder))
    assert refused == tempfail("overloaded: 0 messages already wait for a scan worker") and took < 0.5
    assert [e["reason"] for e in recorder.audit.entries()] == ["overloaded: 0 messages already wait for a scan worker"]


def test_waiting_messages_take_turns_per_sender(tmp_path):
    """Four expensive messages from one sender, then one from another: the other sender's
    message is scanned third, not fifth."""
    order = tmp_path / "order"

    async def test(server, bound):
        connections = [await FakeMta.connect(bound) for _ in range(5)]
        for mta in connections:
            await mta.negotiate()
        for n, mta in enumerate(connections[:4]):
            await mta.send(*message_packets("mallory@x", ["b@y"], [], f"dlp-test: note {order}\r\ndlp-test: sleep 3\r\n"
                                            .encode(), queue_id=f"A{n}"))
        await asyncio.sleep(0.1)
        await connections[4].send(*message_packets("alice@x", ["b@y"], [], f"dlp-test: note {order}\r\n".encode(),
                                                   queue_id="B0"))
        await connections[4].receive(2)
        for mta in connections:
            mta.close()
        return order.read_text().split()
    started = serve(test, workers=1, quantum=0.5, max_slow=4)
    assert started[:3] == ["A0.eml", "A1.eml", "B0.eml"]


def test_an_oversize_message_is_not_scanned(tmp_path, recorder):
    notes = tmp_path / "scanned"

    body = f"dlp-test: note {notes}\r\n".encode() + b"x" * 5000

    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        (reply,) = await mta.message(body, 1)
        mta.close()
        return reply
    reply = serve(test, on_unscanned=unscanned_recording(recorder), max_message_bytes=1000, spool_threshold=100)
    assert reply.payload.startswith(b"451 4.7.1") and b"too large" in reply.payload
    assert not notes.exists()
    [entry] = recorder.audit.entries()  # the tempfail is evidence too
    assert (entry["event"], entry["reason"], entry["outcome"], entry["bytes"]) == (
        "unscanned", "message too large to scan", "tempfail", len(b"Subject: t\r\n\r\n" + body))
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


def test_a_connection_that_does_not_negotiate_or_goes_silent_is_closed():
    async def test(server, bound):
        mute = await FakeMta.connect(bound)
        silent = await FakeMta.connect(bound)
        await silent.negotiate()
        started = time.monotonic()
        assert await mute.closed_by_peer()
        mute_took = time.monotonic() - started
        assert await silent.closed_by_peer()
        silent_took = time.monotonic() - started
        return mute_took, silent_took
    mute_took, silent_took = serve(test, handshake_timeout=0.3, idle_timeout=1.5)
    assert 0.2 < mute_took < 1.2 < silent_took < 4


def test_a_message_trickled_once_its_headers_began_is_cut():
    """Postfix sends a message's headers and body at once: a trickle there is a slowloris."""
    async def test(server, bound):
        mta = await FakeMta.connect(bound)
        await mta.negotiate()
        await mta.send(p.Packet("M", b"<a@x>\0"), p.Packet("R", b"<b@y>\0"), p.Packet("L", b"Subject\0t\0"))
        started = time.monotonic()
        assert await mta.closed_by_peer()
        return time.monotonic() - started
    assert serve(test, content_timeout=0.5, idle_timeout=30) < 3


def test_at_the_limit_the_idlest_connection_makes_room():
    async def test(server, bound):
        negotiated = await FakeMta.connect(bound)
        await negotiated.negotiate()
        mute = await FakeMta.connect(bound)  # never negotiates: the first to go
        await asyncio.sleep(0.1)
        newcomer = await FakeMta.connect(bound)
        assert await mute.closed_by_peer()
        await newcomer.negotiate()
        replies = await newcomer.message(b"clean\r\n", 2)
        await asyncio.sleep(0.1)
        last = await FakeMta.connect(bound)  # now the idlest is the one negotiated first
        assert await negotiated.closed_by_peer()
        await last.negotiate()
        last_replies = await last.message(b"clean\r\n", 2)
        return replies, last_replies, server.evicted
    replies, last_replies, evicted = serve(test, max_connections=2, evict_after=0.05)
    assert replies[-1] == last_replies[-1] == p.Packet("a") and evicted == 2


def test_a_connection_active_a_moment_ago_is_not_evicted():
    """An attacker reconnecting as fast as it is evicted must not push out a client mid-dialogue:
    at the limit, with no connection idle for evict_after, the newcomer is the one closed."""
    async def test(server, bound):
        client = await FakeMta.connect(bound)
        await client.negotiate()
        newcomer = await FakeMta.connect(bound)
        assert await newcomer.closed_by_peer()
        replies = await client.message(b"clean\r\n", 2)
        return replies, server.evicted, server.refused
    replies, evicted, refused = serve(test, max_connections=1, evict_after=30)
    assert replies[-1] == p.Packet("a") and (evicted, refused) == (0, 1)


def test_a_connection_being_scanned_is_never_evicted():
    async def test(server, bound):
        scanning = await FakeMta.connect(bound)
        await scanning.negotiate()
        await scanning.send(*message_packets("a@x", ["b@y"], [], b"dlp-test: sleep 1\r\n"))
        await asyncio.sleep(0.3)
        refused = await FakeMta.connect(bound)
        assert await refused.closed_by_peer()
        return await scanning.receive(2), server.refused
    replies, refused = serve(test, max_connections=1)
    assert replies[-1] == p.Packet("a") and refused == 1


def test_per_client_limit():
    async def test(server, bound):
        first = await FakeMta.connect(bound)
        await first.negotiate()
        second = await FakeMta.connect(bound)
        assert await second.closed_by_peer()
        replies = await first.message(b"clean\r\n", 2)
        return replies, server.refused
    replies, refused = serve(test, max_per_client=1)
    assert replies[-1] == p.Packet("a") and refused == 1


def test_200_idle_connections_do_not_lock_out_a_real_client():
    """Issue 14: 200 idle TCP connections used to make the milter reset every real client."""
    async def test(server, bound):
        host, port = bound[5:].split("@")[1], int(bound[5:].split("@")[0])
        idle = [(await asyncio.open_connection(host, port))[1] for _ in range(200)]
        await eventually(lambda: len(server._connections) == 200)
        await asyncio.sleep(0.3)  # idle for longer than evict_after
        answers, real = [], []
        for n in range(5):  # real clients keep being served, each one making room for itself
            mta = await FakeMta.connect(bound)
            await mta.negotiate()
            answers.append((await mta.message(b"clean\r\n", 2))[-1])
            real.append(mta)
        for writer in [*idle, *(mta.writer for mta in real)]:
            writer.close()
        return answers, server.evicted
    answers, evicted = serve(test, max_connections=200, evict_after=0.2)
    assert answers == [p.Packet("a")] * 5 and evicted == 5


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
        server = MilterServer(worker_scan, MilterSettings(socket_mode=0o600, workers=1))
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


def test_shutdown_lets_a_scan_in_progress_answer(tmp_path):
    started = tmp_path / "started"

    async def main():
        server = MilterServer(worker_scan, MilterSettings(workers=1))
        (bound,) = await server.start(LOCAL)
        mta = await FakeMta.connect(bound)
        idle = await FakeMta.connect(bound)
        await mta.negotiate()
        await idle.negotiate()
        await mta.send(*message_packets("a@x", ["b@y"], [], f"dlp-test: note {started}\r\ndlp-test: sleep 1\r\n"
                                        .encode()))
        await eventually(started.exists)
        closing = asyncio.create_task(server.close(grace=5))
        await asyncio.sleep(0.1)
        idle_closed = await idle.closed_by_peer()  # nothing in flight: cut at once
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
