"""The console's JSON API for scripts: ``GET /api/incidents`` and ``GET /api/incidents/ID``.

A browser session or ``Authorization: Bearer TOKEN`` (see `dlp console token create`);
anything else is 401 before a handler runs (the guard in `app`). The queue's filters and
keyset cursors work here too; ``next`` is the cursor of the following page.

Incidents are given as `dlp incidents show --format json` gives them, except that text
of the scanned item (excerpts, the classifier's top words) is left out unless the
console's policy enables excerpts, as on the incident page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import UsageError
from ...incidents import INCIDENT_ID, Incident
from ...siem import feed_record
from .accounts import Identity
from .views import parse_cursors, queue_filter
from .web import console, page, problem


def _shown(request: Request, inc: Incident) -> dict:
    return inc.to_dict() if console(request).show_excerpts else feed_record(inc)


@page("view")
def incidents(request: Request, identity: Identity) -> Response:
    c = console(request)
    params = request.query_params
    try:
        where, _ = queue_filter(params, default_status=None)
        after, before = parse_cursors(params)
        limit = int(params.get("limit", c.settings.page_size))
    except (ValueError, UsageError) as exc:
        return problem(request, 400, str(exc))
    store = c.recorder().incidents
    found = store.page(where, size=max(1, min(limit, 500)), after=after, before=before)
    return JSONResponse({"incidents": [_shown(request, inc) for inc in found.incidents],
                         "next": str(found.older) if found.older else None,
                         "previous": str(found.newer) if found.newer else None})


@page("view")
def incident(request: Request, identity: Identity) -> Response:
    incident_id = request.path_params["incident_id"]
    if not INCIDENT_ID.fullmatch(incident_id):
        return problem(request, 404, "no such incident")
    try:
        inc = console(request).recorder().incidents.get(incident_id)
    except UsageError:
        return problem(request, 404, "no such incident")
    return JSONResponse(_shown(request, inc))
