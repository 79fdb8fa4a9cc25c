"""Incidents: the evidence kept for every warn, quarantine and block.

An incident says when, on which channel, from whom, to whom (and what class of
destination each recipient was), which item, which secrets (id and version), which
detector, score, matched words and positions, which policy rule decided, and what
was done. It never holds plaintext of a secret; a short excerpt of the *scanned
item* is kept only when the policy enables it (``[incidents] excerpt = true``).

Incidents live in one SQLite file in the state directory (mode 0600, WAL, safe for
the daemon, the milter and CLI commands at once). Their status moves once, from
``open`` to ``released``, ``confirmed`` (a true leak) or ``false_positive``.

A released or false-positive incident may leave a *scoped allow entry*: this finding
(by digest), this secret, this destination, until a date. It is never a blanket
allowlist: another excerpt of the same secret, or the same excerpt to another
destination, is decided as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets as random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import UsageError
from .exposure import read_only_database
from .types import Finding

INCIDENTS_FILE = "incidents.sqlite"
STATUSES = ("open", "released", "confirmed", "false_positive")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    time REAL NOT NULL,
    channel TEXT NOT NULL,
    sender TEXT,
    item TEXT NOT NULL,
    action TEXT NOT NULL,
    rule TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    body TEXT NOT NULL,             -- JSON: destination, recipients, findings, problems, reasons, target, excerpts
    resolved_by TEXT,
    justification TEXT,
    resolved_time REAL
);
CREATE INDEX IF NOT EXISTS incidents_time ON incidents(time);
CREATE TABLE IF NOT EXISTS incident_secrets (incident TEXT NOT NULL, secret TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS incident_secrets_secret ON incident_secrets(secret);
CREATE TABLE IF NOT EXISTS incident_recipients (
    incident TEXT NOT NULL, address TEXT, domain TEXT, country TEXT, class TEXT
);
CREATE INDEX IF NOT EXISTS incident_recipients_incident ON incident_recipients(incident);
CREATE TABLE IF NOT EXISTS allows (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    secret TEXT NOT NULL,
    destination TEXT NOT NULL,      -- a recipient's exposure key: domain:x or country:XX
    until TEXT NOT NULL,            -- ISO date, inclusive
    incident TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS allows_digest ON allows(digest, destination);
CREATE TABLE IF NOT EXISTS recorded (once TEXT PRIMARY KEY, incident TEXT NOT NULL, time REAL NOT NULL);
-- a decision being recorded: its incident id and the audit trail's last seq when it began
CREATE TABLE IF NOT EXISTS pending (once TEXT PRIMARY KEY, incident TEXT NOT NULL, audit_seq INTEGER NOT NULL,
                                    time REAL NOT NULL);
"""


@dataclass(frozen=True)
class Incident:
    id: str
    time: float
    channel: str
    sender: str | None
    item: str
    action: str
    rule: str
    status: str = "open"
    body: Mapping[str, Any] = field(default_factory=dict)
    resolved_by: str | None = None
    justification: str | None = None
    resolved_time: float | None = None

    @property
    def secrets(self) -> list[str]:
        return sorted({f["secret"] for f in self.body.get("findings", [])})

    @property
    def target(self) -> Mapping[str, Any]:
        return self.body.get("target") or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "time": _iso(self.time), "channel": self.channel, "sender": self.sender,
            "item": self.item, "action": self.action, "rule": self.rule, "status": self.status, **self.body,
        }
        if self.status != "open":
            out["resolution"] = {"status": self.status, "by": self.resolved_by, "justification": self.justification,
                                 "time": _iso(self.resolved_time) if self.resolved_time else None}
        return out


@dataclass(frozen=True)
class Allow:
    id: int
    digest: str
    secret: str
    destination: str
    until: dt.date
    incident: str
    created_by: str


def finding_digest(finding: Finding | Mapping[str, Any]) -> str:
    """The identity of what matched, not of where it sits in the scanned item: secret, version,
    kind, and the secret-side positions (word ranges, term ids, record rows). As detect-secrets
    does, a digest, so an allow entry holds no text."""
    f = finding.to_dict() if isinstance(finding, Finding) else finding
    evidence = f.get("evidence", {})
    identity: dict[str, Any] = {"secret": f["secret"], "version": f["version"], "kind": f["kind"]}
    if f["kind"] == "document":
        identity["ranges"] = sorted(tuple(run.get("secret_words", ())) for run in evidence.get("runs", ()))
        if not identity["ranges"]:  # a byte-identical copy
            identity["whole"] = f["matched_words"]
    elif f["kind"] == "terms":
        identity["terms"] = sorted({m["term"] for m in evidence.get("matches", ())})
    elif f["kind"] == "records":
        identity["rows"] = sorted({m["row"] for m in evidence.get("matches", ())})
    else:
        identity["words"] = f["matched_words"]
        identity["score"] = round(float(f["score"]), 2)
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_incident_id(now: float) -> str:
    return "INC-" + time.strftime("%Y%m%d", time.gmtime(now)) + "-" + random.token_hex(4)


