"""The work folder of one outbox: the journal that makes `dlp watch` crash-safe.

Every file goes through these steps; each is durable (fsynced) before the next starts::

  1 intent   write .dlp-work/<id>.json  {"state": "claiming", "rel": "sub/plan.pdf", ...}
  2 claim    rename  outbox/sub/plan.pdf -> .dlp-work/<id>        (same filesystem: atomic)
             (a writer that opened the file meanwhile: rename it back, drop the entry; it waits)
  3 scan     first replace .dlp-work/<id> by the daemon's own copy (`snapshot`: written as
             .dlp-work/.<id>.copy.tmp, renamed over <id>), then scan that copy, which no user
             process can reach; a process still holding the user's inode writes to a file
             that is no longer in any folder
  4 decide   replace <id>.json with {"state": "placing", "target", "final", "report", ...}
  5 place    rename  .dlp-work/<id> -> final  without replacing (renameat2 RENAME_NOREPLACE,
             or link + unlink where the filesystem lacks it); a taken name gets the next
             suffix, recorded in <id>.json (step 4) before the attempt
  6 sidecar  quarantine only: <final>.dlp.json written under a temporary name and renamed
  7 done     decision hook and log line, then <id>.json is removed

A file is therefore always in exactly one of: the outbox, the work folder, the release
folder, the quarantine folder; and it only reaches the release folder through step 5,
after a scan of those very bytes (the copy of step 3). Names are kept in entries as
`escape_path` text ("rel", "final", "outbox"), so any file name is a valid JSON string;
the file system is addressed through `unescape_path`. Recovery (at start, and for stuck
entries at every rescan) reads each entry and the presence of its work file:

  claiming, work file present  -> claimed: copy and scan it (from step 3; the user's file
                                  or a complete copy, never half a copy: the temporary
                                  copy is a leftover, removed at start)
  claiming, work file absent   -> the rename never happened, or was given back: forget the
                                  entry; the file is in the outbox (or its owner removed it)
  placing,  work file present  -> place again with the recorded decision (from step 5);
                                  if `final` is already a hard link to it, just unlink
  placing,  work file absent   -> placed at `final`: steps 6 and 7 again (so the hook runs
                                  at least once per file, possibly twice after a crash)
  work file without an entry   -> impossible in this order; quarantined as an orphan
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

from ...errors import ConfigError
from ...types import escape_path, unescape_path
from .names import with_suffix

JOURNAL_SCHEMA = "dlp.watch-journal/1"
SIDECAR_SCHEMA = "dlp.quarantine/1"
SIDECAR_SUFFIX = ".dlp.json"
MAX_SUFFIX = 10_000


class WorkFolder:
    """Journal entries (``<id>.json``) and claimed files (``<id>``) of one outbox."""

    def __init__(self, outbox: Path, work: Path, *, durable: bool = True) -> None:
        self.outbox = Path(outbox)
        self.root = Path(work)
        self.durable = durable
        self._lock_fd: int | None = None

    # -- the folder and its lock ---------------------------------------------------

    def open(self) -> None:
        """Create the folder and take its lock: one daemon per outbox."""
        self.root.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(f"outbox {self.outbox} is already watched by another dlp process "
                              f"(it holds {self.root / '.lock'})") from None
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- entries -----------------------------------------------------------------------

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def file(self, entry_id: str) -> Path:
        return self.root / entry_id

    def write(self, entry: dict[str, Any]) -> None:
        """Replace the entry's state atomically and durably."""
        path = self.root / f"{entry['id']}.json"
        _write_atomic(path, json.dumps({"schema": JOURNAL_SCHEMA, **entry}, sort_keys=True).encode(), 0o600,
                      self.durable)
        if self.durable:
            _fsync_dir(self.root)

    def read(self, entry_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.root / f"{entry_id}.json").read_bytes())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return {"id": entry_id, "state": "unreadable"}
        return data if isinstance(data, dict) else {"id": entry_id, "state": "unreadable"}

    def drop(self, entry_id: str) -> None:
        """Forget an entry. Not fsynced: an entry that comes back after a crash replays idempotently."""
        try:
            os.unlink(self.root / f"{entry_id}.json")
        except FileNotFoundError:
            pass

    def entry_ids(self) -> list[str]:
        return sorted(p.name[:-5] for p in self.root.glob("*.json") if not p.name.startswith("."))

    def orphans(self) -> list[str]:
        """Work files without an entry (never produced by the protocol; found only after tampering)."""
        ids = set(self.entry_ids())
        return sorted(p.name for p in self.root.iterdir()
                      if not p.name.startswith(".") and "." not in p.name and p.name not in ids)

    def leftovers(self) -> Iterator[Path]:
        """Temporary files of interrupted atomic writes."""
        yield from self.root.glob(".*.tmp")

    # -- the steps -----------------------------------------------------------------------

    def claim(self, entry: dict[str, Any]) -> bool:
        """Steps 1 and 2: write the intent, then move outbox/<rel> into the work folder.

        The path is walked from the outbox one folder at a time without following symbolic
        links, so a folder swapped for a link to elsewhere (between the look and the claim)
        cannot make the daemon take a file from outside the outbox. False when the file is
        gone by now, or its folder is no longer a folder (the entry is dropped again)."""
        self.write(entry)
        rel = unescape_path(entry["rel"])
        try:
            folder = open_folder(self.outbox, os.path.dirname(rel))
        except OSError:
            self.drop(entry["id"])
            return False
        try:
            work = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.rename(os.path.basename(rel), entry["id"], src_dir_fd=folder, dst_dir_fd=work)
                if self.durable:
                    os.fsync(work)
                    os.fsync(folder)
            finally:
                os.close(work)
        except FileNotFoundError:
            self.drop(entry["id"])
            return False
        except OSError:
            self.drop(entry["id"])
            raise
        finally:
            os.close(folder)
        return True

    def give_back(self, entry: dict[str, Any]) -> bool:
        """Undo a claim (a writer opened the file between the look and the claim): move the work
        file back to its outbox name and drop the entry. False when the name was taken meanwhile
        (or its folder is gone); the claim then stands."""
        rel = unescape_path(entry["rel"])
        try:
            folder = open_folder(self.outbox, os.path.dirname(rel))
        except OSError:
            return False
        try:
            rename_noreplace(self.file(entry["id"]), os.path.basename(rel), dst_dir_fd=folder)
            if self.durable:
                os.fsync(folder)
        except (FileExistsError, FileNotFoundError):
            return False
        finally:
            os.close(folder)
        self.drop(entry["id"])
        return True

    def place(self, entry: dict[str, Any], root: Path, *, sidecar: bool) -> Path:
        """Steps 4 and 5: record the decision and the final name, then move the work file there.

        `entry` carries "rel" and the decision; its "final" is set to the path chosen.
        With `sidecar`, a name is only free when its sidecar name is free too."""
        work = self.file(entry["id"])
        start = int(entry.get("suffix", 0))
        rel = unescape_path(entry["rel"])
        for n in range(start, start + MAX_SUFFIX):
            final = root / with_suffix(rel, n)
            if os.path.lexists(final) or (sidecar and os.path.lexists(_sidecar_path(final))):
                continue
            entry.update(state="placing", final=escape_path(final), suffix=n)
            self.write(entry)
            final.parent.mkdir(mode=0o700 if sidecar else 0o777, parents=True, exist_ok=True)
            try:
                rename_noreplace(work, final)
            except FileExistsError:
                continue  # someone took the name between our look and the rename
            if self.durable:
                _fsync_dir(final.parent)
                _fsync_dir(self.root)
            return final
        raise OSError(errno.EEXIST, f"no free name for {entry['rel']} after {MAX_SUFFIX} suffixes", os.fspath(root))

    def finish_interrupted_place(self, entry: dict[str, Any]) -> bool:
        """Recovery of a "placing" entry whose work file still exists: True when `final` is already
        the same file (a link made before the crash), in which case the work name is removed."""
        final = entry.get("final")
        if not final:
            return False
        try:
            a, b = os.lstat(self.file(entry["id"])), os.lstat(unescape_path(final))
        except FileNotFoundError:
            return False
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino):
            return False
        os.unlink(self.file(entry["id"]))
        if self.durable:
            _fsync_dir(self.root)
        return True


