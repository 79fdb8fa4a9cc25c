"""`dlp list`, `dlp show ID`, `dlp remove ID`: what the registry holds (metadata only)."""

from __future__ import annotations

import json
import time

from ...changes import registry_change
from ...errors import UsageError
from ...registry import Registry
from ..output import plural
from ..status import Exit


def register(sub) -> None:
    p = sub.add_parser("list", help="list registered secrets")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_list)
    p = sub.add_parser("show", help="show one secret and its versions")
    p.add_argument("secret_id", metavar="ID")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=run_show)
    p = sub.add_parser("remove", help="remove a secret and all its versions")
    p.add_argument("secret_id", metavar="ID")
    p.set_defaults(handler=run_remove)
    p = sub.add_parser("compact", help="merge the registry's segments into one, dropping removed versions",
                       description="Registering writes small segments and merges small ones on the way; "
                                   "compact merges everything (a few seconds per 10,000 documents).")
    p.set_defaults(handler=run_compact)


def _open(args, env) -> Registry:
    return Registry(env.settings(args).registry, env.settings(args).key)


def run_list(args, env) -> int:
    reg = _open(args, env)
    if args.format == "json":
        body = {"registry": str(reg.root), "generation": reg.generation,
                "secrets": [s.to_dict() for s in reg.secrets.values()], "public": reg.public,
                "index": reg.statistics()}
        json.dump(body, env.stdout, indent=2)
        print(file=env.stdout)
        return Exit.OK
    out = env.stdout
    print(f"{'ID':24} {'KIND':9} {'VER':>3} {'CLASS':12} {'SIZE':>14}  LABEL", file=out)
    for s in reg.secrets.values():
        v = s.latest
        size = {"document": f"{v.tokens} words", "terms": f"{v.extra.get('terms', 0)} terms",
                "records": f"{v.extra.get('rows', 0)} rows"}[s.kind]
        print(f"{s.id:24} {s.kind:9} {v.version:>3} {s.classification:12} {size:>14}  {s.label}", file=out)
    index = reg.statistics()
    counts = ", ".join(plural(n, noun) for n, noun in (
        (len(reg.secrets), "secret"), (len(reg.public), "public document"), (index["fingerprints"], "fingerprint"),
        (index["phrases"], "phrase")))
    print(f"{counts}, {plural(index['sentences'], 'sentence')} in {plural(index['segments'], 'segment')}, "
          f"generation {reg.generation}", file=out)
    return Exit.OK


def run_show(args, env) -> int:
    reg = _open(args, env)
    secret = reg.secrets.get(args.secret_id)
    if secret is None:
        raise UsageError(f"no secret with id {args.secret_id!r} (see `dlp list`)")
    if args.format == "json":
        json.dump(secret.to_dict(), env.stdout, indent=2)
        print(file=env.stdout)
        return Exit.OK
    out = env.stdout
    print(f"id:             {secret.id}", file=out)
    print(f"kind:           {secret.kind}", file=out)
    print(f"label:          {secret.label}", file=out)
    print(f"classification: {secret.classification}", file=out)
    if secret.owner:
        print(f"owner:          {secret.owner}", file=out)
    if secret.tags:
        print(f"tags:           {', '.join(secret.tags)}", file=out)
    for key, value in secret.settings.items():
        print(f"{key + ':':16}{', '.join(value) if isinstance(value, list) else value}", file=out)
    for v in secret.versions:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(v.registered))
        extra = ", ".join(f"{k} {val}" for k, val in v.extra.items())
        print(f"version {v.version}: {when} UTC from {v.source or '-'}, {v.tokens} words, {extra}", file=out)
    return Exit.OK


def run_remove(args, env) -> int:
    audit = env.audit(args)  # a trail that cannot be written stops us before any change
    with registry_change(audit, env.settings(args).registry, env.settings(args).key,
                         "remove", secret=args.secret_id) as (reg, change):
        secret = reg.remove(args.secret_id)
        change.note(generation=reg.commit(), versions=len(secret.versions))
    print(f"removed {secret.id} ({len(secret.versions)} versions)", file=env.stdout)
    return Exit.OK


def run_compact(args, env) -> int:
    audit = env.audit(args)  # a trail that cannot be written stops us before any change
    with registry_change(audit, env.settings(args).registry, env.settings(args).key,
                         "compact") as (reg, change):
        before = reg.statistics()
        generation = reg.compact()
        after = reg.statistics()
        change.note(generation=generation, segments_before=before["segments"], segments_after=after["segments"],
                    dead_before=before["dead_owners"])
    print(f"compacted: {plural(before['segments'], 'segment')} -> {after['segments']}, "
          f"{plural(before['dead_owners'], 'removed or replaced version')} dropped; generation {generation}",
          file=env.stdout)
    return Exit.OK
