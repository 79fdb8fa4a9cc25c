"""`dlp policy check|explain`, `dlp incidents list|show|export`, `dlp release`, `dlp confirm`.

Release and confirm are thin adapters over `dlp.resolution`, which the review console
calls too; `incidents export --follow` is the SIEM feed (`dlp.siem`).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import signal
import threading
from pathlib import Path

from ... import resolution, siem
from ...errors import UsageError
from ...incidents import CSV_COLUMNS, IncidentFilter, flatten
from ...policy import DestinationPolicy, load_policy, weaker_than_default
from ...registry import Registry
from ...scanner import key_location, registry_location
from ...types import Action, Destination, Finding
from ...verdict import default_finding_action, default_unscannable_action


def add_policy_option(parser) -> None:
    """`--policy` after the command too; SUPPRESS keeps the global option's value when absent here."""
    parser.add_argument("--policy", metavar="FILE", default=argparse.SUPPRESS,
                        help="destination policy (TOML); default: built-in policy")


def register(sub) -> None:
    policy = sub.add_parser("policy", help="validate a destination policy or explain a decision")
    psub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    p = psub.add_parser("check", help="validate a policy file; warn about settings weaker than the built-in policy")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--strict", action="store_true", help="exit 1 when a setting is weaker than the built-in policy")
    p.set_defaults(handler=run_check)
    p = psub.add_parser("explain", help="what would happen if a secret went to an address, and which rule decides")
    add_policy_option(p)
    p.add_argument("--to", action="append", default=[], metavar="ADDRESS", help="recipient (repeatable)")
    p.add_argument("--country", help="destination country, when no address says it")
    p.add_argument("--share", metavar="DIR", help="a watched share instead of an address")
    p.add_argument("--secret", required=True, metavar="ID", help="a registered secret")
    p.add_argument("--channel", default="mail", choices=("cli", "watch", "mail", "cluster"))
    p.add_argument("--kind", help="detector kind of the finding (default: the secret's own kind)")
    p.add_argument("--words", type=int, help="matched words (default: the whole secret)")
    p.add_argument("--score", type=float, default=1.0)
    p.set_defaults(handler=run_explain)

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

    p = sub.add_parser("release", help="release a quarantined item, recording who and why",
                       description="Release the item of an incident: a quarantined file goes to its release "
                                   "folder; a held mail is released with postsuper -H when --postsuper is given.")
    p.add_argument("incident", metavar="INCIDENT")
    p.add_argument("--by", required=True, metavar="NAME")
    p.add_argument("--justification", required=True, metavar="TEXT")
    p.add_argument("--false-positive", action="store_true", help="the finding was wrong, not an accepted risk")
    p.add_argument("--allow-until", metavar="DATE", type=_date,
                   help="also allow these findings to these destinations until DATE (a scoped allow entry)")
    p.add_argument("--postsuper", metavar="COMMAND",
                   help="postsuper command to release a held mail, e.g. \"/usr/sbin/postsuper -c /etc/postfix-out\"")
    add_policy_option(p)
    p.set_defaults(handler=run_release)

    p = sub.add_parser("confirm", help="mark an incident as a true leak")
    p.add_argument("incident", metavar="INCIDENT")
    p.add_argument("--by", required=True, metavar="NAME")
    p.add_argument("--justification", default="confirmed leak", metavar="TEXT")
    add_policy_option(p)
    p.set_defaults(handler=run_confirm)


# -- policy -------------------------------------------------------------------------------


def run_check(args, env) -> int:
    policy = load_policy(Path(args.file))
    print(f"{args.file}: valid: {len(policy.internal_domains)} internal domains, {len(policy.internal_shares)} "
          f"internal shares, {len(policy.partners)} partners, {len(policy.embargoed)} embargoed countries, "
          f"{len(policy.rules)} rules", file=env.stdout)
    today = policy.today()
    for partner in policy.partners:
        if partner.expires and partner.expires < today:
            env.warn(f"partner {partner.name!r}: agreement expired {partner.expires.isoformat()}")
        if partner.country in policy.embargoed:
            env.warn(f"partner {partner.name!r} is in embargoed {partner.country}: it will never receive anything")
    weaker = weaker_than_default(policy)
    for w in weaker:  # a file only overrides what it names, but what it names may let more through
        env.warn(f"{args.file}: {w.key}: weaker than the built-in policy: {w.message}")
    if weaker:
        print(f"{args.file}: {len(weaker)} setting{'s' if len(weaker) != 1 else ''} weaker than the built-in policy",
              file=env.stdout)
    return 1 if weaker and args.strict else 0


