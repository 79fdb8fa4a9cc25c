"""`dlp audit verify|show|acknowledge|recover`: the tamper-evident trail in the state directory.

`verify` checks the chain, reports every alarm (a lost or forged head) until it is
acknowledged, and every interrupted change with what the registry or the incident
store says about it; `acknowledge` records who has seen the alarms and why they are
accepted; `recover` marks the gaps interrupted changes left (the next registry
change does that too).
"""

from __future__ import annotations

import argparse
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from ...audit import RESERVED, Alarm, AuditLog
from ...changes import probe, reconcile, summary
from ...errors import UsageError
from ...incidents import IncidentStore
from ..status import Exit

_BARE = re.compile(r"[^\s\"'=\\]+")  # values printed without quotes in text output


def register(sub) -> None:
    audit = sub.add_parser("audit", help="verify or show the tamper-evident audit trail")
    _add_state_option(audit)
    asub = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    p = asub.add_parser("verify", help="check every entry, the chain and the head; report alarms and interrupted "
                                       "changes (exit 1 unless intact)")
    _add_state_option(p)
    p.set_defaults(handler=run_verify)
    p = asub.add_parser("acknowledge", help="record that the open alarms were checked (who and why)",
                        description="An alarm (the audit head was lost or forged) keeps `verify` failing until an "
                                    "administrator acknowledges it. The acknowledgement is itself an audit entry.")
    _add_state_option(p)
    p.add_argument("--by", required=True, metavar="NAME", help="who checked the alarms")
    p.add_argument("--reason", required=True, metavar="TEXT", help="what was checked, why the alarms are accepted")
    p.set_defaults(handler=run_acknowledge)
    p = asub.add_parser("recover", help="mark the gaps interrupted changes left: applied, not applied, or unknown",
                        description="An administrative change interrupted by a crash leaves an intent without "
                                    "completion. Recovery asks the registry (or the incident store) whether the "
                                    "change took effect and records the answer. The next registry change does it too.")
    _add_state_option(p)
    p.set_defaults(handler=run_recover)
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


def _state(args, env) -> Path:
    """The state directory of an existing trail: reading must not invent an empty, 'intact' one."""
    state = Path(env.settings(args).state)
    if not state.is_dir():
        raise UsageError(f"no state directory at {state} (give --state DIR or set $DLP_STATE)")
    return state


def _open(args, env) -> AuditLog:
    return AuditLog(_state(args, env))


def run_verify(args, env) -> int:
    state = _state(args, env)
    result = AuditLog(state).verify()
    out = env.stdout
    if result.broken_at is not None or (not result.ok and not result.open_alarms):
        where = f" at line {result.broken_at}" if result.broken_at is not None else ""
        print(f"audit trail broken{where}: {result.reason}", file=out)
        return Exit.STOP
    incidents = IncidentStore(state, read_only=True)
    try:
        judged = [(change, probe(change, incidents=incidents)) for change in result.interrupted]
    finally:
        incidents.close()
    stuck = [change for change, outcome in judged if outcome is None or not outcome.in_progress]
    if result.ok and not stuck:
        print(f"audit trail intact: {result.entries} entries", file=out)
    else:
        problems = ([_count(len(result.open_alarms), "alarm") + " not acknowledged"] if result.open_alarms else []) + (
            [_count(len(stuck), "interrupted change")] if stuck else [])
        print(f"audit trail not intact: {result.entries} entries chain up, but {' and '.join(problems)}", file=out)
    for alarm in result.alarms:
        print("  " + _alarm_line(alarm), file=out)
    for change, outcome in judged:
        state_of = "in progress" if outcome is not None and outcome.in_progress else "interrupted"
        print(f"  {state_of} change at {_where(change.line, change.seq)} ({change.time}): "
              f"{summary(change.event, change.fields)}; {outcome.detail if outcome else 'nothing here can tell'}",
              file=out)
    for done in result.recovered:
        print(f"  change interrupted at line {done.intent_line}, gap marked at line {done.line}: {done.detail}",
              file=out)
    if result.open_alarms:
        print("  after checking, acknowledge with: dlp audit acknowledge --by NAME --reason TEXT", file=out)
    if stuck:
        print("  mark the gap with: dlp audit recover (the next registry change does it too)", file=out)
    return Exit.OK if result.ok and not stuck else Exit.STOP


def run_acknowledge(args, env) -> int:
    entry, alarms = _open(args, env).acknowledge(args.by, args.reason)
    print(f"acknowledged {_count(len(alarms), 'alarm')} by {entry['by']} (seq {entry['seq']}):", file=env.stdout)
    for alarm in alarms:
        print("  " + _alarm_line(alarm), file=env.stdout)
    return Exit.OK


def run_recover(args, env) -> int:
    state = _state(args, env)
    audit = AuditLog(state)
    audit.check()
    incidents = IncidentStore(state, read_only=True)
    try:
        done = reconcile(audit, incidents=incidents, lock_registries=True)
    finally:
        incidents.close()
    for change, outcome in done:
        print(f"recovered {summary(change.event, change.fields)} (seq {change.seq}): {outcome.detail}",
              file=env.stdout)
    left = len(audit.open_changes())
    print(f"{_count(len(done), 'interrupted change')} marked" + (f", {left} still open (in progress, or nothing "
                                                                  "here can tell)" if left else ""), file=env.stdout)
    return Exit.OK


def _alarm_line(alarm: Alarm) -> str:
    where = f"alarm at {_where(alarm.line, alarm.seq)} ({alarm.time})" if alarm.line is not None else "alarm now"
    line = f"{where}: {alarm.kind}: {alarm.detail}"
    ack = alarm.acknowledged
    if ack is not None:
        line += f"; acknowledged by {ack.by} at line {ack.line} ({ack.time}): {ack.reason}"
    return line


def _where(line: int | None, seq: int | None) -> str:
    return f"line {line}" if line is not None else f"seq {seq}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def run_show(args, env) -> int:
    entries = _open(args, env).entries()
    chosen = deque(entries, maxlen=args.last) if args.last else entries
    for entry in chosen:
        if args.format == "json":
            print(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), file=env.stdout)
        else:
            print(_text_line(entry), file=env.stdout)
    return Exit.OK


def _text_line(entry: dict[str, Any]) -> str:
    """`seq time event [phase change] key=value ...`; prev and hash are for `verify`, not for people."""
    fields = " ".join(f"{key}={_text_value(value)}" for key, value in entry.items() if key not in RESERVED)
    head = f"{entry.get('seq')} {entry.get('time')} {entry.get('event')}"
    if "phase" in entry:  # a step of an audited change: intent, done, failed or recovered, and which change
        head += f" {_text_value(entry['phase'])} {_text_value(entry.get('change'))}"
    return f"{head} {fields}" if fields else head


def _text_value(value: Any) -> str:
    """Plain words stay plain; anything else is JSON, so spaces and control characters cannot fake a field."""
    if isinstance(value, str) and _BARE.fullmatch(value) and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=not (isinstance(value, str) and value.isprintable()))
