"""A tamper-evident, append-only audit trail in the state directory.

Every administrative act and every decision becomes one JSON line in
``audit.jsonl``. Each entry carries a sequence number, the hash of the entry
before it (``prev``) and its own ``hash``: an HMAC-SHA256, under a key kept in
``audit.key``, of the entry's canonical JSON. Editing any field, deleting or
reordering lines, or re-hashing an edited line without the key is therefore
detected by :meth:`AuditLog.verify`. ``audit.head`` remembers the last entry's
sequence number and hash, under an HMAC of its own, so deleting lines at the
*end* is detected too, and a head cannot be written for a shortened log without
the key.

**Evidence first.** A change of state (a registration, a release) is written as an
*intent* before anything changes and a *completion* after (:meth:`AuditLog.change`);
a crash in between leaves an intent without completion, which `verify` reports and
recovery reconciles (`dlp.changes`). Anything that needs the trail calls
:meth:`AuditLog.check` first, so a trail that cannot be written stops a change
before it starts.

**A lost head is an alarm, not a fresh start.** When the head is missing or fails
its HMAC while the log holds entries (or the key exists but the log is gone), the
next append first writes an ``alarm`` entry, and `verify` keeps failing until an
administrator records an ``acknowledge`` entry with a name and a reason. Nothing
silently starts a new head for an existing log: cutting lines off the end and
deleting the head is still seen.

What this does not protect against: someone who can read the key can forge a
whole new chain; someone who saved an old head can cut the log back to it. Ship
the head (or the log) elsewhere for that.

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
import pwd
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Mapping

from .errors import AuditError, AuditFieldError, KeyMissing, StoreCorrupt, UsageError

LOG_FILE = "audit.jsonl"
KEY_FILE = "audit.key"
HEAD_FILE = "audit.head"
LOCK_FILE = "audit.lock"
KEY_BYTES = 32
GENESIS = "0" * 64  # the `prev` of the first entry
# set by the log itself (seq...hash) or by the change protocol (phase, change): never by a caller
RESERVED = frozenset({"seq", "time", "event", "prev", "hash", "phase", "change"})
INTENT, DONE, FAILED, RECOVERED = "intent", "done", "failed", "recovered"
CLOSING = frozenset({DONE, FAILED, RECOVERED})
ALARM, ACKNOWLEDGE = "alarm", "acknowledge"
_HEAD_CONTEXT = b"dlp.audit.head/1\n"  # the head's HMAC never equals an entry's
_TAIL_BLOCK = 4096


@dataclass(frozen=True)
class Acknowledgement:
    seq: int
    line: int
    by: str
    reason: str
    time: str


@dataclass(frozen=True)
class Alarm:
    """Something that makes the trail unprovable from a point on (a lost or forged head).

    ``seq``/``line`` are None for an alarm no entry records yet (a head missing now):
    the next append writes it down.
    """

    kind: str
    detail: str
    seq: int | None = None
    line: int | None = None
    time: str | None = None
    acknowledged: Acknowledgement | None = None


@dataclass(frozen=True)
class OpenChange:
    """An intent without a completion: the change was interrupted (or is still running)."""

    change: str
    event: str
    seq: int
    line: int | None  # None when read at the offset the head keeps (no line count)
    time: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recovery:
    """An interrupted change that recovery has since reconciled (the gap, marked)."""

    change: str
    event: str
    intent_line: int
    line: int
    applied: bool | None
    detail: str


@dataclass(frozen=True)
class Verification:
    """The outcome of :meth:`AuditLog.verify`.

    ``entries`` counts the entries that checked out (all of them when the chain is
    intact); ``broken_at`` is the 1-based line number of the first bad line (one past
    the last line when entries are missing at the end), or None when the chain holds
    or the problem is not a line (no key). ``ok`` also needs every alarm acknowledged.
    Interrupted changes are listed, not judged: only the caller can look at the
    registry or the incidents to say whether one applied or is still running.
    """

    ok: bool
    entries: int
    broken_at: int | None
    reason: str
    alarms: tuple[Alarm, ...] = ()
    interrupted: tuple[OpenChange, ...] = ()
    recovered: tuple[Recovery, ...] = ()

    @property
    def open_alarms(self) -> tuple[Alarm, ...]:
        return tuple(a for a in self.alarms if a.acknowledged is None)


@dataclass(frozen=True)
class _Head:
    seq: int
    hash: str
    open: Mapping[str, Any] | None  # change id -> {"seq", "event"}; None: unknown, rebuilt from the log
    mac: str


@dataclass
class Change:
    """One change in progress (see :meth:`AuditLog.change`); `note` what came of it."""

    id: str
    event: str
    intent: Mapping[str, Any]
    outcome: dict[str, Any] = field(default_factory=dict)

    def note(self, **fields: Any) -> None:
        """Fields for the completion entry (the new generation, ids, counts: never text)."""
        clash = sorted(RESERVED & fields.keys())
        if clash:
            raise AuditFieldError(f"audit fields may not be named {', '.join(clash)}: the log sets them itself")
        self.outcome.update(fields)


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
        Strings may carry lone surrogates (file names that are not UTF-8): they are
        stored as JSON escapes and come back unchanged.
        """
        return self._append(event, _checked(event, fields))

    def check(self) -> None:
        """Raise the error the next append would raise, without writing anything.

        Commands that change state call it before they start, so a missing or
        foreign key or a cut-short log stops them before the first change.
        """
        if not os.access(self.state_dir, os.W_OK | os.X_OK):
            raise AuditError(f"cannot write the audit trail in {self.state_dir}: permission denied")
        with self._thread_lock, self._flock(exclusive=False):
            try:
                fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                last = None
            else:
                try:
                    last = self._last_entry(fd, os.fstat(fd).st_size)
                finally:
                    os.close(fd)
            if last is None:  # nothing to chain to: a key, if there is one, must still be usable
                if os.path.lexists(self.key_path):
                    self._load_key(create=False)
                return
            self._check_last(self._load_key(create=False), last)
        if not os.access(self.log_path, os.W_OK):
            raise AuditError(f"cannot write the audit trail {self.log_path}: permission denied")

    @contextmanager
    def change(self, event: str, **what: Any) -> Iterator[Change]:
        """Evidence first: an intent entry now, the change in the block, a completion after.

        Nothing in the block runs unless the intent was written. The completion is a
        ``done`` entry with the fields given to :meth:`Change.note`, or, if the block
        raised, a ``failed`` entry with the error (note ``applied``/``generation``
        before anything that may fail after the change took effect). A crash leaves
        the intent alone: `verify` reports it and recovery closes it. Use it as::

            with audit.change("release", incident=inc.id, by=name) as change:
                store.resolve(...)
                change.note(status="released")
        """
        fields = _checked(event, what)
        change_id = "CHG-" + time.strftime("%Y%m%d", time.gmtime(self.clock())) + "-" + secrets.token_hex(6)
        intent = self._append(event, {"phase": INTENT, "change": change_id, **_actor(), **fields})
        change = Change(change_id, event, intent)
        try:
            yield change
        except GeneratorExit:  # abandoned without an exit (not a `with`): like a crash, the intent stays open
            raise
        except BaseException as exc:
            try:
                self._append(event, {"phase": FAILED, "change": change_id,
                                     "error": f"{type(exc).__name__}: {exc}"[:500], **change.outcome})
            except Exception:
                pass  # the intent stays open: verify reports it, recovery reconciles it
            raise
        self._append(event, {"phase": DONE, "change": change_id, **change.outcome})

    def recover(self, change: OpenChange, applied: bool | None, detail: str, **fields: Any) -> dict[str, Any]:
        """Close an interrupted change with what recovery found: applied, not applied, or unknown (None)."""
        extra = _checked(change.event, fields)
        return self._append(change.event, {"phase": RECOVERED, "change": change.change, "applied": applied,
                                           "detail": detail, "intent_seq": change.seq, **extra})

    def acknowledge(self, by: str, reason: str) -> tuple[dict[str, Any], tuple[Alarm, ...]]:
        """Record that an administrator has seen the open alarms; returns the entry and those alarms.

        An acknowledgement covers every alarm before it (including one the append
        itself must write for a head that is missing now). It cannot repair a broken
        chain: that stays reported at its line.
        """
        if not by.strip() or not reason.strip():
            raise UsageError("an acknowledgement needs who (--by) and why (--reason)")
        result = self.verify()
        if result.broken_at is not None or (not result.ok and not result.open_alarms):
            raise AuditError(f"the audit trail is broken ({result.reason}); an acknowledgement cannot repair that")
        alarms = result.open_alarms
        if not alarms:
            raise UsageError("nothing to acknowledge: no alarm is open (see `dlp audit verify`)")
        entry = self.append(ACKNOWLEDGE, by=by.strip(), reason=reason.strip(), **_actor(),
                            alarms=[a.seq for a in alarms if a.seq is not None])
        return entry, alarms

    def trail_id(self) -> str | None:
        """A name for this trail that only its key can give (None before the first entry): a registry
        records it, so its changes cannot be audited quietly in another state directory."""
        key = self._key_or_none()
        return hmac.new(key, b"dlp.audit.trail-id/1", hashlib.sha256).hexdigest()[:32] if key else None

    def _append(self, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self._thread_lock, self._flock(exclusive=True):
            fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                size = os.fstat(fd).st_size
                last = self._last_entry(fd, size)
                head, head_problem = self._head_state()
                fresh = last is None and head is None and not head_problem and not os.path.lexists(self.key_path)
                key = self._load_key(create=fresh)
                if fresh:
                    self._write_head(key, 0, GENESIS, {})  # from now on a missing head means a lost one
                    head = self._read_head()
                if last is not None:
                    self._check_last(key, last)
                if head is not None and not _authentic(key, head):
                    head, head_problem = None, "the audit head fails its HMAC (forged, or written by an older dlp)"
                seq, prev = (last["seq"], last["hash"]) if last is not None else (0, GENESIS)
                entries: list[dict[str, Any]] = []
                if head is None:
                    entries.append(self._alarm_entry(last, head_problem))
                    open_changes: dict[str, Any] | None = None
                else:
                    if head.seq > seq:  # lines were cut from the end: chain from the head, keep the gap visible
                        seq, prev = head.seq, head.hash
                    open_changes = dict(head.open) if head.open is not None else None
                entries.append({"event": event, **fields})
                stored = []
                for body in entries:
                    seq += 1
                    entry: dict[str, Any] = {"seq": seq, "time": _iso(self.clock()), **body, "prev": prev}
                    entry["hash"] = prev = _digest(key, entry)
                    stored.append(entry)
                lines = [_line(e) for e in stored]
                if "phase" in fields:
                    if open_changes is None:
                        open_changes = _open_changes(_lines_of(fd, size))
                    _track(open_changes, stored[-1], size + sum(len(x) for x in lines[:-1]))
                data = b"".join(lines)
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                except BaseException:
                    os.ftruncate(fd, size)  # never leave half a line behind for the next appender
                    raise
            finally:
                os.close(fd)
            self._write_head(key, seq, prev, open_changes)
        return stored[-1]

    def _alarm_entry(self, last: dict[str, Any] | None, problem: str) -> dict[str, Any]:
        if last is None:
            kind, detail = "log_lost", ("the audit key exists but the log and its head are gone: "
                                        "every entry before this one may have been deleted")
        elif problem:
            kind, detail = "head_invalid", (f"{problem}; entries cut off the end before seq {last['seq'] + 1} "
                                            "cannot be detected")
        else:
            kind, detail = "head_lost", (f"the audit head was missing when seq {last['seq'] + 1} was written; "
                                         f"entries cut off the end before it cannot be detected")
        return {"event": ALARM, "kind": kind, "detail": detail, "pid": os.getpid()}

    def _check_last(self, key: bytes, last: dict[str, Any]) -> None:
        claimed = last.get("hash")
        if not isinstance(claimed, str) or not hmac.compare_digest(claimed, _digest(key, last)):
            raise AuditError(f"the last entry of {self.log_path} does not verify under {self.key_path} (the key was "
                             "replaced or the entry altered), so nothing can be chained to it; run `dlp audit verify`")

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

    def _head_state(self) -> tuple[_Head | None, str]:
        """The head, or None and why it cannot be used ("" for plainly missing)."""
        try:
            return self._read_head(), ""
        except StoreCorrupt as exc:
            return None, str(exc)

    def _write_head(self, key: bytes, seq: int, last_hash: str, open_changes: Mapping[str, Any] | None) -> None:
        body = {"seq": seq, "hash": last_hash, "open": open_changes}
        body["mac"] = _head_mac(key, body)
        tmp = self.head_path.with_name(HEAD_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.head_path)

    def _load_key(self, *, create: bool) -> bytes:
        """The HMAC key; created only for a trail that has nothing yet (under the exclusive lock)."""
        if self._key is not None:
            return self._key
        try:
            key = self.key_path.read_bytes()
        except FileNotFoundError:
            if not create:
                raise KeyMissing(f"audit key {self.key_path} is missing but the trail in {self.state_dir} exists; "
                                 "restore the key from a backup") from None
            key = secrets.token_bytes(KEY_BYTES)
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise KeyMissing(f"audit key {self.key_path} cannot be read: {exc.strerror or exc}; "
                             "restore the key from a backup") from None
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

    def last_seq(self) -> int:
        """The sequence number of the last entry (0 for an empty trail)."""
        with self._flock(exclusive=False):
            try:
                fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return 0
            try:
                last = self._last_entry(fd, os.fstat(fd).st_size)
            finally:
                os.close(fd)
        return int(last["seq"]) if last is not None else 0

    def find(self, after_seq: int, **match: Any) -> dict[str, Any] | None:
        """The latest entry after `after_seq` whose fields equal `match`, reading backwards from the end.

        For recovery: "was this decision written before the crash?" costs only the
        entries written since the caller noted `last_seq()`.
        """
        size, _ = self._snapshot()
        if not size:
            return None
        fd = os.open(self.log_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            for raw in _lines_backwards(fd, size):
                entry = _parse(raw)
                if entry is None:
                    continue
                seq = entry.get("seq")
                if isinstance(seq, int) and seq <= after_seq:
                    return None
                if all(entry.get(k) == v for k, v in match.items()):
                    return entry
        finally:
            os.close(fd)
        return None

    def open_changes(self) -> list[OpenChange]:
        """Intents without completion: read at the offsets an authentic head lists, else found by
        reading the whole log (after a lost head, or for a head written by an older dlp)."""
        size, head = self._snapshot()
        if size == 0:
            return []
        key = self._key_or_none()
        if isinstance(head, _Head) and head.open is not None and _authentic(key, head):
            found = self._intents_at(head.open, size)
            if found is not None:
                return found
        opened: dict[str, OpenChange] = {}
        with open(self.log_path, "rb") as log:
            for number, raw in enumerate(_lines(log, size), 1):
                if b'"phase"' not in raw:
                    continue
                entry = _parse(raw)
                if entry is None or not isinstance(entry.get("change"), str):
                    continue
                if entry.get("phase") == INTENT:
                    opened[entry["change"]] = _open_change(entry, number)
                elif entry.get("phase") in CLOSING:
                    opened.pop(entry["change"], None)
        return list(opened.values())

    def _intents_at(self, listed: Mapping[str, Any], size: int) -> list[OpenChange] | None:
        """The intent entries at the byte offsets the head lists; None if one is not where it should be."""
        out = []
        with open(self.log_path, "rb") as log:
            for change, where in listed.items():
                offset = where.get("offset") if isinstance(where, dict) else None
                if not isinstance(offset, int) or not 0 <= offset < size:
                    return None
                log.seek(offset)
                entry = _parse(log.readline(size - offset).rstrip(b"\n"))
                if entry is None or entry.get("change") != change or entry.get("phase") != INTENT:
                    return None
                out.append(_open_change(entry, None))
        return sorted(out, key=lambda c: c.seq)

    def verify(self) -> Verification:
        """Check every line and the head; report the first problem precisely, every alarm and open change."""
        size, head_or_error = self._snapshot()
        key_exists = os.path.lexists(self.key_path)
        if not size and head_or_error is None and not key_exists:
            return Verification(True, 0, None, "")
        try:
            key = self._load_key(create=False)
        except KeyMissing as exc:
            return Verification(False, 0, None, "audit key missing: cannot verify" if not key_exists else str(exc))
        seq, prev = 0, GENESIS
        hash_at: dict[int, str] = {}
        line_of_last = 0
        alarms: list[Alarm] = []
        opened: dict[str, OpenChange] = {}
        recovered: list[Recovery] = []
        intent_lines: dict[str, int] = {}
        head = head_or_error if isinstance(head_or_error, _Head) else None
        if size:
            with open(self.log_path, "rb") as log:
                for number, raw in enumerate(_lines(log, size), 1):
                    problem, entry = _check_line(number, raw, key, seq, prev)
                    if problem:
                        return Verification(False, number - 1, number, problem, tuple(alarms),
                                            tuple(opened.values()), tuple(recovered))
                    seq, prev, line_of_last = entry["seq"], entry["hash"], number
                    if head is not None and seq == head.seq:
                        hash_at[seq] = prev
                    _follow(entry, number, alarms, opened, recovered, intent_lines)
        if isinstance(head_or_error, StoreCorrupt):
            alarms.append(Alarm("head_invalid", f"{head_or_error}"))
        elif head is None:
            if seq:
                alarms.append(Alarm("head_lost", "audit head missing: cannot tell whether entries were deleted at "
                                                 "the end"))
            else:
                alarms.append(Alarm("log_lost", "the audit key exists but the log and its head are gone"))
        elif not _authentic(key, head):
            alarms.append(Alarm("head_invalid", "the audit head fails its HMAC (forged, or written by an older "
                                                "dlp): cannot tell whether entries were deleted at the end"))
        else:
            broken = _check_head(head, seq, prev, line_of_last, hash_at.get(head.seq))
            if broken is not None:
                return Verification(False, broken[0], broken[1], broken[2], tuple(alarms), tuple(opened.values()),
                                    tuple(recovered))
        open_alarms = [a for a in alarms if a.acknowledged is None]
        reason = ""
        if open_alarms:
            first = open_alarms[0]
            where = f"alarm at line {first.line}: " if first.line is not None else ""
            reason = f"{where}{first.detail}"
        return Verification(not open_alarms, line_of_last, None, reason, tuple(alarms), tuple(opened.values()),
                            tuple(recovered))

    def _key_or_none(self) -> bytes | None:
        try:
            return self._load_key(create=False)
        except KeyMissing:
            return None

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
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreCorrupt(f"audit head {self.head_path} is unreadable ({exc}): cannot tell whether entries "
                               "are missing at the end") from None
        try:
            data = json.loads(text)
            head = _Head(data["seq"], data["hash"], data.get("open"), data.get("mac", ""))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise StoreCorrupt(f"audit head {self.head_path} is unreadable: cannot tell whether entries "
                               "are missing at the end") from None
        if (not isinstance(head.seq, int) or not isinstance(head.hash, str) or not isinstance(head.mac, str)
                or not (head.open is None or isinstance(head.open, dict))):
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


def _checked(event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Fields as they will be stored (JSON round trip), or AuditFieldError."""
    if not isinstance(event, str) or not event:
        raise AuditFieldError("an audit event must be a non-empty string")
    clash = sorted(RESERVED & fields.keys())
    if clash:
        raise AuditFieldError(f"audit fields may not be named {', '.join(clash)}: the log sets them itself")
    try:
        return json.loads(json.dumps(fields, allow_nan=False, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise AuditFieldError(f"audit fields of {event!r} must be JSON-serialisable: {exc}") from None


def _actor() -> dict[str, Any]:
    """Who runs the process, as the operating system knows it: names given with --by are only claims."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = None
    return {"os_user": user, "uid": os.getuid(), "pid": os.getpid()}


def _follow(entry: dict[str, Any], number: int, alarms: list[Alarm], opened: dict[str, OpenChange],
            recovered: list[Recovery], intent_lines: dict[str, int]) -> None:
    """Track alarms, acknowledgements and changes while `verify` walks the chain."""
    event = entry.get("event")
    if event == ALARM:
        alarms.append(Alarm(str(entry.get("kind", "alarm")), str(entry.get("detail", "")), entry["seq"], number,
                            entry.get("time")))
    elif event == ACKNOWLEDGE:
        ack = Acknowledgement(entry["seq"], number, str(entry.get("by", "")), str(entry.get("reason", "")),
                              str(entry.get("time", "")))
        for i, alarm in enumerate(alarms):
            if alarm.acknowledged is None:
                alarms[i] = Alarm(alarm.kind, alarm.detail, alarm.seq, alarm.line, alarm.time, ack)
    change, phase = entry.get("change"), entry.get("phase")
    if not isinstance(change, str):
        return
    if phase == INTENT:
        opened[change] = _open_change(entry, number)
        intent_lines[change] = number
    elif phase in CLOSING:
        opened.pop(change, None)
        if phase == RECOVERED:
            applied = entry.get("applied")
            recovered.append(Recovery(change, str(event), intent_lines.get(change, 0), number,
                                      applied if isinstance(applied, bool) else None, str(entry.get("detail", ""))))


def _open_change(entry: dict[str, Any], number: int | None) -> OpenChange:
    fields = {k: v for k, v in entry.items() if k not in RESERVED}
    return OpenChange(entry["change"], str(entry.get("event")), int(entry["seq"]), number, str(entry.get("time")),
                      fields)


def _open_changes(lines: Iterator[bytes]) -> dict[str, Any]:
    """The open set of the head, rebuilt from the log (after a lost head)."""
    out: dict[str, Any] = {}
    offset = 0
    for raw in lines:
        if b'"phase"' in raw:
            entry = _parse(raw)
            if entry is not None:
                _track(out, entry, offset)
        offset += len(raw) + 1
    return out


def _track(open_changes: dict[str, Any], entry: Mapping[str, Any], offset: int) -> None:
    """Keep the head's open set: change id -> where its intent line starts."""
    change, phase = entry.get("change"), entry.get("phase")
    if not isinstance(change, str):
        return
    if phase == INTENT:
        open_changes[change] = {"seq": entry.get("seq"), "event": entry.get("event"), "offset": offset}
    elif phase in CLOSING:
        open_changes.pop(change, None)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _canonical(entry: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in entry.items() if k != "hash"}
    # surrogatepass: a lone surrogate (a non-UTF-8 file name) hashes the same before and after storage
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def _line(entry: Mapping[str, Any]) -> bytes:
    """One stored line: readable UTF-8, or JSON escapes where the text is not valid Unicode."""
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        return json.dumps(entry, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"


def _digest(key: bytes, entry: Mapping[str, Any]) -> str:
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


def _head_mac(key: bytes, body: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: v for k, v in body.items() if k != "mac"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, _HEAD_CONTEXT + canonical.encode(), hashlib.sha256).hexdigest()


def _authentic(key: bytes | None, head: _Head) -> bool:
    if key is None or not head.mac:
        return False
    expected = _head_mac(key, {"seq": head.seq, "hash": head.hash, "open": head.open})
    return hmac.compare_digest(head.mac, expected)


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
    return next(_lines_backwards(fd, size), None)


def _lines_backwards(fd: int, size: int) -> Iterator[bytes]:
    """The lines among the first `size` bytes, last first, without their newlines."""
    end = size - 1 if size and os.pread(fd, 1, size - 1) == b"\n" else size
    if end <= 0 and size == 0:
        return
    carry: list[bytes] = []  # the pieces, last first, of a line longer than what has been read of it
    block = _TAIL_BLOCK
    while end > 0:
        start = max(0, end - block)
        parts = os.pread(fd, end - start, start).split(b"\n")
        end = start
        if len(parts) > 1:
            yield b"".join([parts[-1], *reversed(carry)])
            yield from reversed(parts[1:-1])
            carry, block = [], _TAIL_BLOCK
        else:  # a long line (a bulk registration's entry): read it in growing blocks, join it once
            block = min(block * 2, 1 << 24)
        carry.append(parts[0])
    yield b"".join(reversed(carry))


def _lines_of(fd: int, size: int) -> Iterator[bytes]:
    with open(os.dup(fd), "rb", closefd=True) as log:
        log.seek(0)
        yield from _lines(log, size)


def _lines(log: BinaryIO, size: int) -> Iterator[bytes]:
    """The lines among the first `size` bytes, without their newlines."""
    remaining = size
    while remaining > 0:
        raw = log.readline(remaining)
        if not raw:
            return
        remaining -= len(raw)
        yield raw[:-1] if raw.endswith(b"\n") else raw


def _check_line(number: int, raw: bytes, key: bytes, seq: int, prev: str) -> tuple[str, dict[str, Any]]:
    """Why this line breaks the chain after (seq, prev) ("" when it does not), and the entry."""
    entry = _parse(raw)
    if entry is None:
        return f"line {number}: not a JSON object (the line was edited or a write was cut short)", {}
    claimed = entry.get("hash")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, _digest(key, entry)):
        return f"line {number}: entry was altered (hash does not match)", entry
    this = entry.get("seq")
    if not isinstance(this, int) or isinstance(this, bool):
        return f"line {number}: seq is missing or not a number", entry
    if this != seq + 1:
        if seq == 0:
            return f"line {number}: the log starts at seq {this} instead of 1 (entries deleted at the start)", entry
        return f"line {number}: seq {this} follows seq {seq} (entries deleted or reordered)", entry
    if entry.get("prev") != prev:
        if number == 1:
            return f"line {number}: prev is not the start marker (entries deleted at the start)", entry
        return (f"line {number}: prev does not match the hash of line {number - 1} (entries deleted or reordered)",
                entry)
    return "", entry


def _check_head(head: _Head, seq: int, last_hash: str, line_of_last: int,
                hash_at_head: str | None) -> tuple[int, int | None, str] | None:
    """Compare the end of the chain with an authentic head: catches lines cut from the end.
    Returns (entries that checked out, broken_at, reason) or None."""
    entries = line_of_last
    if head.seq > seq:
        missing = head.seq - seq
        noun = "entry" if missing == 1 else "entries"
        return (entries, line_of_last + 1, f"{missing} {noun} missing at the end: the log ends at seq {seq} "
                                           f"but the head says {head.seq}")
    if head.seq == seq and head.hash != last_hash:
        return (entries - 1, line_of_last, f"line {line_of_last}: the last entry (seq {seq}) is not the one the "
                                           "head recorded (entries replaced at the end)")
    if 0 < head.seq < seq and head.hash != hash_at_head:
        return (entries, None, f"the head records seq {head.seq} with another hash than the log holds "
                               "(entries replaced)")
    return None
