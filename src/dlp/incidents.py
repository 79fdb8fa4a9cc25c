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

The review console pages through hundreds of thousands of incidents, so every filter
it offers is an index lookup: the columns that filter (status, channel, action) have
indexes in time order, and what an incident has several of (secrets, labels, tags,
recipients, problems) is kept once more as *facets*, ``(facet, value, time, incident)``
rows whose index yields a facet's incidents newest first. Pages are keyset pages
(``(time, id)`` below or above a cursor), never OFFSET scans.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets as random
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import UsageError
from .exposure import read_only_database, use_wal
from .types import finding_identity, Finding

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
CREATE INDEX IF NOT EXISTS incidents_time_id ON incidents(time, id);
CREATE INDEX IF NOT EXISTS incidents_status_time ON incidents(status, time, id);
CREATE INDEX IF NOT EXISTS incidents_channel_time ON incidents(channel, time, id);
CREATE INDEX IF NOT EXISTS incidents_action_time ON incidents(action, time, id);
CREATE TABLE IF NOT EXISTS incident_facets (
    facet TEXT NOT NULL,            -- see FACETS
    value TEXT NOT NULL,            -- lower case
    time REAL NOT NULL,             -- the incident's time, so one index range is already in time order
    incident TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_facets_lookup ON incident_facets(facet, value, time, incident);
-- a decision being recorded: its incident id and the audit trail's last seq when it began
CREATE TABLE IF NOT EXISTS pending (once TEXT PRIMARY KEY, incident TEXT NOT NULL, audit_seq INTEGER NOT NULL,
                                    time REAL NOT NULL);
"""
SCHEMA_VERSION = 1  # PRAGMA user_version: 1 = facets filled for every incident

# What an incident has several of, each a lookup in the queue:
#   secret, label, tag: of its findings; to: each recipient's address, domain and parent domains,
#   country and class (what `--to` matches); domain, country, class: of each recipient (charts, filters);
#   problem: the kind of each part that could not be read.
FACETS = ("secret", "label", "tag", "to", "domain", "country", "class", "problem")
INCIDENT_ID = re.compile(r"INC-[0-9]{8}-[0-9a-f]{8}")
COUNT_CAP = 10_000  # a queue says "10,000+" rather than count a million rows per page


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
    """The finding's identity (`Finding.digest`), also for findings stored as JSON."""
    return finding.digest if isinstance(finding, Finding) else finding_identity(finding)


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
        self._db.execute("PRAGMA busy_timeout=10000")
        use_wal(self._db)
        self._db.executescript(_SCHEMA)
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        """Fill the facets of incidents recorded before they existed (once, under the write lock)."""
        if self._db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        with self._lock, self._transaction() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return
            db.execute("DELETE FROM incident_facets")
            for row in db.execute("SELECT id, time, body FROM incidents").fetchall():
                body = json.loads(row["body"])
                db.executemany("INSERT INTO incident_facets VALUES (?, ?, ?, ?)",
                               [(f, v, row["time"], row["id"]) for f, v in facets(body)])
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
            db.executemany("INSERT INTO incident_facets VALUES (?, ?, ?, ?)",
                           [(f, v, now, incident.id) for f, v in facets({**incident.body, "recipients": recipients})])
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

    def page(self, where: "IncidentFilter" = None, *, size: int = 50, after: "Cursor | None" = None,
             before: "Cursor | None" = None) -> "Page":
        """One page of the queue, newest first: `size` incidents older than `after` (or, going back,
        newer than `before`), each filter an index range. Costs the rows it reads, not the table."""
        where = where or IncidentFilter()
        size = max(1, min(int(size), 500))
        newer_first = before is None
        cursor = after if newer_first else before
        sql, args = _page_sql(where, cursor, newer_first, size + 1)
        rows = self._db.execute(sql, args).fetchall()
        more = len(rows) > size
        found = [_incident(row) for row in rows[:size]]
        if not newer_first:
            found.reverse()
        older = newer = None
        if found:
            first, last = Cursor.of(found[0]), Cursor.of(found[-1])
            if newer_first:
                older = last if more else None
                newer = first if after is not None else None
            else:
                newer = first if more else None
                older = last
        return Page(tuple(found), older=older, newer=newer)

    def count(self, where: "IncidentFilter" = None, cap: int = COUNT_CAP) -> int:
        """How many incidents match, counting at most `cap` + 1 of them (a queue shows "10,000+")."""
        sql, args = _page_sql(where or IncidentFilter(), None, True, cap + 1)
        return self._db.execute(f"SELECT count(*) FROM ({sql})", args).fetchone()[0]

    def follow(self, after_row: int = 0, where: "IncidentFilter" = None, limit: int = 1000) -> list[tuple[int, Incident]]:
        """Incidents in the order they were recorded (SQLite's rowid, assigned under the write lock,
        so a reader polling `after_row` never misses one a slower writer committed late)."""
        sql, args = _filter_sql(where or IncidentFilter(), "incidents")
        rows = self._db.execute(f"SELECT rowid AS feed_row, * FROM incidents WHERE rowid > ?{' AND ' + sql if sql else ''} "
                                f"ORDER BY rowid LIMIT {int(limit)}", (after_row, *args)).fetchall()
        return [(row["feed_row"], _incident(row)) for row in rows]

    # -- figures for charts ----------------------------------------------------------------

    def per_day(self, since: float) -> list[tuple[str, str, int]]:
        """(UTC day, action, incidents) from `since` on."""
        rows = self._db.execute("SELECT CAST(time / 86400 AS INTEGER) AS day, action, count(*) FROM incidents "
                                "WHERE time >= ? GROUP BY day, action ORDER BY day", (since,)).fetchall()
        return [(dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + day).isoformat(), action, n)
                for day, action, n in rows]

    def top(self, facet: str, since: float, limit: int = 10) -> list[tuple[str, int]]:
        """The most frequent values of a facet among incidents from `since` on."""
        if facet not in FACETS:
            raise UsageError(f"unknown facet {facet!r} ({', '.join(FACETS)})")
        rows = self._db.execute("SELECT value, count(*) AS n FROM incident_facets WHERE facet = ? AND time >= ? "
                                "GROUP BY value ORDER BY n DESC, value LIMIT ?", (facet, since, int(limit))).fetchall()
        return [(value, n) for value, n in rows]

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


