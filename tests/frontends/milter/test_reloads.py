"""Reloads of the milter: the scan workers switched to a new zygote under mail in flight, then a
real `dlp milter` that follows its registry and policy file without a restart (and one behind a
real Postfix)."""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.workers import ScanRefused, ScanWorkers, WorkerSettings
from dlp.incidents import IncidentStore
from dlp.registry import Registry

from helpers import prose
from .conversation import POSTFIX_OFFER, message_packets, worker_scan
from .harness import POSTFIX, PostfixInstance, SmtpSink, free_port
from .test_server import alive, eventually
from ..watch.conftest import wait_until
from ..watch.test_reload import corrupt_next_generation

# -- the scan workers: one switch at a time, under load ---------------------------------------


def scanner_of(generation: str):
    """`worker_scan` whose detections name the scanner generation that made them."""
    def scan(data: bytes, name: str):
        detection = worker_scan(data, name)
        return replace(detection, meta={**detection.meta, "generation": generation})
    return scan


def in_seconds(seconds: float) -> float:
    return time.monotonic() + seconds


def children(parent: int | None = None) -> set[int]:
    """Process ids whose parent is `parent` or this process (zombies included: not reaped yet)."""
    mine, out = parent or os.getpid(), set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == mine:
                out.add(int(name))
    return out


