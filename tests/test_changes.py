"""Registry changes, evidence first: intent before, completion after, and recovery after a crash."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.changes import probe_registry, reconcile, registry_change, summary, where
from dlp.errors import AuditError, KeyMissing, UsageError
from dlp.registry import Registry
from dlp.store import Store
from dlp.index import store_versions

from helpers import prose

DOCS = {f"doc{i}": prose(120, seed=i) for i in range(3)}


@pytest.fixture
def audit(tmp_path) -> AuditLog:
    return AuditLog(tmp_path / "state")


def register(audit: AuditLog, root: Path, *ids: str) -> int:
    with registry_change(audit, root, None, "register", secrets=list(ids)) as (reg, change):
        for sid in ids:
            reg.add_document(DOCS[sid], DOCS[sid].encode(), f"{sid}.txt", secret_id=sid)
        generation = reg.commit()
        change.note(generation=generation)
    return generation


CRASHING_REGISTER = """
import os, signal, sys
from pathlib import Path
from dlp.audit import AuditLog
from dlp.changes import registry_change
state, root, sid, text, step = sys.argv[1:]
with registry_change(AuditLog(Path(state)), Path(root), None, "register", secrets=[sid]) as (reg, change):
    if step == "commit":
        reg.add_document(text, text.encode(), sid + ".txt", secret_id=sid)
        reg.commit()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def crash_after(step: str, audit: AuditLog, root: Path, sid: str) -> None:
    """A real `kill -9` of a process in the middle of a registry change, right after `step`."""
    done = subprocess.run([sys.executable, "-c", CRASHING_REGISTER, str(audit.state_dir), str(root), sid, DOCS[sid],
                           step], timeout=120)
    assert done.returncode == -signal.SIGKILL


def test_the_generation_names_the_change_and_the_trail_brackets_it(audit, tmp_path):
    generation = register(audit, tmp_path / "reg", "doc0", "doc1")
    intent, done = list(audit.entries())
    assert (intent["phase"], intent["secrets"], intent["base_generation"], intent["registry"]) == (
        "intent", ["doc0", "doc1"], 0, where(tmp_path / "reg"))
    assert (done["phase"], done["generation"], done["change"]) == ("done", generation, intent["change"])
    assert Registry(tmp_path / "reg").manifest["change"] == intent["change"]


def test_no_trail_no_change(audit, tmp_path):
    register(audit, tmp_path / "reg", "doc0")
    audit.key_path.unlink()
    with pytest.raises(KeyMissing):
        register(AuditLog(audit.state_dir), tmp_path / "reg", "doc1")
    assert sorted(Registry(tmp_path / "reg").secrets) == ["doc0"]


def test_a_change_refused_by_the_registry_is_a_failed_entry(audit, tmp_path):
    register(audit, tmp_path / "reg", "doc0")
    with pytest.raises(UsageError):
        with registry_change(audit, tmp_path / "reg", None, "remove", secret="nope") as (reg, change):
            reg.remove("nope")
    assert list(audit.entries())[-1]["phase"] == "failed" and audit.open_changes() == []


@pytest.mark.parametrize("step, applied, live", [
    ("intent", False, ["doc0"]),           # died before committing: the registry never saw it
    ("commit", True, ["doc0", "doc1"]),    # died after committing, before the completion
])
def test_the_next_change_reconciles_a_crashed_one(audit, tmp_path, step, applied, live):
    root = tmp_path / "reg"
    register(audit, root, "doc0")
    crash_after(step, audit, root, "doc1")
    [open_change] = audit.open_changes()
    assert probe_registry(open_change).applied is applied
    register(AuditLog(audit.state_dir), root, "doc2")
    entries = list(audit.entries())
    recovered = next(e for e in entries if e.get("phase") == "recovered")
    assert (recovered["change"], recovered["applied"]) == (open_change.change, applied)
    assert sorted(Registry(root).secrets) == sorted([*live, "doc2"])
    result = audit.verify()
    assert result.ok and result.interrupted == () and [r.applied for r in result.recovered] == [applied]


