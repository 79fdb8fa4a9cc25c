"""Replaying milter conversations without a socket, and scanners that need no registry."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.session import CollectedMessage, MilterSession
from dlp.decide import Decider
from dlp.frontends.milter.verdicts import ReplyPolicy, failure_replies, report_replies
from dlp.types import Action, Decision, Detection, Finding

RECORDINGS = Path(__file__).parent / "recordings"
POSTFIX_OFFER = p.Packet("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))  # what Postfix 3.7 offers


def load_recording(name: str) -> list[tuple[str, p.Packet]]:
    """(`mta` | `milter`, packet) in the order they crossed the wire."""
    data = json.loads((RECORDINGS / name).read_text())
    out = []
    for entry in data["packets"]:
        (packet,) = p.PacketDecoder().feed(base64.b64decode(entry["packet"]))
        out.append((entry["from"], packet))
    return out


MARKER_ACTIONS = {"S-0001": Action.BLOCK, "S-0002": Action.QUARANTINE, "S-0003": Action.WARN}


class MarkerPolicy:
    """A stand-in policy for the markers: S-0001 blocks, S-0002 quarantines, S-0003 warns."""

    source = None
    excerpt = False
    exposure = None

    def decide(self, findings, problems, destination) -> Decision:
        action = max((MARKER_ACTIONS[f.secret] for f in findings), default=Action.ALLOW)
        return Decision(action, f"marker:{action.label}", tuple(f"{f.secret}: marker" for f in findings))


MARKERS = Decider(MarkerPolicy())


def marker_scan(data: bytes, name: str) -> Detection:
    """A stand-in scanner: LEAK blocks, HOLD quarantines, WARN warns (under `MARKERS`), anything else is clean."""
    def finding(secret: str, kind: str) -> tuple[Finding, ...]:
        return (Finding(secret, 1, "Secret plan text", kind, 1.0, 50, 0.9, name),)

    if b"LEAK" in data:
        return Detection(name, finding("S-0001", "document"), bytes=len(data))
    if b"HOLD" in data:
        return Detection(name, finding("S-0002", "terms"), bytes=len(data))
    if b"WARN" in data:
        return Detection(name, finding("S-0003", "classifier"), bytes=len(data))
    return Detection(name, bytes=len(data))


class Replayer:
    """Drives a session the way the server does, synchronously, and keeps what it saw."""

    def __init__(self, session: MilterSession | None = None, scan=marker_scan, policy: ReplyPolicy = ReplyPolicy()):
        self.session = session or MilterSession()
        self.scan = scan
        self.policy = policy
        self.messages: list[tuple[CollectedMessage, bytes]] = []
        self.closed = False

    def send(self, packet: p.Packet) -> list[p.Packet]:
        step = self.session.handle(packet)
        replies = list(step.replies)
        if step.message is not None:
            message = step.message
            try:
                if message.content.oversize:
                    replies += failure_replies("message too large to scan", message, self.policy)
                else:
                    data = message.content.read()
                    self.messages.append((message, data))
                    report = MARKERS.decide(self.scan(data, message.name), message.destination)
                    replies += report_replies(report, message, "dlp-test-0001", self.policy)
            finally:
                message.content.close()
        self.closed = self.closed or step.close
        return [reply.packet() for reply in replies]

    def send_all(self, packets: list[p.Packet]) -> list[p.Packet]:
        return [reply for packet in packets for reply in self.send(packet)]


def message_packets(sender: str, recipients: list[str], headers: list[tuple[str, str]], body: bytes,
                    queue_id: str = "Q1") -> list[p.Packet]:
    """The packets Postfix sends for one message (with the NR_* options negotiated)."""
    out = [p.Packet("M", f"<{sender}>\0".encode())]
    out += [p.Packet("R", f"<{r}>\0".encode()) for r in recipients]
    out += [p.Packet("L", f"{n}\0{v}\0".encode()) for n, v in headers]
    out += [p.Packet("N"), p.Packet("B", body), p.Packet("D", f"Ei\0{queue_id}\0".encode()), p.Packet("E")]
    return out


def worker_scan(data: bytes, name: str) -> Detection:
    """`marker_scan` for the worker processes, plus body lines that make the scan misbehave:

        dlp-test: note PATH     append the message name to PATH when the scan starts
        dlp-test: sleep SECONDS take that long
        dlp-test: stuck         never end
        dlp-test: raise         fail with an exception
        dlp-test: crash         end the worker process
        dlp-test: fork PATH     start a child (as a parser would) that writes its pid to PATH, then never end
        dlp-test: nice PATH     after 0.5 s, write the scan's scheduling priority (nice value) to PATH
    """
    import os
    import subprocess
    import time

    for line in data.decode("latin-1").splitlines():
        if not line.startswith("dlp-test: "):
            continue
        verb, _, argument = line[len("dlp-test: "):].partition(" ")
        if verb == "note":
            with open(argument, "a") as log:
                log.write(name + "\n")
        elif verb == "sleep":
            time.sleep(float(argument))
        elif verb == "stuck":
            time.sleep(3600)
        elif verb == "raise":
            raise RuntimeError("boom")
        elif verb == "crash":
            os._exit(3)
        elif verb == "nice":
            time.sleep(0.5)
            with open(argument, "w") as out:
                out.write(str(os.getpriority(os.PRIO_PROCESS, 0)))
        elif verb == "fork":
            child = subprocess.Popen(["sleep", "3600"])
            with open(argument, "w") as out:
                out.write(f"{os.getpid()} {child.pid}\n")
            time.sleep(3600)
    return marker_scan(data, name)