def descriptors(pid: int | str = "self") -> list[str]:
    """What the process's descriptors beyond the standard streams point at."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if int(fd) > 2:
                out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def mapped(pid: int, under: Path) -> set[str]:
    """Files under `under` that the process has memory-mapped."""
    with open(f"/proc/{pid}/maps") as maps:
        paths = {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6}
    return {path for path in paths if path.startswith(str(under))}


def only_current_zygote(workers, others: set[int]) -> bool:
    """True once the one zygote left among this process's children (but `others`, which earlier
    tests may have left) is the current one: every retired zygote has exited and been reaped."""
    return children() - others == {workers.zygotes[0]}


def run(test, **settings):
    async def main():
        workers = ScanWorkers(scanner_of("A"), WorkerSettings(**{"workers": 1, "max_slow": 1, "quantum": 30,
                                                                 **settings}))
        await workers.open()
        try:
            return await asyncio.wait_for(test(workers), 60)
        finally:
            await workers.close()
    return asyncio.run(main())


def test_a_scan_in_flight_ends_on_the_old_scanner_new_ones_start_on_the_new_and_the_old_zygote_goes():
    async def test(workers):
        [old_zygote] = workers.zygotes
        in_flight = asyncio.ensure_future(workers.scan(b"dlp-test: sleep 1\r\nLEAK", "slow.eml", in_seconds(10)))
        await eventually(lambda: workers.counts["scans"] == 1)
        await workers.switch(scanner_of("B"))
        started = time.monotonic()
        after = await workers.scan(b"LEAK", "after.eml", in_seconds(10))
        waited = time.monotonic() - started
        before = await in_flight
        await eventually(lambda: not alive(old_zygote))
        return before, after, waited, old_zygote, workers.zygotes, dict(workers.counts)
    before, after, waited, old_zygote, zygotes, counts = run(test)
    assert before.meta["generation"] == "A" and before.findings[0].secret == "S-0001"
    assert after.meta["generation"] == "B" and after.findings[0].secret == "S-0001"
    assert waited < 0.9  # a new worker took it: it did not wait behind the old scan
    assert old_zygote not in zygotes and len(zygotes) == 1
    assert counts["switched"] == 1 and counts["refused"] == counts["killed"] == counts["died"] == 0


def test_a_demoted_scan_of_the_old_generation_can_still_be_stopped_at_its_deadline():
    """Orders about an old worker go to its own zygote, which is kept until that worker is done."""
    async def test(workers):
        [old_zygote] = workers.zygotes
        stuck = asyncio.ensure_future(workers.scan(b"dlp-test: stuck\r\n", "stuck.eml", in_seconds(1.5)))
        await eventually(lambda: workers.counts["scans"] == 1)
        await workers.switch(scanner_of("B"))
        assert alive(old_zygote)
        with pytest.raises(ScanRefused, match="deadline"):
            await stuck
        await eventually(lambda: not alive(old_zygote))
        return await workers.scan(b"clean", "next.eml", in_seconds(5))
    assert run(test).meta["generation"] == "B"


def test_the_new_zygote_keeps_none_of_the_milters_connections_open():
    """A copy of a connection in the new zygote would keep it open after the milter closed it:
    the MTA would wait for an answer that never comes."""
    async def test(workers):
        milter_side, mta_side = socket.socketpair()  # a connection the milter holds at the reload
        await workers.switch(scanner_of("B"))
        [zygote] = workers.zygotes
        held = descriptors(zygote)
        milter_side.close()
        mta_side.settimeout(5)
        return held, mta_side.recv(1)
    held, end = run(test)
    assert end == b""  # the MTA sees the connection end at once
    assert sum(link.startswith("socket:") for link in held) == 2  # its own two sockets to the milter
    assert all(link.startswith("socket:") or link == "/dev/null" for link in held), held


def broken_scanner(data: bytes, name: str):
    raise RuntimeError("lexicon array unreadable")


def hung_scanner(data: bytes, name: str):
    time.sleep(3600)


@pytest.mark.parametrize("failure, scan, message", [
    pytest.param("policy refused", scanner_of("B"), "the audit trail refused the policy entry", id="policy-refused"),
    pytest.param("cancelled", scanner_of("B"), "", id="milter-stopping"),
    pytest.param("first scan fails", broken_scanner, "failed its first scan: RuntimeError: lexicon array unreadable",
                 id="first-scan-fails"),
    pytest.param("first scan hangs", hung_scanner, "did not start and answer within 1 s", id="first-scan-hangs"),
])
def test_a_switch_that_fails_changes_nothing_and_leaves_no_process(monkeypatch, failure, scan, message):
    monkeypatch.setattr("dlp.frontends.milter.workers.SWITCH_TIMEOUT", 1.0)

    async def test(workers):
        [zygote] = workers.zygotes
        ours = children()

        async def before_commit():
            if failure == "cancelled":
                raise asyncio.CancelledError
            if failure == "policy refused":
                raise OSError("the audit trail refused the policy entry")

        with pytest.raises((OSError, ScanRefused, asyncio.CancelledError)) as raised:
            await workers.switch(scan, before_commit=before_commit)
        await eventually(lambda: not children() - ours)  # the new zygote and its workers are gone
        after = await workers.scan(b"clean", "after.eml", in_seconds(5))
        return zygote, workers.zygotes, after, str(raised.value)
    zygote, zygotes, after, error = run(test)
    assert zygotes == [zygote] and after.meta["generation"] == "A"
    assert message in error


def test_a_worker_replaced_across_a_switch_is_not_one_too_many():
    """A worker dies while a reload starts its new workers: its replacement, still being
    spawned when the reload switches, must not stay as an extra worker."""
    async def test(workers):
        others = children() - set(workers.zygotes)
        crash = asyncio.ensure_future(workers.scan(b"dlp-test: sleep 0.3\r\ndlp-test: crash\r\n", "crash.eml",
                                                   in_seconds(5)))
        await eventually(lambda: workers.counts["scans"] == 1)

        async def after_the_crash() -> None:  # the new workers are up; switch while the replacement spawns
            with pytest.raises(ScanRefused, match="died"):
                await crash

        await workers.switch(scanner_of("B"), before_commit=after_the_crash)
        zygote = workers.zygotes[0]  # the current one first
        await eventually(lambda: only_current_zygote(workers, others))  # the old zygote is gone
        await asyncio.sleep(0.5)  # the zygote reaps its exited workers every 0.2 s
        return children(zygote), await workers.scan(b"clean", "next.eml", in_seconds(5))
    workers, after = run(test, workers=2)
    assert len(workers) == 2 and after.meta["generation"] == "B"


def test_twenty_switches_leave_one_zygote_and_no_descriptor_behind():
    async def test(workers):
        others = children() - set(workers.zygotes)
        await workers.scan(b"clean", "first.eml", in_seconds(5))
        fds = len(descriptors())
        for n in range(20):
            scan = asyncio.ensure_future(workers.scan(b"dlp-test: sleep 0.2\r\n", f"m{n}.eml", in_seconds(5)))
            await workers.switch(scanner_of(f"G{n}"))
            assert (await scan).meta["generation"] in (f"G{n - 1}", "A")
        await eventually(lambda: only_current_zygote(workers, others))
        last = await workers.scan(b"clean", "last.eml", in_seconds(5))
        return fds, len(descriptors()), workers.zygotes, last
    before, after, zygotes, last = run(test, workers=2)
    assert after == before and len(zygotes) == 1 and last.meta["generation"] == "G19"


# -- a real `dlp milter` ------------------------------------------------------------------------

SECRET_A = prose(600, 21)
SECRET_B = prose(600, 22)
EXCERPT_B = " ".join(SECRET_B.split()[150:300])
NO_EXPOSURE = "[exposure]          # each test mail is most of a secret: slow leaks are not the point here\nenabled = false\n"
REVIEWED = NO_EXPOSURE + '\n[[rule]]\nname = "reviewed transfers"\nto = ["outside"]\naction = "warn"\n'
FINAL = {"a", "y", "r", "t", "d"}


class DlpMilter:
    """`dlp milter` as a process of its own, with its log lines on a queue."""

    def __init__(self, registry: Path, state: Path, policy: Path, port: int, *extra: str) -> None:
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dlp", "--registry", str(registry), "--state", str(state), "--policy", str(policy),
             "milter", "--listen", f"inet:{port}@127.0.0.1", "--workers", "1", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.log: list[str] = []
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()
        self.wait_for("listening on", 60)

    def _read(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)
            self.lines.put(line)

    def wait_for(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {needle!r} from dlp milter within {timeout} s:\n{''.join(self.log[-20:])}")
            if needle in line:
                return line

    def message(self, body: str, to: str = "bob@elsewhere.example") -> list[p.Packet]:
        """One message over a fresh connection, as Postfix sends it; the replies to its end."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            packets = [POSTFIX_OFFER, *message_packets("alice@example.com", [to], [("Subject", "plans")],
                                                       body.encode())]
            sock.sendall(b"".join(packet.encode() for packet in packets))
            decoder, replies = p.PacketDecoder(), []
            while not replies or replies[-1].command not in FINAL:
                data = sock.recv(65536)
                assert data, f"dlp milter closed the connection after {replies}"
                replies.extend(reply for reply in decoder.feed(data) if reply.command != "O")
            return replies

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(30)
        self._pump.join(10)
        self.process.stderr.close()
        return status


