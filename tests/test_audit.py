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

from dlp.audit import GENESIS, AuditLog, Verification
from dlp.errors import KeyMissing, StoreCorrupt

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
    assert json.loads(log.head_path.read_text()) == {"seq": 10, "hash": entries[-1]["hash"]}


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
    entries = lines(log)
    rewrite(log, entries[:-1])
    (log.head_path).write_text(json.dumps({"seq": 9, "hash": "f" * 64}))
    result = log.verify()
    assert not result.ok and "not the one the head recorded" in result.reason and result.broken_at == 9


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


@pytest.mark.parametrize("fields", [{"hash": "x"}, {"seq": 3}, {"prev": GENESIS}, {"time": "now"}])
def test_reserved_fields_are_refused(log, fields):
    with pytest.raises(ValueError, match="may not be named"):
        log.append("decision", **fields)


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), b"bytes"])
def test_values_must_be_json(log, value):
    with pytest.raises(ValueError, match="JSON-serialisable"):
        log.append("decision", value=value)
    assert log.verify().entries == 10


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
