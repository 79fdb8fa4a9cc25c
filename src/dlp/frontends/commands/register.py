"""`dlp register`: documents (or public content) into the registry; `--sync` mirrors a folder.

One audited change for the whole command (see `dlp.changes`): the intent names every
id before the registry changes, the completion every version after. Files are read in
the worker processes that fingerprint them (`Registry.add_files`), inside the change: a
file that cannot be read, or an empty one, fails it (a ``failed`` entry) once all were
read, every such file named, nothing registered (a sync too: nothing changed). `--public`
content is read first.
A sync (`dlp.sync`) is planned first, so `--dry-run` can list it and an unchanged
folder costs a directory walk and no change at all.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from ..output import plural
from ... import parallel, sync
from ...changes import registry_change
from ...errors import FilesRefused, UsageError
from ...extract.documents import read_document, read_documents
from ...memory import collector_paused, keep_freed_memory
from ...registry import Registry, slug, warm_up
from .files import expand
from ..status import Exit

read_text = read_document  # the name `dlp train` and older scripts import

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
    p.add_argument("--sync", action="store_true",
                   help="mirror one folder: register new files, new versions of changed ones, remove secrets "
                        "whose files are gone (only those an earlier sync of this folder registered)")
    p.add_argument("--dry-run", action="store_true", help="with --sync: list the changes, make none")
    p.set_defaults(handler=run)


def run(args, env) -> int:
    keep_freed_memory()  # batches of documents, read and fingerprinted here and in forked workers
    with collector_paused():
        return _run(args, env)


def _run(args, env) -> int:
    if args.sync:
        return run_sync(args, env)
    if args.dry_run:
        raise UsageError("--dry-run goes with --sync")
    files = expand(args.paths)
    if args.secret_id and len(files) > 1:
        raise UsageError(f"--id names one secret but {len(files)} files were given; register them separately")
    audit = env.audit(args)  # a trail that cannot be written stops us before the work, and before any change
    workers, root = parallel.default_workers(), env.settings(args).registry
    if args.public:
        return _register_public(args, env, audit, files, workers, root)
    planned = [args.secret_id or slug(path.name) for path in files]
    warm_up(root)  # before the workers are forked: they inherit it
    try:
        with registry_change(audit, root, env.settings(args).key, "register", secrets=planned,
                             public=False) as (reg, change):
            # read where they are fingerprinted; a file that cannot be read, or an empty one,
            # fails the change (audited as failed) with nothing registered
            results = reg.add_files(files, planned, read_document, label=args.label,
                                    classification=args.classification, owner=args.owner, tags=args.tag,
                                    workers=workers)
            reg.flush()  # the segment is built while boilerplate is looked for
            common = _warn_boilerplate(env, reg)
            change.note(generation=reg.commit(),  # ids, versions and counts only: never text
                        results=[{"secret": r.secret, "version": r.version, "status": r.status, "words": r.tokens}
                                 for r in results], **common)
    except FilesRefused as refused:
        return _refused(env, refused.files)
    for path, r in zip(files, results):
        _print_result(env, r, path)
    return Exit.OK


def _register_public(args, env, audit, files, workers, root) -> int:
    """`register --public`: known-public content, read first, then registered one file after the other."""
    reads = read_documents(files, workers=workers, meanwhile=lambda: warm_up(root))
    extracted = [(f, *read) for f, read in zip(files, reads)]
    refused = [(f, problems) for f, _, raw, problems in extracted if problems or not raw]
    if refused:
        return _refused(env, refused)
    with registry_change(audit, root, env.settings(args).key, "register", secrets=["public"] * len(files),
                         public=True) as (reg, change):
        results = [reg.add_public(text, raw, path.name) for path, text, raw, _ in extracted]
        common = _warn_boilerplate(env, reg)
        change.note(generation=reg.commit(),
                    results=[{"secret": None, "version": r.version, "status": r.status, "words": r.tokens}
                             for r in results], **common)
    for path, r in zip(files, results):
        _print_result(env, r, path)
    return Exit.OK


def _refused(env, files, *, empty: str = " (no text and no bytes)",
             ending: str = "nothing registered; fix or leave out the files above") -> int:
    """Say which files could not be registered ((path, problems): none for an empty file), the
    unreadable ones first, and that nothing was."""
    for f, problems in files:
        for p in problems:
            print(f"dlp: error: cannot register {p.locator}: {p.kind}: {p.detail}", file=env.stderr)
    for f, problems in files:
        if not problems:  # its digest would match every empty file and empty input
            print(f"dlp: error: cannot register {f}: the file is empty{empty}", file=env.stderr)
    print(f"dlp: error: {ending}", file=env.stderr)
    return Exit.USAGE


def _print_result(env, r, path) -> None:
    what = "public content" if r.status == "public" else f"{r.secret} v{r.version}"
    print(f"{r.status:9} {what:28} {r.tokens:7} words  {path}", file=env.stdout)
    if r.tokens == 0:
        env.warn(f"{path}: no text found; only byte-identical copies will be recognised")
    if r.near_duplicate and r.status == "version":  # a secret's versions stay one family
        env.warn(f"{path}: this version of {r.secret!r} is nearly the same document as {r.near_duplicate!r}, "
                 f"registered under another id: the two count twice when deciding what is boilerplate "
                 f"(register it as a version of {r.near_duplicate!r}, or remove one)")
    elif r.near_duplicate:
        env.warn(f"{path}: nearly the same document as {r.near_duplicate!r}; the two count once when "
                 f"deciding what is boilerplate")


def _warn_boilerplate(env, reg) -> dict:
    """Say which registrations turn a shared passage into boilerplate (no longer evidence for
    any secret that holds it), and keep it for the audit entry."""
    found = reg.new_boilerplate()
    needed = reg.settings.get("boilerplate_docs")
    shown = sorted(found.items())
    if len(shown) > 5:
        env.warn(f"{len(shown)} of the documents registered share passages with {needed} or more registered "
                 f"families (the first 5 follow; the audit entry lists all)")
    for secret, (fingerprints, others) in shown[:5]:
        named = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        env.warn(f"{secret}: {fingerprints} fingerprints it shares with {named} are now held by {needed} or more "
                 f"registered families: that text is boilerplate from now on, not evidence for any of them "
                 f"(register known public text with --public; check whether these documents should all be "
                 f"registered)")
    return {"boilerplate": {s: {"fingerprints": n, "shared_with": list(o)} for s, (n, o) in found.items()}} if found else {}


def run_sync(args, env) -> int:
    if len(args.paths) != 1:
        raise UsageError("--sync mirrors one folder; give exactly one directory")
    if args.public or args.secret_id:
        raise UsageError("--sync registers documents under ids made from their paths: no --public or --id")
    folder = Path(args.paths[0])
    root, key = env.settings(args).registry, env.settings(args).key
    current = Registry(root, key) if (root / "CURRENT").exists() else None  # read only: plan without the lock
    plan = sync.plan(current, folder)
    for path, reason in plan.unreadable:
        env.warn(f"not registered: {folder / path}: {reason} (left as it is)")
    if args.dry_run or not plan.changes:
        for c in plan.changes:
            print(f"{c.action:9} {c.secret:28} {c.path}", file=env.stdout)
        summary = f"would change {plural(len(plan.changes), 'file')}" if plan.changes else "no change"
        print(f"{summary}; {plan.unchanged} unchanged in {plan.folder}", file=env.stdout)
        return Exit.OK
    audit = env.audit(args)
    workers = parallel.default_workers()
    warm_up(root)  # before the workers are forked: they inherit it
    try:
        with registry_change(audit, root, key, "register", sync=plan.folder,
                             **{action: [c.secret for c in plan.changes if c.action == action]
                                for action in ("new", "version", "touch", "remove")}) as (reg, change):
            again = sync.plan(reg, folder)
            if [(c.action, c.secret, c.path) for c in again.changes] != [(c.action, c.secret, c.path) for c in plan.changes]:
                raise UsageError("the registry or the folder changed while the sync was planned; run it again")
            results = []
            for adding, group in itertools.groupby(plan.changes, key=lambda c: c.action in ("new", "version")):
                group = list(group)
                if adding:  # a run of files to register: read and fingerprinted together (`Registry.add_files`)
                    added = reg.add_files([Path(plan.folder) / c.path for c in group], [c.secret for c in group],
                                          read_document, label=args.label, classification=args.classification,
                                          owner=args.owner, tags=args.tag, workers=workers)
                    for c, r in zip(group, added):
                        results.append({"action": c.action, "secret": r.secret, "version": r.version, "words": r.tokens})
                        _print_result(env, r, Path(plan.folder) / c.path)
                        reg.secrets[c.secret].origin = sync.origin(plan, c)
                    continue
                for c in group:
                    if c.action == "remove":
                        reg.remove(c.secret)
                        results.append({"action": "remove", "secret": c.secret})
                        continue
                    reg.secrets[c.secret].origin = sync.origin(plan, c)
            reg.flush()  # the segment is built while boilerplate is looked for
            common = _warn_boilerplate(env, reg)
            change.note(generation=reg.commit(), results=results, **common)
    except FilesRefused as refused:
        return _refused(env, refused.files, empty="", ending="nothing changed; fix or remove the files above")
    for c in plan.changes:
        if c.action in ("touch", "remove"):
            print(f"{'removed' if c.action == 'remove' else 'unchanged':9} {c.secret:28} {c.path}", file=env.stdout)
    print(f"synced {plan.folder}: {plan.count('new')} new, {plan.count('version')} changed, "
          f"{plan.count('remove')} removed, {plan.unchanged + plan.count('touch')} unchanged", file=env.stdout)
    return Exit.OK


