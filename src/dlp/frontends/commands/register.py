"""`dlp register`: documents (or public content) into the registry.

One audited change for the whole command (see `dlp.changes`): the intent names every
id before the registry changes, the completion every version after; a file that
cannot be read, or an empty one, stops the command before anything is registered.
"""

from __future__ import annotations

from pathlib import Path

from ...changes import registry_change
from ...errors import UsageError
from ...extract import EXTRACTORS, Context, Limits, walk
from ...registry import slug
from ...scanner import key_location, registry_location
from ...types import Item, Part, Problem
from .files import expand

CLASSIFICATIONS = ("public", "internal", "confidential", "secret")


def register(sub) -> None:
    p = sub.add_parser("register", help="register documents as secrets (or --public content)",
                       description="Fingerprint documents as secrets. Registering a changed file again under "
                                   "the same id adds a version; --public registers known-public text that is "
                                   "never evidence.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (recursively)")
    p.add_argument("--public", action="store_true", help="known-public content: shared text is never evidence")
    p.add_argument("--id", dest="secret_id", help="secret id (default: from the file name); one file only")
    p.add_argument("--label", default="", help="human-readable name shown in findings")
    p.add_argument("--classification", choices=CLASSIFICATIONS,
                     help="default confidential; registering again keeps it unless given")
    p.add_argument("--owner", default="", help="who answers for this secret")
    p.add_argument("--tag", action="append", default=[], help="tag for policies and the classifier (repeatable)")
    p.set_defaults(handler=run)


def run(args, env) -> int:
    files = expand(args.paths)
    if args.secret_id and len(files) > 1:
        raise UsageError(f"--id names one secret but {len(files)} files were given; register them separately")
    audit = env.audit(args)  # a trail that cannot be written stops us before the work, and before any change
    extracted = [(f, *read_text(f)) for f in files]
    failed = [(f, problems) for f, _, raw, problems in extracted if problems]
    empty = [f for f, _, raw, problems in extracted if not raw and not problems]
    if failed or empty:
        for f, problems in failed:
            for p in problems:
                print(f"dlp: error: cannot register {p.locator}: {p.kind}: {p.detail}", file=env.stderr)
        for f in empty:  # its digest would match every empty file and empty input
            print(f"dlp: error: cannot register {f}: the file is empty (no text and no bytes)", file=env.stderr)
        print("dlp: error: nothing registered; fix or leave out the files above", file=env.stderr)
        return 2
    root = registry_location(args.registry, env.environ)
    planned = ["public" if args.public else (args.secret_id or slug(path.name)) for path, *_ in extracted]
    with registry_change(audit, root, key_location(args.key, env.environ), "register", secrets=planned,
                         public=bool(args.public)) as (reg, change):
        results = []
        for (path, text, raw, _), sid in zip(extracted, planned):
            if args.public:
                results.append(reg.add_public(text, raw, path.name))
            else:
                results.append(reg.add_document(text, raw, path.name, secret_id=sid, label=args.label,
                                                classification=args.classification, owner=args.owner, tags=args.tag))
        change.note(generation=reg.commit(),  # ids, versions and counts only: never text
                    results=[{"secret": r.secret if r.status != "public" else None, "version": r.version,
                              "status": r.status, "words": r.tokens} for r in results])
    for path, r in zip(files, results):
        what = "public content" if r.status == "public" else f"{r.secret} v{r.version}"
        print(f"{r.status:9} {what:28} {r.tokens:7} words  {path}", file=env.stdout)
        if r.tokens == 0:
            env.warn(f"{path}: no text found; only byte-identical copies will be recognised")
    return 0


def read_text(path: Path) -> tuple[str, bytes, list[Problem]]:
    """All text of a file (every part joined), its bytes, and what could not be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return "", b"", [Problem(str(path), "unreadable", exc.strerror or str(exc))]
    texts, problems = [], []
    for out in walk(Item(locator=str(path), name=path.name, data=raw), EXTRACTORS, Context(Limits())):
        if isinstance(out, Part):
            texts.append(out.text)
        elif out.kind != "binary":
            problems.append(out)
    return "\n\n".join(texts), raw, problems
