"""`dlp policy check|explain`, `dlp incidents list|show|export`, `dlp release`, `dlp confirm`."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import errno
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from ...errors import UsageError
from ...incidents import CSV_COLUMNS, Incident, flatten
from ...policy import DestinationPolicy, Recipient, load_policy
from ...registry import Registry
from ...scanner import key_location, registry_location
from ...types import Action, Destination, Finding, escape_path, unescape_path


def add_policy_option(parser) -> None:
    """`--policy` after the command too; SUPPRESS keeps the global option's value when absent here."""
    parser.add_argument("--policy", metavar="FILE", default=argparse.SUPPRESS,
                        help="destination policy (TOML); default: built-in policy")


def register(sub) -> None:
    policy = sub.add_parser("policy", help="validate a destination policy or explain a decision")
    psub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    p = psub.add_parser("check", help="validate a policy file")
    p.add_argument("file", metavar="FILE")
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
            p.add_argument("--format", choices=("json", "csv"), required=True)
            p.add_argument("--output", metavar="FILE")
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
    return 0


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
    for verdict in policy.verdicts([finding], destination):
        r = verdict.recipient
        print(f"  {r.address or '(no address)'}: {r.cls}{' ' + r.country if r.country else ''}"
              f"{' (partner ' + r.partner + ')' if r.partner else ''}; {r.why}", file=out)
        print(f"    decided by {verdict.rule} -> {verdict.action.label}", file=out)
    print(f"action: {decision.action.label} (rule {decision.rule}, policy {policy.source})", file=out)
    return 0


def _destination_policy(args) -> DestinationPolicy:
    if not getattr(args, "policy", None):
        raise UsageError("no policy file: give --policy FILE")
    return load_policy(Path(args.policy))


# -- incidents ----------------------------------------------------------------------------


def run_list(args, env) -> int:
    store = env.recorder(args).incidents
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
    inc = env.recorder(args).incidents.get(args.incident)
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
    recorder = env.recorder(args)
    store = recorder.incidents
    inc = store.get(args.incident)
    if inc.status != "open":
        raise UsageError(f"incident {inc.id} is already {inc.status} (by {inc.resolved_by})")
    if args.allow_until is not None and args.allow_until < recorder.today():
        raise UsageError(f"--allow-until {args.allow_until.isoformat()} is in the past")
    done = _release_target(inc, args, env)
    status = "false_positive" if args.false_positive else "released"
    inc = store.resolve(inc.id, status, args.by, args.justification)
    recorder.audit.append("release", incident=inc.id, status=status, by=args.by, justification=args.justification,
                          outcome=done)
    print(f"{inc.id}: {status} by {args.by}; {done}", file=env.stdout)
    if args.allow_until is not None:
        for allow in _allow_entries(recorder, inc, args.allow_until, args.by):
            recorder.audit.append("allow", incident=inc.id, allow=allow.id, secret=allow.secret,
                                  destination=allow.destination, digest=allow.digest, until=allow.until.isoformat(),
                                  by=args.by)
            print(f"allow entry {allow.id}: {allow.secret} to {allow.destination} until {allow.until.isoformat()}",
                  file=env.stdout)
    return 0


def run_confirm(args, env) -> int:
    recorder = env.recorder(args)
    inc = recorder.incidents.resolve(args.incident, "confirmed", args.by, args.justification)
    recorder.audit.append("confirm", incident=inc.id, by=args.by, justification=args.justification)
    print(f"{inc.id}: confirmed as a leak by {args.by}", file=env.stdout)
    return 0


def _release_target(inc: Incident, args, env) -> str:
    target = inc.target
    if target.get("kind") == "file" and target.get("quarantined"):
        return _release_file(Path(unescape_path(target["path"])))
    if target.get("kind") == "mail":
        queue_id = target.get("queue_id")
        if not queue_id or queue_id == "NOQUEUE":
            return "mail without a queue id: nothing to release in the MTA"
        if args.postsuper:
            command = shlex.split(args.postsuper)
            result = subprocess.run([*command, "-H", queue_id], capture_output=True, text=True, timeout=60)
            if result.returncode != 0:
                raise UsageError(f"postsuper -H {queue_id} failed: {result.stderr.strip() or result.returncode}")
            return f"mail {queue_id} released from the hold queue" + _deliver_now(command, queue_id, env)
        return f"mail {queue_id} marked released; release it from the hold queue with `postsuper -H {queue_id}`"
    return "nothing was held back for this incident; marked released"


def _deliver_now(postsuper: list[str], queue_id: str, env) -> str:
    """Released mail waits in the deferred queue for the next queue run; `postqueue -i` (same
    directory, same -c options) asks for delivery at once."""
    binary = Path(postsuper[0])
    if binary.name != "postsuper":
        return ""
    postqueue = [os.fspath(binary.with_name("postqueue")), *postsuper[1:], "-i", queue_id]
    try:
        result = subprocess.run(postqueue, capture_output=True, text=True, timeout=60)
    except OSError as exc:
        env.warn(f"{postqueue[0]}: {exc.strerror}; the mail goes at the next queue run")
        return ""
    if result.returncode != 0:
        env.warn(f"postqueue -i {queue_id} failed ({result.stderr.strip()}); the mail goes at the next queue run")
        return ""
    return " and queued for delivery"


def _release_file(quarantined: Path) -> str:
    """Move a quarantined file to the release path its sidecar names; never over an existing file."""
    sidecar = quarantined.with_name(quarantined.name + ".dlp.json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{sidecar}: the quarantine sidecar is missing; cannot tell where the file goes") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{sidecar}: cannot read the quarantine sidecar: {exc}") from None
    if not quarantined.exists():
        raise UsageError(f"{quarantined}: the quarantined file is gone")
    target = Path(unescape_path(meta["release_path"]))
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = target, 1
    while os.path.lexists(candidate):
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        n += 1
    try:
        os.link(quarantined, candidate)  # fails rather than replace; then drop the quarantine name
        os.unlink(quarantined)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise UsageError(f"cannot move {quarantined} to {candidate}: {exc.strerror}") from None
        shutil.copy2(quarantined, candidate)  # another filesystem: copy, then drop the quarantined copy
        os.unlink(quarantined)
    try:
        os.chmod(candidate, int(meta.get("mode", "0o644"), 8) & 0o777)
    except (OSError, ValueError):
        pass
    sidecar.unlink(missing_ok=True)
    return f"moved to {escape_path(candidate)}"


def _allow_entries(recorder, inc: Incident, until: dt.date, by: str):
    recipients = [Recipient(r.get("address") or "", r.get("domain") or "", r.get("country"), r.get("class") or "unknown")
                  for r in inc.body.get("recipients", [])]
    seen = set()
    for f in inc.body.get("findings", []):
        for r in recipients:
            key = (f["digest"], recorder.exposure_key(r))
            if key in seen:
                continue
            seen.add(key)
            yield recorder.incidents.add_allow(f["digest"], f["secret"], key[1], until, inc.id, by)


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
