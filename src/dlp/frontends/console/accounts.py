"""Who may use the review console: users and roles, passwords, sessions, API tokens, login throttling.

Everything lives in ``STATE/console.sqlite`` (0600), beside the incidents it protects.
Nothing secret is stored as given:

- passwords as scrypt hashes (memory-hard: 32 MiB and ~0.1 s per guess with the default
  parameters), each with its own salt, parameters kept with the hash so they can be raised;
- session ids and API tokens as SHA-256 digests: both are 256-bit random values, so a
  fast digest is enough, and a copy of the database lets no one in;
- a session also has a CSRF token that every form must send back.

Sessions expire when idle (``idle_s``) and after ``lifetime_s`` in any case. Failed logins
are counted per user name and per client address within ``throttle_window_s``; past the
limit a login is refused before its password is even checked, so a guessing script gets
nothing from trying more.

Every change is an audit entry (event ``console``) naming who did it and through which
front end: users added, removed or given another role, tokens created or revoked, logins
and failed logins, logouts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...audit import AuditLog
from ...errors import DlpError, UsageError
from ...exposure import use_wal

CONSOLE_FILE = "console.sqlite"
ROLES = ("viewer", "reviewer", "admin")
# what each role may do; every role may do what the roles before it may
PERMISSIONS = {"view": "viewer", "act": "reviewer", "manage": "admin"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 12
TOKEN_PREFIX = "dlpc_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password TEXT,                  -- scrypt$n$r$p$salt$hash; NULL: a script account, tokens only
    created REAL NOT NULL,
    last_login REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,        -- sha256 of the cookie value
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL,
    client TEXT,
    flash TEXT                      -- one message for the next page (post/redirect/get)
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,    -- sha256 of the token
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created REAL NOT NULL,
    created_by TEXT NOT NULL,
    last_used REAL
);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures(key, time);
"""


class ConsoleAuthError(DlpError):
    """A login or a request was refused; the front end answers 401/403/429, never with details."""


class LoginRefused(ConsoleAuthError):
    """Wrong user name or password (deliberately not saying which)."""


