"""The recorder: slow leaks across messages, scoped allow entries, incidents and audit entries."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import pytest

from dlp.audit import AuditLog
from dlp.recording import Recorder
from dlp.errors import KeyMissing
from dlp.incidents import IncidentStore, finding_digest
from dlp.destinations import parse_policy
from dlp.types import Action, Destination

from helpers import prose, registry_with
from dlp.scanner import Scanner

SECRET_WORDS = prose(2000, seed=41).split()
POLICY = """
[internal]
domains = ["acme.example"]

[[rule]]
name = "inside"
to = ["internal"]
action = "allow"

[[rule]]
name = "large excerpt"
kind = ["document"]
to = ["outside"]
min_words = 300
action = "block"

[defaults]
finding = "warn"

[exposure]
window_days = 30
threshold = 0.5
action = "block"
"""


class Clock:
    def __init__(self, start: float = 1_790_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def policy():
    return parse_policy(tomllib.loads(POLICY), source="test.toml")


@pytest.fixture(scope="module")
def scanner(tmp_path_factory, policy):
    registry = registry_with(tmp_path_factory.mktemp("decisions"), {"formula": " ".join(SECRET_WORDS)})
    return Scanner(registry, policy=policy)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def recorder(tmp_path, clock, policy):
    r = Recorder(tmp_path / "state", policy, clock=clock)
    yield r
    r.close()


def message(i: int) -> bytes:
    """Slice i (100 words) of the secret between unrelated paragraphs."""
    excerpt = " ".join(SECRET_WORDS[i * 100:(i + 1) * 100])
    return (prose(150, seed=1000 + i) + "\n\n" + excerpt + "\n\n" + prose(150, seed=2000 + i)).encode()


def send(scanner, recorder, i: int, to: str):
    destination = Destination((to,), None, "mail", sender="mallory@acme.example")
    report = recorder.decider().decide(scanner.detect_bytes(message(i), f"m{i}.eml"), destination)
    return recorder.record(report, destination, {"kind": "mail", "queue_id": f"Q{i}"})


def test_a_slow_leak_across_20_messages_is_stopped_at_the_threshold(scanner, recorder):
    actions = []
    for i in range(20):
        report = send(scanner, recorder, i, "buyer@rival.de")
        assert report.findings and report.findings[0].matched_words < 300  # each alone stays below the rule
        actions.append((report.action, report.decision.rule))
    first_block = next(i for i, (a, _) in enumerate(actions) if a == Action.BLOCK)
    # about 100 words leave per message: half of the 2,000-word secret is reached at the 10th
    assert 8 <= first_block <= 11, actions
    assert all(a == Action.WARN for a, _ in actions[:first_block])
    assert all((a, r) == (Action.BLOCK, "exposure") for a, r in actions[first_block:])
    blocked = send(scanner, recorder, 19, "buyer@rival.de")
    assert any("of the secret" in reason and "rival.de" in reason for reason in blocked.decision.reasons)
    # each message alone, to a fresh destination, is only a warning
    assert send(scanner, recorder, 15, "someone@elsewhere.fr").action == Action.WARN
    # blocked messages did not leave, so they do not count
    exposure = recorder.ledger.exposure("formula", "domain:rival.de", 30)
    assert exposure.events == first_block and exposure.share < 0.5


def test_exposure_forgets_what_left_before_the_window(scanner, recorder, clock):
    for i in range(12):
        send(scanner, recorder, i, "buyer@rival.de")
    assert send(scanner, recorder, 12, "buyer@rival.de").action == Action.BLOCK
    clock.now += 31 * 86400
    assert send(scanner, recorder, 12, "buyer@rival.de").action == Action.WARN


def test_internal_recipients_do_not_count(scanner, recorder):
    for i in range(20):
        assert send(scanner, recorder, i, "colleague@acme.example").action == Action.ALLOW
    assert recorder.ledger.exposure("formula", "domain:acme.example", 30).events == 0


def test_every_warning_is_an_incident_with_evidence_and_no_plaintext(scanner, recorder, tmp_path):
    report = send(scanner, recorder, 3, "buyer@rival.de")
    incident = recorder.incidents.get(report.meta["incident"])
    d = incident.to_dict()
    assert (d["channel"], d["sender"], d["action"], d["rule"]) == ("mail", "mallory@acme.example", "warn", "defaults:finding")
    assert d["recipients"][0]["class"] == "unknown" or d["recipients"][0]["country"] == "DE"
    [f] = d["findings"]
    assert (f["secret"], f["version"], f["detector"]) == ("formula", 1, "fingerprint")
    assert f["matched_words"] >= 90 and f["evidence"]["runs"][0]["secret_words"]
    assert d["target"] == {"kind": "mail", "queue_id": "Q3"}
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file())
    for run in (SECRET_WORDS[300:308], SECRET_WORDS[350:358]):
        assert " ".join(run).encode() not in stored


def test_every_decision_is_an_audit_entry(scanner, recorder, tmp_path):
    send(scanner, recorder, 1, "colleague@acme.example")
    send(scanner, recorder, 2, "buyer@rival.de")
    entries = list(AuditLog(tmp_path / "state").entries())
    decisions = [e for e in entries if e["event"] == "decision"]
    assert [d["action"] for d in decisions] == ["allow", "warn"]
    assert decisions[1]["incident"] and decisions[0]["incident"] is None
    assert AuditLog(tmp_path / "state").verify().ok


def test_a_scoped_allow_entry_covers_this_finding_to_this_destination_only(scanner, recorder, clock):
    report = send(scanner, recorder, 4, "buyer@rival.de")
    [finding] = report.findings
    today = dt.datetime.fromtimestamp(clock.now, dt.timezone.utc).date()
    recorder.incidents.add_allow(finding_digest(finding), "formula", "domain:rival.de", today + dt.timedelta(days=7),
                                 report.meta["incident"], "alice")
    again = send(scanner, recorder, 4, "buyer@rival.de")
    assert again.action == Action.ALLOW and not again.findings
    assert again.meta["allowed"][0]["incident"] == report.meta["incident"]
    assert send(scanner, recorder, 5, "buyer@rival.de").action == Action.WARN      # another excerpt
    assert send(scanner, recorder, 4, "buyer@other.de").action == Action.WARN      # another destination
    clock.now += 8 * 86400
    assert send(scanner, recorder, 4, "buyer@rival.de").action == Action.WARN      # expired


def test_finding_digest_ignores_where_the_excerpt_sits(scanner):
    excerpt = " ".join(SECRET_WORDS[500:600])
    a = scanner.scan_bytes(f"{prose(50, 1)}\n{excerpt}".encode(), "a.txt").findings[0]
    b = scanner.scan_bytes(f"{prose(300, 2)}\n{excerpt}\n{prose(20, 3)}".encode(), "b.txt").findings[0]
    c = scanner.scan_bytes(" ".join(SECRET_WORDS[700:800]).encode(), "c.txt").findings[0]
    assert finding_digest(a) == finding_digest(b) != finding_digest(c)


def test_incident_store_filters_and_resolves_once(tmp_path, clock):
    store = IncidentStore(tmp_path / "s", clock=clock)
    body = {"findings": [{"secret": "s1", "version": 1}], "recipients": [{"address": "a@b.cn", "class": "external"}]}
    first = store.add(channel="mail", sender="x@acme.example", item="m.eml", action="block", rule="r", body=body,
                      recipients=[{"address": "a@b.cn", "domain": "b.cn", "country": "CN", "class": "external"}])
    clock.now += 3600
    second = store.add(channel="watch", sender=None, item="f.docx", action="warn", rule="r", body={"findings": []},
                       recipients=[{"address": "", "domain": "", "country": "AT", "class": "external"}])
    assert [i.id for i in store.query()] == [first.id, second.id]
    assert [i.id for i in store.query(secret="s1")] == [first.id]
    assert [i.id for i in store.query(destination="CN")] == [first.id]
    assert [i.id for i in store.query(destination="b.cn")] == [first.id]
    assert [i.id for i in store.query(action="warn")] == [second.id]
    assert [i.id for i in store.query(since=clock.now - 60)] == [second.id]
    resolved = store.resolve(first.id, "released", "alice", "approved by legal")
    assert (resolved.status, resolved.resolved_by) == ("released", "alice")
    with pytest.raises(Exception, match="already released"):
        store.resolve(first.id, "confirmed", "bob", "no")
    assert (tmp_path / "s" / "incidents.sqlite").stat().st_mode & 0o777 == 0o600
    assert len(json.dumps(first.to_dict())) < 2000


def test_excerpts_of_the_scanned_item_only_when_the_policy_asks(tmp_path):
    from dlp.scanner import open_scanner

    registry_with(tmp_path, {"formula": " ".join(SECRET_WORDS)})
    (tmp_path / "p.toml").write_text('[incidents]\nexcerpt = true\n')
    item = message(2)
    with_excerpt = open_scanner(tmp_path / "reg", None, tmp_path / "p.toml", environ={}).scan_bytes(item, "m.eml")
    without = open_scanner(tmp_path / "reg", None, None, environ={}).scan_bytes(item, "m.eml")
    excerpt = with_excerpt.findings[0].evidence.excerpt
    assert 100 < len(excerpt) <= 200 and excerpt.split()[0] in SECRET_WORDS[200:300]
    assert without.findings[0].evidence.excerpt is None and "excerpt" not in without.findings[0].to_dict()["evidence"]


# -- evidence first: the decision is audited before its incident exists -----------------------------


class Crash(BaseException):
    """Stands for a kill at one step of `record` (a BaseException: nothing catches it on the way)."""


def crash_at(monkeypatch, step: str) -> None:
    targets = {
        "audit": ("dlp.audit.AuditLog.append", True),               # before the decision entry is written
        "ledger": ("dlp.exposure.ExposureLedger.record", True),     # after the audit entry
        "incident": ("dlp.incidents.IncidentStore.add", True),      # after audit and ledger
        "after": ("dlp.incidents.IncidentStore.add", False),        # once the incident is stored
    }
    name, before = targets[step]
    module, cls, method = name.rsplit(".", 2)
    import importlib

    owner = getattr(importlib.import_module(module), cls)
    original = getattr(owner, method)

    def crashing(self, *args, **kwargs):
        if before:
            raise Crash(step)
        original(self, *args, **kwargs)
        raise Crash(step)

    monkeypatch.setattr(owner, method, crashing)


@pytest.mark.parametrize("step", ["audit", "ledger", "incident", "after"])
@pytest.mark.parametrize("to, action", [("buyer@rival.de", "warn"), ("colleague@acme.example", "allow")])
def test_a_decision_cut_short_is_completed_once_by_the_repeat(scanner, tmp_path, clock, policy, monkeypatch, step,
                                                              to, action):
    destination = Destination((to,), None, "watch")
    report = scanner.scan_bytes(message(6), "m6.txt", destination)
    first = Recorder(tmp_path / "state", policy, clock=clock)
    reviewed = first.decider().decide(report, destination)
    with monkeypatch.context() as patch:
        crash_at(patch, step)
        try:
            first.record(reviewed, destination, {"kind": "file"}, once="journal-6")
        except Crash:
            pass
    first.close()
    again = Recorder(tmp_path / "state", policy, clock=clock)  # the restarted daemon repeats the hook
    done = again.record(again.decider().decide(report, destination), destination, {"kind": "file"}, once="journal-6")
    again.record(again.decider().decide(report, destination), destination, {"kind": "file"}, once="journal-6")  # and again
    decisions = [e for e in AuditLog(tmp_path / "state").entries() if e["event"] == "decision"]
    incidents = again.incidents.query()
    assert [d["action"] for d in decisions] == [action]
    assert decisions[0]["record_key"] == "journal-6"
    if action == "warn":
        assert [i.id for i in incidents] == [decisions[0]["incident"]] == [done.meta["incident"]]
    else:
        assert incidents == [] and decisions[0]["incident"] is None
    assert again.incidents.recorded("journal-6") is not None and again.incidents.pending("journal-6") is None
    assert AuditLog(tmp_path / "state").verify().ok


KILLED_RECORDER = """
import os, signal, sys, tomllib
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from dlp.recording import Recorder
from dlp.incidents import IncidentStore
from dlp.destinations import parse_policy
from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.types import Destination
from test_recording import POLICY, message
policy = parse_policy(tomllib.loads(POLICY), source="test.toml")
scanner = Scanner(Registry(Path(sys.argv[2])), policy=policy)
destination = Destination(("buyer@rival.de",), None, "watch")
recorder = Recorder(Path(sys.argv[1]), policy)
IncidentStore.add = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # killed as the incident is written
report = scanner.scan_bytes(message(7), "m7.txt", destination)
recorder.record(recorder.decider().decide(report, destination), destination, {"kind": "file"}, once="journal-7")
"""


def test_a_decision_killed_mid_way_has_its_audit_entry_and_gets_its_incident(tmp_path, policy, scanner):
    import subprocess
    import sys
    from pathlib import Path

    state = tmp_path / "state"
    killed = subprocess.run([sys.executable, "-c", KILLED_RECORDER, str(state), str(scanner.registry.root),
                             str(Path(__file__).parent)], timeout=120, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    [decision] = [e for e in AuditLog(state).entries() if e["event"] == "decision"]
    assert decision["incident"] and IncidentStore(state).query() == []  # audited first: no incident without it
    destination = Destination(("buyer@rival.de",), None, "watch")
    recorder = Recorder(state, policy)
    report = scanner.scan_bytes(message(7), "m7.txt", destination)
    recorder.record(recorder.decider().decide(report, destination), destination, {"kind": "file"}, once="journal-7")
    assert [i.id for i in recorder.incidents.query()] == [decision["incident"]]
    assert len([e for e in AuditLog(state).entries() if e["event"] == "decision"]) == 1


def test_no_recorder_without_a_usable_trail(tmp_path, policy, scanner, clock):
    send(scanner, Recorder(tmp_path / "state", policy, clock=clock), 1, "buyer@rival.de")
    (tmp_path / "state" / "audit.key").unlink()
    with pytest.raises(KeyMissing):
        Recorder(tmp_path / "state", policy, clock=clock)
    assert len(IncidentStore(tmp_path / "state").query()) == 1


# -- a dry run decides as a recorded scan would, and writes nothing ----------------------------------


def state_files(state) -> dict:
    """Every file's bytes. SQLite's shared-memory index (-shm) is left out: a reader of a WAL database
    maps it; a write-ahead log (-wal) must be empty, or rows were written."""
    if not state.exists():
        return {}
    files = {p.name: p.read_bytes() for p in sorted(state.iterdir()) if p.is_file() and not p.name.endswith("-shm")}
    return {name: data for name, data in files.items() if not (name.endswith("-wal") and not data)}


def test_a_dry_run_applies_allow_entries_and_exposure_and_writes_nothing(scanner, tmp_path, clock, policy):
    state = tmp_path / "state"
    recorded = Recorder(state, policy, clock=clock)
    warned = send(scanner, recorded, 4, "buyer@rival.de")
    today = dt.datetime.fromtimestamp(clock.now, dt.timezone.utc).date()
    recorded.incidents.add_allow(finding_digest(warned.findings[0]), "formula", "domain:rival.de",
                                 today + dt.timedelta(days=7), warned.meta["incident"], "alice")
    for i in range(9):
        send(scanner, recorded, 10 + i, "buyer@rival.de")
    recorded.close()
    before = state_files(state)
    dry = Recorder(state, policy, clock=clock, read_only=True)
    for i, expected in ((4, Action.ALLOW), (19, Action.BLOCK)):  # an allowed excerpt; a slice past the threshold
        destination = Destination(("buyer@rival.de",), None, "mail")
        report = scanner.scan_bytes(message(i), f"m{i}.eml", destination)
        decided = dry.decider().decide(report, destination)
        assert decided.action == expected
        assert "incident" not in dry.record(decided, destination).meta
    dry.close()
    assert state_files(state) == before
    real = Recorder(state, policy, clock=clock)  # and the real scan agrees
    assert send(scanner, real, 4, "buyer@rival.de").action == Action.ALLOW
    assert send(scanner, real, 19, "buyer@rival.de").action == Action.BLOCK


def test_a_dry_run_of_several_items_adds_their_exposure_up(scanner, tmp_path, clock, policy):
    dry = Recorder(tmp_path / "state", policy, clock=clock, read_only=True)
    real = Recorder(tmp_path / "real", policy, clock=clock)
    actions = {"dry": [], "real": []}
    for name, recorder in (("dry", dry), ("real", real)):
        for i in range(14):
            actions[name].append(send(scanner, recorder, i, "buyer@rival.de").action)
    assert actions["dry"] == actions["real"] and Action.BLOCK in actions["dry"]
    assert not (tmp_path / "state").exists()  # a dry run creates no state directory either


def test_a_new_policy_is_what_the_next_incident_classifies_recipients_by(tmp_path, scanner, clock):
    """A daemon that re-read its policy file switches the recorder too: the incident, the
    exposure and the audit trail follow the policy that decided."""
    from dlp.destinations import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    first = load_policy(path)
    recorder = Recorder(tmp_path / "state", first, clock=clock)
    handed_out = recorder.decider()
    path.write_text(POLICY.replace("[exposure]\n", "[exposure]\nenabled = false\n")
                    + '\n[countries]\nembargoed = ["DE"]\n')
    second = load_policy(path)
    recorder.use_policy(second)
    decider = recorder.decider()
    assert decider is not handed_out and decider.policy is second and handed_out.policy is first
    assert recorder.exposure is None and decider.exposure is None
    report = send_with(decider, scanner, recorder, 4, "buyer@rival.de")
    [recipient] = recorder.incidents.get(report.meta["incident"]).to_dict()["recipients"]
    assert recipient["class"] == "embargoed"  # the first policy said external
    recorder.use_policy(load_policy(path))  # the same file read again: no new entry
    recorder.use_policy(first)  # back to a policy with exposure; its file did not change since
    assert recorder.ledger is not None and recorder.decider().exposure is not None
    policies = [e for e in recorder.audit.entries() if e["event"] == "policy"]
    assert [e["previous"] is None for e in policies] == [True, False]
    assert policies[1]["previous"] == policies[0]["sha256"] != policies[1]["sha256"]
    recorder.close()
    handed_out.close()


def test_a_policy_switch_the_trail_cannot_take_switches_nothing(tmp_path, policy, clock, monkeypatch):
    from dlp.destinations import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(POLICY + '\n[countries]\nembargoed = ["DE"]\n')
    recorder = Recorder(tmp_path / "state", policy, clock=clock)
    before = recorder.decider()

    def broken(*args, **fields):
        raise OSError("disk full")

    monkeypatch.setattr(recorder.audit, "append", broken)
    with pytest.raises(OSError):
        recorder.use_policy(load_policy(path))
    assert recorder.policy is policy and recorder.decider() is before
    recorder.close()


def send_with(decider, scanner, recorder, i: int, to: str):
    destination = Destination((to,), None, "mail", sender="mallory@acme.example")
    report = decider.decide(scanner.detect_bytes(message(i), f"m{i}.eml"), destination)
    return recorder.record(report, destination, {"kind": "mail", "queue_id": f"Q{i}"})
