"""The console in process (Starlette's TestClient): pages, filters, actions, API, and every refusal."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.incidents import IncidentStore

from .conftest import PASSWORD, csrf_of, held, login, snapshot
from .demo import EXAMPLES

PAGES = ("/", "/?status=", "/dashboard", "/dashboard?days=7", "/audit", "/registry", "/users")


def incidents_of(demo, **where) -> list:
    store = IncidentStore(demo.state)
    try:
        return [i for i in store.query() if all(getattr(i, k) == v for k, v in where.items())]
    finally:
        store.close()


# -- who may see what ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/incidents/INC-20260101-00000000", "/audit/export", "/nowhere",
                                  "/users/ada/role"])
def test_a_visitor_who_is_not_logged_in_gets_only_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert response.text == ""
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("path", ["/api/incidents", "/api/incidents/INC-20260101-00000000", "/api/other"])
def test_the_api_answers_401_without_a_session_or_token(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "incidents" not in response.json().get("error", "").lower() or "authentication" in response.json()["error"]


def test_login_page_and_static_files_are_public(client):
    page = client.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text and "<script" not in page.text
    css = client.get("/static/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/nothing.css").status_code == 404
    assert client.get("/static/../app.py").status_code in (303, 404)


def test_login_sets_a_strict_http_only_session_cookie(client):
    page = client.get("/login")
    response = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("dlp_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on the loopback; behind TLS the cookie is Secure (test_command)
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("name,password,status", [
    ("rita", "wrong password entirely", 401),
    ("nobody", PASSWORD, 401),
    ("rita", "", 401),
])
def test_wrong_password_is_401_and_changes_nothing(client, demo, name, password, status):
    before = snapshot(demo)
    page = client.get("/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(page.text)})
    assert response.status_code == status
    assert "wrong user name or password" in response.text and "dlp_session" not in response.headers.get("set-cookie", "")
    assert client.get("/").status_code == 303
    assert snapshot(demo) == before
    last = list(AuditLog(demo.state).entries())[-1]
    assert last["event"] == "console" and last["action"] == "login-failed" and last["user"] == name


def test_login_without_its_form_token_is_refused(client):
    response = client.post("/login", data={"name": "rita", "password": PASSWORD, "csrf": "forged"})
    assert response.status_code == 403 and "dlp_session" not in response.headers.get("set-cookie", "")


def test_logins_are_throttled_per_user(client_for, clock):
    client = client_for()
    page = client.get("/login")
    token = csrf_of(page.text)
    codes = [client.post("/login", data={"name": "vic", "password": f"guess {i}", "csrf": token}).status_code
             for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    refused = client.post("/login", data={"name": "vic", "password": PASSWORD, "csrf": token})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0  # even the right password
    clock.now += 16 * 60
    assert client.post("/login", data={"name": "vic", "password": PASSWORD, "csrf": token}).status_code == 303


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("user", ["ada", "rita", "vic"])
def test_every_page_renders_for_every_role(client, user, path):
    login(client, user)
    response = client.get(path)
    if path == "/users" and user != "ada":
        assert response.status_code == 403
        return
    assert response.status_code == 200, response.text
    assert "<script" not in response.text and "Log out" in response.text
    assert "server-timing" in response.headers and response.headers["cache-control"] == "no-store"


def test_idle_session_expires(client, clock):
    login(client, "rita")
    assert client.get("/").status_code == 200
    clock.now += 29 * 60
    assert client.get("/").status_code == 200        # activity keeps it alive
    clock.now += 31 * 60
    assert client.get("/").status_code == 303        # idle too long: back to the login page
    assert client.get("/api/incidents").status_code == 401


def test_an_expired_session_cannot_release(client, demo, clock):
    incident, quarantined = held(demo, "crm-pipeline-export-2024-09.csv")
    login(client, "rita")
    page = client.get(f"/incidents/{incident}")
    before = snapshot(demo)
    clock.now += 31 * 60
    response = client.post(f"/incidents/{incident}/resolve",
                           data={"csrf": csrf_of(page.text), "decision": "release", "justification": "late"})
    assert response.status_code == 401
    assert quarantined.exists() and snapshot(demo) == before


def test_logout_ends_the_session(client):
    login(client, "vic")
    page = client.get("/")
    cookie = client.cookies.get("dlp_session")
    assert client.post("/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    client.cookies.set("dlp_session", cookie)       # a stolen copy of the cookie is worth nothing now
    assert client.get("/").status_code == 303


# -- the queue -----------------------------------------------------------------------------------


def queue_ids(client, query: str) -> list[str]:
    response = client.get("/?" + query)
    assert response.status_code == 200, response.text
    return re.findall(r'<a href="/incidents/(INC-[0-9]{8}-[0-9a-f]{8})">', response.text)


@pytest.mark.parametrize("query,expect", [
    ("status=", lambda i: True),
    ("", lambda i: i.status == "open"),
    ("status=&secret=formulation", lambda i: "formulation" in i.secrets),
    ("status=&label=Customer+list", lambda i: "customers" in i.secrets),
    ("status=&tag=halcyon", lambda i: bool({"formulation", "design-spec"} & set(i.secrets))),
    ("status=&to=CN", lambda i: any(r.get("country") == "CN" for r in i.body["recipients"])),
    ("status=&to=firma.cn", lambda i: any(r.get("domain") == "firma.cn" for r in i.body["recipients"])),
    ("status=&to=li.wei%40firma.cn", lambda i: any(r.get("address") == "li.wei@firma.cn" for r in i.body["recipients"])),
    ("status=&class=embargoed", lambda i: any(r.get("class") == "embargoed" for r in i.body["recipients"])),
    ("status=&channel=watch", lambda i: i.channel == "watch"),
    ("status=&action=warn", lambda i: i.action == "warn"),
    ("status=&problem=corrupt", lambda i: any(p["kind"] == "corrupt" for p in i.body["problems"])),
    ("status=&channel=mail&action=block&class=external&secret=design-spec",
     lambda i: i.channel == "mail" and i.action == "block" and "design-spec" in i.secrets
     and any(r.get("class") == "external" for r in i.body["recipients"])),
])
def test_queue_filters_match_the_store(client, demo, query, expect):
    login(client, "vic")
    every = sorted(incidents_of(demo), key=lambda i: (i.time, i.id), reverse=True)
    wanted = [i.id for i in every if expect(i)]
    assert wanted, f"the demo has no incident for {query}"
    shown = []
    url = query
    for _ in range(20):  # pages of 50, newest first
        response = client.get("/?" + url)
        shown += re.findall(r'<a href="/incidents/(INC-[0-9]{8}-[0-9a-f]{8})">', response.text)
        following = re.search(r'<a rel="next" href="/\?([^"]+)"', response.text)
        if not following:
            break
        url = following.group(1).replace("&amp;", "&")
    assert shown == wanted


def test_queue_time_range(client, demo):
    login(client, "vic")
    every = incidents_of(demo)
    days = sorted({__import__("time").strftime("%Y-%m-%d", __import__("time").gmtime(i.time)) for i in every})
    first, last = days[1], days[3]
    got = queue_ids(client, f"status=&since={first}&until={last}")
    import datetime as dt

    def day(i):
        return dt.datetime.fromtimestamp(i.time, dt.timezone.utc).date().isoformat()
    assert sorted(got) == sorted(i.id for i in every if first <= day(i) <= last) and got


def test_queue_pages_back_and_forth_without_gaps(client_for, demo):
    client = client_for(page_size=7)
    login(client, "vic")
    every = [i.id for i in sorted(incidents_of(demo), key=lambda i: (i.time, i.id), reverse=True)]
    pages, url = [], "status="
    while True:
        response = client.get("/?" + url)
        pages.append(re.findall(r'<a href="/incidents/(INC-[0-9]{8}-[0-9a-f]{8})">', response.text))
        following = re.search(r'<a rel="next" href="/\?([^"]+)"', response.text)
        if not following:
            break
        url = following.group(1).replace("&amp;", "&")
    assert [i for p in pages for i in p] == every and all(len(p) == 7 for p in pages[:-1])
    back = re.search(r'<a rel="prev" href="/\?([^"]+)"', response.text).group(1).replace("&amp;", "&")
    assert queue_ids(client, back) == pages[-2]


@pytest.mark.parametrize("query", ["since=yesterday", "status=bogus", "channel=fax", "after=1.0~../../etc",
                                   "before=nan~INC-20260101-00000000", "class=%3Cscript%3E"])
def test_bad_queue_parameters_are_400(client, query):
    login(client, "vic")
    response = client.get("/?" + query)
    assert response.status_code == 400 and "<script>" not in response.text


# -- an incident -----------------------------------------------------------------------------------


def test_incident_page_shows_the_evidence_and_never_the_secret(client, demo):
    login(client, "vic")
    [memo] = [i for i in incidents_of(demo, channel="watch") if i.item.endswith("memo-soltera-gelled-pails.docx")]
    page = client.get(f"/incidents/{memo.id}").text
    finding = memo.body["findings"][0]
    run = finding["evidence"]["runs"][0]
    assert "formulation v1" in page and "Coating formulation" in page and "fingerprint (document)" in page
    assert f"{run['start']}–{run['end']}" in page                              # positions in the item
    assert f"secret words {run['secret_words'][0]}-{run['secret_words'][1]}" in page
    assert f"<title>words {run['secret_words'][0]}-{run['secret_words'][1]} of" in page  # the bar over the secret
    assert "procurement@shenzhen-coatings.cn" in page and "external" in page and "CN" in page
    assert "rule:secret leaves the company" in page
    assert "quarantined file" in page and "Justification" not in page        # a viewer gets no form


def test_no_page_holds_text_of_a_registered_secret(client, demo):
    """Attack: every page and API answer over the whole demo, searched for any 8-word run of any secret."""
    login(client, "ada")
    secrets = [(EXAMPLES / "secrets/formulation.md").read_text(), (EXAMPLES / "secrets/mixing_controller.py").read_text()]
    from docx import Document

    secrets.append("\n".join(p.text for p in Document(EXAMPLES / "secrets/design-spec.docx").paragraphs))
    footer = (EXAMPLES / "public/legal-notice.txt").read_text().split()
    shingles = set()
    for text in secrets:
        words = [w for w in re.findall(r"\w+", text.lower())]
        shingles |= {" ".join(words[i:i + 8]) for i in range(len(words) - 8)}
    shingles -= {" ".join(footer[i:i + 8]).lower() for i in range(len(footer) - 8)}
    bodies = [client.get(p).text for p in PAGES]
    bodies += [client.get(f"/incidents/{i.id}").text for i in incidents_of(demo)]
    bodies += [client.get(f"/api/incidents/{i.id}").text for i in incidents_of(demo)[:20]]
    bodies.append(client.get("/api/incidents?status=&limit=500").text)
    bodies.append(client.get("/audit/export").text)
    for body in bodies:
        words = re.findall(r"\w+", re.sub(r"<[^>]+>", " ", body).lower())
        leaked = {" ".join(words[i:i + 8]) for i in range(len(words) - 8)} & shingles
        assert not leaked, f"secret text in a page: {sorted(leaked)[:3]}"


@pytest.mark.parametrize("path", [
    "/incidents/..%2F..%2Fetc%2Fpasswd", "/incidents/INC-20261129-zzzzzzzz", "/incidents/INC-20261129-00000000",
    "/incidents/%2e%2e", "/incidents/INC-20261129-00000000%00", "/api/incidents/..%2Fincidents.sqlite",
    "/api/incidents/INC-20261129-00000000", "/incidents/.%2e/.%2e/state/audit.key",
])
def test_path_traversal_in_an_id_is_404(client, path):
    login(client, "ada")
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text and "BEGIN" not in response.text


@pytest.mark.parametrize("path,field", [
    ("/incidents/..%2F..%2Fetc%2Fpasswd/resolve", {"decision": "release"}),
    ("/incidents/INC-20261129-00000000/resolve", {"decision": "release"}),
    ("/users/..%2F..%2Fada/role", {"role": "viewer"}),
    ("/users/ada%2F..%2Frita/remove", {}),
    ("/tokens/..%2F1/revoke", {}),
])
def test_path_traversal_in_an_action_is_404_and_changes_nothing(client, demo, path, field):
    login(client, "ada")
    token = csrf_of(client.get("/").text)
    before = snapshot(demo)
    response = client.post(path, data={"csrf": token, "justification": "x", **field})
    assert response.status_code == 404
    assert snapshot(demo) == before


# -- actions ---------------------------------------------------------------------------------------


def resolve(client, incident, **fields):
    page = client.get(f"/incidents/{incident}")
    return client.post(f"/incidents/{incident}/resolve", data={"csrf": csrf_of(page.text), **fields})


def test_release_moves_the_file_through_the_shared_code_path(client, demo):
    incident, quarantined = held(demo, "memo-soltera-gelled-pails.docx")
    content = quarantined.read_bytes()
    login(client, "rita")
    response = resolve(client, incident, decision="release", justification="memo approved by legal, ticket 4711")
    assert response.status_code == 303 and response.headers["location"] == f"/incidents/{incident}"
    released = demo.release / "memo-soltera-gelled-pails.docx"
    assert released.read_bytes() == content and not quarantined.exists()
    assert not quarantined.with_name(quarantined.name + ".dlp.json").exists()
    page = client.get(f"/incidents/{incident}").text
    assert f"moved to {released}" in page                                       # the flash message
    assert "released</strong> by rita" in page and "memo approved by legal, ticket 4711" in page
    [inc] = [i for i in incidents_of(demo) if i.id == incident]
    assert (inc.status, inc.resolved_by) == ("released", "rita")
    audit = AuditLog(demo.state)
    assert audit.verify().ok
    last = list(audit.entries())[-1]
    assert (last["event"], last["incident"], last["by"], last["via"]) == ("release", incident, "rita", "console")
    again = resolve(client, incident, decision="release", justification="twice")
    assert again.status_code == 409 and "already released" in again.text


@pytest.fixture
def postsuper(tmp_path) -> tuple[str, Path]:
    """A stand-in for postsuper that records its arguments (the console's --postsuper)."""
    calls = tmp_path / "postsuper.calls"
    script = tmp_path / "fake-postsuper"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), calls


