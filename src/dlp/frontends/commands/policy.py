"""`dlp policy check|explain`: validate a destination policy; say what it would decide, and why."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...errors import UsageError
from ...destinations import DestinationPolicy, load_policy, weaker_than_default
from ...types import Destination, Finding
from ...rules import default_finding_action, default_unscannable_action
from ..status import Exit


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
    return Exit.STOP if weaker and args.strict else Exit.OK


def run_explain(args, env) -> int:
    policy = _destination_policy(args)
    from ...index import Index  # the read side: the catalogue, nothing loaded

    reg = Index.open(env.settings(args).registry, env.settings(args).key)
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
    return Exit.OK


def _destination_policy(args) -> DestinationPolicy:
    if not getattr(args, "policy", None):
        raise UsageError("no policy file: give --policy FILE")
    return load_policy(Path(args.policy))
