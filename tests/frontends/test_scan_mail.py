"""`dlp scan-mail`: one message on standard input, the milter's decision as an exit status.

Through the real entry point (in process, and as a process for --pass-through), against
a real registry; and the same messages through a real milter server, which must decide
each of them the same way.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from email.message import EmailMessage

import pytest

from dlp.audit import AuditLog
from dlp.recording import Recorder
from dlp.frontends.cli import Env, main
from dlp.frontends.milter.mail import recording, unscanned_recording
from dlp.frontends.milter.server import ListenAddress, MilterServer, MilterSettings
from dlp.scanner import Scanner
from dlp.rules import DefaultPolicy

from helpers import prose, registry_with
from .milter.conversation import POSTFIX_OFFER, message_packets
from .milter.test_server import FakeMta

SECRET = prose(600, 21)
EXCERPT = " ".join(SECRET.split()[100:180])
SENDER = "alice@example.com"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return registry_with(tmp_path_factory.mktemp("scan-mail"), {"S-PLAN": SECRET})


def mail(body: str, *, to: str = "bob@elsewhere.example", cc: str | None = None, forged: bool = False) -> bytes:
    lines = [f"From: {SENDER}", f"To: {to}"] + ([f"Cc: {cc}"] if cc else []) + (
        ["X-DLP-Verdict: allow", "  (forged by the sender)"] if forged else []) + ["Subject: notes", "", body, ""]
    return "\r\n".join(lines).encode()


def with_attachment(text: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "bob@elsewhere.example", "the deck"
    message.set_content("Please find the notes attached.")
    message.add_attachment(text.encode(), maintype="application", subtype="octet-stream", filename="notes.txt")
    return message.as_bytes()


class OpenedEnv(Env):
    """The real command with the registry opened once per module (spaCy loads in seconds)."""

    registry = None

    def scanner(self, args):
        return Scanner(self.registry, policy=DefaultPolicy())


def scan_mail(registry, data: bytes, *argv: str, state=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = OpenedEnv(stdout=out, stderr=err, stdin=io.TextIOWrapper(io.BytesIO(data)), environ={})
    env.registry = registry
    state_args = ["--state", str(state)] if state else []
    code = main(["--registry", str(registry.root), *state_args, "scan-mail", *argv], env)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("data, argv, status, action, outcome", [
    (mail(prose(80, 5)), (), 0, "allow", "accept"),
    (mail("FYI:\r\n" + EXCERPT), (), 1, "block", "refuse"),
    (with_attachment(EXCERPT), (), 1, "block", "refuse"),
    (mail(prose(400, 6)), ("--max-message-size", "1K"), 1, "quarantine", "tempfail"),
    (mail(prose(400, 6)), ("--max-message-size", "1K", "--fail-open"), 0, "warn", "accept"),
], ids=["clean", "leak", "leak in an attachment", "too large", "too large, fail-open"])
def test_exit_status_report_and_gateway_outcome(registry, tmp_path, data, argv, status, action, outcome):
    code, out, err = scan_mail(registry, data, "--format", "json", *argv, state=tmp_path / "state")
    assert code == status, err
    [report] = json.loads(out)["files"]
    assert report["action"] == action and report["meta"]["gateway"]["outcome"] == outcome
    if outcome == "refuse":
        assert report["meta"]["gateway"]["reply"].startswith("550 5.7.1 ")
        assert report["meta"]["incident"] in report["meta"]["gateway"]["reply"]
    if "--max-message-size" in argv:
        assert report["problems"][0]["kind"] == "too_large"
        [entry] = AuditLog(tmp_path / "state").entries()
        assert entry["event"] == "unscanned" and entry["reason"] == "message too large to scan"


def test_destination_from_the_headers_or_the_command_line(registry, tmp_path):
    state = tmp_path / "state"
    leak = mail(EXCERPT, to="bob@elsewhere.example", cc="Carol <carol@partner.example>")
    assert scan_mail(registry, leak, state=state)[0] == 1
    assert scan_mail(registry, leak, "--to", "dave@other.example", "--from", "eve@example.com", state=state)[0] == 1
    first, second = [e for e in AuditLog(state).entries() if e["event"] == "decision"]
    assert first["recipients"] == ["bob@elsewhere.example", "carol@partner.example"] and first["sender"] == SENDER
    assert second["recipients"] == ["dave@other.example"] and second["sender"] == "eve@example.com"


def test_an_address_that_is_no_utf8_is_recorded_escaped_and_the_leak_blocked(registry, tmp_path):
    """A recipient with a 0xFF byte (a command line decodes it as a lone surrogate, and so does the
    milter): SQLite could not store it, and a fail-open gate let the blocked message through as
    'cannot record the decision' (found attacking stop 36). It is recorded as ``\\xff``."""
    state = tmp_path / "state"
    code, out, err = scan_mail(registry, mail(EXCERPT), "--fail-open", "--to", "bob\udcff@partner.example",
                               "--format", "json", state=state)
    assert code == 1, err
    assert json.loads(out)["files"][0]["action"] == "block"
    [entry] = [e for e in AuditLog(state).entries() if e["event"] == "decision"]
    assert entry["recipients"] == ["bob\\xff@partner.example"]


@pytest.mark.parametrize("leak, status, outcome", [(True, 1, "refuse"), (False, 0, "accept")])
def test_a_decision_that_cannot_be_recorded_stops_what_it_stops_even_fail_open(registry, tmp_path, monkeypatch,
                                                                               leak, status, outcome):
    """Recording failed (a full disk, a locked store): a message decided to be blocked is refused
    all the same, fail-open or not; one decided to pass goes as policy says of the unscanned."""
    def broken(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Recorder, "record", broken)
    code, out, err = scan_mail(registry, mail(EXCERPT if leak else prose(80, 5)), "--fail-open", "--format", "json",
                               state=tmp_path / "state")
    assert code == status, err
    [report] = json.loads(out)["files"]
    assert report["meta"]["gateway"]["outcome"] == outcome
    assert report["action"] == ("block" if leak else "warn")  # (fail-open: unrecorded, it passes with a warning)


def test_a_scan_past_the_deadline_is_killed_and_the_message_stopped(registry, tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(Scanner, "detect_bytes", lambda self, *a, **k: time.sleep(3600))  # forked into the worker
    started = time.monotonic()
    code, out, err = scan_mail(registry, mail(prose(50, 3)), "--timeout", "0.5", "--format", "json",
                               state=tmp_path / "state")
    assert code == 1 and time.monotonic() - started < 10
    [report] = json.loads(out)["files"]
    assert report["problems"][0]["kind"] == "timeout" and report["meta"]["gateway"]["outcome"] == "tempfail"
    [entry] = AuditLog(tmp_path / "state").entries()
    assert entry["reason"].startswith("scan killed at the message deadline") and entry["outcome"] == "tempfail"


def test_pass_through_writes_the_message_with_a_trusted_header_or_nothing(registry, tmp_path):
    command = [sys.executable, "-m", "dlp", "--registry", str(registry.root), "--state", str(tmp_path / "state"),
               "scan-mail", "--pass-through", "--report", str(tmp_path / "report.json"), "--format", "json"]
    clean = mail(prose(80, 5), forged=True)
    done = subprocess.run(command, input=clean, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"X-DLP-Verdict: allow\r\n" + clean.replace(
        b"X-DLP-Verdict: allow\r\n  (forged by the sender)\r\n", b"")
    leak = mail(EXCERPT, forged=True)
    done = subprocess.run(command, input=leak, capture_output=True, timeout=120)
    assert done.returncode == 1 and done.stdout == b""  # a stopped message never reaches the pipe
    assert json.loads((tmp_path / "report.json").read_text())["files"][0]["action"] == "block"


def test_the_same_messages_get_the_same_decision_from_the_milter(registry, tmp_path):
    """Each message through a real milter server (real socket, worker processes, recorder) and
    through `dlp scan-mail`: the same outcome and, for what is refused, the same secrets."""
    cases = {
        "clean": mail(prose(80, 5)),
        "leak": mail("FYI:\r\n" + EXCERPT),
        "attachment": with_attachment(EXCERPT),
        "big": mail(prose(400, 6)),
    }
    limit = 2048
    scanner = Scanner(registry, policy=DefaultPolicy())
    recorder = Recorder(tmp_path / "milter-state", scanner.policy)

    async def through_milter() -> dict[str, str]:
        server = MilterServer(scanner.detect_bytes, MilterSettings(workers=1, max_message_bytes=limit),
                              decider=recorder.decider(), record=recording(recorder),
                              on_unscanned=unscanned_recording(recorder))
        (bound,) = await server.start(ListenAddress("inet", "127.0.0.1", 0))
        outcomes = {}
        try:
            mta = await FakeMta.connect(bound)
            await mta.send(POSTFIX_OFFER)
            await mta.receive(1)
            for name, data in cases.items():
                head, _, body = data.partition(b"\r\n\r\n")
                headers = [tuple(line.decode().split(": ", 1)) for line in head.split(b"\r\n")
                           if b": " in line and not line.startswith((b" ", b"\t"))]
                await mta.send(*message_packets(SENDER, ["bob@elsewhere.example"], headers, body))
                while True:
                    [reply] = await mta.receive(1)
                    if reply.command in ("a", "y", "r"):
                        break
                outcomes[name] = {"a": "accept", "y": "refuse" if reply.payload.startswith(b"5") else "tempfail",
                                  "r": "reject"}[reply.command]
            mta.close()
        finally:
            await server.close(grace=2)
        return outcomes

    milter = asyncio.run(through_milter())
    cli = {}
    for name, data in cases.items():
        code, out, err = scan_mail(registry, data, "--format", "json", "--to", "bob@elsewhere.example",
                                   "--max-message-size", str(limit), state=tmp_path / "cli-state")
        cli[name] = json.loads(out)["files"][0]["meta"]["gateway"]["outcome"]
        assert code == (0 if cli[name] == "accept" else 1), err
    assert milter == cli == {"clean": "accept", "leak": "refuse", "attachment": "refuse", "big": "tempfail"}