def test_release_of_a_held_mail_runs_postsuper_and_leaves_an_allow_entry(client_for, demo, postsuper):
    command, calls = postsuper
    client = client_for(postsuper=f"{command} -c /etc/postfix-out")
    mail = next(i for i in incidents_of(demo, channel="mail", status="open", action="block")
                if i.secrets == ["design-spec"] and i.body["recipients"][0]["class"] == "external")
    login(client, "rita")
    response = resolve(client, mail.id, decision="release", justification="licence 2026-14 signed",
                       allow_until="2099-12-31")
    assert response.status_code == 303, response.text
    assert calls.read_text() == f"-c /etc/postfix-out -H {mail.target['queue_id']}\n"
    store = IncidentStore(demo.state)
    allows = [a for a in store.allows() if a.incident == mail.id]
    store.close()
    assert allows and all(a.until.isoformat() == "2099-12-31" and a.created_by == "rita" for a in allows)
    events = [e for e in AuditLog(demo.state).entries() if e.get("incident") == mail.id]
    # evidence first: the release's intent, its allow entries, then its completion
    assert [e["event"] for e in events] == ["decision", "release", *["allow"] * len(allows), "release"]
    assert [e.get("phase") for e in events if e["event"] == "release"] == ["intent", "done"]
    assert all(e["by"] == "rita" and e["via"] == "console" for e in events[1:])


