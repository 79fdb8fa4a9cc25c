"""One message in, one verdict out: the decision both mail front ends share.

`dlp milter` (messages collected from the MTA's packets) and `dlp scan-mail` (one
message on standard input) build a `MailRequest` and hand it with the content to the
same `MailGate`, so a message gets the same verdict through either:

- content beyond the size limit is not scanned: unscannable;
- the scan runs in a killable worker (`workers`) within the message deadline; a scan
  that is killed, refused under overload or fails is unscannable, with its reason;
- what the scan found is decided here, once (`decide.Decider`: policy, allow
  entries, exposure), then recorded (incident, audit entry, exposure), off the
  event loop;
- unscannable mail gets the policy's tempfail, or is accepted as `unscanned` when
  the gateway fails open, and leaves an `unscanned` audit entry with the reason and
  what the MTA was told (not an incident: the MTA retries a tempfail).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import time
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from typing import Any, Callable

from ...decide import Decider
from ...types import Action, Destination, Detection, FileReport
from .spool import MessageBuffer
from .verdicts import MailVerdict, ReplyPolicy, unscanned_verdict, verdict_of
from .workers import ScanRefused, ScanWorkers

log = logging.getLogger("dlp.frontends.milter")


@dataclass(frozen=True)
class MailRequest:
    """What to scan and where it goes: the envelope of one message."""

    sender: str
    recipients: tuple[str, ...]
    queue_id: str | None = None
    client: str = ""  # the SMTP client, as the MTA names it

    @property
    def name(self) -> str:
        return f"{self.queue_id or 'NOQUEUE'}.eml"

    @property
    def destination(self) -> Destination:
        return Destination(addresses=self.recipients, channel="mail", sender=self.sender or None)

    @property
    def target(self) -> dict[str, Any]:
        """What an incident points at: the message in the MTA's queue."""
        return {"kind": "mail", "queue_id": self.queue_id or "NOQUEUE"}

    @property
    def fair_share(self) -> str:
        """Whose turn a scan of this message is (see `workers`): the sender, else the client."""
        return (self.sender or self.client).lower()

    @classmethod
    def from_message(cls, head: bytes, *, to: tuple[str, ...] = (), sender: str | None = None,
                     queue_id: str | None = None) -> "MailRequest":
        """A request for a message given whole (`dlp scan-mail`): the recipients and sender named
        on the command line, else those of the message's own headers (To, Cc, Bcc; From)."""
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        if not to:
            fields = [str(value) for name in ("To", "Cc", "Bcc") for value in headers.get_all(name, [])]
            to = tuple(dict.fromkeys(address for _, address in getaddresses(fields) if address))
        if sender is None:
            sender = parseaddr(str(headers.get("From", "")))[1]
        return cls(sender=sender, recipients=tuple(to), queue_id=queue_id)


Record = Callable[[FileReport, MailRequest], FileReport]
OnUnscanned = Callable[[MailRequest, str, str, int], None]  # request, reason, outcome, bytes


def random_incident_id() -> str:
    return "dlp-" + secrets.token_hex(6)