def test_a_registry_moved_on_without_naming_the_change_cannot_be_told(audit, tmp_path):
    root = tmp_path / "reg"
    register(audit, root, "doc0")
    crash_after("intent", audit, root, "doc1")
    reg = Registry(root)  # a writer that does not audit (not dlp's commands) commits a generation
    reg.add_document(DOCS["doc2"], DOCS["doc2"].encode(), "doc2.txt", secret_id="doc2")
    reg.commit()
    [(change, outcome)] = reconcile(audit, lock_registries=True)
    assert outcome.applied is None and "moved from generation 1 to 2" in outcome.detail


def test_a_change_still_running_is_in_progress_not_interrupted(audit, tmp_path):
    root = tmp_path / "reg"
    register(audit, root, "doc0")
    entered, finish = threading.Event(), threading.Event()

    def slow_register() -> None:
        with registry_change(audit, root, None, "register", secrets=["doc1"]) as (reg, change):
            entered.set()
            finish.wait(30)
            change.note(generation=reg.commit())

    writer = threading.Thread(target=slow_register)
    writer.start()
    try:
        assert entered.wait(30)
        [open_change] = audit.open_changes()
        outcome = probe_registry(open_change)
        assert outcome.in_progress and outcome.applied is None
        assert reconcile(audit) == []  # nothing is marked while it runs
    finally:
        finish.set()
        writer.join(30)
    assert audit.open_changes() == [] and Store(root, versions=store_versions()).busy() is False


def test_changes_of_another_registry_are_left_to_it(audit, tmp_path):
    register(audit, tmp_path / "a", "doc0")
    crash_after("intent", audit, tmp_path / "a", "doc1")
    register(audit, tmp_path / "b", "doc2")  # reconciles b's changes only
    assert [c.fields["registry"] for c in audit.open_changes()] == [where(tmp_path / "a")]


@pytest.mark.parametrize("event, fields, text", [
    ("register", {"secrets": ["a"]}, "register of 1 document (a)"),
    ("register", {"secrets": [f"d{i}" for i in range(8)]}, "register of 8 documents (d0, d1, d2, d3, d4, ... (3 more))"),
    ("register", {"secrets": ["public"], "public": True}, "register of 1 public document (public)"),
    ("remove", {"secret": "plan"}, "remove of plan"),
    ("release", {"incident": "INC-1", "by": "alice"}, "release of INC-1 by alice"),
])
def test_summaries_name_ids_and_counts(event, fields, text):
    assert summary(event, fields) == text


def test_a_registry_is_bound_to_the_trail_that_audits_it(audit, tmp_path):
    root = tmp_path / "reg"
    register(audit, root, "doc0")
    elsewhere = AuditLog(tmp_path / "my-own-state")
    with pytest.raises(AuditError, match=r"records its changes in the audit trail at .*/state, not in .*my-own-state"):
        with registry_change(elsewhere, root, None, "remove", secret="doc0") as (reg, change):
            reg.remove("doc0")
            reg.commit()
    assert list(Registry(root).secrets) == ["doc0"] and list(elsewhere.entries()) == []
    moved = tmp_path / "moved-state"  # the same trail under another path (same key) is the same trail
    (tmp_path / "state").rename(moved)
    register(AuditLog(moved), root, "doc1")
    assert sorted(Registry(root).secrets) == ["doc0", "doc1"]


def test_an_intent_names_the_operating_system_user(audit, tmp_path):
    import os
    import pwd

    register(audit, tmp_path / "reg", "doc0")
    intent = next(audit.entries())
    assert (intent["os_user"], intent["uid"], intent["pid"]) == (pwd.getpwuid(os.getuid()).pw_name, os.getuid(),
                                                                 os.getpid())
