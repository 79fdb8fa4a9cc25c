"""The audit trail: every edit, deletion, reordering and truncation is caught at its line."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp.audit import GENESIS, AuditLog, Verification
from dlp.errors import AuditError, AuditFieldError, DlpError, KeyMissing, StoreCorrupt

START = 1_790_000_000  # 2026-09-21T14:13:20Z


class Clock:
    """One second per call, from START."""

    def __init__(self) -> None:
        self.now = float(START)

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(tmp_path / "state", clock=Clock())
    for i in range(10):
        audit.append("decision", item=f"file{i}.txt", action="warn" if i % 2 else "allow", incident=None,
                     findings=[{"secret": "plan", "version": 1, "score": 0.5 + i / 100}])
    return audit


def lines(log: AuditLog) -> list[str]:
    return log.log_path.read_text(encoding="utf-8").splitlines(keepends=True)


def rewrite(log: AuditLog, new: list[str]) -> None:
    log.log_path.write_text("".join(new), encoding="utf-8")


# -- a chain that was left alone ---------------------------------------------------------------


def test_an_untouched_chain_verifies(log):
    assert log.verify() == Verification(ok=True, entries=10, broken_at=None, reason="")
    entries = list(log.entries())
    assert [e["seq"] for e in entries] == list(range(1, 11))
    assert entries[0]["prev"] == GENESIS
    assert all(b["prev"] == a["hash"] for a, b in zip(entries, entries[1:]))
    head = json.loads(log.head_path.read_text())
    assert (head["seq"], head["hash"], head["open"]) == (10, entries[-1]["hash"], {})
    assert len(head["mac"]) == 64  # the head is authenticated: it cannot be rewritten without the key


def test_an_injected_clock_gives_exact_times(tmp_path):
    audit = AuditLog(tmp_path / "state", clock=lambda: START + 0.75)
    entry = audit.append("register", secret="plan", version=2)
    assert entry["time"] == "2026-09-21T14:13:20Z"
    assert list(audit.entries()) == [entry]
    assert list(entry) == ["seq", "time", "event", "secret", "version", "prev", "hash"]


def test_an_empty_or_missing_log_is_intact(tmp_path):
    assert AuditLog(tmp_path / "state").verify() == Verification(True, 0, None, "")
    assert list(AuditLog(tmp_path / "state").entries()) == []


def test_a_long_last_line_is_read_back_across_blocks(tmp_path):
    audit = AuditLog(tmp_path / "state")
    audit.append("note", digest="a" * 20_000)
    audit.append("note", digest="b" * 10)
    assert audit.verify().ok and [e["seq"] for e in audit.entries()] == [1, 2]


def test_a_second_instance_continues_the_chain(log):
    again = AuditLog(log.state_dir, clock=Clock())
    assert again.append("remove", secret="plan", versions=2)["seq"] == 11
    assert log.verify().ok and log.verify().entries == 11


# -- tampering ---------------------------------------------------------------------------------


def edit_field(entries: list[str]) -> list[str]:
    entry = json.loads(entries[3])
    entry["action"] = "block"
    entries[3] = json.dumps(entry) + "\n"
    return entries


def edit_nested_field(entries: list[str]) -> list[str]:
    entry = json.loads(entries[3])
    entry["findings"][0]["score"] = 0.01
    entries[3] = json.dumps(entry) + "\n"
    return entries


def edit_time(entries: list[str]) -> list[str]:
    entries[3] = entries[3].replace("2026-09-21T", "2026-09-20T")
    return entries


def renumber(entries: list[str]) -> list[str]:
    entry = json.loads(entries[3])
    entry["seq"] = 40
    entries[3] = json.dumps(entry) + "\n"
    return entries


def delete_middle(entries: list[str]) -> list[str]:
    del entries[3]
    return entries


def delete_first(entries: list[str]) -> list[str]:
    del entries[0]
    return entries


def swap(entries: list[str]) -> list[str]:
    entries[2], entries[5] = entries[5], entries[2]
    return entries


def garbage(entries: list[str]) -> list[str]:
    entries[6] = "not json\n"
    return entries


def duplicate(entries: list[str]) -> list[str]:
    entries.insert(4, entries[3])
    return entries


@pytest.mark.parametrize("tamper, broken_at, reason", [
    (edit_field, 4, "line 4: entry was altered (hash does not match)"),
    (edit_nested_field, 4, "line 4: entry was altered (hash does not match)"),
    (edit_time, 4, "line 4: entry was altered (hash does not match)"),
    (renumber, 4, "line 4: entry was altered (hash does not match)"),
    (delete_middle, 4, "line 4: seq 5 follows seq 3 (entries deleted or reordered)"),
    (delete_first, 1, "line 1: the log starts at seq 2 instead of 1 (entries deleted at the start)"),
    (swap, 3, "line 3: seq 6 follows seq 2 (entries deleted or reordered)"),
    (duplicate, 5, "line 5: seq 4 follows seq 4 (entries deleted or reordered)"),
    (garbage, 7, "line 7: not a JSON object (the line was edited or a write was cut short)"),
])
def test_tampering_is_caught_at_the_first_broken_line(log, tamper: Callable, broken_at: int, reason: str):
    rewrite(log, tamper(lines(log)))
    result = log.verify()
    assert (result.ok, result.broken_at, result.reason, result.entries) == (False, broken_at, reason, broken_at - 1)


@pytest.mark.parametrize("keep, reason", [
    (9, "1 entry missing at the end: the log ends at seq 9 but the head says 10"),
    (7, "3 entries missing at the end: the log ends at seq 7 but the head says 10"),
    (0, "10 entries missing at the end: the log ends at seq 0 but the head says 10"),
])
def test_cutting_entries_off_the_end_is_caught_by_the_head(log, keep: int, reason: str):
    rewrite(log, lines(log)[:keep])
    assert log.verify() == Verification(False, keep, keep + 1, reason)


def test_appending_after_a_cut_keeps_the_gap_visible(log):
    rewrite(log, lines(log)[:-1])
    entry = log.append("remove", secret="plan", versions=1)
    assert entry["seq"] == 11
    result = log.verify()
    assert not result.ok and result.broken_at == 10
    assert result.reason == "line 10: seq 11 follows seq 9 (entries deleted or reordered)"


def test_replacing_the_last_entry_with_an_older_one_is_caught(log):
    saved = log.head_path.read_bytes()
    entries = lines(log)
    older = json.loads(entries[5])
    rewrite(log, entries[:-1] + [entries[5]])  # line 10 replaced by a copy of line 6
    log.head_path.write_bytes(saved)
    result = log.verify()
    assert not result.ok and result.broken_at == 10 and "seq 6 follows seq 9" in result.reason
    assert older["seq"] == 6


def test_a_head_written_without_the_key_is_an_alarm(log):
    entries = lines(log)
    rewrite(log, entries[:-1])
    last = json.loads(entries[-2])
    log.head_path.write_text(json.dumps({"seq": last["seq"], "hash": last["hash"], "open": {}, "mac": "f" * 64}))
    result = log.verify()
    assert not result.ok and result.broken_at is None
    assert [a.kind for a in result.open_alarms] == ["head_invalid"] and "fails its HMAC" in result.reason


def test_a_missing_head_is_reported(log):
    log.head_path.unlink()
    result = log.verify()
    assert not result.ok and result.reason.startswith("audit head missing")


def test_rechaining_without_the_key_is_caught(log):
    entries = [json.loads(line) for line in lines(log)]
    entries[3]["action"] = "block"
    prev = entries[2]["hash"]
    for entry in entries[3:]:  # a forger recomputes plain SHA-256 over the canonical form from line 4 on
        entry["prev"] = prev
        body = {k: v for k, v in entry.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        entry["hash"] = prev = hashlib.sha256(canonical).hexdigest()
    rewrite(log, [json.dumps(e) + "\n" for e in entries])
    log.head_path.write_text(json.dumps({"seq": 10, "hash": prev}))
    result = log.verify()
    assert (result.ok, result.broken_at) == (False, 4) and "altered" in result.reason


def test_a_missing_key_cannot_verify_and_is_not_replaced(log):
    log.key_path.unlink()
    assert AuditLog(log.state_dir).verify() == Verification(False, 0, None, "audit key missing: cannot verify")
    with pytest.raises(KeyMissing):
        AuditLog(log.state_dir).append("remove", secret="plan", versions=1)
    assert not log.key_path.exists()


def test_a_cut_short_last_line_stops_appends(log):
    with open(log.log_path, "ab") as out:
        out.write(b'{"seq":11')
    assert log.verify().broken_at == 11
    with pytest.raises(StoreCorrupt):
        AuditLog(log.state_dir).append("remove", secret="plan", versions=1)


# -- what may be appended ----------------------------------------------------------------------


@pytest.mark.parametrize("fields", [{"hash": "x"}, {"seq": 3}, {"prev": GENESIS}, {"time": "now"},
                                    {"phase": "done"}, {"change": "CHG-1"}])
def test_reserved_fields_are_refused(log, fields):
    with pytest.raises(AuditFieldError, match="may not be named"):
        log.append("decision", **fields)


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), b"bytes"])
def test_values_must_be_json(log, value):
    with pytest.raises(AuditFieldError, match="JSON-serialisable") as caught:
        log.append("decision", value=value)
    assert isinstance(caught.value, DlpError) and isinstance(caught.value, ValueError)  # exit 2 in the CLI, not 3
    assert log.verify().entries == 10


def test_names_that_are_not_utf8_are_kept_and_verify(log):
    name = "plan-caf\udce9.txt"  # what os.fsdecode gives for the bytes b"plan-caf\xe9.txt"
    log.append("decision", item=name, action="block")
    assert log.verify().ok
    assert list(log.entries())[-1]["item"] == name
    assert log.log_path.read_bytes().decode("utf-8")  # the file itself stays valid UTF-8


def test_stored_form_is_what_is_hashed(log):
    entry = log.append("decision", recipients=("a@x.example", "b@y.example"), note="Grüße")
    assert entry["recipients"] == ["a@x.example", "b@y.example"]
    assert "Grüße" in log.log_path.read_text(encoding="utf-8")
    assert log.verify().ok


# -- files and concurrency ---------------------------------------------------------------------


def test_files_are_private_and_a_new_directory_is_0700(tmp_path):
    state = tmp_path / "deep" / "state"
    AuditLog(state).append("register", secret="plan", version=1)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("audit.jsonl", "audit.key", "audit.head", "audit.lock"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    assert len((state / "audit.key").read_bytes()) == 32


def test_an_existing_directory_keeps_its_mode(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o750)
    AuditLog(state).append("register", secret="plan", version=1)
    assert stat.S_IMODE(state.stat().st_mode) == 0o750


APPENDER = """
import sys
from pathlib import Path
from dlp.audit import AuditLog
log = AuditLog(Path(sys.argv[1]))
for i in range(50):
    log.append("decision", worker=sys.argv[2], n=i)
