"""The review console as an ASGI application (Starlette), over the CLI's state directory.

`create_app(settings)` is the composition root of the console: it opens the audit trail,
the accounts, the incidents (through a `Recorder`, so the console resolves incidents
exactly as `dlp release` and `dlp confirm` do) and the registry's metadata, then wires
the pages (`views`), the JSON API (`api`) and the guard below.

The guard runs before routing, so no route can forget it:

- a request is *someone* through a session cookie (browser) or an ``Authorization:
  Bearer`` token (scripts, ``/api/`` only), or it is anonymous;
- an anonymous visitor gets the login page and the static files, nothing else: other
  pages redirect to the login page, the API answers 401, any other method 401;
- every response carries a strict Content-Security-Policy (no script at all: the
  console needs none), no-store caching, and a ``Server-Timing`` header with the time
  the server spent, which the benchmark reads.

Forms are checked in `web.action`: CSRF token of the session, role, same origin.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...audit import AuditLog, Verification
from ...recording import Recorder
from ...errors import DlpError
from ...destinations import load_policy
from ...index import Index
from ...rules import DefaultPolicy, Policy
from .accounts import Accounts, Identity, Kdf

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "dlp_session"
LOGIN_COOKIE = "dlp_login"          # double-submit CSRF token of the login form
PUBLIC_PATHS = ("/login", "/static/")
MAX_FORM_BYTES = 64 * 1024
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                 b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make browsers send "Origin: null" with forms
    (b"cross-origin-opener-policy", b"same-origin"),
]


@dataclass(frozen=True)
class ConsoleSettings:
    """What `dlp console` was started with; fixed for the life of the server."""

    state: Path
    registry: Path
    key: Path | None = None
    policy: str | None = None       # the destination policy file the gateways use (allow entries, excerpts)
    postsuper: str | None = None    # the command that releases held mail; never taken from a request
    secure_cookies: bool = False    # True behind TLS
    idle_minutes: float = 30.0
    page_size: int = 50
    dashboard_days: int = 30


@dataclass
class Console:
    """The stores the handlers use; one Recorder (SQLite connections) per worker thread."""

    settings: ConsoleSettings
    clock: Callable[[], float] = time.time
    kdf: Kdf = field(default_factory=Kdf)

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.settings.state, clock=self.clock)
        self.accounts = Accounts(self.settings.state, self.audit, clock=self.clock, kdf=self.kdf,
                                 idle_s=self.settings.idle_minutes * 60)
        self.policy: Policy = load_policy(Path(self.settings.policy)) if self.settings.policy else DefaultPolicy()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._registry: tuple[Any, dict[str, Any]] | None = None
        self._verified: tuple[Any, Verification] | None = None

    @property
    def show_excerpts(self) -> bool:
        """Excerpts of scanned items are shown only while the policy enables them."""
        return bool(getattr(self.policy, "excerpt", False))

    def recorder(self) -> Recorder:
        recorder = getattr(self._local, "recorder", None)
        if recorder is None:
            recorder = Recorder(self.settings.state, self.policy, clock=self.clock)
            self._local.recorder = recorder
        return recorder

    def registry(self) -> dict[str, Any]:
        """The registry's metadata (never content), read again when a new generation is live."""
        current = self.settings.registry / "CURRENT"
        try:
            stat = current.stat()
            mark: Any = (stat.st_ino, stat.st_mtime_ns, current.read_text().strip())
        except OSError:
            mark = None
        with self._lock:
            if self._registry is not None and mark is not None and self._registry[0] == mark:
                return self._registry[1]
        try:
            index = Index.open(self.settings.registry, self.settings.key)  # read side: mapped, nothing loaded
            overview = {"root": str(index.root), "generation": index.generation, "error": None,
                        "secrets": [s.to_dict() for s in index.secrets.values()], "public": len(index.public),
                        "index": index.statistics()}
        except DlpError as exc:
            overview = {"root": str(self.settings.registry), "generation": None, "error": str(exc), "secrets": [],
                        "public": 0, "index": {}}
        with self._lock:
            self._registry = (mark, overview)
        return overview

    def verification(self) -> Verification:
        """`dlp audit verify`, again only when the log or its head changed."""
        def mark(path: Path) -> Any:
            try:
                s = path.stat()
                return (s.st_size, s.st_mtime_ns, s.st_ino)
            except OSError:
                return None
        now = (mark(self.audit.log_path), mark(self.audit.head_path), mark(self.audit.key_path))
        with self._lock:
            if self._verified is not None and self._verified[0] == now:
                return self._verified[1]
        result = self.audit.verify()
        with self._lock:
            self._verified = (now, result)
        return result

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).date()


class Guard:
    """Identity, the anonymous-visitor rule, security headers and Server-Timing (see the module docstring)."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not any(k == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        path = scope["path"]
        identity = await run_in_threadpool(self._identify, scope)
        scope.setdefault("state", {})["identity"] = identity
        if identity is None and not path.startswith(PUBLIC_PATHS):
            response = _anonymous(scope, path)
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _identify(self, scope: Scope) -> Identity | None:
        headers = Headers(scope=scope)
        authorization = headers.get("authorization", "")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not scope["path"].startswith("/api/"):
                return None
            return self.console.accounts.bearer(token.strip())
        cookie = HTTPConnection(scope).cookies.get(SESSION_COOKIE)
        session = self.console.accounts.session(cookie)
        return Identity(session.user, session=session) if session else None


def _anonymous(scope: Scope, path: str):
    if path.startswith("/api/"):
        return JSONResponse({"error": "authentication required: a console session or `Authorization: Bearer TOKEN`"},
                            status_code=401, headers={"www-authenticate": 'Bearer realm="dlp console"'})
    if scope["method"] in ("GET", "HEAD"):
        return RedirectResponse("/login", status_code=303)
    return PlainTextResponse("authentication required", status_code=401)


def create_app(settings: ConsoleSettings, *, clock: Callable[[], float] = time.time, kdf: Kdf | None = None) -> Starlette:
    from . import api, views

    console = Console(settings, clock=clock, kdf=kdf or Kdf())
    limit = {"max_body_size": MAX_FORM_BYTES}
    routes = [
        Route("/login", views.login_page, methods=["GET"]),
        Route("/login", views.login, methods=["POST"], **limit),
        Route("/logout", views.logout, methods=["POST"], **limit),
        Route("/", views.queue, methods=["GET"]),
        Route("/incidents/{incident_id}", views.incident, methods=["GET"]),
        Route("/incidents/{incident_id}/resolve", views.resolve, methods=["POST"], **limit),
        Route("/dashboard", views.dashboard, methods=["GET"]),
        Route("/audit", views.audit, methods=["GET"]),
        Route("/audit/export", views.audit_export, methods=["GET"]),
        Route("/registry", views.registry, methods=["GET"]),
        Route("/users", views.users, methods=["GET"]),
        Route("/users", views.add_user, methods=["POST"], **limit),
        Route("/users/{name}/role", views.set_role, methods=["POST"], **limit),
        Route("/users/{name}/remove", views.remove_user, methods=["POST"], **limit),
        Route("/tokens/{token_id}/revoke", views.revoke_token, methods=["POST"], **limit),
        Route("/api/incidents", api.incidents, methods=["GET"]),
        Route("/api/incidents/{incident_id}", api.incident, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=os.fspath(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: views.not_found, 405: views.not_allowed})
    app.state.console = console
    app.add_middleware(Guard, console=console)
    return app