def test_confirm_and_false_positive(client, demo):
    login(client, "rita")
    open_warns = [i for i in incidents_of(demo, channel="mail", status="open", action="warn")]
    first, second = open_warns[0], open_warns[1]
    assert resolve(client, first.id, decision="confirm", justification="sent to a competitor").status_code == 303
    assert resolve(client, second.id, decision="false_positive", justification="public datasheet").status_code == 303
    status = {i.id: (i.status, i.resolved_by) for i in incidents_of(demo)}
    assert status[first.id] == ("confirmed", "rita") and status[second.id] == ("false_positive", "rita")
    entries = list(AuditLog(demo.state).entries())
    assert {(e["event"], e.get("status")) for e in entries if e.get("incident") in (first.id, second.id)} >= {
        ("confirm", None), ("release", "false_positive")}


@pytest.mark.parametrize("fields,status,says", [
    ({"decision": "release", "justification": "   "}, 400, "justification is required"),
    ({"decision": "release"}, 400, "justification is required"),
    ({"decision": "delete", "justification": "x"}, 400, "choose release"),
    ({"decision": "release", "justification": "x", "allow_until": "2001-01-01"}, 400, "in the past"),
    ({"decision": "release", "justification": "x", "allow_until": "31/12/2099"}, 400, "not a date"),
    ({"decision": "confirm", "justification": "x", "allow_until": "2099-12-31"}, 400, "no allow entry"),
])
def test_an_action_without_a_proper_justification_changes_nothing(client, demo, fields, status, says):
    incident, quarantined = held(demo, "crm-pipeline-export-2024-09.csv")
    login(client, "rita")
    before = snapshot(demo)
    response = resolve(client, incident, **fields)
    assert response.status_code == status and says in response.text
    assert quarantined.exists() and snapshot(demo) == before