@dataclass(frozen=True)
class IncidentFilter:
    """What the queue asks for; every field is optional and fields combine with AND.

    `to` is a recipient's address, domain (subdomains included) or country code, as `dlp incidents
    list --to` takes it; `recipient_class` is internal, partner, external, embargoed or unknown.
    """

    since: float | None = None
    until: float | None = None
    secret: str | None = None
    label: str | None = None
    tag: str | None = None
    to: str | None = None
    recipient_class: str | None = None
    problem: str | None = None
    channel: str | None = None
    action: str | None = None
    status: str | None = None

    def facet_terms(self) -> list[tuple[str, str]]:
        """(facet, value) pairs, most selective first: the first one drives the page query."""
        out = []
        for facet, value in (("secret", self.secret), ("to", self.to), ("label", self.label), ("tag", self.tag),
                             ("problem", self.problem), ("class", self.recipient_class)):
            if value and value.strip():
                value = value.strip().lower()
                out.append((facet, value.lstrip("@") if facet == "to" else value))
        return out


@dataclass(frozen=True)
class Cursor:
    """A position in the queue: the (time, id) of an incident; as text ``TIME~ID`` for a URL."""

    time: float
    id: str

    @classmethod
    def of(cls, incident: Incident) -> Cursor:
        return cls(incident.time, incident.id)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        when, sep, ident = (text or "").partition("~")
        try:
            value = float(when)
        except ValueError:
            value = float("nan")
        if not sep or value != value or not INCIDENT_ID.fullmatch(ident):
            raise UsageError(f"not a queue position: {text[:80]!r}")
        return cls(value, ident)

    def __str__(self) -> str:
        return f"{self.time!r}~{self.id}"


@dataclass(frozen=True)
class Page:
    incidents: tuple[Incident, ...]
    older: Cursor | None = None  # the next page (older incidents), if any
    newer: Cursor | None = None  # the previous page (newer incidents), if any


