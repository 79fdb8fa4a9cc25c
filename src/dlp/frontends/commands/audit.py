"""`dlp audit verify`, `dlp audit show`: read the tamper-evident trail in the state directory."""

from __future__ import annotations

import argparse
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from ...audit import RESERVED, AuditLog
from ...errors import UsageError
from ...scanner import registry_location, state_location

_BARE = re.compile(r"[^\s\"'=\\]+")  # values printed without quotes in text output


def register(sub) -> None:
    audit = sub.add_parser("audit", help="verify or show the tamper-evident audit trail")
    _add_state_option(audit)
    asub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    p = asub.add_parser("verify", help="check every entry, the chain and the head; exit 1 at the first break")
    _add_state_option(p)
    p.set_defaults(handler=run_verify)
    p = asub.add_parser("show", help="print the entries, oldest first")
    _add_state_option(p)
    p.add_argument("--last", type=_positive, metavar="N", help="only the last N entries")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text: one line per entry; json: the stored entries as JSON lines")
    p.set_defaults(handler=run_show)


def _add_state_option(parser) -> None:
    """`--state` after `audit` too; SUPPRESS keeps the global option's value when absent here."""
    parser.add_argument("--state", metavar="DIR", default=argparse.SUPPRESS,
                        help="state directory of the audit trail (default $DLP_STATE or state/ beside the registry)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _open(args, env) -> AuditLog:
    """The trail of an existing state directory: reading must not invent an empty, 'intact' one."""
    state = Path(state_location(getattr(args, "state", None), registry_location(args.registry, env.environ),
                                env.environ))
    if not state.is_dir():
        raise UsageError(f"no state directory at {state} (give --state DIR or set $DLP_STATE)")
    return AuditLog(state)


def run_verify(args, env) -> int:
    result = _open(args, env).verify()
    if result.ok:
        print(f"audit trail intact: {result.entries} entries", file=env.stdout)
        return 0
    where = f" at line {result.broken_at}" if result.broken_at is not None else ""
    print(f"audit trail broken{where}: {result.reason}", file=env.stdout)
    return 1


def run_show(args, env) -> int:
    entries = _open(args, env).entries()
    chosen = deque(entries, maxlen=args.last) if args.last else entries
    for entry in chosen:
        if args.format == "json":
            print(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), file=env.stdout)
        else:
            print(_text_line(entry), file=env.stdout)
    return 0


def _text_line(entry: dict[str, Any]) -> str:
    """`seq time event key=value ...`; prev and hash are for `verify`, not for people."""
    fields = " ".join(f"{key}={_text_value(value)}" for key, value in entry.items() if key not in RESERVED)
    head = f"{entry.get('seq')} {entry.get('time')} {entry.get('event')}"
    return f"{head} {fields}" if fields else head


def _text_value(value: Any) -> str:
    """Plain words stay plain; anything else is JSON, so spaces and control characters cannot fake a field."""
    if isinstance(value, str) and _BARE.fullmatch(value) and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=not (isinstance(value, str) and value.isprintable()))
