"""The audit trail: every edit, deletion, reordering and truncation is caught at its line."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dlp.audit import AuditLog


class Clock:
    def __init__(self):
        self.now = 1_790_000_000.0

    def __call__(self):
        self.now += 1.0
        return self.now


@pytest.fixture
def log(tmp_path):
    audit = AuditLog(tmp_path / "state", clock=Clock())
    for i in range(10):
        audit.append("decision", item=f"file{i}.txt", action="warn" if i % 2 else "allow", incident=None)
    return audit


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def rewrite(log: AuditLog, new: list[str]) -> None:
    log.path.write_text("".join(new))


def test_an_untouched_chain_verifies(log):
    result = log.verify()
    assert (result.ok, result.entries, result.broken_at) == (True, 10, None)
    first = next(log.entries())
    assert (first["seq"], first["time"], first["prev"]) == (1, "2026-09-21T14:13:21.000000Z", "0" * 64)


def edit(entries):
    entry = json.loads(entries[3])
    entry["action"] = "block"
    entries[3] = json.dumps(entry, sort_keys=True) + "\n"
    return entries


def edit_time(entries):
    entries[3] = entries[3].replace("2026-09-21", "2026-09-20")
    return entries


def delete(entries):
    del entries[3]
    return entries


def swap(entries):
    entries[2], entries[5] = entries[5], entries[2]
    return entries


def garbage(entries):
    entries[6] = "not json\n"
    return entries


@pytest.mark.parametrize("tamper, line, words", [
    (edit, 4, "altered"),
    (edit_time, 4, "altered"),
    (delete, 4, "deleted or reordered"),
    (swap, 3, "deleted or reordered"),
    (garbage, 7, "not a JSON entry"),
])
def test_tampering_is_caught_at_the_first_broken_line(log, tamper, line, words):
    rewrite(log, tamper(lines(log)))
    result = log.verify()
    assert not result.ok and result.broken_at == line and words in result.reason


def test_cutting_entries_off_the_end_is_caught_by_the_head(log):
    rewrite(log, lines(log)[:-2])
    result = log.verify()
    assert not result.ok and "2 entries missing at the end" in result.reason


def test_rechaining_without_the_key_is_caught(log):
    entries = [json.loads(line) for line in lines(log)]
    entries[3]["action"] = "allow"
    prev = entries[2]["hash"]
    for entry in entries[3:]:  # an attacker recomputes plain SHA-256 hashes from line 4 on
        entry["prev"] = prev
        body = {k: v for k, v in entry.items() if k != "hash"}
        entry["hash"] = prev = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    rewrite(log, [json.dumps(e, sort_keys=True) + "\n" for e in entries])
    result = log.verify()
    assert not result.ok and result.broken_at == 4


def test_missing_key_cannot_verify(log):
    (log.dir / "audit.key").unlink()
    assert log.verify().reason == "audit key missing: cannot verify"


def test_reserved_fields_are_refused(log):
    with pytest.raises(ValueError):
        log.append("decision", hash="x")


def test_files_are_private(tmp_path):
    audit = AuditLog(tmp_path / "new")
    audit.append("register", secret="plan", version=1)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    for name in ("audit.jsonl", "audit.key", "audit.head"):
        assert (tmp_path / "new" / name).stat().st_mode & 0o777 == 0o600


def test_concurrent_threads_and_processes_keep_one_chain(tmp_path):
    state = tmp_path / "state"
    audit = AuditLog(state)
    script = ("import sys; from pathlib import Path; from dlp.audit import AuditLog\n"
              "log = AuditLog(Path(sys.argv[1]))\n"
              "for i in range(50): log.append('decision', worker=sys.argv[2], n=i)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(state), f"p{k}"]) for k in range(2)]
    threads = [threading.Thread(target=lambda k=k: [audit.append("decision", worker=f"t{k}", n=i) for i in range(50)])
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for p in procs:
        assert p.wait(60) == 0
    result = audit.verify()
    assert result.ok and result.entries == 300
    assert sorted(e["seq"] for e in audit.entries()) == list(range(1, 301))
