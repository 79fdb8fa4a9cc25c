"""`dlp scan-mail`: one RFC 822 message on standard input, the milter's decision as an exit status.

    dlp scan-mail --to bob@partner.example --from alice@example.com < message.eml

For MTAs and hooks that hand a filter the whole message (Exim transport filters and
ACL `${run}` conditions, MIMEDefang-style scripts, procmail). The message goes
through the same `MailGate` as in `dlp milter`: the same size limit, deadline,
killable scan worker, recording, and verdict. Exit status 0: the message may go on
(allow, warn, or unscannable with --fail-open); 1: stop it (block, quarantine, or
unscannable); 2: usage or configuration error; 3: internal error.

By default the report goes to standard output; its `meta.gateway` says what an MTA
should do (`outcome` accept, hold, refuse or tempfail; the `header` to add; the SMTP
`reply`). With --pass-through standard output
carries the message itself, with an X-DLP-Verdict header (the sender's own such
headers removed), and only when it may go on; the report then goes to --report FILE
or standard error.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from typing import Any, BinaryIO

from ...decide import Decider
from ...errors import UsageError
from ...types import Action, Decision, FileReport, Problem, Report
from ..milter.command import open_mail_scanner, size_argument
from ..milter.mail import MailGate, MailRequest, recording, unscanned_recording
from ..milter.server import MilterSettings
from ..milter.session import VERDICT_HEADER
from ..milter.spool import MessageBuffer
from ..milter.verdicts import MailVerdict, ReplyPolicy
from ..milter.workers import ScanWorkers, WorkerSettings
from ..output import write_report, write_report_file
from .incidents import add_policy_option
from ..status import Exit

DEFAULTS = MilterSettings()
HEAD_BYTES = 256 * 1024  # where the message's own headers are looked for
CHUNK = 1 << 20


def register(sub) -> None:
    p = sub.add_parser("scan-mail", help="scan one RFC 822 message on standard input (exit 0 pass, 1 stop)",
                       description="Scan one message from standard input with the milter's decision: exit status 0 "
                                   "when it may go on, 1 when it must stop (block, quarantine, or not scannable "
                                   "without --fail-open). Recipients and sender: --to/--from, else the message's "
                                   "To, Cc, Bcc and From headers.")
    p.add_argument("--to", action="append", default=[], metavar="ADDRESS",
                   help="envelope recipient (repeatable); default: the To, Cc and Bcc headers")
    p.add_argument("--from", dest="sender", metavar="ADDRESS", help="envelope sender; default: the From header")
    p.add_argument("--queue-id", metavar="ID", help="the MTA's id for the message (named in incidents)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    p.add_argument("--pass-through", action="store_true",
                   help="write the message (with an X-DLP-Verdict header) to standard output when it may go on; "
                        "the report goes to --report FILE or standard error")
    p.add_argument("--report", metavar="FILE", help="write the report to FILE")
    p.add_argument("--fail-open", action="store_true",
                   help="let a message that cannot be scanned go on (marked unscanned) instead of stopping it")
    p.add_argument("--timeout", type=float, default=DEFAULTS.scan_timeout, metavar="SECONDS",
                   help="scan deadline; a scan still running is killed (default %(default)s)")
    p.add_argument("--max-message-size", type=size_argument, default=DEFAULTS.max_message_bytes, metavar="SIZE",
                   help="larger messages are not scanned and count as unscannable (default 50M)")
    p.add_argument("--no-record", action="store_true",
                   help="keep no incident, audit entry or exposure (default: in the state directory)")
    add_policy_option(p)
    p.set_defaults(handler=run)


def run(args, env) -> int:
    if args.timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    stdin = env.stdin.buffer if hasattr(env.stdin, "buffer") else env.stdin
    original = _spool(stdin) if args.pass_through else None
    content = MessageBuffer(args.max_message_size, DEFAULTS.spool_threshold)
    try:
        _copy(original if original is not None else stdin, content)
        request = MailRequest.from_message(content.head(HEAD_BYTES), to=tuple(args.to), sender=args.sender,
                                           queue_id=args.queue_id)
        started = time.perf_counter()
        verdict = _check(args, env, request, content)
        report = Report((_file_report(verdict, request, content.size),), time.perf_counter() - started)
        if args.pass_through:
            if verdict.passes:
                _write_message(original, verdict.header, _binary(env.stdout))
            _write(report, args, env, default=env.stderr)
        else:
            _write(report, args, env, default=env.stdout)
    finally:
        content.close()
        if original is not None:
            original.close()
    return Exit.OK if verdict.passes else Exit.STOP


def _check(args, env, request: MailRequest, content: MessageBuffer) -> MailVerdict:
    """The milter's decision for one message: scanner, recorder and a one-worker pool."""
    scanner = open_mail_scanner(env, args, args.timeout)
    recorder = None if args.no_record else env.recorder(args, scanner.policy)
    workers = ScanWorkers(scanner.detect_bytes, WorkerSettings(workers=1, max_slow=0, quantum=args.timeout))
    workers.fork_zygote()
    gate = MailGate(workers, ReplyPolicy(fail_open=args.fail_open), scan_timeout=args.timeout,
                    decider=recorder.decider() if recorder else Decider(scanner.policy),
                    record=recording(recorder) if recorder else None,
                    on_unscanned=unscanned_recording(recorder) if recorder else None)

    async def check() -> MailVerdict:
        await workers.open()
        try:
            return await gate.check(request, content)
        finally:
            await workers.close()

    try:
        return asyncio.run(check())
    finally:
        gate.close()