def facets(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The facet rows of an incident body (see FACETS); values lower case, each pair once."""
    out: set[tuple[str, str]] = set()
    for f in body.get("findings", ()):
        out.add(("secret", str(f.get("secret", "")).lower()))
        if f.get("label"):
            out.add(("label", str(f["label"]).lower()))
        out.update(("tag", str(t).lower()) for t in f.get("tags", ()) if t)
    for r in body.get("recipients", ()):
        address, domain, country = (r.get("address") or "").lower(), (r.get("domain") or "").lower(), r.get("country")
        if r.get("class"):
            out.add(("class", str(r["class"]).lower()))
            out.add(("to", str(r["class"]).lower()))  # `--to external`, as `dlp incidents list` takes it
        if address:
            out.add(("to", address))
        if domain:
            out.add(("domain", domain))
            labels = domain.split(".")
            out.update(("to", ".".join(labels[i:])) for i in range(len(labels) - 1))  # x.y.z, y.z; never a bare TLD
        if country:
            out.add(("country", str(country).lower()))
            out.add(("to", str(country).lower()))
    out.update(("problem", str(p.get("kind", "")).lower()) for p in body.get("problems", ()))
    return {(f, v) for f, v in out if v}


def _filter_sql(where: IncidentFilter, table: str, skip_facets: int = 0) -> tuple[str, list[Any]]:
    """The conditions of a filter on `table`'s rows, except the first `skip_facets` facets."""
    parts, args = [], []
    for column in ("channel", "action", "status"):
        value = getattr(where, column)
        if value:
            parts.append(f"{table}.{column} = ?"), args.append(value)
    if where.since is not None:
        parts.append(f"{table}.time >= ?"), args.append(where.since)
    if where.until is not None:
        parts.append(f"{table}.time < ?"), args.append(where.until)
    for facet, value in where.facet_terms()[skip_facets:]:
        # an exact lookup in the facet index: (facet, value, time, incident) is its whole key
        parts.append(f"EXISTS (SELECT 1 FROM incident_facets g WHERE g.facet = ? AND g.value = ? "
                     f"AND g.time = {table}.time AND g.incident = {table}.id)")
        args.extend((facet, value))
    return " AND ".join(parts), args


def _page_sql(where: IncidentFilter, cursor: Cursor | None, newer_first: bool, limit: int) -> tuple[str, list[Any]]:
    """Keyset paging: rows strictly beyond the cursor in (time, id) order, driven by an index."""
    order = "DESC" if newer_first else "ASC"
    beyond = "<" if newer_first else ">"
    terms = where.facet_terms()
    if terms:  # walk the first facet's index range in time order; check the rest per row
        facet, value = terms[0]
        conditions, args = ["f.facet = ?", "f.value = ?"], [facet, value]
        if cursor is not None:
            conditions.append(f"(f.time, f.incident) {beyond} (?, ?)"), args.extend((cursor.time, cursor.id))
        if where.since is not None:
            conditions.append("f.time >= ?"), args.append(where.since)
        if where.until is not None:
            conditions.append("f.time < ?"), args.append(where.until)
        rest, rest_args = _filter_sql(replace(where, since=None, until=None), "i", skip_facets=1)
        if rest:
            conditions.append(rest), args.extend(rest_args)
        sql = (f"SELECT i.* FROM incident_facets f CROSS JOIN incidents i ON i.id = f.incident "
               f"WHERE {' AND '.join(conditions)} ORDER BY f.time {order}, f.incident {order} LIMIT {int(limit)}")
        return sql, args
    conditions_sql, args = _filter_sql(where, "incidents")
    conditions = [conditions_sql] if conditions_sql else []
    if cursor is not None:
        conditions.append(f"(incidents.time, incidents.id) {beyond} (?, ?)"), args.extend((cursor.time, cursor.id))
    sql = (f"SELECT * FROM incidents{' WHERE ' + ' AND '.join(conditions) if conditions else ''} "
           f"ORDER BY time {order}, id {order} LIMIT {int(limit)}")
    return sql, args


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
