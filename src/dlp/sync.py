"""Mirroring a folder of secrets: `dlp register DIR --sync`.

A company keeps its specifications in a folder; the registry should follow it without
hand-written `register` and `remove` calls. Every secret registered by a sync remembers
where it came from (`Secret.origin`: the folder, the path inside it, the file's size and
modification time). A sync then compares the folder with those records:

- a file with no record is registered (`new`), under an id made from its path;
- a file whose size and modification time are unchanged is skipped without being read,
  so a sync of an unchanged folder costs one directory walk;
- a file whose size or time changed is read and its keyed digest compared: the same
  bytes only refresh the record (`touch`), other bytes become a new version (`version`);
- a record whose file is gone from the folder is removed (`remove`), all versions.

Only secrets a sync of *this* folder registered are ever removed by it. The plan is
computed first, so `--dry-run` can list it, and each change is then applied and audited
by the caller.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import UsageError
from .registry import Registry, slug

SKIPPED_DIRS = {".git", ".svn", ".hg", "__pycache__"}


@dataclass(frozen=True)
class Change:
    action: str  # new | version | touch | remove
    secret: str
    path: str  # relative to the folder
    size: int = 0
    mtime_ns: int = 0


@dataclass(frozen=True)
class SyncPlan:
    folder: str
    changes: tuple[Change, ...]
    unchanged: int
    unreadable: tuple[tuple[str, str], ...] = ()  # (path, reason): kept as they are, reported

    def count(self, action: str) -> int:
        return sum(c.action == action for c in self.changes)


def plan(registry: Registry | None, folder: Path) -> SyncPlan:
    """What a sync of `folder` would change in `registry` (None: none exists yet); nothing is changed here."""
    root = Path(folder).resolve()
    if not root.is_dir():
        raise UsageError(f"--sync needs a directory: {folder}")
    secrets = registry.secrets if registry is not None else {}
    mine = {s.origin["path"]: s for s in secrets.values()
            if s.kind == "document" and s.origin.get("folder") == str(root)}
    taken = set(secrets)
    changes: list[Change] = []
    unreadable: list[tuple[str, str]] = []
    unchanged = 0
    seen: set[str] = set()
    for rel, st in _files(root, unreadable):
        seen.add(rel)
        secret = mine.get(rel)
        if secret is None:
            sid = _unique_id(rel, taken)
            taken.add(sid)
            changes.append(Change("new", sid, rel, st.st_size, st.st_mtime_ns))
            continue
        if secret.origin.get("size") == st.st_size and secret.origin.get("mtime_ns") == st.st_mtime_ns:
            unchanged += 1
            continue
        try:
            with open(root / rel, "rb") as handle:
                digest = registry.keyer.digest_file(handle)
        except OSError as exc:
            unreadable.append((rel, exc.strerror or str(exc)))
            continue
        action = "touch" if digest == secret.latest.digest else "version"
        changes.append(Change(action, secret.id, rel, st.st_size, st.st_mtime_ns))
    for rel, secret in sorted(mine.items()):
        if rel not in seen and not any(rel == path for path, _ in unreadable):
            changes.append(Change("remove", secret.id, rel))
    return SyncPlan(str(root), tuple(changes), unchanged, tuple(unreadable))


def origin(plan_: SyncPlan, change: Change) -> dict:
    return {"folder": plan_.folder, "path": change.path, "size": change.size, "mtime_ns": change.mtime_ns}


def _files(root: Path, unreadable: list) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, stat) of every regular file under `root`, in name order.

    A link to a file stands for the file it names (the folder shows it; its owner expects
    it protected). A link to a folder is not followed (it may loop, or reach the whole
    disk) and is reported, as is a broken link: nothing in the folder is skipped silently.
    """
    def failed(exc: OSError) -> None:
        unreadable.append((os.path.relpath(exc.filename, root) if exc.filename else ".", exc.strerror or str(exc)))

    for top, dirs, files in os.walk(root, onerror=failed):
        for d in dirs:
            if os.path.islink(os.path.join(top, d)):
                unreadable.append((os.path.relpath(os.path.join(top, d), root), "a link to a folder: not followed"))
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not os.path.islink(os.path.join(top, d)))
        for name in sorted(files):
            path = os.path.join(top, name)
            try:
                st = os.stat(path)  # through a link: the file it names
            except OSError as exc:
                failed(exc)
                continue
            if stat.S_ISREG(st.st_mode):
                yield os.path.relpath(path, root), st
            elif os.path.islink(path):
                unreadable.append((os.path.relpath(path, root), "a link to something that is not a file"))


def _unique_id(rel: str, taken: set[str]) -> str:
    base = slug(rel.replace(os.sep, "-"))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