def test_a_viewer_cannot_release(client, demo):
    incident, quarantined = held(demo, "crm-pipeline-export-2024-09.csv")
    login(client, "vic")
    before = snapshot(demo)
    response = resolve(client, incident, decision="release", justification="I am only a viewer")
    assert response.status_code == 403 and "may not" in response.text
    assert quarantined.exists() and snapshot(demo) == before


@pytest.mark.parametrize("token", [None, "", "forged-token", "x" * 43])
def test_a_form_without_its_csrf_token_is_refused(client, demo, token):
    incident, quarantined = held(demo, "crm-pipeline-export-2024-09.csv")
    login(client, "rita")
    before = snapshot(demo)
    data = {"decision": "release", "justification": "no token"}
    if token is not None:
        data["csrf"] = token
    response = client.post(f"/incidents/{incident}/resolve", data=data)
    assert response.status_code == 403 and "CSRF" in response.text
    assert quarantined.exists() and snapshot(demo) == before


def test_a_form_from_another_site_is_refused(client, demo):
    incident, quarantined = held(demo, "crm-pipeline-export-2024-09.csv")
    login(client, "rita")
    token = csrf_of(client.get("/").text)
    before = snapshot(demo)
    response = client.post(f"/incidents/{incident}/resolve", headers={"origin": "https://evil.example"},
                           data={"csrf": token, "decision": "release", "justification": "cross-site"})
    assert response.status_code == 403 and quarantined.exists() and snapshot(demo) == before


