"""The mechanics every page shares: templates, the role check of a page, the checks of a form.

`page(permission)` wraps a GET handler (run in the thread pool: SQLite blocks);
`action(permission)` wraps a POST handler and refuses, before the handler runs and so
before anything changes, a request without the session's CSRF token (403), from
another origin (403), by a role that may not do this (403), or from an API token
(forms are for browsers; 403).
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import re
from typing import Any, Callable
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .accounts import ROLES, Identity
from .app import HERE, Console

ENV = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True),
                  trim_blocks=True, lstrip_blocks=True)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _locator_steps(locator: str) -> list[str]:
    """`mail.eml!/attachments/plan.zip!/q3.docx` as the containers it passes through."""
    return [step for step in (locator or "").split("!/") if step]


def _query(base: dict[str, Any], **changes: Any) -> str:
    merged = {**base, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


ENV.globals.update(when=_when, locator_steps=_locator_steps, query=_query, roles=ROLES)


def console(request: Request) -> Console:
    return request.app.state.console


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    identity: Identity | None = request.state.identity
    flash = None
    if identity is not None and identity.session is not None and identity.session.flash:
        flash = identity.session.flash
        console(request).accounts.flash(identity.session, None)
    html = ENV.get_template(template).render(identity=identity, flash=flash, path=request.url.path,
                                             csrf=identity.session.csrf if identity and identity.session else "",
                                             **context)
    return HTMLResponse(html, status_code=status_code)


def problem(request: Request, status_code: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status_code)
    if request.state.identity is None:
        return Response(message, status_code=status_code, media_type="text/plain")
    return render(request, "error.html", status_code=status_code, status=status_code, message=message)


def page(permission: str = "view") -> Callable:
    def wrap(handler: Callable[[Request, Identity], Response]) -> Callable[[Request], Response]:
        @functools.wraps(handler)
        def endpoint(request: Request) -> Response:
            identity: Identity = request.state.identity
            if not identity.user.may(permission):
                return problem(request, 403, f"your role ({identity.user.role}) may not see this page")
            return handler(request, identity)
        return endpoint
    return wrap


def action(permission: str) -> Callable:
    def wrap(handler: Callable[[Request, Identity, FormData], Response]) -> Callable:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            identity: Identity = request.state.identity
            if identity.session is None:
                return problem(request, 403, "forms are for browser sessions; API tokens cannot post them")
            if not same_origin(request):
                return problem(request, 403, "this form was sent from another site")
            async with request.form(max_files=0, max_fields=32, max_part_size=16 * 1024) as form:
                sent = str(form.get("csrf", ""))
                if not sent or not hmac.compare_digest(sent, identity.session.csrf):
                    return problem(request, 403, "the form's CSRF token is missing or wrong: reload the page and "
                                                 "try again")
                if not identity.user.may(permission):
                    return problem(request, 403, f"your role ({identity.user.role}) may not do this")
                return await run_in_threadpool(handler, request, identity, form)
        return endpoint
    return wrap


def same_origin(request: Request) -> bool:
    """A browser says where a form came from (Origin, else Referer); it must be this console."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def parse_date(text: str | None, name: str) -> dt.date | None:
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"{name}: {text[:40]!r} is not a date (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date (YYYY-MM-DD)") from None