def verdict(replies: list[p.Packet]) -> str:
    last = replies[-1]
    if last.command == "y":
        return last.payload.decode().split(" ", 1)[0]
    headers = [r.payload.split(b"\0")[1].decode() for r in replies if r.command == "h"]
    return headers[0].split(";")[0] if headers else last.command


def registry_of(root: Path, documents: dict[str, str]) -> Path:
    reg = Registry(root, create=True)
    for sid, text in documents.items():
        reg.add_document(text, text.encode(), f"{sid}.txt", secret_id=sid)
    reg.commit()
    return root


def register(root: Path, sid: str, text: str) -> None:
    reg = Registry(root)
    reg.add_document(text, text.encode(), f"{sid}.txt", secret_id=sid)
    reg.commit()


@pytest.mark.integration
def test_dlp_milter_follows_its_registry_and_policy_file_without_a_restart(tmp_path):
    registry = registry_of(tmp_path / "reg", {"S-A": SECRET_A})
    state, policy = tmp_path / "state", tmp_path / "policy.toml"
    policy.write_text(NO_EXPOSURE)
    milter = DlpMilter(registry, state, policy, free_port())
    try:
        mail = f"Hello Bob,\n\nas discussed:\n\n{EXCERPT_B}\n\nAlice\n"
        unknown = verdict(milter.message(mail))
        register(registry, "S-B", SECRET_B)  # while it runs
        reloaded = milter.wait_for("reloaded (registry generation gen-000002)")
        refused = milter.message(mail)
        wait_until(lambda: len(children(milter.process.pid)) == 1, what="the old zygote to go")
        [zygote] = children(milter.process.pid)
        held = mapped(milter.process.pid, registry), mapped(zygote, registry)
        policy.write_text(REVIEWED)  # leaks to outside recipients are reviewed now: warn
        milter.process.send_signal(signal.SIGHUP)
        milter.wait_for("reloaded (SIGHUP)")
        reviewed = verdict(milter.message(mail))
        policy.write_text('[[rule]]\nname = "typo"\naction = "deny"\n')
        milter.process.send_signal(signal.SIGHUP)
        failed = milter.wait_for("reload failed (SIGHUP)")
        still = verdict(milter.message(mail))
        corrupt_next_generation(registry, tmp_path)  # a generation that fails its keyed checksum
        corrupt = milter.wait_for("reload failed (registry generation gen-000003)")
        kept = verdict(milter.message(mail))
    finally:
        status = milter.stop()
    assert status == 0, "".join(milter.log)
    assert unknown == "allow"  # S-B was not registered yet
    assert "gen-000001 -> gen-000002" in reloaded
    assert refused[-1].payload.startswith(b"550 5.7.1") and b"S-B (document)" in refused[-1].payload
    # the milter keeps no scanner, its one zygote holds the new generation's arrays only
    assert not held[0] and held[1] and all(os.path.exists(path) for path in held[1])
    assert reviewed == "warn" and still == "warn"
    assert "unknown action 'deny'" in failed and "still scanning with gen-000002" in failed
    assert "fails its keyed checksum" in corrupt and kept == "warn"
    entries = list(AuditLog(state).entries())
    assert [(e["trigger"], e["outcome"], e["generation"]) for e in entries if e["event"] == "reload"] == [
        ("registry generation gen-000002", "done", "gen-000002"), ("SIGHUP", "done", "gen-000002"),
        ("SIGHUP", "failed", "gen-000002"), ("registry generation gen-000003", "failed", "gen-000002")]
    assert [e["previous"] is None for e in entries if e["event"] == "policy"] == [True, False]
    incidents = IncidentStore(state, read_only=True).query()
    assert sorted(i.action for i in incidents) == ["block", "warn", "warn", "warn"]
    assert AuditLog(state).verify().ok