# -- users -----------------------------------------------------------------------------------------


def test_admins_manage_users_and_each_change_is_audited(client, demo):
    login(client, "ada")
    token = csrf_of(client.get("/users").text)
    response = client.post("/users", data={"csrf": token, "name": "tess", "role": "viewer",
                                           "password": "a long enough password"})
    assert response.status_code == 303
    assert client.post("/users/tess/role", data={"csrf": token, "role": "reviewer"}).status_code == 303
    assert "tess" in client.get("/users").text
    assert client.post("/users/tess/remove", data={"csrf": token}).status_code == 303
    assert client.post("/users/ada/remove", data={"csrf": token}).status_code == 400   # the last admin stays
    actions = [(e["action"], e.get("user"), e["by"]) for e in AuditLog(demo.state).entries()
               if e["event"] == "console" and e.get("by") == "ada"]
    assert actions[-3:] == [("user-add", "tess", "ada"), ("user-role", "tess", "ada"), ("user-remove", "tess", "ada")]


@pytest.mark.parametrize("user", ["rita", "vic"])
def test_only_admins_manage_users(client, demo, user):
    login(client, user)
    token = csrf_of(client.get("/").text)
    before = snapshot(demo)
    assert client.get("/users").status_code == 403
    assert client.post("/users", data={"csrf": token, "name": "mallory", "role": "admin",
                                       "password": "a long enough password"}).status_code == 403
    assert client.post("/users/ada/role", data={"csrf": token, "role": "viewer"}).status_code == 403
    assert snapshot(demo) == before


