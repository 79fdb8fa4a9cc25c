"""Policy, incidents, release and confirm through the real CLI entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from dlp.frontends.cli import Env, main

from helpers import prose, words

SECRET = " ".join(words(800, seed=77))
POLICY = """
[internal]
domains = ["acme.example"]
country = "GB"

[[partner]]
name = "Nordwind"
domains = ["nordwind.example"]
country = "AT"
covers = { secrets = ["plan"] }
expires = 2099-12-31

[countries]
embargoed = ["KP"]

[[rule]]
name = "inside"
to = ["internal", "partner"]
action = "allow"

[[rule]]
name = "embargo"
to = ["embargoed"]
action = "block"

[[rule]]
name = "confidential outside"
classification = ["confidential"]
to = ["outside"]
action = "quarantine"
"""


class Run:
    def __init__(self, tmp: Path):
        self.tmp = tmp

    def __call__(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        env = Env(stdout=out, stderr=err, stdin=io.TextIOWrapper(io.BytesIO(b"")), environ={})
        code = main(["--registry", str(self.tmp / "reg"), "--state", str(self.tmp / "state"), *argv], env)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code


@pytest.fixture
def run(tmp_path):
    r = Run(tmp_path)
    (tmp_path / "plan.txt").write_text(SECRET)
    (tmp_path / "policy.toml").write_text(POLICY)
    assert r("register", str(tmp_path / "plan.txt"), "--id", "plan", "--classification", "confidential") == 0, r.err
    return r


def leak(tmp_path: Path, name: str, start: int) -> Path:
    path = tmp_path / name
    path.write_text(prose(80, start) + "\n" + " ".join(SECRET.split()[start:start + 60]) + "\n" + prose(80, start + 1))
    return path


def scan(run, path, to, *extra):
    code = run("--policy", str(run.tmp / "policy.toml"), "scan", "--format", "json", "--to", to, str(path), *extra)
    assert code in (0, 1), run.err
    return code, json.loads(run.out)["files"][0]


def test_policy_check_and_explain(run, tmp_path):
    assert run("policy", "check", str(tmp_path / "policy.toml")) == 0
    assert "valid: 1 internal domains, 0 internal shares, 1 partners, 1 embargoed countries, 3 rules" in run.out
    assert run("policy", "explain", "--policy", str(tmp_path / "policy.toml"), "--to", "eve@nordwind.example",
               "--to", "li@firma.kp", "--secret", "plan") == 0
    assert "eve@nordwind.example: partner AT (partner Nordwind); covered by the agreement with Nordwind" in run.out
    assert "decided by rule:inside -> allow" in run.out
    assert "li@firma.kp: embargoed KP" in run.out and "decided by rule:embargo -> block" in run.out
    assert run.out.rstrip().endswith(f"action: block (rule rule:embargo, policy {tmp_path / 'policy.toml'})")
    (tmp_path / "bad.toml").write_text('[[rule]]\naction = "deny"\n')
    assert run("policy", "check", str(tmp_path / "bad.toml")) == 2
    assert "bad.toml: rule[0].action: unknown action 'deny'" in run.err


def test_quarantine_incident_release_with_allow_entry_round_trip(run, tmp_path):
    first = leak(tmp_path, "memo.txt", 100)
    code, report = scan(run, first, "buyer@rival.de")
    assert code == 1 and report["action"] == "quarantine"
    assert report["decision"]["rule"] == "rule:confidential outside"
    incident = report["meta"]["incident"]

    assert run("incidents", "list", "--format", "json") == 0
    [listed] = json.loads(run.out)
    assert (listed["id"], listed["action"], listed["status"]) == (incident, "quarantine", "open")
    assert listed["recipients"][0]["class"] == "external" and listed["recipients"][0]["country"] == "DE"
    assert run("incidents", "show", incident) == 0
    assert "finding: plan v1 by fingerprint (document)" in run.out and "rule: rule:confidential outside" in run.out

    assert run("release", incident, "--by", "alice", "--justification", "approved by legal, ticket 4711",
               "--allow-until", "2099-01-01") == 0, run.err
    assert f"{incident}: released by alice" in run.out and "allow entry 1: plan to domain:rival.de" in run.out
    assert run("release", incident, "--by", "bob", "--justification", "again") == 2
    assert "already released" in run.err

    code, again = scan(run, first, "buyer@rival.de")
    assert code == 0 and again["action"] == "allow" and again["meta"]["allowed"][0]["incident"] == incident
    assert scan(run, first, "buyer@other.de")[1]["action"] == "quarantine"                    # other destination
    assert scan(run, leak(tmp_path, "memo2.txt", 400), "buyer@rival.de")[1]["action"] == "quarantine"  # other excerpt
    assert scan(run, first, "eve@nordwind.example")[1]["action"] == "allow"                  # partner covers it

    assert run("incidents", "list", "--status", "released") == 0 and incident in run.out
    assert run("audit", "verify") == 0, run.out + run.err
    assert run("audit", "show", "--format", "json") == 0
    events = [json.loads(line)["event"] for line in run.out.splitlines()]
    assert events[0] == "register" and "policy" in events and "release" in events and "allow" in events


def test_confirm_filters_and_export(run, tmp_path):
    _, a = scan(run, leak(tmp_path, "a.txt", 0), "x@firma.kp")
    _, b = scan(run, leak(tmp_path, "b.txt", 300), "y@rival.de")
    assert a["action"] == "block" and b["action"] == "quarantine"
    assert run("confirm", a["meta"]["incident"], "--by", "carol", "--justification", "sent to embargoed country") == 0
    assert run("incidents", "list", "--to", "KP") == 0 and a["meta"]["incident"] in run.out
    assert b["meta"]["incident"] not in run.out
    assert run("incidents", "list", "--action", "quarantine", "--secret", "plan") == 0
    assert b["meta"]["incident"] in run.out and a["meta"]["incident"] not in run.out
    out = tmp_path / "incidents.csv"
    assert run("incidents", "export", "--format", "csv", "--output", str(out)) == 0
    rows = list(csv.DictReader(out.open()))
    assert {(r["id"], r["status"], r["secret"]) for r in rows} == {
        (a["meta"]["incident"], "confirmed", "plan"), (b["meta"]["incident"], "open", "plan")}
    assert run("incidents", "show", "INC-nope") == 2 and "no incident 'INC-nope'" in run.err


def test_no_record_keeps_nothing(run, tmp_path):
    scan(run, leak(tmp_path, "a.txt", 0), "x@firma.kp", "--no-record")
    assert run("incidents", "list") == 0 and run.out.strip() == "0 incidents"


# -- a dry run decides as the recorded scan does ----------------------------------------------------


def files_of(state: Path) -> dict:
    """The bytes of every file, and the rows of every database (its pages move when an earlier
    connection checkpoints its write-ahead log; its rows do not)."""
    import sqlite3

    out = {}
    for p in sorted(state.iterdir()):
        if p.suffix == ".sqlite":
            db = sqlite3.connect(f"{p.as_uri()}?mode=ro", uri=True)
            out[p.name] = list(db.iterdump())
            db.close()
        elif p.is_file() and not p.name.endswith(("-shm", "-wal")):
            out[p.name] = p.read_bytes()
    return out


def test_no_record_applies_allow_entries_like_the_recorded_scan_and_writes_nothing(run, tmp_path):
    first = leak(tmp_path, "memo.txt", 100)
    code, report = scan(run, first, "buyer@rival.de")
    assert run("release", report["meta"]["incident"], "--by", "alice", "--justification", "ok",
               "--allow-until", "2099-01-01") == 0, run.err
    before = files_of(tmp_path / "state")
    code, dry = scan(run, first, "buyer@rival.de", "--no-record")
    assert (code, dry["action"]) == (0, "allow") and dry["meta"]["allowed"][0]["incident"] == report["meta"]["incident"]
    code, dry_other = scan(run, first, "buyer@other.de", "--no-record")
    assert (code, dry_other["action"]) == (1, "quarantine") and "incident" not in dry_other.get("meta", {})
    assert files_of(tmp_path / "state") == before
    assert scan(run, first, "buyer@rival.de")[1]["action"] == "allow"  # the recorded scan agrees


def test_no_record_without_a_state_directory_creates_none(run, tmp_path):
    import shutil

    shutil.rmtree(tmp_path / "state")
    code, report = scan(run, leak(tmp_path, "a.txt", 0), "x@firma.kp", "--no-record")
    assert (code, report["action"]) == (1, "block") and not (tmp_path / "state").exists()


# -- a policy file only overrides what it names -------------------------------------------------------


@pytest.mark.parametrize("text", ["[incidents]\nexcerpt = true\n", "", "[internal]\ndomains = [\"acme.example\"]\n"])
def test_a_partial_policy_blocks_what_the_built_in_policy_blocks(run, tmp_path, text):
    (tmp_path / "partial.toml").write_text(text)
    assert run("policy", "check", str(tmp_path / "partial.toml"), "--strict") == 0, run.err
    assert "weaker" not in run.out + run.err
    path = leak(tmp_path, "memo.txt", 200)
    for policy in (["--policy", str(tmp_path / "partial.toml")], []):
        assert run(*policy, "scan", "--format", "json", "--no-record", str(path)) == 1, run.err
        [file] = json.loads(run.out)["files"]
        assert (file["action"], file["decision"]["rule"]) == ("block", "default:document")


WEAKER = [
    ('[defaults]\nfinding = "warn"\n', "defaults.finding: weaker than the built-in policy: warn for every finding"),
    ('[[rule]]\nname = "inside"\nto = ["internal"]\naction = "allow"\n',
     "rule[0] (inside): weaker than the built-in policy: allow to internal, where the built-in policy blocks "
     "verbatim excerpts and record matches and warns on terms, rewrite and classifier findings"),
    ('[[rule]]\nname = "codes"\nkind = ["terms"]\naction = "allow"\n', "rule[0] (codes): weaker"),
    ('[unscannable]\nmail = "warn"\n', "unscannable.mail: weaker than the built-in policy: warn"),
    ('[unscannable]\ninternal = "allow"\n', "unscannable.internal: weaker"),
    ('[exposure]\nenabled = false\n', "exposure.enabled: weaker"),
    ('[exposure]\nthreshold = 0.9\n', "exposure.threshold: weaker"),
]


@pytest.mark.parametrize("text, warning", WEAKER)
def test_policy_check_warns_about_every_weaker_setting(run, tmp_path, text, warning):
    (tmp_path / "weak.toml").write_text(text)
    assert run("policy", "check", str(tmp_path / "weak.toml")) == 0
    assert warning in run.err and "1 setting weaker than the built-in policy" in run.out
    assert run("policy", "check", str(tmp_path / "weak.toml"), "--strict") == 1


@pytest.mark.parametrize("text", ['[[rule]]\nname = "codes"\nkind = ["terms"]\naction = "warn"\n',
                                  '[[rule]]\nname = "x"\naction = "block"\n', '[unscannable]\ncli = "quarantine"\n',
                                  '[defaults]\nfinding = "block"\n', '[exposure]\nthreshold = 0.2\n'])
def test_policy_check_is_quiet_about_settings_as_strict_or_stricter(run, tmp_path, text):
    (tmp_path / "strict.toml").write_text(text)
    assert run("policy", "check", str(tmp_path / "strict.toml"), "--strict") == 0 and "weaker" not in run.err


def test_policy_explain_shows_what_is_weaker_than_the_built_in_policy(run, tmp_path):
    assert run("policy", "explain", "--policy", str(tmp_path / "policy.toml"), "--to", "eve@nordwind.example",
               "--to", "x@acme.example", "--secret", "plan") == 0
    lines = run.out.splitlines()
    weaker = [i for i, line in enumerate(lines) if "weaker than the built-in policy" in line]
    assert len(weaker) == 2 and "would block it (verbatim excerpt of 800 words)" in lines[weaker[0]]
    assert lines[weaker[0] - 1].strip() == "decided by rule:inside -> allow"
    assert "a part that cannot be read: quarantine" in run.out


# -- release and confirm: evidence first ------------------------------------------------------------


def test_release_and_confirm_are_audited_changes_and_need_the_trail(run, tmp_path):
    _, a = scan(run, leak(tmp_path, "a.txt", 0), "x@firma.kp")
    _, b = scan(run, leak(tmp_path, "b.txt", 300), "y@rival.de")
    key = tmp_path / "state" / "audit.key"
    saved = key.read_bytes()
    key.unlink()
    assert run("confirm", a["meta"]["incident"], "--by", "carol") == 2 and "audit key" in run.err
    assert run("release", b["meta"]["incident"], "--by", "carol", "--justification", "x") == 2
    key.write_bytes(saved)
    assert run("incidents", "list", "--status", "open") == 0 and "2 incidents" in run.out
    assert run("confirm", a["meta"]["incident"], "--by", "carol") == 0
    assert run("release", b["meta"]["incident"], "--by", "dave", "--justification", "fine",
               "--allow-until", "2099-01-01") == 0
    assert run("audit", "show", "--format", "json") == 0
    steps = [(e["event"], e.get("phase")) for e in map(json.loads, run.out.splitlines())
             if e["event"] in ("confirm", "release", "allow")]
    assert steps == [("confirm", "intent"), ("confirm", "done"), ("release", "intent"), ("allow", None),
                     ("release", "done")]
    assert run("audit", "verify") == 0


def test_incident_rows_keep_their_columns_whatever_the_secrets_they_name(run, tmp_path):
    other = tmp_path / "second-plan-with-a-long-identifier.txt"
    other.write_text(" ".join(SECRET.split()[::-1]))
    assert run("register", str(other), "--id", "second-plan-with-a-long-identifier") == 0, run.err
    both = tmp_path / "both.txt"
    both.write_text(leak(tmp_path, "a.txt", 0).read_text() + "\n" + " ".join(SECRET.split()[::-1][:60]))
    scan(run, leak(tmp_path, "one.txt", 200), "x@rival.de")
    scan(run, both, "y@rival.de")
    assert run("incidents", "list") == 0
    rows = [line for line in run.out.splitlines() if line.startswith("INC-")]
    assert len(rows) == 2 and {row.index(" to ") for row in rows} == {rows[0].index(" to ")}
    assert run.out.splitlines()[-1] == "2 incidents"


def test_the_json_listing_is_one_incident_a_line_and_parses_as_the_incidents(run, tmp_path):
    scan(run, leak(tmp_path, "one.txt", 0), "x@rival.de")
    scan(run, leak(tmp_path, "two.txt", 300), "y@rival.de")
    assert run("incidents", "list", "--format", "json") == 0
    listed = json.loads(run.out)
    lines = run.out.splitlines()
    assert len(listed) == 2 and lines[0] == "[" and lines[-1] == "]" and len(lines) == 4
    assert {i["id"] for i in listed} == {json.loads(line.rstrip(","))["id"] for line in lines[1:3]}
    assert run("incidents", "list", "--format", "json", "--status", "released") == 0 and json.loads(run.out) == []
