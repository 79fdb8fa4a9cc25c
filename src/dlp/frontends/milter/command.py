"""`dlp milter`: serve the milter protocol for Postfix (smtpd_milters) or Sendmail (INPUT_MAIL_FILTER).

Postfix main.cf:  smtpd_milters = inet:127.0.0.1:8899
                  milter_default_action = tempfail
Sendmail .mc:     INPUT_MAIL_FILTER(`dlp', `S=inet:8899@127.0.0.1, F=T, T=S:10s;R:10s;E:5m')

Runs until SIGTERM or SIGINT, then stops accepting, lets messages being scanned
finish and exits with status 0. A new registry generation (looked for every second)
or SIGHUP reloads the registry, the models and the policy file without a restart
(see `reloads`): mail in flight is answered once, by the scanner it started with.

The scanner is opened and warmed up here; the scan worker processes are forked from
it (see `workers`) before the event loop starts, and this process then lets it go
(a reload opens the next one the same way). Each part of a message gets at
most PART_SHARE of the message deadline (the scanner's per-item limit, which kills a
hung parser), so one slow attachment ends as a `timeout` problem for the policy to
decide while the message still gets its verdict in time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import replace
from typing import Any

from ...errors import UsageError
from ..commands.incidents import add_policy_option
from ...decide import Decider
from .mail import recording, unscanned_recording
from .reloads import Reloads, generation_watch
from .server import ListenAddress, MilterServer, MilterSettings, parse_listen
from .workers import ScanWorkers
from ..status import Exit

DEFAULTS = MilterSettings()
PART_SHARE = 0.8
SIZE_SUFFIXES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _listen(text: str) -> ListenAddress:
    try:
        return parse_listen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def size_argument(text: str) -> int:
    number, suffix = text.strip().lower().rstrip("b"), ""
    if number and number[-1] in SIZE_SUFFIXES:
        number, suffix = number[:-1], number[-1]
    try:
        value = int(float(number) * SIZE_SUFFIXES[suffix])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 50M, 512K or 1048576") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a size cannot be negative")
    return value


def _mode(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode such as 660") from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "milter",
        help="check mail in Postfix or Sendmail before it is queued",
        description=(
            "Serve the milter protocol (version 6). Leaking mail is refused with 550 5.7.1 naming "
            "the incident, quarantined mail goes to the MTA's hold queue, other mail gets an "
            "X-DLP-Verdict header. Mail that cannot be scanned is tempfailed (451 4.7.1) unless "
            "--fail-open."
        ),
    )
    parser.add_argument(
        "--listen", required=True, type=_listen, metavar="SPEC",
        help="inet:PORT@HOST, inet:HOST:PORT or unix:/path/to/socket",
    )
    parser.add_argument(
        "--fail-open", action="store_true",
        help="accept (with an 'unscanned' header) mail that cannot be scanned instead of tempfailing it",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULTS.scan_timeout, metavar="SECONDS",
        help="scan deadline per message; keep it below the MTA's milter content timeout (default %(default)s)",
    )
    parser.add_argument(
        "--max-message-size", type=size_argument, default=DEFAULTS.max_message_bytes, metavar="SIZE",
        help="larger messages are not scanned and count as unscannable (default 50M)",
    )
    parser.add_argument(
        "--spool-threshold", type=size_argument, default=DEFAULTS.spool_threshold, metavar="SIZE",
        help="message content beyond this goes to a temporary file (default 1M)",
    )
    parser.add_argument("--spool-dir", metavar="DIR", help="where spooled messages go (default: the system temp dir)")
    parser.add_argument(
        "--max-connections", type=int, default=DEFAULTS.max_connections, metavar="N",
        help="open connections at most; a new one evicts the idlest (default %(default)s)",
    )
    parser.add_argument(
        "--max-per-client", type=int, default=DEFAULTS.max_per_client, metavar="N",
        help="connections per peer address (or unix-socket uid) at most; 0: no limit (default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=DEFAULTS.workers, metavar="N",
        help="scan worker processes for new mail (default %(default)s)",
    )
    parser.add_argument(
        "--max-slow", type=int, default=DEFAULTS.max_slow, metavar="N",
        help="long scans kept going at low priority beside them; 0: as many as --workers (default %(default)s)",
    )
    parser.add_argument(
        "--quantum", type=float, default=DEFAULTS.quantum, metavar="SECONDS",
        help="a scan running longer gives its worker up to new mail (default %(default)s)",
    )
    parser.add_argument(
        "--max-waiting", type=int, default=DEFAULTS.max_waiting, metavar="N",
        help="messages waiting for a worker at most; more are tempfailed at once (default %(default)s)",
    )
    parser.add_argument(
        "--handshake-timeout", type=float, default=DEFAULTS.handshake_timeout, metavar="SECONDS",
        help="a connection must negotiate within this (default %(default)s)",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=DEFAULTS.idle_timeout, metavar="SECONDS",
        help="a connection silent longer is closed (default %(default)s)",
    )
    parser.add_argument(
        "--content-timeout", type=float, default=DEFAULTS.content_timeout, metavar="SECONDS",
        help="once a message's headers have begun, a connection silent longer is closed (default %(default)s)",
    )
    parser.add_argument(
        "--socket-mode", type=_mode, default=DEFAULTS.socket_mode, metavar="OCTAL",
        help="permissions of a unix socket (default 660)",
    )
    parser.add_argument("--no-record", action="store_true",
                        help="keep no incidents, audit entries or exposure (default: in the state directory)")
    parser.add_argument("--no-ocr", action="store_true",
                        help="do not read text in images and scanned PDF pages; such mail counts as unscannable")
    add_policy_option(parser)
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> MilterSettings:
    settings = MilterSettings(
        fail_open=args.fail_open,
        scan_timeout=args.timeout,
        max_message_bytes=args.max_message_size,
        spool_threshold=args.spool_threshold,
        spool_dir=args.spool_dir,
        max_connections=args.max_connections,
        max_per_client=args.max_per_client,
        workers=args.workers,
        max_slow=args.max_slow,
        quantum=args.quantum,
        max_waiting=args.max_waiting,
        handshake_timeout=args.handshake_timeout,
        idle_timeout=args.idle_timeout,
        content_timeout=args.content_timeout,
        socket_mode=args.socket_mode,
    )
    if settings.workers < 1 or settings.max_connections < 1 or settings.max_slow < 0 or settings.max_waiting < 0:
        raise UsageError("--workers and --max-connections must be at least 1; --max-slow and --max-waiting at least 0")
    if min(settings.scan_timeout, settings.quantum, settings.handshake_timeout, settings.idle_timeout,
           settings.content_timeout) <= 0:
        raise UsageError("--timeout, --quantum and the --*-timeout options must be more than 0 seconds")
    return settings


def open_mail_scanner(env: Any, args: argparse.Namespace, scan_timeout: float):
    """The scanner of the mail front ends: each item (a part and what it contains) gets at most
    PART_SHARE of the message deadline, and lazily loaded parts are loaded before workers fork."""
    scanner = env.scanner(args)
    limits = getattr(scanner, "limits", None)
    if limits is not None:
        scanner.limits = replace(limits, timeout_seconds=min(limits.timeout_seconds, PART_SHARE * scan_timeout))
    if hasattr(scanner, "registry"):
        from ..watch.scans import warm_up

        warm_up(scanner)
    return scanner


def run(args: argparse.Namespace, env: Any) -> int:
    settings = settings_from_args(args)
    hangup = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until served: the scanner opened next is fresh anyway
    try:
        scanner = open_mail_scanner(env, args, settings.scan_timeout)
        policy, watch = scanner.policy, generation_watch(scanner)
        recorder = None if args.no_record else env.recorder(args, policy)
        workers = ScanWorkers(scanner.detect_bytes, settings.worker_settings)
        workers.fork_zygote()  # now, while this process has one thread
        del scanner  # the zygote holds it: this process keeps no scanner
        handler = logging.StreamHandler(env.stderr)
        handler.setFormatter(logging.Formatter("dlp milter: %(levelname)s %(message)s"))
        logger = logging.getLogger("dlp.frontends.milter")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            decider = recorder.decider() if recorder else Decider(policy)
            reloading = _Reloading(lambda: open_mail_scanner(env, args, settings.scan_timeout), watch, recorder)
            asyncio.run(_serve_until_signalled(args.listen, settings, env, workers, decider, recorder, reloading))
        finally:
            logger.removeHandler(handler)
    finally:
        signal.signal(signal.SIGHUP, hangup)
    return Exit.OK


class _Reloading:
    """What a reload needs besides the server: how to open the scanner, the registry's watch,
    and the recorder the new policy goes to."""

    def __init__(self, open_scanner, watch, recorder) -> None:
        self.open_scanner, self.watch, self.recorder = open_scanner, watch, recorder

    def use_policy(self, policy) -> Decider:
        if self.recorder is None:
            return Decider(policy)
        self.recorder.use_policy(policy)
        return self.recorder.decider()

    def audit(self, **fields: Any) -> None:
        if self.recorder is not None:
            self.recorder.audit.append("reload", channel="mail", **fields)

    def reloads(self, workers: ScanWorkers, gate) -> Reloads:
        return Reloads(self.open_scanner, workers, gate, watch=self.watch, use_policy=self.use_policy,
                       audit=self.audit if self.recorder is not None else None)


async def _serve_until_signalled(address: ListenAddress, settings: MilterSettings, env: Any, workers: ScanWorkers,
                                 decider: Decider, recorder=None, reloading: _Reloading | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await workers.open()
        try:
            server = MilterServer(None, settings, decider=decider, workers=workers,
                                  record=recording(recorder) if recorder else None,
                                  on_unscanned=unscanned_recording(recorder) if recorder else None)
            bound = await server.start(address)
            print(f"dlp milter: listening on {', '.join(bound)}", file=env.stderr, flush=True)
            try:
                await _reloading_until(stop, reloading.reloads(workers, server.gate) if reloading else None)
            finally:
                await server.close()
        finally:
            await workers.close()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print(f"dlp milter: stopped after {server.messages} messages", file=env.stderr, flush=True)


async def _reloading_until(stop: asyncio.Event, reloads: Reloads | None) -> None:
    """Reload on a new registry generation or SIGHUP until `stop` is set; a reload under way
    then is abandoned (nothing switches)."""
    if reloads is None:
        await stop.wait()
        return
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reloads.request)
    task = asyncio.ensure_future(reloads.run())
    try:
        await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # not the default (exit) while the last mail is answered
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        reloads.close()