# -- API -------------------------------------------------------------------------------------------


def test_api_with_a_token(client, demo):
    from dlp.frontends.console.accounts import Accounts

    accounts = Accounts(demo.state, AuditLog(demo.state))
    token, made = accounts.create_token("vic", "siem script", by="test", via="cli")
    headers = {"authorization": f"Bearer {token}"}
    listing = client.get("/api/incidents?status=&channel=watch", headers=headers)
    assert listing.status_code == 200
    ids = [i["id"] for i in listing.json()["incidents"]]
    assert sorted(ids) == sorted(i.id for i in incidents_of(demo, channel="watch"))
    one = client.get(f"/api/incidents/{ids[0]}", headers=headers).json()
    assert one["id"] == ids[0] and one["findings"][0]["evidence"]["runs"]
    assert client.get("/", headers=headers).status_code == 303   # tokens are for the API, not pages
    accounts.revoke_token(made.id, by="test", via="cli")
    assert client.get("/api/incidents", headers=headers).status_code == 401


@pytest.mark.parametrize("header", ["Bearer dlpc_forged", "Bearer " + "dlpc_" + "A" * 43, "Basic YWRhOnB3",
                                    "Bearer", "bearer  ", "Bearer dlpc_" + "x" * 500])
def test_a_forged_token_is_401(client, header):
    response = client.get("/api/incidents", headers={"authorization": header})
    assert response.status_code == 401


def test_api_pages_with_cursors(client_for, demo):
    client = client_for()
    login(client, "vic")
    every = [i.id for i in sorted(incidents_of(demo), key=lambda i: (i.time, i.id), reverse=True)]
    got, cursor = [], None
    while True:
        body = client.get("/api/incidents", params={"limit": 9, **({"after": cursor} if cursor else {})}).json()
        got += [i["id"] for i in body["incidents"]]
        cursor = body["next"]
        if not cursor:
            break
    assert got == every


def test_excerpts_only_when_the_policy_enables_them(client_for, demo, tmp_path):
    """An incident recorded with an excerpt shows it only while the console's policy enables excerpts."""
    from dlp.recording import Recorder
    from dlp.destinations import load_policy
    from dlp.scanner import open_scanner
    from dlp.types import Destination

    policy = tmp_path / "policy.toml"
    policy.write_text(Path(demo.policy).read_text().replace("excerpt = false", "excerpt = true"))
    scanner = open_scanner(demo.registry, None, policy)
    destination = Destination(("x@firma.cn",), None, "mail")
    report = scanner.scan_path(EXAMPLES / "outbox/memo-soltera-gelled-pails.docx", destination)
    excerpt = report.findings[0].evidence.excerpt
    recorder = Recorder(demo.state, load_policy(policy))
    decided = recorder.decider().decide(report, destination)
    incident = recorder.record(decided, destination, {"kind": "mail", "queue_id": "EXCERPT1"}).meta["incident"]
    recorder.close()
    words = " ".join(excerpt.split()[:6])
    with_excerpts, without = client_for(policy=str(policy)), client_for()
    for c in (with_excerpts, without):
        login(c, "vic")
    assert words in with_excerpts.get(f"/incidents/{incident}").text
    assert words in with_excerpts.get(f"/api/incidents/{incident}").text
    assert words not in without.get(f"/incidents/{incident}").text
    assert words not in without.get(f"/api/incidents/{incident}").text


def test_dashboard_draws_charts_from_the_state(client, demo):
    login(client, "vic")
    page = client.get("/dashboard").text
    assert page.count("<svg") >= 6
    for secret in ("formulation", "design-spec", "customers"):
        assert f"<title>{secret}:" in page
    assert "<title>CN:" in page and "<title>firma.cn:" in page and "<title>corrupt:" in page
    assert "mixing-controller to gearpumps-talk.com" in page   # the slow leak of the demo