"""


def test_concurrent_threads_and_processes_keep_one_chain(tmp_path):
    state = tmp_path / "state"
    shared = AuditLog(state)
    processes = [subprocess.Popen([sys.executable, "-c", APPENDER, str(state), f"p{k}"]) for k in range(2)]

    def work(k: int) -> None:
        for i in range(50):
            shared.append("decision", worker=f"t{k}", n=i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [p.wait(120) for p in processes] == [0, 0]

    result = AuditLog(state).verify()
    assert result == Verification(True, 300, None, "")
    entries = list(shared.entries())
    assert [e["seq"] for e in entries] == list(range(1, 301))
    assert sorted((e["worker"], e["n"]) for e in entries) == sorted(
        (w, i) for w in ("t0", "t1", "t2", "t3", "p0", "p1") for i in range(50))


# -- a lost head is an alarm until someone acknowledges it -------------------------------------


def drop_head(log: AuditLog) -> None:
    log.head_path.unlink()


def cut(n: int):
    def tamper(log: AuditLog) -> None:
        rewrite(log, lines(log)[:-n])
    return tamper


def forge_head(log: AuditLog) -> None:
    """A head that matches the shortened log, written by someone without the key."""
    last = json.loads(lines(log)[-1])
    log.head_path.write_text(json.dumps({"seq": last["seq"], "hash": last["hash"], "open": {}, "mac": ""}))


def garble_head(log: AuditLog) -> None:
    log.head_path.write_text("{not json")


def drop_log(log: AuditLog) -> None:
    log.log_path.unlink()


def scan(log: AuditLog) -> None:
    """What the next ordinary scan does: one decision entry."""
    AuditLog(log.state_dir, clock=Clock()).append("decision", item="next.txt", action="allow", incident=None)


# steps, then what verify says: the kind of the open alarm (or the chain break) and the line it is on
@pytest.mark.parametrize("steps, alarm, line", [
    ((drop_head, scan), "head_lost", 11),
    ((cut(10), drop_head, scan), "log_lost", 1),                  # every line cut: the key tells
    ((cut(9), drop_head, scan), "head_lost", 2),
    ((cut(3), drop_head, scan), "head_lost", 8),
    ((cut(3), drop_head), "head_lost", None),                     # no append since: alarm now, written by the next
    ((cut(3), forge_head), "head_invalid", None),
    ((cut(3), forge_head, scan), "head_invalid", 8),
    ((cut(3), garble_head, scan), "head_invalid", 8),
    ((drop_log, drop_head, scan), "log_lost", 1),
    ((drop_head, scan, cut(2), drop_head, scan), "head_lost", 11),  # the alarm itself cut off: a new one
])
def test_a_lost_head_is_an_alarm_that_stays(log, steps, alarm, line):
    for step in steps:
        step(log)
    result = AuditLog(log.state_dir).verify()
    assert not result.ok and result.broken_at is None
    assert result.open_alarms[-1].kind == alarm and result.open_alarms[-1].line == line
    assert AuditLog(log.state_dir).verify() == result  # reading does not clear it
    scan(log)
    assert not AuditLog(log.state_dir).verify().ok    # nor does writing


def test_an_acknowledgement_names_who_and_why_and_covers_only_what_came_before(log):
    cut(4)(log)
    drop_head(log)
    scan(log)
    entry, alarms = AuditLog(log.state_dir, clock=Clock()).acknowledge("alice", "compared with the SIEM copy")
    assert (entry["event"], entry["by"], entry["reason"], entry["alarms"]) == ("acknowledge", "alice",
                                                                               "compared with the SIEM copy", [7])
    result = log.verify()
    assert result.ok and result.entries == 9
    [acknowledged] = result.alarms
    assert (acknowledged.kind, acknowledged.acknowledged.by, acknowledged.acknowledged.line) == ("head_lost", "alice", 9)
    drop_head(log)  # a new loss after the acknowledgement is a new alarm
    scan(log)
    assert not log.verify().ok and log.verify().open_alarms[0].line == 10


def test_a_missing_head_can_be_acknowledged_directly(log):
    drop_head(log)
    AuditLog(log.state_dir).acknowledge("bob", "head file lost in a disk restore")
    result = log.verify()
    assert result.ok and [a.line for a in result.alarms] == [11]  # the acknowledgement's append wrote the alarm


@pytest.mark.parametrize("tamper, error", [
    (lambda log: None, "nothing to acknowledge"),
    (cut(2), "cannot repair"),               # a broken chain is not an alarm
])
def test_what_cannot_be_acknowledged(log, tamper, error):
    tamper(log)
    with pytest.raises(DlpError, match=error):
        AuditLog(log.state_dir).acknowledge("alice", "because")


OPERATION = st.one_of(st.just(("append", 0)), st.just(("drop head", 0)), st.tuples(st.just("cut"), st.integers(1, 4)))


@given(operations=st.lists(OPERATION, max_size=8))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_cut_or_lost_head_is_reported(tmp_path_factory, operations):
    """Whatever an insider does with the end of the log and the head, verify never says intact afterwards."""
    log = AuditLog(tmp_path_factory.mktemp("state"), clock=Clock())
    log.append("decision", n=0)
    tampered = False
    for op, n in operations:
        if op == "append":
            log.append("decision", n=1)
        elif op == "drop head" and log.head_path.exists():
            drop_head(log)
            tampered = True
        elif op == "cut" and len(lines(log)) >= n:
            cut(n)(log)
            tampered = True
    assert log.verify().ok is not tampered


# -- the key and the last entry: an append that would break the chain is refused first -------------


def key_missing(log: AuditLog) -> None:
    log.key_path.unlink()


def key_a_directory(log: AuditLog) -> None:
    log.key_path.unlink()
    log.key_path.mkdir()


def key_short(log: AuditLog) -> None:
    log.key_path.write_bytes(b"x" * 7)


def key_replaced(log: AuditLog) -> None:
    log.key_path.write_bytes(os.urandom(32))


def last_entry_edited(log: AuditLog) -> None:
    rewrite(log, lines(log)[:-1] + [lines(log)[-1].replace('"allow"', '"block"').replace('"warn"', '"block"')])


@pytest.mark.parametrize("damage, error", [
    (key_missing, KeyMissing), (key_a_directory, KeyMissing), (key_short, KeyMissing),
    (key_replaced, AuditError), (last_entry_edited, AuditError),
])
def test_a_trail_that_cannot_be_continued_is_refused_before_writing(log, damage, error):
    damage(log)
    before = log.log_path.read_bytes()
    with pytest.raises(error):
        AuditLog(log.state_dir).check()
    with pytest.raises(error):
        AuditLog(log.state_dir).append("remove", secret="plan", versions=1)
    with pytest.raises(error):
        with AuditLog(log.state_dir).change("remove", secret="plan"):
            raise AssertionError("the change ran without its intent")
    assert log.log_path.read_bytes() == before


def test_check_passes_on_a_fresh_and_on_a_sound_trail(tmp_path, log):
    AuditLog(tmp_path / "fresh").check()
    log.check()


# -- intent and completion -------------------------------------------------------------------------


def test_a_change_is_an_intent_before_and_a_completion_after(log):
    seen = []
    with log.change("remove", secret="plan") as change:
        seen.append(list(log.entries())[-1])  # the intent is on disk before the block runs
        change.note(generation=7, versions=2)
    intent, done = list(log.entries())[-2:]
    assert seen == [intent]
    assert (intent["phase"], intent["secret"], done["phase"], done["generation"]) == ("intent", "plan", "done", 7)
    assert intent["change"] == done["change"] == change.id
    assert log.open_changes() == [] and log.verify().ok


def test_a_change_that_raises_is_a_failed_entry(log):
    with pytest.raises(KeyError):
        with log.change("terms", secret="codes"):
            raise KeyError("boom")
    failed = list(log.entries())[-1]
    assert (failed["phase"], failed["error"]) == ("failed", "KeyError: 'boom'")
    assert log.open_changes() == []


def crash_in_a_change(log: AuditLog) -> str:
    """An intent whose process died: what a kill -9 leaves."""
    context = log.change("register", secrets=["a", "b"], registry="/srv/reg", base_generation=3)
    change = context.__enter__()  # never exited
    return change.id


def test_an_interrupted_change_stays_open_until_recovered(log):
    change_id = crash_in_a_change(log)
    for _ in range(3):
        scan(log)
    fresh = AuditLog(log.state_dir)
    [open_change] = fresh.open_changes()
    assert (open_change.change, open_change.event, open_change.fields["secrets"]) == (change_id, "register", ["a", "b"])
    result = fresh.verify()
    assert result.ok and [c.change for c in result.interrupted] == [change_id]  # the caller judges it
    fresh.recover(open_change, True, "applied: generation 4 names this change", generation=4)
    result = fresh.verify()
    assert result.interrupted == () and [(r.change, r.applied) for r in result.recovered] == [(change_id, True)]
    assert fresh.open_changes() == []


def test_open_changes_survive_a_lost_head(log):
    change_id = crash_in_a_change(log)
    drop_head(log)
    assert [c.change for c in AuditLog(log.state_dir).open_changes()] == [change_id]  # read from the log
    with AuditLog(log.state_dir).change("remove", secret="x"):  # rebuilds the head's open set
        pass
    head = json.loads(log.head_path.read_text())
    assert list(head["open"]) == [change_id]
    assert [c.change for c in AuditLog(log.state_dir).open_changes()] == [change_id]


def test_find_reads_backwards_only_as_far_as_asked(log):
    seq = log.last_seq()
    log.append("decision", record_key="j-1", action="warn")
    scan(log)
    assert log.find(seq, event="decision", record_key="j-1")["seq"] == seq + 1
    assert log.find(seq + 1, event="decision", record_key="j-1") is None
    assert log.find(0, event="decision", item="file3.txt")["seq"] == 4


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")) | st.just(b"x" * 9000), max_size=6),
       newline_last=st.booleans(), block=st.sampled_from([1, 2, 7, 4096]))
def test_lines_read_backwards_are_the_lines_of_the_file(tmp_path_factory, lines, newline_last, block):
    # the last entry of a bulk registration is one line of megabytes: it is read in growing
    # blocks and joined once (re-joining it at every 4 KB block took seconds per command)
    import dlp.audit as audit_module

    data = b"\n".join(lines) + (b"\n" if newline_last and lines else b"")
    path = tmp_path_factory.mktemp("log") / "lines"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(audit_module, "_TAIL_BLOCK", block)
            got = list(audit_module._lines_backwards(fd, len(data)))
    finally:
        os.close(fd)
    body = data[:-1] if data.endswith(b"\n") else data
    assert got == (body.split(b"\n")[::-1] if data else [])