def run_explain(args, env) -> int:
    policy = _destination_policy(args)
    reg = Registry(registry_location(args.registry, env.environ), key_location(args.key, env.environ))
    secret = reg.secrets.get(args.secret)
    if secret is None:
        raise UsageError(f"no secret {args.secret!r} in {reg.root} (see `dlp list`)")
    latest = secret.latest
    finding = Finding(secret=secret.id, version=latest.version, label=secret.label, kind=args.kind or secret.kind,
                      score=args.score, matched_words=args.words if args.words is not None else latest.tokens,
                      coverage=1.0, locator="<explain>", classification=secret.classification, tags=secret.tags,
                      detector=args.kind or secret.kind)
    destination = Destination(tuple(args.to), args.country.upper() if args.country else None, args.channel,
                              share=args.share)
    decision = policy.decide([finding], [], destination)
    out = env.stdout
    print(f"secret {secret.id} v{latest.version} ({secret.kind}, {secret.classification or 'unclassified'}"
          f"{', tags ' + ', '.join(secret.tags) if secret.tags else ''}) on {args.channel}:", file=out)
    builtin, why = default_finding_action(finding)
    for verdict in policy.verdicts([finding], destination):
        r = verdict.recipient
        print(f"  {r.address or '(no address)'}: {r.cls}{' ' + r.country if r.country else ''}"
              f"{' (partner ' + r.partner + ')' if r.partner else ''}; {r.why}", file=out)
        print(f"    decided by {verdict.rule} -> {verdict.action.label}", file=out)
        if verdict.action < builtin:
            print(f"    weaker than the built-in policy, which would {builtin.label} it ({why})", file=out)
    unscannable = policy.unscannable_action(destination)
    default_unscannable = default_unscannable_action(destination)
    print(f"  a part that cannot be read: {unscannable.label}"
          + (f" (weaker than the built-in {default_unscannable.label})" if unscannable < default_unscannable else ""),
          file=out)
    print(f"action: {decision.action.label} (rule {decision.rule}, policy {policy.source})", file=out)
    return 0


def _destination_policy(args) -> DestinationPolicy:
    if not getattr(args, "policy", None):
        raise UsageError("no policy file: give --policy FILE")
    return load_policy(Path(args.policy))


# -- incidents ----------------------------------------------------------------------------


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
            json.dump([i.to_dict() for i in found], out, indent=2, ensure_ascii=False)
            print(file=out)
        elif args.format == "csv":
            writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(flatten(found))
        else:
            for inc in found:
                d = inc.to_dict()
                to = ", ".join(r.get("address") or r.get("country") or "-" for r in d.get("recipients", []))
                print(f"{inc.id}  {d['time']}  {inc.channel:7} {inc.action:10} {inc.status:14} "
                      f"{','.join(inc.secrets) or '-':24} to {to or '-'}  {inc.item}", file=out)
            print(f"{len(found)} incidents", file=out)
    finally:
        if stream is not None:
            stream.close()
    return 0


def run_show(args, env) -> int:
    inc = env.recorder(args, read_only=True).incidents.get(args.incident)
    d = inc.to_dict()
    out = env.stdout
    if args.format == "json":
        json.dump(d, out, indent=2, ensure_ascii=False)
        print(file=out)
        return 0
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
    return 0


# -- release and confirm --------------------------------------------------------------------


def run_release(args, env) -> int:
    done = resolution.release(env.recorder(args), args.incident, by=args.by, justification=args.justification,
                              false_positive=args.false_positive, allow_until=args.allow_until,
                              postsuper=args.postsuper, via="cli")
    for note in done.notes:
        env.warn(note)
    print(f"{done.incident.id}: {done.status} by {args.by}; {done.outcome}", file=env.stdout)
    for allow in done.allows:
        print(f"allow entry {allow.id}: {allow.secret} to {allow.destination} until {allow.until.isoformat()}",
              file=env.stdout)
    return 0


def run_confirm(args, env) -> int:
    done = resolution.confirm(env.recorder(args), args.incident, by=args.by, justification=args.justification,
                              via="cli")
    print(f"{done.incident.id}: confirmed as a leak by {args.by}", file=env.stdout)
    return 0


# -- the SIEM feed ----------------------------------------------------------------------------


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
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


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