def _file_report(verdict: MailVerdict, request: MailRequest, size: int) -> FileReport:
    """The scan report with what the mail gateway made of it; for a message that could not be
    scanned, a report whose problem says why (unscannable is never clean)."""
    gateway = {"outcome": verdict.outcome, "header": verdict.header or None,
               "reply": verdict.reply.line if verdict.reply is not None else None}
    if verdict.report is not None:
        return FileReport(path=verdict.report.path, action=verdict.report.action, findings=verdict.report.findings,
                          problems=verdict.report.problems, bytes=verdict.report.bytes,
                          seconds=verdict.report.seconds, decision=verdict.report.decision,
                          meta={**verdict.report.meta, "gateway": gateway})
    action = Action.WARN if verdict.passes else Action.QUARANTINE
    rule = "mail:fail-open" if verdict.passes else "mail:tempfail"
    problem = Problem(request.name, _problem_kind(verdict.reason), verdict.reason)
    return FileReport(path=request.name, action=action, problems=(problem,), bytes=size,
                      decision=Decision(action, rule, (f"not scanned: {verdict.reason}",)), meta={"gateway": gateway})


def _problem_kind(reason: str) -> str:
    if "too large" in reason:
        return "too_large"
    if "deadline" in reason or "overloaded" in reason:
        return "timeout"
    return "unreadable"


def _write(report: Report, args, env, *, default) -> None:
    if args.report:
        try:
            write_report_file(report, args.format, args.report)
        except OSError as exc:
            raise UsageError(f"cannot write {args.report}: {exc.strerror}") from None
    else:
        write_report(report, args.format, default)


# -- the message itself ---------------------------------------------------------------


def _spool(stream: BinaryIO) -> tempfile.SpooledTemporaryFile:
    spool = tempfile.SpooledTemporaryFile(max_size=DEFAULTS.spool_threshold)
    shutil.copyfileobj(stream, spool, CHUNK)
    spool.seek(0)
    return spool


def _copy(stream: BinaryIO, content: MessageBuffer) -> None:
    while chunk := stream.read(CHUNK):
        content.write(chunk)


_VERDICT_LINE = re.compile(rb"(?i)^" + re.escape(VERDICT_HEADER.encode()) + rb"[ \t]*:")


def _write_message(original: tempfile.SpooledTemporaryFile, header: str, out: BinaryIO) -> None:
    """The message with our verdict header first and the sender's own verdict headers removed
    (with their continuation lines), so what reads the header downstream can trust it."""
    original.seek(0)
    head = bytearray()
    while True:  # the header block: up to the first empty line
        line = original.readline()
        head += line
        if not line or line in (b"\r\n", b"\n"):
            break
    newline = b"\r\n" if head.endswith(b"\r\n") or b"\r\n" in head[:2048] else b"\n"
    kept, dropping = [], False
    for line in bytes(head).splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and dropping:
            continue
        dropping = bool(_VERDICT_LINE.match(line))
        if not dropping:
            kept.append(line)
    out.write(f"{VERDICT_HEADER}: {header}".encode("ascii", "replace") + newline)
    out.write(b"".join(kept))
    shutil.copyfileobj(original, out, CHUNK)
    out.flush()


def _binary(stream: Any) -> BinaryIO:
    if hasattr(stream, "buffer"):
        stream.flush()
        return stream.buffer
    raise UsageError("--pass-through needs a binary standard output")
