"""A tamper-evident, append-only audit trail in the state directory.

Every administrative act and every decision becomes one JSON line in
``audit.jsonl``. Each entry carries a sequence number, the hash of the entry
before it (``prev``) and its own ``hash``: an HMAC-SHA256, under a key kept in
``audit.key``, of the entry's canonical JSON. Editing any field, deleting or
reordering lines, or re-hashing an edited line without the key is therefore
detected by :meth:`AuditLog.verify`. ``audit.head`` remembers the last entry's
sequence number and hash, so deleting lines at the *end* is detected too.

What this does not protect against: someone who can read the key can forge a
whole new chain, and someone who can write the state directory can cut the log
and rewrite the head to match. Ship the head (or the log) elsewhere for that.

The module is generic and logs exactly what it is given, so **callers pass ids,
digests, counts and labels only, never the text of a secret or of a scanned
item**: the audit trail is read by more people than the registry is.

Appending is safe across threads and processes (the watch daemon, the milter and
CLI commands share one state directory): an exclusive ``flock`` on ``audit.lock``
covers reading the last entry, writing the new one and updating the head.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from .errors import KeyMissing, StoreCorrupt

LOG_FILE = "audit.jsonl"
KEY_FILE = "audit.key"
HEAD_FILE = "audit.head"
LOCK_FILE = "audit.lock"
KEY_BYTES = 32
GENESIS = "0" * 64  # the `prev` of the first entry
RESERVED = frozenset({"seq", "time", "event", "prev", "hash"})
_TAIL_BLOCK = 4096


@dataclass(frozen=True)
class Verification:
    """The outcome of :meth:`AuditLog.verify`.

    ``entries`` counts the entries that checked out (all of them when ``ok``);
    ``broken_at`` is the 1-based line number of the first bad line (one past the
    last line when entries are missing at the end), or None when the problem is
    not a line (no key) or there is none.
    """

    ok: bool
    entries: int
    broken_at: int | None
    reason: str


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str


class AuditLog:
    """The audit trail of one state directory; see the module docstring."""

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = Path(state_dir)
        self.clock = clock
        self.log_path = self.state_dir / LOG_FILE
        self.key_path = self.state_dir / KEY_FILE
        self.head_path = self.state_dir / HEAD_FILE
        self.lock_path = self.state_dir / LOCK_FILE
        self._thread_lock = threading.Lock()
        self._key: bytes | None = None
        # only a directory we create gets 0700: an existing one is the operator's choice
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)

    # -- writing ------------------------------------------------------------------------------

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one entry and return it as stored (with seq, time, prev and hash).

        Field values must be JSON-serialisable; they are stored as JSON gives them
        back (tuples become lists), and that stored form is what the hash covers.
        """
        if not isinstance(event, str) or not event:
            raise ValueError("an audit event must be a non-empty string")
        clash = sorted(RESERVED & fields.keys())
        if clash:
            raise ValueError(f"audit fields may not be named {', '.join(clash)}: the log sets them itself")
        try:
            fields = json.loads(json.dumps(fields, allow_nan=False, ensure_ascii=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"audit fields of {event!r} must be JSON-serialisable: {exc}") from None

        with self._thread_lock, self._flock(exclusive=True):
            fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                size = os.fstat(fd).st_size
                last = self._last_entry(fd, size)
                key = self._load_key(create=last is None)
                seq, prev = self._chain_from(last)
                entry: dict[str, Any] = {"seq": seq, "time": _iso(self.clock()), "event": event, **fields,
                                         "prev": prev}
                entry["hash"] = _digest(key, entry)
                line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                try:
                    _write_all(fd, line)
                    os.fsync(fd)
                except BaseException:
                    os.ftruncate(fd, size)  # never leave half a line behind for the next appender
                    raise
            finally:
                os.close(fd)
            self._write_head(_Head(seq, entry["hash"]))
        return entry

    def _chain_from(self, last: dict[str, Any] | None) -> tuple[int, str]:
        """The seq and prev of the next entry.

        Normally the last line. If the head is ahead of the log, lines were cut from
        the end: chain from the head, so the gap stays visible to `verify` instead of
        being papered over by the next entry.
        """
        seq, prev = (last["seq"], last["hash"]) if last is not None else (0, GENESIS)
        try:
            head = self._read_head()
        except StoreCorrupt:
            head = None
        if head is not None and head.seq > seq:
            return head.seq + 1, head.hash
        return seq + 1, prev

    def _last_entry(self, fd: int, size: int) -> dict[str, Any] | None:
        """The last entry, read backwards from the end of the file (the log only grows)."""
        raw = _last_line(fd, size)
        if raw is None:
            return None
        entry = _parse(raw)
        if entry is None or not isinstance(entry.get("seq"), int) or not isinstance(entry.get("hash"), str):
            raise StoreCorrupt(f"{self.log_path}: the last line is not an audit entry, so nothing can be chained "
                               "to it; run `dlp audit verify`")
        return entry

    def _write_head(self, head: _Head) -> None:
        tmp = self.head_path.with_name(HEAD_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"seq": head.seq, "hash": head.hash}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.head_path)

    def _load_key(self, *, create: bool) -> bytes:
        """The HMAC key; created only for a log that has no entries yet (under the exclusive lock)."""
        if self._key is not None:
            return self._key
        try:
            key = self.key_path.read_bytes()
        except FileNotFoundError:
            if not create:
                raise KeyMissing(f"audit key {self.key_path} is missing but {self.log_path} holds entries; "
                                 "restore the key from a backup") from None
            key = secrets.token_bytes(KEY_BYTES)
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key)
                out.flush()
                os.fsync(out.fileno())
        if len(key) != KEY_BYTES:
            raise KeyMissing(f"audit key {self.key_path} holds {len(key)} bytes, not {KEY_BYTES}; "
                             "restore the key from a backup")
        self._key = key
        return key

    # -- reading ------------------------------------------------------------------------------

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry in log order. Raises StoreCorrupt at a line that is not an entry."""
        size, _ = self._snapshot()
        if not size:
            return
        with open(self.log_path, "rb") as log:
            for number, raw in enumerate(_lines(log, size), 1):
                entry = _parse(raw)
                if entry is None:
                    raise StoreCorrupt(f"{self.log_path} line {number}: not an audit entry; run `dlp audit verify`")
                yield entry

    def verify(self) -> Verification:
        """Check every line and the head; report the first problem, precisely."""
        size, head_or_error = self._snapshot()
        if isinstance(head_or_error, StoreCorrupt):
            return Verification(False, 0, None, str(head_or_error))
        head = head_or_error
        key: bytes | None = None
        seq, prev = 0, GENESIS
        hash_at_head: str | None = None
        line_of_last = 0
        if size:
            try:
                key = self._load_key(create=False)
            except KeyMissing as exc:
                missing = not self.key_path.exists()
                return Verification(False, 0, None, "audit key missing: cannot verify" if missing else str(exc))
            with open(self.log_path, "rb") as log:
                for number, raw in enumerate(_lines(log, size), 1):
                    problem = _check_line(number, raw, key, seq, prev)
                    if problem:
                        return Verification(False, number - 1, number, problem)
                    entry = json.loads(raw)
                    seq, prev, line_of_last = entry["seq"], entry["hash"], number
                    if head is not None and seq == head.seq:
                        hash_at_head = prev
        return _check_head(head, seq, prev, line_of_last, hash_at_head)

    def _snapshot(self) -> tuple[int, _Head | None | StoreCorrupt]:
        """The log's size and the head, taken together so no append falls between them.

        Readers then need no lock while they stream: the first `size` bytes of an
        append-only file do not change.
        """
        with self._flock(exclusive=False):
            try:
                size = self.log_path.stat().st_size
            except FileNotFoundError:
                size = 0
            try:
                head: _Head | None | StoreCorrupt = self._read_head()
            except StoreCorrupt as exc:
                head = exc
        return size, head

    def _read_head(self) -> _Head | None:
        try:
            text = self.head_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            head = _Head(data["seq"], data["hash"])
        except (ValueError, TypeError, KeyError):
            raise StoreCorrupt(f"audit head {self.head_path} is unreadable: cannot tell whether entries "
                               "are missing at the end") from None
        if not isinstance(head.seq, int) or not isinstance(head.hash, str):
            raise StoreCorrupt(f"audit head {self.head_path} is unreadable: cannot tell whether entries "
                               "are missing at the end")
        return head

    @contextmanager
    def _flock(self, *, exclusive: bool) -> Iterator[None]:
        """flock on audit.lock. Readers open it read-only and skip it if no writer ever made it."""
        if exclusive:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        else:
            try:
                fd = os.open(self.lock_path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                yield
                return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock


# -- helpers -----------------------------------------------------------------------------------


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _canonical(entry: dict[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(key: bytes, entry: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _last_line(fd: int, size: int) -> bytes | None:
    """The last line without its newline, reading blocks backwards; None for an empty file."""
    if size == 0:
        return None
    if os.pread(fd, 1, size - 1) != b"\n":
        raise StoreCorrupt("the audit log's last line is incomplete (a write was cut short); "
                           "run `dlp audit verify`")
    blocks: list[bytes] = []
    end = size - 1
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        block = os.pread(fd, end - start, start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            blocks.append(block[cut + 1:])
            break
        blocks.append(block)
        end = start
    return b"".join(reversed(blocks))


def _lines(log: BinaryIO, size: int) -> Iterator[bytes]:
    """The lines among the first `size` bytes, without their newlines."""
    remaining = size
    while remaining > 0:
        raw = log.readline(remaining)
        if not raw:
            return
        remaining -= len(raw)
        yield raw[:-1] if raw.endswith(b"\n") else raw


def _check_line(number: int, raw: bytes, key: bytes, seq: int, prev: str) -> str:
    """Why this line breaks the chain after (seq, prev), or "" when it does not."""
    entry = _parse(raw)
    if entry is None:
        return f"line {number}: not a JSON object (the line was edited or a write was cut short)"
    claimed = entry.get("hash")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, _digest(key, entry)):
        return f"line {number}: entry was altered (hash does not match)"
    this = entry.get("seq")
    if not isinstance(this, int) or isinstance(this, bool):
        return f"line {number}: seq is missing or not a number"
    if this != seq + 1:
        if seq == 0:
            return f"line {number}: the log starts at seq {this} instead of 1 (entries deleted at the start)"
        return f"line {number}: seq {this} follows seq {seq} (entries deleted or reordered)"
    if entry.get("prev") != prev:
        if number == 1:
            return f"line {number}: prev is not the start marker (entries deleted at the start)"
        return f"line {number}: prev does not match the hash of line {number - 1} (entries deleted or reordered)"
    return ""


def _check_head(head: _Head | None, seq: int, last_hash: str, line_of_last: int,
                hash_at_head: str | None) -> Verification:
    """Compare the end of the chain with the head: catches lines cut from the end."""
    entries = line_of_last
    if head is None:
        if seq:
            return Verification(False, entries, line_of_last + 1,
                                "audit head missing: cannot tell whether entries were deleted at the end")
        return Verification(True, 0, None, "")
    if head.seq > seq:
        missing = head.seq - seq
        noun = "entry" if missing == 1 else "entries"
        return Verification(False, entries, line_of_last + 1,
                            f"{missing} {noun} missing at the end: the log ends at seq {seq} "
                            f"but the head says {head.seq}")
    if head.seq == seq and head.hash != last_hash:
        return Verification(False, entries - 1, line_of_last,
                            f"line {line_of_last}: the last entry (seq {seq}) is not the one the head recorded "
                            "(entries replaced at the end)")
    if head.seq < seq and head.seq > 0 and head.hash != hash_at_head:
        return Verification(False, entries, None,
                            f"the head records seq {head.seq} with another hash than the log holds "
                            "(entries replaced)")
    return Verification(True, entries, None, "")
