"""The incident store's queue: facets, keyset pages, counts, the feed order, and the migration of old stores."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp.errors import UsageError
from dlp.incidents import Cursor, IncidentFilter, IncidentStore, facets

SECRETS = ("plan", "formula", "customers")
RECIPIENTS = (
    {"address": "li@mail.firma.cn", "domain": "mail.firma.cn", "country": "CN", "class": "external"},
    {"address": "x@rival.de", "domain": "rival.de", "country": "DE", "class": "external"},
    {"address": "eve@partner.example", "domain": "partner.example", "country": "AT", "class": "partner"},
    {"address": "kim@evil.kp", "domain": "evil.kp", "country": "KP", "class": "embargoed"},
)


def body(secret: str, recipient: dict, problem: str | None = None) -> dict:
    return {"findings": [{"secret": secret, "version": 1, "label": secret.title() + " doc", "tags": [secret[0]],
                          "kind": "document"}],
            "recipients": [recipient], "problems": [{"kind": problem, "locator": "x", "detail": "d"}] if problem else []}


def fill(store: IncidentStore, clock: list[float], plan: list[tuple[int, int, int, int, int]]) -> list:
    made = []
    for i, (s, r, channel, action, same_time) in enumerate(plan):
        clock[0] += 0 if same_time else 1.5  # ties in time must page correctly too
        rec = RECIPIENTS[r]
        made.append(store.add(channel=("mail", "watch", "cli")[channel], sender=None, item=f"item-{i}",
                              action=("warn", "quarantine", "block")[action], rule="r",
                              body=body(SECRETS[s], rec, "encrypted" if i % 5 == 0 else None), recipients=[rec]))
    return made


def matches(inc, where: IncidentFilter) -> bool:
    b = inc.body
    r = b["recipients"][0]
    to = (where.to or "").lower()
    return all([
        where.secret is None or where.secret in inc.secrets,
        where.channel is None or inc.channel == where.channel,
        where.action is None or inc.action == where.action,
        where.status is None or inc.status == where.status,
        where.recipient_class is None or r["class"] == where.recipient_class,
        not to or to in (r["address"], r["country"].lower(), r["class"]) or r["domain"] == to
        or r["domain"].endswith("." + to),
        where.label is None or any(f["label"].lower() == where.label.lower() for f in b["findings"]),
        where.problem is None or any(p["kind"] == where.problem for p in b["problems"]),
        where.since is None or inc.time >= where.since,
    ])


filters = st.builds(
    IncidentFilter,
    secret=st.sampled_from([None, *SECRETS]), channel=st.sampled_from([None, "mail", "watch", "cli"]),
    action=st.sampled_from([None, "warn", "block"]), recipient_class=st.sampled_from([None, "external", "partner"]),
    to=st.sampled_from([None, "CN", "firma.cn", "mail.firma.cn", "x@rival.de", "embargoed", "cn.", "de"]),
    label=st.sampled_from([None, "Plan doc"]), problem=st.sampled_from([None, "encrypted"]),
    since=st.sampled_from([None, 1_000_020.0]),
)
plans = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(0, 2), st.integers(0, 2),
                           st.booleans()), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans, where=filters, size=st.integers(1, 7))
def test_paging_forward_and_back_yields_exactly_the_matching_incidents(tmp_path_factory, plan, where, size):
    clock = [1_000_000.0]
    store = IncidentStore(tmp_path_factory.mktemp("inc"), clock=lambda: clock[0])
    made = fill(store, clock, plan)
    expected = [i.id for i in sorted(made, key=lambda i: (i.time, i.id), reverse=True) if matches(i, where)]
    pages, cursor = [], None
    while True:
        page = store.page(where, size=size, after=cursor)
        pages.append([i.id for i in page.incidents])
        if page.older is None:
            break
        cursor = Cursor.parse(str(page.older))  # through its text form, as a URL carries it
    assert [i for p in pages for i in p] == expected
    assert all(len(p) == size for p in pages[:-1])
    assert store.count(where) == len(expected)
    back = []
    while page.newer is not None:  # and back again from the last page to the first
        page = store.page(where, size=size, before=page.newer)
        back.insert(0, [i.id for i in page.incidents])
    assert back == pages[:-1]


def test_facets_of_an_incident():
    got = facets(body("plan", RECIPIENTS[0], "corrupt"))
    assert got == {("secret", "plan"), ("label", "plan doc"), ("tag", "p"), ("class", "external"),
                   ("to", "external"), ("to", "li@mail.firma.cn"), ("domain", "mail.firma.cn"),
                   ("to", "mail.firma.cn"), ("to", "firma.cn"), ("country", "cn"), ("to", "cn"), ("problem", "corrupt")}
    assert ("to", "cn") in got and ("to", ".cn") not in got  # a bare TLD is the country, never a domain


def test_count_is_capped(tmp_path):
    clock = [1_000_000.0]
    store = IncidentStore(tmp_path, clock=lambda: clock[0])
    fill(store, clock, [(0, 0, 0, 0, False)] * 30)
    assert store.count(IncidentFilter(), cap=10) == 11 and store.count(IncidentFilter(secret="plan")) == 30


def test_top_and_per_day(tmp_path):
    clock = [86400.0 * 20000]
    store = IncidentStore(tmp_path, clock=lambda: clock[0])
    fill(store, clock, [(0, 0, 0, 2, False), (0, 1, 0, 2, False), (1, 0, 0, 0, False)])
    assert store.top("secret", 0) == [("plan", 2), ("formula", 1)]
    assert store.top("country", 0) == [("cn", 2), ("de", 1)]
    assert store.per_day(0) == [("2024-10-04", "block", 2), ("2024-10-04", "warn", 1)]
    with pytest.raises(UsageError):
        store.top("body; DROP TABLE incidents", 0)


def test_follow_returns_incidents_in_recording_order_even_with_clocks_out_of_step(tmp_path):
    clock = [2_000_000.0]
    store = IncidentStore(tmp_path, clock=lambda: clock[0])
    a = store.add(channel="mail", sender=None, item="a", action="block", rule="r", body=body("plan", RECIPIENTS[0]))
    clock[0] -= 100  # a slower writer whose clock read came earlier, committing later
    b = store.add(channel="mail", sender=None, item="b", action="block", rule="r", body=body("plan", RECIPIENTS[0]))
    rows = store.follow(0)
    assert [i.id for _, i in rows] == [a.id, b.id]
    assert store.follow(rows[0][0]) == [rows[1]] and store.follow(rows[1][0]) == []


@pytest.mark.parametrize("text", ["", "1.0", "1.0~", "x~INC-20260101-00000000", "nan~INC-20260101-00000000",
                                  "1.0~INC-20260101-0000000g", "1.0~../../x", "1.0~INC-20260101-00000000/.."])
def test_bad_cursors_are_refused(text):
    with pytest.raises(UsageError):
        Cursor.parse(text)


def test_a_store_from_before_facets_is_migrated(tmp_path):
    """Incidents written by the previous schema (no facets, user_version 0) are found by the new queue."""
    db = sqlite3.connect(tmp_path / "incidents.sqlite")
    db.executescript("""CREATE TABLE incidents (id TEXT PRIMARY KEY, time REAL NOT NULL, channel TEXT NOT NULL,
        sender TEXT, item TEXT NOT NULL, action TEXT NOT NULL, rule TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
        body TEXT NOT NULL, resolved_by TEXT, justification TEXT, resolved_time REAL);""")
    db.execute("INSERT INTO incidents (id, time, channel, sender, item, action, rule, body) VALUES (?,?,?,?,?,?,?,?)",
               ("INC-20200101-0000abcd", 1.0, "mail", None, "old.txt", "block", "r",
                json.dumps(body("formula", RECIPIENTS[1]))))
    db.commit()
    db.close()
    store = IncidentStore(tmp_path)
    assert [i.id for i in store.page(IncidentFilter(secret="formula", to="rival.de")).incidents] == \
        ["INC-20200101-0000abcd"]
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == 1
