"""`dlp audit verify`, `dlp audit show`: the tamper-evident trail in the state directory."""

from __future__ import annotations

import json

from ...audit import AuditLog
from ...scanner import registry_location, state_location


def register(sub) -> None:
    audit = sub.add_parser("audit", help="verify or show the audit trail")
    asub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    p = asub.add_parser("verify", help="check every link of the chain; exit 1 at the first broken one")
    p.set_defaults(handler=run_verify)
    p = asub.add_parser("show", help="print the entries")
    p.add_argument("--last", type=int, metavar="N", help="only the last N entries")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_show)


def _log(args, env) -> AuditLog:
    return AuditLog(state_location(args.state, registry_location(args.registry, env.environ), env.environ))


def run_verify(args, env) -> int:
    log = _log(args, env)
    result = log.verify()
    if result.ok:
        print(f"audit trail intact: {result.entries} entries ({log.path})", file=env.stdout)
        return 0
    where = f" at line {result.broken_at}" if result.broken_at else ""
    print(f"audit trail broken{where}: {result.reason} ({log.path})", file=env.stdout)
    return 1


def run_show(args, env) -> int:
    entries = list(_log(args, env).entries())
    if args.last is not None:
        entries = entries[-args.last:] if args.last > 0 else []
    for entry in entries:
        if args.format == "json":
            print(json.dumps(entry, ensure_ascii=False, sort_keys=True), file=env.stdout)
            continue
        rest = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in entry.items()
                        if k not in ("seq", "time", "event", "prev", "hash") and v not in (None, [], ""))
        print(f"{entry['seq']:>6} {entry['time']} {entry['event']:9} {rest}", file=env.stdout)
    return 0