class LoginThrottled(ConsoleAuthError):
    """Too many failed logins for this user or from this address; try again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Kdf:
    """scrypt parameters (RFC 7914). The defaults cost 32 MiB and about 0.1 s per hash here."""

    n: int = 2 ** 15
    r: int = 8
    p: int = 1

    def hash(self, password: str, salt: bytes | None = None) -> str:
        salt = salt or secrets.token_bytes(16)
        digest = _scrypt(password, salt, self.n, self.r, self.p)
        return f"scrypt${self.n}${self.r}${self.p}${salt.hex()}${digest.hex()}"

    @staticmethod
    def verify(password: str, stored: str) -> bool:
        try:
            scheme, n, r, p, salt, digest = stored.split("$")
            if scheme != "scrypt":
                return False
            computed = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
        except ValueError:
            return False
        return hmac.compare_digest(computed, bytes.fromhex(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * r * n + 2 ** 20)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created: float
    last_login: float | None = None
    has_password: bool = True

    def may(self, permission: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(PERMISSIONS[permission])


@dataclass(frozen=True)
class Session:
    digest: str
    user: User
    csrf: str
    created: float
    last_seen: float
    flash: str | None = None


@dataclass(frozen=True)
class Token:
    id: int
    user: str
    label: str
    created: float
    created_by: str
    last_used: float | None = None


@dataclass(frozen=True)
class Identity:
    """Who is asking: a user, through a browser session or an API token."""

    user: User
    session: Session | None = None
    token: Token | None = None

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def via(self) -> str:
        return f"console token {self.token.id}" if self.token else "console"


class Accounts:
    def __init__(self, state_dir: Path, audit: AuditLog, *, clock: Callable[[], float] = time.time, kdf: Kdf = Kdf(),
                 idle_s: float = 30 * 60, lifetime_s: float = 12 * 3600, max_user_failures: int = 5,
                 max_client_failures: int = 20, throttle_window_s: float = 15 * 60) -> None:
        self.path = Path(state_dir) / CONSOLE_FILE
        self.audit = audit
        self.clock = clock
        self.kdf = kdf
        self.idle_s = idle_s
        self.lifetime_s = lifetime_s
        self.max_user_failures = max_user_failures
        self.max_client_failures = max_client_failures
        self.throttle_window_s = throttle_window_s
        if not self.path.parent.exists():
            os.makedirs(self.path.parent, mode=0o700, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._lock = threading.Lock()
        self._local = threading.local()
        self._dummy = kdf.hash(secrets.token_hex(16))  # checked for unknown users: same time as a real check
        with self._lock:
            db = self._db()
            db.executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        """One connection per thread: the console serves requests from a thread pool."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=10000")
            use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str | None, *, by: str, via: str) -> User:
        _check_name(name)
        _check_role(role)
        if password is not None and len(password) < MIN_PASSWORD:
            raise UsageError(f"a console password needs at least {MIN_PASSWORD} characters")
        stored = self.kdf.hash(password) if password is not None else None
        now = self.clock()
        try:
            self._db().execute("INSERT INTO users (name, role, password, created) VALUES (?, ?, ?, ?)",
                               (name, role, stored, now))
        except sqlite3.IntegrityError:
            raise UsageError(f"console user {name!r} exists already") from None
        self.audit.append("console", action="user-add", user=name, role=role, password=password is not None,
                          by=by, via=via)
        return User(name, role, now, None, password is not None)

    def set_role(self, name: str, role: str, *, by: str, via: str) -> User:
        _check_role(role)
        before = self.user(name)
        if before is None:
            raise UsageError(f"no console user {name!r}")
        self._keep_an_admin(name, role)
        self._db().execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        self.audit.append("console", action="user-role", user=name, role=role, previous=before.role, by=by, via=via)
        return self.user(name)

    def set_password(self, name: str, password: str, *, by: str, via: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"a console password needs at least {MIN_PASSWORD} characters")
        if self.user(name) is None:
            raise UsageError(f"no console user {name!r}")
        db = self._db()
        db.execute("UPDATE users SET password = ? WHERE name = ?", (self.kdf.hash(password), name))
        db.execute("DELETE FROM sessions WHERE user = ?", (name,))  # a new password ends every session
        self.audit.append("console", action="user-password", user=name, by=by, via=via)

    def remove_user(self, name: str, *, by: str, via: str) -> None:
        if self.user(name) is None:
            raise UsageError(f"no console user {name!r}")
        self._keep_an_admin(name, None)
        self._db().execute("DELETE FROM users WHERE name = ?", (name,))  # sessions and tokens go with it
        self.audit.append("console", action="user-remove", user=name, by=by, via=via)

    def user(self, name: str) -> User | None:
        row = self._db().execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(row) for row in self._db().execute("SELECT * FROM users ORDER BY name")]

    def _keep_an_admin(self, name: str, new_role: str | None) -> None:
        """The last admin cannot be demoted or removed from the console: no one could manage users then."""
        admins = [u.name for u in self.users() if u.role == "admin"]
        if admins == [name] and new_role != "admin":
            raise UsageError(f"{name} is the only admin; make another user admin first")

    # -- logging in and sessions ---------------------------------------------------------------

    def login(self, name: str, password: str, client: str) -> tuple[str, Session]:
        """A new session (the cookie value and the session) or LoginRefused / LoginThrottled."""
        now = self.clock()
        since = now - self.throttle_window_s
        db = self._db()
        keys = (f"user:{name[:64]}", f"client:{client}")
        for key, limit in zip(keys, (self.max_user_failures, self.max_client_failures)):
            rows = db.execute("SELECT time FROM login_failures WHERE key = ? AND time >= ? ORDER BY time",
                              (key, since)).fetchall()
            if len(rows) >= limit:
                retry = int(rows[-limit]["time"] + self.throttle_window_s - now) + 1
                raise LoginThrottled(max(retry, 1))
        row = db.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        stored = row["password"] if row is not None and row["password"] else self._dummy
        if not Kdf.verify(password, stored) or row is None or not row["password"]:
            db.executemany("INSERT INTO login_failures VALUES (?, ?)", [(k, now) for k in keys])
            db.execute("DELETE FROM login_failures WHERE time < ?", (since,))
            self.audit.append("console", action="login-failed", user=name[:64], client=client)
            raise LoginRefused("wrong user name or password")
        cookie = secrets.token_urlsafe(32)
        digest = _digest(cookie)
        with self._lock:
            db.execute("INSERT INTO sessions (digest, user, csrf, created, last_seen, client) VALUES (?, ?, ?, ?, ?, ?)",
                       (digest, name, secrets.token_urlsafe(32), now, now, client))
            db.execute("UPDATE users SET last_login = ? WHERE name = ?", (now, name))
            db.execute("DELETE FROM login_failures WHERE key = ?", (keys[0],))
            db.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                       (now - self.idle_s, now - self.lifetime_s))
        self.audit.append("console", action="login", user=name, client=client)
        session = self.session(cookie)
        assert session is not None
        return cookie, session

    def session(self, cookie: str | None) -> Session | None:
        """The live session of a cookie value, touched; None if unknown, idle too long or too old."""
        if not cookie or len(cookie) > 128:
            return None
        digest = _digest(cookie)
        db = self._db()
        row = db.execute("SELECT s.*, u.role, u.created AS user_created, u.last_login, u.password "
                         "FROM sessions s JOIN users u ON u.name = s.user WHERE s.digest = ?", (digest,)).fetchone()
        if row is None:
            return None
        now = self.clock()
        if now - row["last_seen"] > self.idle_s or now - row["created"] > self.lifetime_s:
            db.execute("DELETE FROM sessions WHERE digest = ?", (digest,))
            return None
        if now - row["last_seen"] > min(30.0, self.idle_s / 10):  # fewer writes; idle time is kept to ~30 s
            db.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", (now, digest))
        user = User(row["user"], row["role"], row["user_created"], row["last_login"], bool(row["password"]))
        return Session(digest, user, row["csrf"], row["created"], now, row["flash"])

    def logout(self, session: Session) -> None:
        self._db().execute("DELETE FROM sessions WHERE digest = ?", (session.digest,))
        self.audit.append("console", action="logout", user=session.user.name)

    def flash(self, session: Session, message: str | None) -> None:
        self._db().execute("UPDATE sessions SET flash = ? WHERE digest = ?", (message, session.digest))

    # -- API tokens ----------------------------------------------------------------------------

    def create_token(self, user: str, label: str, *, by: str, via: str) -> tuple[str, Token]:
        """A new token for `user` (it acts with the user's role); returned once, only its digest is kept."""
        if self.user(user) is None:
            raise UsageError(f"no console user {user!r} (add one with `dlp console user add`)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        cursor = self._db().execute("INSERT INTO tokens (digest, user, label, created, created_by) VALUES (?, ?, ?, ?, ?)",
                                    (_digest(token), user, label, now, by))
        made = Token(int(cursor.lastrowid), user, label, now, by)
        self.audit.append("console", action="token-create", token=made.id, user=user, label=label, by=by, via=via)
        return token, made

    def revoke_token(self, token_id: int, *, by: str, via: str) -> None:
        cursor = self._db().execute("DELETE FROM tokens WHERE id = ?", (token_id,))
        if cursor.rowcount == 0:
            raise UsageError(f"no console token {token_id}")
        self.audit.append("console", action="token-revoke", token=token_id, by=by, via=via)

    def tokens(self) -> list[Token]:
        return [_token(row) for row in self._db().execute("SELECT * FROM tokens ORDER BY id")]

    def bearer(self, token: str | None) -> Identity | None:
        """The identity a bearer token stands for, or None for an unknown (forged, revoked) token."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return None
        db = self._db()
        row = db.execute("SELECT t.*, u.role, u.created AS user_created, u.last_login, u.password FROM tokens t "
                         "JOIN users u ON u.name = t.user WHERE t.digest = ?", (_digest(token),)).fetchone()
        if row is None:
            return None
        now = self.clock()
        if row["last_used"] is None or now - row["last_used"] > 60:
            db.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (now, row["id"]))
        user = User(row["user"], row["role"], row["user_created"], row["last_login"], bool(row["password"]))
        return Identity(user, token=_token(row))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name or ""):
        raise UsageError(f"{name!r} is not a console user name (letters, digits, . _ @ -; at most 64)")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r} ({', '.join(ROLES)})")


def _user(row: sqlite3.Row) -> User:
    return User(row["name"], row["role"], row["created"], row["last_login"], bool(row["password"]))


def _token(row: sqlite3.Row) -> Token:
    return Token(row["id"], row["user"], row["label"], row["created"], row["created_by"], row["last_used"])
