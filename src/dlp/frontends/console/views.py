"""The console's pages: login, queue, incident (and its resolution), dashboard, audit, registry, users."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections import deque
from typing import Any, Iterator

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from ... import resolution
from ...audit import RESERVED
from ...errors import DlpError, UsageError
from ...incidents import INCIDENT_ID, STATUSES, Cursor, IncidentFilter
from ...types import PROBLEM_KINDS
from . import charts
from .accounts import NAME, ROLES, Identity, LoginRefused, LoginThrottled
from .app import LOGIN_COOKIE, SESSION_COOKIE
from .web import action, console, page, parse_date, problem, render

CHANNELS = ("mail", "watch", "cli", "cluster")
ACTIONS = ("warn", "quarantine", "block")
CLASSES = ("internal", "partner", "external", "embargoed", "unknown")
FILTER_KEYS = ("since", "until", "secret", "label", "tag", "to", "class", "problem", "channel", "action", "status")
DAY = 86400.0
# "plan v1 to li@firma.cn [external, CN]: rule:secret leaves -> block", as DestinationPolicy.decide writes them
REASON = re.compile(r"^(?P<secret>\S+) v(?P<version>\d+) to (?P<to>.+?) \[(?P<where>[^\]]*)\]: (?P<rule>.+) -> "
                    r"(?P<action>\w+)$")


# -- login -----------------------------------------------------------------------------------


def login_page(request: Request) -> Response:
    if request.state.identity is not None and request.state.identity.session is not None:
        return RedirectResponse("/", status_code=303)
    return _login_form(request)


def _login_form(request: Request, status_code: int = 200, error: str | None = None, name: str = "",
                headers: dict[str, str] | None = None) -> Response:
    # the same token for every login form of this browser: a second tab (or the favicon request a
    # browser makes, redirected here) must not invalidate the form already shown
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not re.fullmatch(r"[A-Za-z0-9_-]{32}", token):
        token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status_code=status_code, login_csrf=token, error=error, name=name)
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                        secure=console(request).settings.secure_cookies)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


async def login(request: Request) -> Response:
    async with request.form(max_files=0, max_fields=8, max_part_size=4096) as form:
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))
        sent, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        return _login_form(request, 403, "the login form expired or came from elsewhere: try again", name)
    client = request.client.host if request.client else "-"
    try:
        cookie, _ = await run_in_threadpool(console(request).accounts.login, name, password, client)
    except LoginThrottled as exc:
        return _login_form(request, 429, str(exc), name, headers={"retry-after": str(exc.retry_after)})
    except LoginRefused as exc:
        return _login_form(request, 401, str(exc), name)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, path="/", httponly=True, samesite="strict",
                        secure=console(request).settings.secure_cookies)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@action("view")
def logout(request: Request, identity: Identity, form: FormData) -> Response:
    console(request).accounts.logout(identity.session)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- the queue --------------------------------------------------------------------------------


def queue_filter(params, default_status: str | None = "open") -> tuple[IncidentFilter, dict[str, str]]:
    """The filter of a queue request, and the parameters as the form shows them. Raises ValueError.

    Without a `status` parameter the queue shows open incidents (what still needs a decision);
    an empty one shows every status."""
    shown = {key: (params.get(key) or "").strip()[:200] for key in FILTER_KEYS}
    if "status" not in params and default_status:
        shown["status"] = default_status
    for key, allowed in (("channel", CHANNELS), ("action", ACTIONS), ("status", STATUSES), ("class", CLASSES),
                         ("problem", PROBLEM_KINDS)):
        if shown[key] and shown[key] not in allowed:
            raise ValueError(f"{key}: {shown[key]!r} is not one of {', '.join(allowed)}")
    since, until = parse_date(shown["since"], "since"), parse_date(shown["until"], "until")
    where = IncidentFilter(
        since=_midnight(since), until=_midnight(until + dt.timedelta(days=1)) if until else None,
        secret=shown["secret"] or None, label=shown["label"] or None, tag=shown["tag"] or None, to=shown["to"] or None,
        recipient_class=shown["class"] or None, problem=shown["problem"] or None, channel=shown["channel"] or None,
        action=shown["action"] or None, status=shown["status"] or None)
    return where, shown


def _midnight(day: dt.date | None) -> float | None:
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp() if day else None


def parse_cursors(params) -> tuple[Cursor | None, Cursor | None]:
    after = Cursor.parse(params["after"]) if params.get("after") else None
    before = Cursor.parse(params["before"]) if params.get("before") and after is None else None
    return after, before


@page("view")
def queue(request: Request, identity: Identity) -> Response:
    c = console(request)
    try:
        where, shown = queue_filter(request.query_params)
        after, before = parse_cursors(request.query_params)
    except (ValueError, UsageError) as exc:
        return problem(request, 400, str(exc))
    store = c.recorder().incidents
    found = store.page(where, size=c.settings.page_size, after=after, before=before)
    total = store.count(where)
    registry = c.registry()
    rows = [_row(inc) for inc in found.incidents]
    return render(request, "queue.html", rows=rows, page=found, total=total, shown=shown,
                  capped=total > 10_000, channels=CHANNELS, actions=ACTIONS, statuses=STATUSES, classes=CLASSES,
                  problems=PROBLEM_KINDS, secrets=sorted(s["id"] for s in registry["secrets"]),
                  labels=sorted({s["label"] for s in registry["secrets"] if s["label"]}),
                  tags=sorted({t for s in registry["secrets"] for t in s["tags"]}))


def _short(item: str) -> str:
    """The item's own name (the last step of its locator, the file name of a path): the queue's column."""
    last = item.split("!/")[-1].rstrip("/")
    return last.rsplit("/", 1)[-1] or item


def _row(inc) -> dict[str, Any]:
    recipients = inc.body.get("recipients", [])
    return {"id": inc.id, "time": inc.time, "channel": inc.channel, "action": inc.action, "status": inc.status,
            "secrets": inc.secrets, "item": inc.item, "name": _short(inc.item), "problems": sorted({p["kind"] for p in inc.body.get("problems", [])}),
            "to": [r.get("address") or r.get("country") or r.get("class") or "-" for r in recipients]}


# -- one incident -----------------------------------------------------------------------------


def _incident_or_problem(request: Request):
    incident_id = request.path_params["incident_id"]
    if not INCIDENT_ID.fullmatch(incident_id):
        return None, problem(request, 404, "no such incident")
    try:
        return console(request).recorder().incidents.get(incident_id), None
    except UsageError:
        return None, problem(request, 404, "no such incident")


@page("view")
def incident(request: Request, identity: Identity) -> Response:
    inc, refused = _incident_or_problem(request)
    if refused is not None:
        return refused
    c = console(request)
    body = inc.body
    decided: dict[str, list[dict[str, str]]] = {}
    other_reasons = []
    for reason in body.get("reasons", []):
        m = REASON.match(reason)
        if m:
            decided.setdefault(m["to"], []).append(m.groupdict())
        else:
            other_reasons.append(reason)
    findings = []
    for f in body.get("findings", []):
        evidence = f.get("evidence", {})
        ranges = [run["secret_words"] for run in evidence.get("runs", []) if run.get("secret_words")]
        bar = None
        if f.get("kind") == "document" and evidence.get("secret_words"):
            bar = charts.coverage(evidence["secret_words"], ranges,
                                  f"matched word ranges of {f['secret']} over its {evidence['secret_words']} words")
        findings.append({"f": f, "evidence": evidence, "bar": bar, "positions": _positions(f)})
    return render(request, "incident.html", inc=inc, body=body, findings=findings, decided=decided,
                  other_reasons=other_reasons, show_excerpts=c.show_excerpts, today=c.today().isoformat(),
                  may_act=identity.user.may("act") and inc.status == "open",
                  can_allow=any(f.get("digest") for f in body.get("findings", [])))


def _positions(f: dict[str, Any]) -> list[dict[str, Any]]:
    """Where in the scanned part the finding is, one row per run, term, record or sentence pair."""
    evidence = f.get("evidence", {})
    out = []
    for run in evidence.get("runs", []):
        out.append({"chars": (run.get("start"), run.get("end")), "page": run.get("page"),
                    "what": f"{run.get('words')} words, secret words {run.get('secret_words', ['?', '?'])[0]}-"
                            f"{run.get('secret_words', ['?', '?'])[1]}"})
    for m in evidence.get("matches", []):
        what = f"term on line {m['term']} of the term file" if "term" in m else \
            f"row {m.get('row')}: {', '.join(m.get('fields', []))}"
        out.append({"chars": (m.get("start"), m.get("end")), "page": m.get("page"), "what": what})
    for p in evidence.get("pairs", []):
        out.append({"chars": (p.get("start"), p.get("end")), "page": p.get("page"),
                    "what": f"sentence {p.get('secret_sentence')} of the secret, similarity {p.get('cosine')}"})
    for w in evidence.get("top_words", []):
        out.append({"chars": (w.get("start"), w.get("end")), "page": w.get("page"),
                    "what": f"word weighing {w.get('weight')}", "word": w.get("word")})
    return out


DECISIONS = {"release": "released", "false_positive": "false positive", "confirm": "confirmed as a leak"}


@action("act")
def resolve(request: Request, identity: Identity, form: FormData) -> Response:
    inc, refused = _incident_or_problem(request)
    if refused is not None:
        return refused
    c = console(request)
    decision = str(form.get("decision", ""))
    justification = str(form.get("justification", "")).strip()
    if decision not in DECISIONS:
        return problem(request, 400, "choose release, false positive or confirm")
    if not justification:
        return problem(request, 400, "a justification is required: say why")
    try:
        allow_until = parse_date(str(form.get("allow_until", "")).strip(), "allow until")
    except ValueError as exc:
        return problem(request, 400, str(exc))
    if allow_until is not None and decision == "confirm":
        return problem(request, 400, "a confirmed leak leaves no allow entry")
    if allow_until is not None and allow_until < c.today():
        return problem(request, 400, f"allow until {allow_until.isoformat()} is in the past")
    recorder = c.recorder()
    try:
        if decision == "confirm":
            done = resolution.confirm(recorder, inc.id, by=identity.name, justification=justification,
                                      via=identity.via)
        else:
            done = resolution.release(recorder, inc.id, by=identity.name, justification=justification,
                                      false_positive=decision == "false_positive", allow_until=allow_until,
                                      postsuper=c.settings.postsuper, via=identity.via)
    except DlpError as exc:
        return problem(request, 409, f"{inc.id} was not resolved: {exc}")
    message = f"{inc.id}: {DECISIONS[decision]} by {identity.name}; {done.outcome}"
    if done.allows:
        message += "; allow entries " + ", ".join(f"{a.id} ({a.secret} to {a.destination} until "
                                                   f"{a.until.isoformat()})" for a in done.allows)
    for note in done.notes:
        message += f"; {note}"
    c.accounts.flash(identity.session, message)
    return RedirectResponse(f"/incidents/{inc.id}", status_code=303)


# -- dashboard --------------------------------------------------------------------------------


@page("view")
def dashboard(request: Request, identity: Identity) -> Response:
    c = console(request)
    try:
        days = int(request.query_params.get("days", c.settings.dashboard_days))
    except ValueError:
        return problem(request, 400, "days: a number of days")
    days = max(1, min(days, 366))
    today = c.today()
    first = today - dt.timedelta(days=days - 1)
    since = _midnight(first)
    store = c.recorder().incidents
    labels = [(first + dt.timedelta(days=i)).isoformat() for i in range(days)]
    counts = {a: [0] * days for a in ACTIONS}
    for day, act, n in store.per_day(since):
        if act in counts and day in labels:
            counts[act][labels.index(day)] += n
    exposure_settings = getattr(c.policy, "exposure", None)
    window = exposure_settings.window_days if exposure_settings is not None else 30
    threshold = exposure_settings.threshold if exposure_settings is not None and exposure_settings.enabled else None
    leaks = _exposures(c, window)
    chart = {
        "per_day": charts.per_day(labels, counts, f"incidents per day by action, last {days} days"),
        "secrets": charts.bars(store.top("secret", since), "incidents per secret"),
        "countries": charts.bars([(v.upper(), n) for v, n in store.top("country", since)],
                                 "incidents per destination country"),
        "domains": charts.bars(store.top("domain", since), "incidents per destination domain"),
        "problems": charts.bars(store.top("problem", since), "incidents with unreadable parts, per kind"),
        "exposure": charts.bars([(f"{e.secret} to {e.destination.split(':', 1)[-1]} ({e.words}/{e.total} words)",
                                  e.share) for e in leaks[:12]], "share of each secret that reached a destination",
                                share=True, threshold=threshold, empty="nothing has left in slices"),
    }
    totals = {a: sum(v) for a, v in counts.items()}
    return render(request, "dashboard.html", chart=chart, days=days, totals=totals, window=window,
                  threshold=threshold, exposure_enabled=threshold is not None)


def _exposures(c, window_days: float):
    from ...recording import EXPOSURE_FILE
    from ...exposure import ExposureLedger

    path = c.settings.state / EXPOSURE_FILE
    if not path.exists():
        return []
    ledger = ExposureLedger(path, clock=c.clock)
    try:
        return ledger.exposures(window_days)
    finally:
        ledger.close()


# -- audit ------------------------------------------------------------------------------------


AUDIT_FILTERS = ("event", "q", "since", "incident")


def _audit_matches(c, params) -> Iterator[dict[str, Any]]:
    event = (params.get("event") or "").strip()
    text = (params.get("q") or "").strip().lower()
    incident_id = (params.get("incident") or "").strip()
    since = parse_date((params.get("since") or "").strip(), "since")
    since_text = since.isoformat() if since else ""
    for entry in c.audit.entries():
        if event and entry.get("event") != event:
            continue
        if incident_id and entry.get("incident") != incident_id:
            continue
        if since_text and str(entry.get("time", "")) < since_text:
            continue
        if text and text not in json.dumps({k: v for k, v in entry.items() if k not in ("prev", "hash")},
                                           ensure_ascii=False).lower():
            continue
        yield entry


@page("view")
def audit(request: Request, identity: Identity) -> Response:
    c = console(request)
    params = request.query_params
    shown = {k: (params.get(k) or "").strip()[:200] for k in AUDIT_FILTERS}
    try:
        before = int(params["before"]) if params.get("before") else None
        size = c.settings.page_size
        kept: deque = deque(maxlen=size + 1)
        for entry in _audit_matches(c, params):
            if before is not None and entry.get("seq", 0) >= before:
                break
            kept.append(entry)
    except ValueError as exc:
        return problem(request, 400, str(exc))
    except DlpError as exc:
        return render(request, "audit.html", verification=c.verification(), entries=[], shown=shown, older=None,
                      error=str(exc), events=_EVENTS)
    entries = list(kept)
    older = entries[0]["seq"] if len(entries) > size else None
    entries = entries[-size:][::-1]
    rows = [{"seq": e.get("seq"), "time": e.get("time"), "event": e.get("event"),
             "fields": {k: v for k, v in e.items() if k not in RESERVED}} for e in entries]
    return render(request, "audit.html", verification=c.verification(), entries=rows, shown=shown, older=older,
                  error=None, events=_EVENTS)


_EVENTS = ("decision", "release", "allow", "confirm", "console", "register", "terms", "records", "remove", "policy",
           "unscanned")


@page("view")
def audit_export(request: Request, identity: Identity) -> Response:
    c = console(request)
    try:
        parse_date((request.query_params.get("since") or "").strip(), "since")
    except ValueError as exc:
        return problem(request, 400, str(exc))

    def lines() -> Iterator[bytes]:
        for entry in _audit_matches(c, request.query_params):
            yield (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    stamp = c.today().isoformat()
    return StreamingResponse(lines(), media_type="application/x-ndjson",
                             headers={"content-disposition": f'attachment; filename="dlp-audit-{stamp}.jsonl"'})


# -- registry ---------------------------------------------------------------------------------


@page("view")
def registry(request: Request, identity: Identity) -> Response:
    overview = console(request).registry()
    rows = []
    for s in overview["secrets"]:
        latest = s["versions"][-1] if s["versions"] else {}
        size = {"document": f"{latest.get('tokens', 0)} words", "terms": f"{latest.get('terms', 0)} terms",
                "records": f"{latest.get('rows', 0)} rows"}.get(s["kind"], "")
        rows.append({"id": s["id"], "kind": s["kind"], "label": s["label"], "classification": s["classification"],
                     "owner": s["owner"], "tags": s["tags"], "versions": len(s["versions"]),
                     "version": latest.get("version"), "size": size, "changed": latest.get("registered")})
    return render(request, "registry.html", overview=overview, rows=rows)


# -- users and tokens (admins) ----------------------------------------------------------------


@page("manage")
def users(request: Request, identity: Identity) -> Response:
    accounts = console(request).accounts
    return render(request, "users.html", users=accounts.users(), tokens=accounts.tokens(), roles=ROLES)


def _user_change(request: Request, identity: Identity, change) -> Response:
    try:
        change()
    except UsageError as exc:
        return problem(request, 400, str(exc))
    return RedirectResponse("/users", status_code=303)


@action("manage")
def add_user(request: Request, identity: Identity, form: FormData) -> Response:
    name, role, password = str(form.get("name", "")).strip(), str(form.get("role", "")), str(form.get("password", ""))
    accounts = console(request).accounts

    def change() -> None:
        accounts.add_user(name, role, password, by=identity.name, via=identity.via)
        accounts.flash(identity.session, f"user {name} added as {role}")
    return _user_change(request, identity, change)


@action("manage")
def set_role(request: Request, identity: Identity, form: FormData) -> Response:
    name, role = request.path_params["name"], str(form.get("role", ""))
    if not NAME.fullmatch(name):
        return problem(request, 404, "no such user")
    accounts = console(request).accounts

    def change() -> None:
        accounts.set_role(name, role, by=identity.name, via=identity.via)
        accounts.flash(identity.session, f"{name} is now {role}")
    return _user_change(request, identity, change)


@action("manage")
def remove_user(request: Request, identity: Identity, form: FormData) -> Response:
    name = request.path_params["name"]
    if not NAME.fullmatch(name):
        return problem(request, 404, "no such user")
    accounts = console(request).accounts

    def change() -> None:
        accounts.remove_user(name, by=identity.name, via=identity.via)
        accounts.flash(identity.session, f"user {name} removed")
    return _user_change(request, identity, change)


@action("manage")
def revoke_token(request: Request, identity: Identity, form: FormData) -> Response:
    text = request.path_params["token_id"]
    if not text.isdigit() or len(text) > 12:
        return problem(request, 404, "no such token")
    accounts = console(request).accounts

    def change() -> None:
        accounts.revoke_token(int(text), by=identity.name, via=identity.via)
        accounts.flash(identity.session, f"token {text} revoked")
    return _user_change(request, identity, change)


# -- errors -----------------------------------------------------------------------------------


async def not_found(request: Request, exc: Exception) -> Response:
    return problem(request, 404, "no such page")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return problem(request, 405, "method not allowed")
