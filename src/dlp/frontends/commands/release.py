"""`dlp release` and `dlp confirm`: thin adapters over `dlp.resolution`, which the review console calls too."""

from __future__ import annotations

import argparse
import datetime as dt

from ... import resolution
from .policy import add_policy_option
from ..status import Exit


def register(sub) -> None:
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
    return Exit.OK


def run_confirm(args, env) -> int:
    done = resolution.confirm(env.recorder(args), args.incident, by=args.by, justification=args.justification,
                              via="cli")
    print(f"{done.incident.id}: confirmed as a leak by {args.by}", file=env.stdout)
    return Exit.OK


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
