"""Settle detection: a file is complete once its size and mtime stop changing.

Change events and rescans only `touch` a path; `due` looks at every pending path
(one lstat each) and hands out those whose size, mtime and inode have stayed the
same for the settle interval. A file renamed in from a temporary name is complete
as soon as it has been looked at once, unless it changes afterwards. A path touched
with `not_before` (a file a writer still holds open) is not looked at before then.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Container


@dataclass
class _Pending:
    first_seen: float
    changed: float  # when the signature last changed
    signature: tuple[int, int, int] | None = None
    renamed: bool = False
    not_before: float = 0.0


@dataclass(frozen=True)
class Settled:
    path: str
    stat: os.stat_result
    first_seen: float  # clock value of the first event or rescan that saw the path


class SettleTracker:
    """Pending paths of the outboxes. Used from one thread (the daemon's main loop)."""

    def __init__(self, settle: float, *, clock: Callable[[], float] = time.monotonic,
                 lstat: Callable[[str], os.stat_result] = os.lstat) -> None:
        self.settle = settle
        self.clock = clock
        self.lstat = lstat
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: str) -> bool:
        return path in self._pending

    def touch(self, path: str, *, renamed: bool = False, not_before: float = 0.0) -> None:
        """Something happened to `path` (created, written, closed, renamed in, seen by a rescan).
        With `not_before` (a clock value), the path is not handed out before then."""
        entry = self._pending.get(path)
        now = self.clock()
        if entry is None:
            self._pending[path] = _Pending(now, now, renamed=renamed, not_before=not_before)
            return
        if renamed:
            entry.renamed = True
        entry.not_before = max(entry.not_before, not_before)

    def forget(self, path: str) -> None:
        self._pending.pop(path, None)

    def due(self, busy: Container[str] = ()) -> list[Settled]:
        """Paths complete by now, removed from the pending set. Paths in `busy` (queued or being
        processed) wait; vanished paths are dropped."""
        now = self.clock()
        out: list[Settled] = []
        for path, entry in list(self._pending.items()):
            if path in busy or now < entry.not_before:
                continue
            try:
                st = self.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                del self._pending[path]
                continue
            except OSError:
                continue  # looked at again next time; the rescan re-adds it if it is dropped
            signature = (st.st_size, st.st_mtime_ns, st.st_ino)
            if signature != entry.signature:
                first_look = entry.signature is None
                entry.signature, entry.changed = signature, now
                if not (first_look and entry.renamed):
                    entry.renamed = False
                    continue
            if entry.renamed or now - entry.changed >= self.settle:
                del self._pending[path]
                out.append(Settled(path, st, entry.first_seen))
        return out
