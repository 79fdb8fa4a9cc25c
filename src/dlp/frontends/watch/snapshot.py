"""What is released is what was scanned: writer detection and the daemon's own copy.

A user's file can change after the daemon looked at it: a writer may rename `r.part`
to `r.txt` and keep writing through the same handle, pause longer than the settle
time, keep a writable memory map, or hold a second hard link outside the outbox.
Renaming the file into the work folder stops none of these, since they all reach the
inode, not the name. Two defences, one for correctness and one for safety:

- `open_for_writing` asks the kernel whether any process holds the file open for
  writing: a read lease (``F_SETLEASE``, ``F_RDLCK``) is refused with EAGAIN exactly
  then (writable memory maps included). The daemon lets such a file wait. Leases need
  the daemon to own the file or hold CAP_LEASE, and a local filesystem; elsewhere the
  answer is "unknown" and only the copy protects.
- `snapshot` replaces the claimed file in the work folder with the daemon's own copy
  (a reflink where the filesystem has them): a new inode, mode 0600 in a 0700 folder,
  that no user process holds. The scan reads the copy and the copy is what moves to
  the release folder; the user's inode, whatever is written to it later, never does.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
from pathlib import Path

_F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
_F_SETSIG = getattr(fcntl, "F_SETSIG", 10)
_FICLONE = 0x40049409  # ioctl: share the source's extents (btrfs, XFS); copy-on-write from then on
COPY_ATTEMPTS = 3


def open_for_writing(path: str | os.PathLike) -> bool | None:
    """True when some process has the regular file at `path` open for writing, False when none
    has, None when the kernel cannot tell us (no lease rights, a network filesystem, not a
    regular file). Never follows a symbolic link and never blocks on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        # A writer opening the file while we hold the lease would make the kernel signal us:
        # SIGURG (ignored by default) instead of SIGIO, which would end the process.
        fcntl.fcntl(fd, _F_SETSIG, signal.SIGURG)
        try:
            fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return True
            return None  # EACCES (not the owner, no CAP_LEASE), EINVAL (NFS, SMB, FUSE)...
        fcntl.fcntl(fd, _F_SETLEASE, fcntl.F_UNLCK)
        return False
    except OSError:
        return None
    finally:
        os.close(fd)


class Changing(Exception):
    """The source changed during every copy attempt."""


def snapshot(path: Path, mode: int, *, durable: bool = True) -> os.stat_result:
    """Replace the regular file at `path` (in the work folder) with a fresh copy of its bytes.

    The copy gets permission bits `mode` (setuid, setgid and sticky are dropped), the source's
    times and, when the daemon runs as root, its owner. The copy is written under a temporary
    name (``.NAME.copy.tmp``: a leftover of a crash is removed at the next start) and renamed
    over `path`, so a crash leaves either the source or the whole copy. Raises `Changing` when
    the source's size or mtime moved during each of COPY_ATTEMPTS copies; the last copy is
    then in place (it is still what gets scanned and placed)."""
    temporary = path.with_name(f".{path.name}.copy.tmp")
    source = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for _ in range(COPY_ATTEMPTS):
            before = os.fstat(source)
            _copy_to(source, temporary, before, mode & 0o777, durable)
            after = os.fstat(source)
            os.replace(temporary, path)
            if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
                break
        else:
            raise Changing(f"the file kept changing while it was copied ({COPY_ATTEMPTS} attempts)")
    finally:
        os.close(source)
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
    # The rename over `path` needs no fsync of its own: the copy's bytes are on disk (fsynced
    # above), and the journal entry written before the copy is placed fsyncs this folder.
    return os.lstat(path)


def _copy_to(source: int, temporary: Path, st: os.stat_result, mode: int, durable: bool) -> None:
    try:
        os.unlink(temporary)
    except FileNotFoundError:
        pass
    target = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.lseek(source, 0, os.SEEK_SET)
        _copy_bytes(source, target)
        if os.geteuid() == 0:
            os.fchown(target, st.st_uid, st.st_gid)
        os.fchmod(target, mode)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
        if durable:
            os.fsync(target)
    finally:
        os.close(target)


def _copy_bytes(source: int, target: int) -> None:
    try:
        fcntl.ioctl(target, _FICLONE, source)
        return
    except OSError:
        pass  # no reflinks here (ext4, tmpfs, ...): copy
    try:
        while os.copy_file_range(source, target, 1 << 30):
            pass
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    os.lseek(source, 0, os.SEEK_SET)
    os.lseek(target, 0, os.SEEK_SET)
    os.ftruncate(target, 0)
    while chunk := os.read(source, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view):]