def test_audit_view_verifies_filters_and_exports(client, demo):
    login(client, "vic")
    page = client.get("/audit").text
    assert "Intact:" in page
    release_only = client.get("/audit?event=register").text
    # public + 3 documents, each an intent and a completion
    assert release_only.count("<td data-label=\"Event\">register</td>") == 8
    export = client.get("/audit/export?event=register")
    assert export.headers["content-disposition"].startswith("attachment")
    lines = [json.loads(line) for line in export.text.splitlines()]
    assert lines and {e["event"] for e in lines} == {"register"} and all("hash" in e for e in lines)


def test_audit_view_reports_a_broken_trail(client_for, demo, tmp_path):
    import shutil

    state = tmp_path / "state"
    shutil.copytree(demo.state, state)
    log = state / "audit.jsonl"
    lines = log.read_text().splitlines()
    lines[2] = lines[2].replace('"event":', '"edited":true,"event":', 1)
    log.write_text("\n".join(lines) + "\n")
    client = client_for(state=state)
    login(client, "vic")
    page = client.get("/audit").text
    assert "Broken at line 3" in page and "altered" in page


def test_registry_overview_lists_metadata_only(client, demo):
    login(client, "vic")
    page = client.get("/registry").text
    for secret in ("formulation", "design-spec", "mixing-controller", "codenames", "customers"):
        assert f">{secret}</a>" in page
    assert "Coating formulation" in page and "R&amp;D" in page and "40 rows" in page and "15 terms" in page


def test_files_are_private(demo):
    mode = os.stat(demo.state / "console.sqlite").st_mode & 0o777
    assert mode == 0o600


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_names_are_escaped_everywhere(client_for, demo, tmp_path):
    """Attack: a file name, sender, address, label and problem detail made of markup reach the pages as text."""
    import shutil

    state = tmp_path / "state"
    shutil.copytree(demo.state, state)
    store = IncidentStore(state)
    recipient = {"address": f'"{HOSTILE}"@evil.example', "domain": "evil.example", "country": "CN",
                 "class": "external", "why": HOSTILE}
    inc = store.add(channel="mail", sender=HOSTILE, item=f"{HOSTILE}.docx!/{HOSTILE}", action="block",
                    rule=f"rule:{HOSTILE}",
                    body={"recipients": [recipient], "reasons": [HOSTILE],
                          "findings": [{"secret": "formulation", "version": 1, "label": HOSTILE, "kind": "document",
                                        "detector": "fingerprint", "tags": [HOSTILE], "score": 1.0,
                                        "matched_words": 40, "coverage": 0.1, "density": 0.1, "locator": HOSTILE,
                                        "evidence": {"runs": [{"start": 0, "end": 9, "words": 40,
                                                               "secret_words": [1, 41]}], "secret_words": 900}}],
                          "problems": [{"locator": HOSTILE, "kind": "corrupt", "detail": HOSTILE}]},
                    recipients=[recipient])
    store.close()
    client = client_for(state=state)
    login(client, "ada")
    for path in (f"/incidents/{inc.id}", "/?status=", "/dashboard", "/audit", f"/?status=&tag={HOSTILE}"):
        body = client.get(path).text
        assert "<script>" not in body and "<img src=x" not in body, path
    assert "&lt;script&gt;" in client.get(f"/incidents/{inc.id}").text
    assert client.get(f"/api/incidents/{inc.id}").json()["sender"] == HOSTILE  # JSON carries it as data


def test_a_csrf_token_dies_with_its_session(client, demo):
    incident, quarantined = held(demo, "crm-pipeline-export-2024-09.csv")
    login(client, "rita")
    old = csrf_of(client.get("/").text)
    client.post("/logout", data={"csrf": old})
    login(client, "rita")
    before = snapshot(demo)
    response = client.post(f"/incidents/{incident}/resolve",
                           data={"csrf": old, "decision": "release", "justification": "replayed token"})
    assert response.status_code == 403 and quarantined.exists() and snapshot(demo) == before
