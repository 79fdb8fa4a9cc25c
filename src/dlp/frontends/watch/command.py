"""`dlp watch`: scan files dropped in outboxes; release clean ones, quarantine the rest.

    dlp --registry /srv/dlp/registry watch /srv/share/outbox --release /srv/share/release \\
        --quarantine /srv/dlp/quarantine --destination CN

or `dlp watch --config /etc/dlp/watch.toml` for several outboxes (see `settings`).
One JSON line per decision goes to standard output. SIGTERM or SIGINT: finish the
files in hand and exit 0; SIGHUP: re-read the configuration file, the registry, the
models and the policy file (a new registry generation alone does the last three). The
recorder switches to the new policy with the decider, and every reload, done or failed,
is a `reload` audit entry.
"""

from __future__ import annotations

import argparse
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import UsageError
from ...types import Action, escape_path
from ..commands.incidents import add_policy_option
from .daemon import DecisionLog, Daemon
from .scans import ScannerSpec
from .settings import Outbox, load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch", help="scan files dropped in an outbox; release clean ones, quarantine leaks",
        description="Watch outbox folders. A file is scanned once complete (size and mtime stable for --settle "
                    "seconds, or renamed in from a temporary name), then moved atomically to the release folder "
                    "(allow, warn) or to the quarantine folder with a .dlp.json report (quarantine, block). "
                    "Crash-safe: after a kill and restart every file is in exactly one folder.")
    parser.add_argument("outbox", nargs="?", metavar="OUTBOX", help="folder users drop files into")
    parser.add_argument("--release", metavar="DIR", help="where scanned, allowed files go")
    parser.add_argument("--quarantine", metavar="DIR", help="where held files and their reports go (mode 0700)")
    parser.add_argument("--destination", metavar="COUNTRY", help="destination country code of this outbox")
    parser.add_argument("--to", action="append", default=[], metavar="ADDRESS",
                        help="destination address of this outbox (repeatable)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with [[outbox]] tables and daemon options")
    parser.add_argument("--poll", type=float, metavar="SECONDS",
                        help="poll every SECONDS instead of inotify events (SMB and NFS shares)")
    parser.add_argument("--workers", type=int, metavar="N", help="files scanned at the same time (default 2)")
    parser.add_argument("--scan-in", choices=("threads", "processes"), dest="scan_in",
                        help="scan in the worker threads or in a pool of processes (default threads)")
    parser.add_argument("--settle", type=float, metavar="SECONDS",
                        help="how long size and mtime must stay unchanged (default 2)")
    parser.add_argument("--rescan", type=float, metavar="SECONDS",
                        help="full rescan of every outbox, a safety net for lost events (default 60)")
    parser.add_argument("--fail-open", action="store_true", default=None,
                        help="release unscannable content when the policy allows it (default: quarantine it)")
    parser.add_argument("--no-record", action="store_true",
                        help="keep no incidents, audit entries or exposure (default: in the state directory)")
    parser.add_argument("--no-ocr", action="store_true", default=None,
                        help="do not read text in images and scanned PDF pages; such files count as unscannable")
    add_policy_option(parser)
    parser.set_defaults(handler=run)


def _recording(recorder):
    """Incident, audit entry and exposure once the file is in its final place."""
    def on_decision(report, destination, final) -> None:
        quarantined = report.action >= Action.QUARANTINE
        recorder.record(report, destination, {"kind": "file", "path": escape_path(final), "quarantined": quarantined},
                        once=report.meta.get("journal"))
    return on_decision


def _reload_recording(recorder):
    """A `reload` audit entry: which generation the daemon scans with from now on, or why not."""
    def on_reload(outcome: dict[str, Any]) -> None:
        recorder.audit.append("reload", channel="watch", **outcome)
    return on_reload


def settings_from_args(args: argparse.Namespace):
    extra: tuple[Outbox, ...] = ()
    if args.outbox:
        if not args.release or not args.quarantine:
            raise UsageError("an OUTBOX needs --release DIR and --quarantine DIR")
        extra = (Outbox(Path(args.outbox).absolute(), Path(args.release).absolute(),
                        Path(args.quarantine).absolute(), args.destination, tuple(args.to), args.poll),)
    elif args.release or args.quarantine or args.destination or args.to:
        raise UsageError("--release, --quarantine, --destination and --to go with an OUTBOX argument")
    overrides = {"workers": args.workers, "scan_in": args.scan_in, "settle": args.settle, "rescan": args.rescan,
                 "fail_open": args.fail_open, "poll": args.poll, "ocr": False if args.no_ocr else None}
    return load_settings(args.config, overrides, extra)


def run(args: argparse.Namespace, env: Any) -> int:
    settings = settings_from_args(args)
    spec = ScannerSpec(replace(env.settings(args), ocr=env.settings(args).ocr and settings.ocr))
    recorder = None if args.no_record else env.recorder(args)
    daemon = Daemon(settings, spec, log=DecisionLog(env.stdout),
                    decider=recorder.decider() if recorder else None,
                    on_decision=_recording(recorder) if recorder else None,
                    on_policy=recorder.use_policy if recorder else None,
                    on_reload=_reload_recording(recorder) if recorder else None,
                    reload_settings=(lambda: settings_from_args(args)) if args.config else None)
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, lambda *_: daemon.stop())
    signal.signal(signal.SIGINT, lambda *_: daemon.stop())
    signal.signal(signal.SIGHUP, lambda *_: daemon.reload())
    try:
        return daemon.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
