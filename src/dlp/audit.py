"""The audit trail: an append-only log of every decision and every administrative act.

Each entry is one JSON line carrying the hash of the entry before it; the hash is an
HMAC-SHA256 under a key of the state directory (``audit.key``, mode 0600), so a
copy of the log without the key cannot be edited and re-chained unnoticed. A head
file records the last entry, so cutting entries off the end is caught too.
`verify` names the first broken line after any edit, deletion or reordering.

Callers pass ids, digests, counts and names only: the log is evidence of what was
decided, never a copy of a secret.
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
from typing import Any, Callable, Iterator

LOG_FILE = "audit.jsonl"
KEY_FILE = "audit.key"
HEAD_FILE = "audit.head"
LOCK_FILE = "audit.lock"
GENESIS = "0" * 64
RESERVED = frozenset({"seq", "time", "event", "prev", "hash"})


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    broken_at: int | None = None  # 1-based line number of the first bad line
    reason: str = ""


class AuditLog:
    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.dir = Path(state_dir)
        self.clock = clock
        self.path = self.dir / LOG_FILE
        self._lock = threading.Lock()
        if not self.dir.exists():
            os.makedirs(self.dir, mode=0o700, exist_ok=True)

    # -- writing ---------------------------------------------------------------------------

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        clash = RESERVED & fields.keys()
        if clash:
            raise ValueError(f"audit fields may not be named {sorted(clash)}")
        with self._exclusive():
            key = self._key(create=True)
            last = self._last_entry()
            entry = {"seq": (last["seq"] + 1) if last else 1,
                     "time": _iso(self.clock()), "event": event, **fields,
                     "prev": last["hash"] if last else GENESIS}
            entry["hash"] = _mac(key, entry)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            _write_atomic(self.dir / HEAD_FILE, json.dumps({"seq": entry["seq"], "hash": entry["hash"]}).encode())
        return entry

    # -- reading -----------------------------------------------------------------------------

    def entries(self) -> Iterator[dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)
        except FileNotFoundError:
            return

    def verify(self) -> Verification:
        head = self._head()
        if not self.path.exists():
            if head:
                return Verification(False, 0, 1, f"the log is missing but the head says {head['seq']} entries")
            return Verification(True, 0)
        key = self._key(create=False)
        if key is None:
            return Verification(False, 0, None, "audit key missing: cannot verify")
        previous: dict[str, Any] | None = None
        count = 0
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    entry = json.loads(line)
                    if not isinstance(entry, dict):
                        raise ValueError
                except ValueError:
                    return Verification(False, count, number, f"line {number}: not a JSON entry")
                want_seq = previous["seq"] + 1 if previous else 1
                if entry.get("seq") != want_seq:
                    return Verification(False, count, number, f"line {number}: seq {entry.get('seq')} follows "
                                        f"seq {want_seq - 1} (entries deleted or reordered)")
                want_prev = previous["hash"] if previous else GENESIS
                if entry.get("prev") != want_prev:
                    return Verification(False, count, number, f"line {number}: prev does not match the hash of "
                                        f"line {number - 1} (entries deleted or reordered)")
                body = {k: v for k, v in entry.items() if k != "hash"}
                if not hmac.compare_digest(str(entry.get("hash", "")), _mac(key, body)):
                    return Verification(False, count, number, f"line {number}: entry was altered "
                                        "(hash does not match)")
                previous = entry
                count += 1
        if head:
            last_seq = previous["seq"] if previous else 0
            if head["seq"] > last_seq:
                return Verification(False, count, count + 1, f"{head['seq'] - last_seq} entries missing at the end: "
                                    f"the log ends at seq {last_seq} but the head says {head['seq']}")
            if head["seq"] == last_seq and previous and head["hash"] != previous["hash"]:
                return Verification(False, count, count, f"line {count}: the last entry is not the one the head names")
        return Verification(True, count)

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time across threads (lock) and processes (flock)."""
        with self._lock:
            fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _key(self, *, create: bool) -> bytes | None:
        path = self.dir / KEY_FILE
        try:
            return path.read_bytes()
        except FileNotFoundError:
            if not create:
                return None
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        return key

    def _head(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / HEAD_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _last_entry(self) -> dict[str, Any] | None:
        """The last line, read backwards from the end: appending stays cheap however long the log."""
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return None
        with handle:
            end = handle.seek(0, os.SEEK_END)
            block, tail = 4096, b""
            position = end
            while position > 0:
                step = min(block, position)
                position -= step
                handle.seek(position)
                tail = handle.read(step) + tail
                if tail.count(b"\n") >= 2 or position == 0:
                    break
            lines = [line for line in tail.split(b"\n") if line.strip()]
            return json.loads(lines[-1]) if lines else None


def _mac(key: bytes, entry: dict[str, Any]) -> str:
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