@pytest.mark.integration
@pytest.mark.skipif(POSTFIX is None, reason="postfix is not installed (apt-get install postfix; see .ci/run)")
@pytest.mark.skipif(os.geteuid() != 0, reason="a private Postfix instance must be started as root")
def test_behind_postfix_a_secret_registered_while_running_is_refused_at_smtp_time(tmp_path):
    registry = registry_of(tmp_path / "reg", {"S-A": SECRET_A})
    state, policy = tmp_path / "state", tmp_path / "policy.toml"
    policy.write_text(NO_EXPOSURE)
    port = free_port()
    milter = DlpMilter(registry, state, policy, port)
    mail = (f"From: alice@example.com\r\nTo: bob@elsewhere.example\r\nSubject: plans\r\n\r\n"
            f"As discussed:\r\n\r\n{EXCERPT_B}\r\n").encode()
    try:
        with SmtpSink() as sink:
            postfix = PostfixInstance(sink.port, milter=f"inet:127.0.0.1:{port}")
            try:
                postfix.start()
                with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as smtp:
                    smtp.sendmail("alice@example.com", ["bob@elsewhere.example"], mail)
                delivered = sink.wait(timeout=30)
                register(registry, "S-B", SECRET_B)
                milter.wait_for("reloaded (registry generation gen-000002)")
                with pytest.raises(smtplib.SMTPDataError) as refused:
                    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as smtp:
                        smtp.sendmail("alice@example.com", ["bob@elsewhere.example"], mail)
            finally:
                postfix.stop()
    finally:
        status = milter.stop()
    assert status == 0, "".join(milter.log)
    assert b"X-DLP-Verdict: allow" in delivered.data
    assert refused.value.smtp_code == 550 and b"S-B (document)" in refused.value.smtp_error
