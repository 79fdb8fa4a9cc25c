"""`dlp milter`: serve the milter protocol for Postfix (smtpd_milters) or Sendmail (INPUT_MAIL_FILTER).

Postfix main.cf:  smtpd_milters = inet:127.0.0.1:8899
                  milter_default_action = tempfail
Sendmail .mc:     INPUT_MAIL_FILTER(`dlp', `S=inet:8899@127.0.0.1, F=T, T=S:10s;R:10s;E:5m')

Runs until SIGTERM or SIGINT, then stops accepting, lets messages being scanned
finish and exits with status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import Any

from ..commands.incidents import add_policy_option
from .server import ListenAddress, MilterSettings, ScanFunction, parse_listen, serve

DEFAULTS = MilterSettings()
SIZE_SUFFIXES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _listen(text: str) -> ListenAddress:
    try:
        return parse_listen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _size(text: str) -> int:
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
        "--max-message-size", type=_size, default=DEFAULTS.max_message_bytes, metavar="SIZE",
        help="larger messages are not scanned and count as unscannable (default 50M)",
    )
    parser.add_argument(
        "--spool-threshold", type=_size, default=DEFAULTS.spool_threshold, metavar="SIZE",
        help="message content beyond this goes to a temporary file (default 1M)",
    )
    parser.add_argument("--spool-dir", metavar="DIR", help="where spooled messages go (default: the system temp dir)")
    parser.add_argument(
        "--max-connections", type=int, default=DEFAULTS.max_connections, metavar="N",
        help="connections beyond this are closed at once (default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=DEFAULTS.workers, metavar="N",
        help="messages scanned at the same time (default %(default)s)",
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
    return MilterSettings(
        fail_open=args.fail_open,
        scan_timeout=args.timeout,
        max_message_bytes=args.max_message_size,
        spool_threshold=args.spool_threshold,
        spool_dir=args.spool_dir,
        max_connections=args.max_connections,
        workers=args.workers,
        socket_mode=args.socket_mode,
    )


def _recording(scanner, recorder) -> ScanFunction:
    """Scan, then allow entries, exposure, incident and audit entry; the incident id goes into the reply."""
    def scan(data: bytes, name: str, destination):
        report = scanner.scan_bytes(data, name, destination)
        queue_id = name[:-len(".eml")] if name.endswith(".eml") else name
        return recorder.settle(report, destination, {"kind": "mail", "queue_id": queue_id})
    return scan


def _unscanned(recorder):
    """A message that could not be scanned is an audit entry too (a tempfail is retried by the
    MTA, so it is not an incident each time)."""
    def on_unscanned(message, reason: str, outcome: str) -> None:
        recorder.audit.append("unscanned", channel="mail", item=message.name, reason=reason, outcome=outcome,
                              sender=message.sender or None, recipients=list(message.recipients),
                              bytes=message.content.size)
    return on_unscanned


def run(args: argparse.Namespace, env: Any) -> int:
    scanner = env.scanner(args)  # registry, key and policy from the global options
    recorder = None if args.no_record else env.recorder(args, scanner.policy)
    scan = scanner.scan_bytes if recorder is None else _recording(scanner, recorder)
    unscanned = None if recorder is None else _unscanned(recorder)
    settings = settings_from_args(args)
    handler = logging.StreamHandler(env.stderr)
    handler.setFormatter(logging.Formatter("dlp milter: %(levelname)s %(message)s"))
    logger = logging.getLogger("dlp.frontends.milter")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        asyncio.run(_serve_until_signalled(scan, args.listen, settings, env, unscanned))
    finally:
        logger.removeHandler(handler)
    return 0


async def _serve_until_signalled(scan: ScanFunction, address: ListenAddress, settings: MilterSettings, env: Any,
                                 on_unscanned=None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def ready(addresses: list[str]) -> None:
        print(f"dlp milter: listening on {', '.join(addresses)}", file=env.stderr, flush=True)

    try:
        answered = await serve(scan, address, settings, stop, on_ready=ready, on_unscanned=on_unscanned)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    print(f"dlp milter: stopped after {answered} messages", file=env.stderr, flush=True)