class MailGate:
    def __init__(self, workers: ScanWorkers, policy: ReplyPolicy = ReplyPolicy(), *, scan_timeout: float = 25.0,
                 decider: Decider | None = None, record: Record | None = None,
                 on_unscanned: OnUnscanned | None = None,
                 incident_id: Callable[[], str] = random_incident_id,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.workers = workers
        self.policy = policy
        self.scan_timeout = scan_timeout
        self.decider = decider or Decider()
        self.record = record
        self.on_unscanned = on_unscanned
        self.incident_id = incident_id
        self.clock = clock
        # deciding reads and recording writes SQLite and fsyncs the audit trail: one thread, in order,
        # off the event loop (exposure adds up message after message)
        self._recording = concurrent.futures.ThreadPoolExecutor(1, "dlp-mail-record")

    def close(self) -> None:
        self._recording.shutdown(wait=True)

    async def switch(self, make_decider: Callable[[], Decider]) -> Decider:
        """Decide with the decider `make_decider()` returns from now on (a reload re-read the policy).

        It runs on the recording thread, between two decisions, so every message is decided
        and recorded wholly under one policy, and the old decider is closed there, where
        nothing else uses it. When `make_decider` raises, the old decider stays and this raises."""
        def switch() -> Decider:
            new = make_decider()
            old, self.decider = self.decider, new
            if old is not new:
                old.close()
            return new
        return await self._record(switch)

    async def check(self, request: MailRequest, content: MessageBuffer, *, can_hold: bool = True) -> MailVerdict:
        """The verdict for one message. Never raises for what is wrong with the message."""
        deadline = self.clock() + self.scan_timeout
        where = f"queue id {request.queue_id or 'NOQUEUE'} from {request.sender or '<>'}"
        if content.oversize:
            log.warning("%s: not scanned, %d bytes exceed %d", where, content.size, content.max_bytes)
            return await self._unscanned(request, "message too large to scan", content.size)
        data = content.read()
        try:
            detection = await self.workers.scan(data, request.name, deadline, sender=request.fair_share)
        except ScanRefused as refused:
            log.warning("%s: not scanned: %s", where, refused.reason)
            return await self._unscanned(request, refused.reason, len(data))
        try:
            report, unrecorded = await self._record(self._decide_and_record, detection, request, where)
        except Exception as exc:  # scanned but not decided: as a message that could not be scanned
            log.exception("%s: deciding failed", where)
            return await self._unscanned(request, f"cannot decide ({type(exc).__name__})", len(data))
        if unrecorded is not None and report.action < Action.QUARANTINE:
            # decided to pass, but no evidence could be kept: it passes only where policy lets the
            # unscanned pass. A message decided to be stopped is stopped all the same, fail-open or
            # not (a recipient SQLite could not store let a blocked message through a fail-open
            # gate: found attacking stop 36)
            return await self._unscanned(request, f"cannot record the decision ({type(unrecorded).__name__})",
                                         len(data))
        incident = str(report.meta.get("incident") or self.incident_id()) if report.action > 0 else ""
        log.info("%s: %s%s to %s (%d findings)", where, report.action.label,
                 f" incident {incident}" if incident else "", ", ".join(request.recipients), len(report.findings))
        return verdict_of(report, incident, self.policy, can_hold=can_hold)

    async def _unscanned(self, request: MailRequest, reason: str, size: int) -> MailVerdict:
        verdict = unscanned_verdict(reason, self.policy)
        if self.on_unscanned is not None:
            outcome = "accepted (fail-open)" if verdict.passes else "tempfail"
            try:
                await self._record(self.on_unscanned, request, reason, outcome, size)
            except Exception:  # the verdict stands; the missing evidence is logged loudly
                log.exception("recording the unscanned message failed")
        return verdict

    def _decide_and_record(self, detection: Detection, request: MailRequest,
                           where: str) -> tuple[FileReport, Exception | None]:
        """The decision, recorded, on the recording thread in one go (the next message is decided
        after this one's exposure is kept), and what recording it raised, if it did."""
        report = self.decider.decide(detection, request.destination)
        if self.record is None:
            return report, None
        try:
            return self.record(report, request), None
        except Exception as exc:  # noqa: BLE001 (the decision stands; the caller says what passes)
            log.exception("%s: recording the decision (%s) failed", where, report.action.label)
            return report, exc

    async def _record(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._recording, function, *args)


def recording(recorder) -> Record:
    """Audit entry, exposure and incident for a decided message (`Recorder.record`)."""
    def record(report: FileReport, request: MailRequest) -> FileReport:
        return recorder.record(report, request.destination, request.target)
    return record


def unscanned_recording(recorder) -> OnUnscanned:
    """An `unscanned` audit entry: the reason and what the MTA was told."""
    def on_unscanned(request: MailRequest, reason: str, outcome: str, size: int) -> None:
        recorder.audit.append("unscanned", channel="mail", item=request.name, reason=reason, outcome=outcome,
                              sender=request.sender or None, recipients=list(request.recipients), bytes=size)
    return on_unscanned