class IncidentStore:
    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time, read_only: bool = False) -> None:
        """`read_only`: for a dry run and for reading, which change nothing (no store yet: an empty one)."""
        self.path = Path(state_dir) / INCIDENTS_FILE
        self.clock = clock
        self._lock = threading.Lock()
        if read_only:
            self._db = read_only_database(self.path, _SCHEMA)
            self._db.row_factory = sqlite3.Row
            return
        _private_dir(Path(state_dir))
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- incidents -------------------------------------------------------------------------

    def add(self, *, channel: str, sender: str | None, item: str, action: str, rule: str,
            body: Mapping[str, Any], recipients: Sequence[Mapping[str, Any]] = (), incident_id: str | None = None,
            once: str | None = None) -> Incident:
        """`incident_id`: chosen beforehand, so the audit entry can name it before the incident exists;
        `once`: the decision's key, marked recorded in the same transaction."""
        now = self.clock()
        incident = Incident(incident_id or new_incident_id(now), now, channel, sender, item, action, rule, "open",
                            dict(body))
        secrets = sorted({f["secret"] for f in body.get("findings", [])})
        with self._lock, self._transaction() as db:
            db.execute("INSERT INTO incidents (id, time, channel, sender, item, action, rule, status, body) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                       (incident.id, now, channel, sender, item, action, rule, json.dumps(incident.body)))
            db.executemany("INSERT INTO incident_secrets VALUES (?, ?)", [(incident.id, s) for s in secrets])
            db.executemany("INSERT INTO incident_recipients VALUES (?, ?, ?, ?, ?)",
                           [(incident.id, r.get("address"), r.get("domain"), r.get("country"), r.get("class"))
                            for r in recipients])
            if once is not None:
                db.execute("INSERT OR IGNORE INTO recorded VALUES (?, ?, ?)", (once, incident.id, now))
                db.execute("DELETE FROM pending WHERE once = ?", (once,))
        return incident

    def get(self, incident_id: str) -> Incident:
        row = self._db.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            raise UsageError(f"no incident {incident_id!r} (see `dlp incidents list`)")
        return _incident(row)

    def query(self, *, since: float | None = None, until: float | None = None, secret: str | None = None,
              destination: str | None = None, action: str | None = None, status: str | None = None,
              limit: int | None = None) -> list[Incident]:
        where, args = [], []
        if since is not None:
            where.append("time >= ?"), args.append(since)
        if until is not None:
            where.append("time < ?"), args.append(until)
        if action:
            where.append("action = ?"), args.append(action)
        if status:
            where.append("status = ?"), args.append(status)
        if secret:
            where.append("id IN (SELECT incident FROM incident_secrets WHERE secret = ?)"), args.append(secret)
        if destination:
            d = destination.strip().lower()
            where.append("id IN (SELECT incident FROM incident_recipients WHERE lower(address) = ? OR domain = ? "
                         "OR domain LIKE ? OR lower(country) = ? OR class = ?)")
            args.extend([d, d.lstrip("@"), "%." + d.lstrip("@"), d, d])
        sql = "SELECT * FROM incidents" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY time, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_incident(row) for row in self._db.execute(sql, args)]

    def resolve(self, incident_id: str, status: str, by: str, justification: str) -> Incident:
        """Move an open incident to `status`; an incident is resolved once."""
        if status not in STATUSES[1:]:
            raise UsageError(f"unknown resolution {status!r}")
        if not by.strip() or not justification.strip():
            raise UsageError("a resolution needs who (--by) and why (--justification)")
        with self._lock, self._transaction() as db:
            current = self.get(incident_id)
            if current.status != "open":
                raise UsageError(f"incident {incident_id} is already {current.status} "
                                 f"(by {current.resolved_by}, {_iso(current.resolved_time)})")
            db.execute("UPDATE incidents SET status = ?, resolved_by = ?, justification = ?, resolved_time = ? "
                       "WHERE id = ?", (status, by.strip(), justification.strip(), self.clock(), incident_id))
        return self.get(incident_id)

    # -- idempotent recording ------------------------------------------------------------------

    def recorded(self, once: str) -> str | None:
        """The incident id ("" for none) a decision with this key was recorded with, or None."""
        row = self._db.execute("SELECT incident FROM recorded WHERE once = ?", (once,)).fetchone()
        return None if row is None else row["incident"]

    def mark_recorded(self, once: str, incident: str) -> None:
        with self._lock, self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO recorded VALUES (?, ?, ?)", (once, incident, self.clock()))
            db.execute("DELETE FROM pending WHERE once = ?", (once,))

    def begin_recording(self, once: str, incident: str, audit_seq: int) -> tuple[str, int]:
        """Note a decision about to be recorded; returns the (incident id, audit seq) noted first,
        so a repeat after a crash reuses the incident id and finds its audit entry."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?)", (once, incident, audit_seq,
                                                                                  self.clock()))
        return self.pending(once) or (incident, audit_seq)

    def pending(self, once: str) -> tuple[str, int] | None:
        row = self._db.execute("SELECT incident, audit_seq FROM pending WHERE once = ?", (once,)).fetchone()
        return None if row is None else (row["incident"], int(row["audit_seq"]))

    # -- scoped allow entries --------------------------------------------------------------

    def add_allow(self, digest: str, secret: str, destination: str, until: dt.date, incident: str, by: str) -> Allow:
        with self._lock, self._transaction() as db:
            cursor = db.execute("INSERT INTO allows (digest, secret, destination, until, incident, created_by, created) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (digest, secret, destination, until.isoformat(), incident, by, self.clock()))
        return Allow(int(cursor.lastrowid), digest, secret, destination, until, incident, by)

    def allowed(self, digest: str, destination: str, today: dt.date) -> Allow | None:
        row = self._db.execute("SELECT * FROM allows WHERE digest = ? AND destination = ? AND until >= ? "
                               "ORDER BY until DESC LIMIT 1", (digest, destination, today.isoformat())).fetchone()
        return _allow(row) if row else None

    def allows(self) -> list[Allow]:
        return [_allow(row) for row in self._db.execute("SELECT * FROM allows ORDER BY id")]

    # -- internals ---------------------------------------------------------------------------

    def _transaction(self):
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, trace) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _incident(row: sqlite3.Row) -> Incident:
    return Incident(row["id"], row["time"], row["channel"], row["sender"], row["item"], row["action"], row["rule"],
                    row["status"], json.loads(row["body"]), row["resolved_by"], row["justification"],
                    row["resolved_time"])


def _allow(row: sqlite3.Row) -> Allow:
    return Allow(row["id"], row["digest"], row["secret"], row["destination"], dt.date.fromisoformat(row["until"]),
                 row["incident"], row["created_by"])


def _private_dir(path: Path) -> None:
    if not path.exists():
        os.makedirs(path, mode=0o700, exist_ok=True)


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def flatten(incidents: Iterable[Incident]) -> Iterable[dict[str, Any]]:
    """One row per (incident, finding) for CSV export; an incident without findings is one row."""
    for inc in incidents:
        recipients = inc.body.get("recipients", [])
        base = {
            "id": inc.id, "time": _iso(inc.time), "channel": inc.channel, "sender": inc.sender or "",
            "recipients": " ".join(r.get("address") or r.get("country") or "" for r in recipients),
            "classes": " ".join(sorted({r.get("class", "") for r in recipients})),
            "item": inc.item, "action": inc.action, "rule": inc.rule, "status": inc.status,
            "resolved_by": inc.resolved_by or "", "justification": inc.justification or "",
        }
        findings = inc.body.get("findings") or [{}]
        for f in findings:
            yield {**base, "secret": f.get("secret", ""), "version": f.get("version", ""),
                   "detector": f.get("detector", ""), "kind": f.get("kind", ""), "score": f.get("score", ""),
                   "matched_words": f.get("matched_words", ""), "locator": f.get("locator", ""),
                   "problems": " ".join(sorted({p["kind"] for p in inc.body.get("problems", [])}))}


CSV_COLUMNS = ("id", "time", "channel", "sender", "recipients", "classes", "item", "action", "rule", "status",
               "secret", "version", "detector", "kind", "score", "matched_words", "locator", "problems",
               "resolved_by", "justification")