def write_sidecar(final: str | os.PathLike, content: dict[str, Any], *, durable: bool = True) -> Path:
    """Step 6: ``<final>.dlp.json``, mode 0600, replaced atomically."""
    path = _sidecar_path(Path(final))
    _write_atomic(path, json.dumps({"schema": SIDECAR_SCHEMA, **content}, indent=1, sort_keys=True).encode(),
                  0o600, durable)
    if durable:
        _fsync_dir(path.parent)
    return path


def sidecar_path(final: str | os.PathLike) -> Path:
    return _sidecar_path(Path(final))


def _sidecar_path(final: Path) -> Path:
    return final.with_name(final.name + SIDECAR_SUFFIX)


# -- filesystem primitives -----------------------------------------------------------

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
if _renameat2 is not None:
    _renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    _renameat2.restype = ctypes.c_int


def rename_noreplace(source: str | os.PathLike, target: str | os.PathLike, *, dst_dir_fd: int | None = None) -> None:
    """Rename that fails with FileExistsError instead of replacing `target` (relative to
    `dst_dir_fd` when given).

    renameat2(RENAME_NOREPLACE) where the kernel and filesystem support it; otherwise a
    hard link (which never replaces either) followed by unlinking the source."""
    if _renameat2 is not None:
        target_dir = _AT_FDCWD if dst_dir_fd is None else dst_dir_fd
        if _renameat2(_AT_FDCWD, os.fsencode(source), target_dir, os.fsencode(target), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), os.fspath(source), None, os.fspath(target))
    os.link(source, target, dst_dir_fd=dst_dir_fd, follow_symlinks=False)
    os.unlink(source)


def open_folder(root: Path, relative: str) -> int:
    """A descriptor of root/relative, opened one component at a time without following a
    symbolic link (OSError when a component is a link, a file, or gone)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in Path(relative).parts:
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_atomic(path: Path, data: bytes, mode: int, durable: bool) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
