"""`dlp incidents list|show|export`: the incidents of the state directory, and the SIEM feed.

`incidents export --follow` writes each new incident as it is recorded (`dlp.siem`).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import signal
import threading

from ... import siem
from ...errors import UsageError
from ...incidents import CSV_COLUMNS, IncidentFilter, flatten
from ...types import Action
from ..output import plural
from .policy import add_policy_option  # noqa: F401 - older command modules import it from here
from ..status import Exit


def register(sub) -> None:
    incidents = sub.add_parser("incidents", help="list, show and export incidents")
    isub = incidents.add_subparsers(dest="incidents_command", metavar="SUBCOMMAND", required=True)
    for name, help_text in (("list", "one line per incident"), ("export", "every incident as JSON or CSV")):
        p = isub.add_parser(name, help=help_text)
        p.add_argument("--since", metavar="DATE", help="from this date or ISO time (UTC)")
        p.add_argument("--until", metavar="DATE", help="before this date or ISO time (UTC)")
        p.add_argument("--secret", metavar="ID")
        p.add_argument("--to", metavar="DEST", help="recipient address, domain, country code or destination class")
        p.add_argument("--action", choices=[a.label for a in Action if a != Action.ALLOW])
        p.add_argument("--status", choices=("open", "released", "confirmed", "false_positive"))
        if name == "list":
            p.add_argument("--format", choices=("text", "json", "csv"), default="text")
        else:
            p.add_argument("--format", choices=("json", "csv", *siem.FORMATS), required=True,
                           help="json, csv, or one line per incident for a SIEM: jsonl, syslog (RFC 5424), cef")
            p.add_argument("--output", metavar="FILE")
            p.add_argument("--follow", action="store_true",
                           help="keep running and write each new incident as it is recorded (jsonl, syslog, cef)")
            p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                           help="with --follow: how often to look for new incidents (default 1)")
        p.set_defaults(handler=run_list)
    p = isub.add_parser("show", help="one incident, whole")
    p.add_argument("incident", metavar="INCIDENT")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_show)


def run_list(args, env) -> int:
    if args.format in siem.FORMATS or getattr(args, "follow", False):
        return run_feed(args, env)
    store = env.recorder(args, read_only=True).incidents  # reading changes nothing, audit trail or not
    found = store.query(since=_when(args.since), until=_when(args.until), secret=args.secret, destination=args.to,
                        action=args.action, status=args.status)
    out = env.stdout
    stream = None
    if getattr(args, "output", None):
        try:
            stream = open(args.output, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
        out = stream
    try:
        if args.format == "json":
            # one incident a line: JSON all the same, written by the C encoder (an indented dump of
            # 10,000 incidents took 3 s in the pure-Python one)
            rows = (json.dumps(i.to_dict(), ensure_ascii=False) for i in found)
            print("[\n" + ",\n".join(rows) + "\n]" if found else "[]", file=out)
        elif args.format == "csv":
            writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(flatten(found))
        else:
            named = [",".join(inc.secrets) or "-" for inc in found]
            width = min(48, max([24, *map(len, named)]))  # one column for all, however many secrets a row names
            for inc, secrets in zip(found, named):
                d = inc.to_dict()
                to = ", ".join(r.get("address") or r.get("country") or "-" for r in d.get("recipients", []))
                print(f"{inc.id}  {d['time']}  {inc.channel:7} {inc.action:10} {inc.status:14} "
                      f"{secrets:{width}} to {to or '-'}  {inc.item}", file=out)
            print(plural(len(found), "incident"), file=out)
    finally:
        if stream is not None:
            stream.close()
    return Exit.OK


def run_show(args, env) -> int:
    inc = env.recorder(args, read_only=True).incidents.get(args.incident)
    d = inc.to_dict()
    out = env.stdout
    if args.format == "json":
        json.dump(d, out, indent=2, ensure_ascii=False)
        print(file=out)
        return Exit.OK
    print(f"incident {inc.id}: {inc.action} on {inc.channel}, {d['time']}, status {inc.status}", file=out)
    print(f"  item: {inc.item}", file=out)
    if inc.sender:
        print(f"  sender: {inc.sender}", file=out)
    for r in d.get("recipients", []):
        print(f"  to: {r.get('address') or '(no address)'} [{r.get('class')}{', ' + r['country'] if r.get('country') else ''}]"
              f" {r.get('why', '')}", file=out)
    print(f"  rule: {inc.rule}", file=out)
    for f in d.get("findings", []):
        print(f"  finding: {f['secret']} v{f['version']} by {f['detector']} ({f['kind']}), score {f['score']}, "
              f"{f['matched_words']} words, at {f['locator']}", file=out)
    for p in d.get("problems", []):
        print(f"  problem: {p['kind']} at {p['locator']}: {p['detail']}", file=out)
    for reason in d.get("reasons", []):
        print(f"  reason: {reason}", file=out)
    if d.get("target"):
        print(f"  target: {json.dumps(d['target'])}", file=out)
    if "resolution" in d:
        res = d["resolution"]
        print(f"  {res['status']} by {res['by']} at {res['time']}: {res['justification']}", file=out)
    return Exit.OK


# -- the SIEM feed ------------------------------------------------------------------------------


def run_feed(args, env) -> int:
    """One line per incident in the order they were recorded; with --follow, then every new one
    as it comes, until SIGTERM or Ctrl-C (exit 0)."""
    if args.format not in siem.FORMATS:
        raise UsageError(f"--follow writes one line per incident: use --format {', '.join(siem.FORMATS)}")
    if args.follow and args.interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    store = env.recorder(args).incidents
    where = IncidentFilter(since=_when(args.since), until=_when(args.until), secret=args.secret, to=args.to,
                           action=args.action, status=args.status)
    stop = threading.Event()
    previous = None
    if args.follow and threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out, stream = env.stdout, None
    if args.output:
        try:
            stream = out = open(args.output, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    row = 0
    try:
        while not stop.is_set():
            batch = store.follow(row, where)
            for row, incident in batch:
                print(siem.format_line(incident, args.format), file=out)
            out.flush()
            if not args.follow:
                break
            if not batch:
                stop.wait(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if stream is not None:
            stream.close()
    return Exit.OK


def _when(text: str | None) -> float | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date or time (YYYY-MM-DD or ISO 8601)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()
