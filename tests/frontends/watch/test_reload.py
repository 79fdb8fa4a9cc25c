"""Reloads of the watch daemon: a new registry generation or SIGHUP switches the scanner, the
decider and the recorder together, or, when the new generation or policy file is broken,
nothing, said in the log and the audit trail."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.frontends.watch.scans import ScannerSpec
from dlp.incidents import IncidentStore
from dlp.registry import Registry

from .conftest import LEAK, SECRET_TEXT, clean_text, wait_until

EMBARGO = '[countries]\nembargoed = ["CN"]\n'
REVIEWED = """
[[rule]]
name = "reviewed transfers"
to = ["outside"]
action = "warn"

[exposure]          # one leak is most of the secret: the slow-leak rule would block it
enabled = false
"""


def own_registry(root: Path) -> Path:
    reg = Registry(root, create=True)
    reg.add_document(SECRET_TEXT, SECRET_TEXT.encode(), "plan.txt", secret_id="plan", label="Plan")
    reg.commit()
    return root


def corrupt_next_generation(root: Path, tmp_path: Path) -> str:
    """Publish a new generation whose manifest fails its keyed checksum, in one step (built in
    a copy, then moved in and made current), so the daemon never sees a good version of it."""
    stage = tmp_path / "stage" / root.name
    shutil.copytree(root, stage)
    shutil.copy(root.with_name(root.name + ".key"), stage.with_name(root.name + ".key"))
    reg = Registry(stage)
    reg.add_document(clean_text(7) * 5, b"other", "other.txt", secret_id="other")
    reg.commit()
    name = (stage / "CURRENT").read_text().strip()
    manifest = json.loads((stage / f"{name}.json").read_text())
    manifest["mac"] = "0" * len(manifest["mac"])
    (stage / f"{name}.json").write_text(json.dumps(manifest))
    for entry in stage.iterdir():
        if entry.name != "CURRENT" and not (root / entry.name).exists():
            shutil.move(entry, root / entry.name)
    tmp = root / ".CURRENT.test"
    tmp.write_text(name + "\n")
    tmp.replace(root / "CURRENT")
    return name


def test_a_broken_generation_keeps_the_old_scanner_is_tried_once_and_again_on_sighup(folders, run_daemon, tmp_path):
    root = own_registry(tmp_path / "reg")
    outcomes: list[dict] = []
    with run_daemon((folders.box(),), spec=ScannerSpec.of(str(root)), registry_check=0.05,
                    on_reload=outcomes.append) as running:
        broken = corrupt_next_generation(root, tmp_path)
        [error] = running.log.wait("error", timeout=30)
        time.sleep(0.5)  # ten more looks at the registry: the broken generation is not tried again
        (folders.outbox / "leak.txt").write_text(LEAK)
        [decision] = running.log.wait("decision")
        assert len(outcomes) == 1
        running.daemon.reload()  # SIGHUP tries again
        running.log.wait("error", timeout=30)
        (root / "CURRENT").write_text("gen-000001\n")  # the administrator rolls back ...
        reg = Registry(root)  # ... and registers again
        reg.add_document(clean_text(8) * 5, b"another", "another.txt", secret_id="another")
        reg.commit()
        [reloaded] = running.log.wait("reloaded", timeout=30)
    assert broken == "gen-000002"
    assert "reload failed (registry generation gen-000002), still scanning with gen-000001" in error["error"]
    assert "fails its keyed checksum" in error["error"]
    assert decision["verdict"] == "block" and decision["secrets"] == ["plan"]  # the old scanner goes on
    assert [(o["trigger"], o["outcome"], o["generation"]) for o in outcomes] == [
        ("registry generation gen-000002", "failed", "gen-000001"), ("SIGHUP", "failed", "gen-000001"),
        ("registry generation gen-000003", "done", "gen-000003")]
    assert reloaded["registry"] == "gen-000001 -> gen-000003"


def test_a_reload_the_recorder_refuses_switches_nothing(folders, run_daemon, tmp_path):
    """The recorder cannot write the `policy` entry: the scanner and the decider stay as they were."""
    root = own_registry(tmp_path / "reg")
    policy = tmp_path / "policy.toml"
    policy.write_text(EMBARGO)
    switched = []

    def refuse(new_policy) -> None:
        if switched:
            raise OSError("audit trail on a full disk")
        switched.append(new_policy)

    outcomes: list[dict] = []
    with run_daemon((folders.box(country="CN"),), spec=ScannerSpec.of(str(root), policy), on_policy=refuse,
                    on_reload=outcomes.append) as running:
        policy.write_text(REVIEWED)
        running.daemon.reload()
        running.log.wait("error", timeout=30)
        (folders.outbox / "leak.txt").write_text(LEAK)
        [decision] = running.log.wait("decision")
    assert decision["verdict"] == "block"  # the new policy would have warned
    assert outcomes[0]["outcome"] == "failed" and "full disk" in outcomes[0]["error"]


def _watch(registry: Path, folders, state: Path, policy: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dlp", "--registry", str(registry), "--state", str(state), "--policy", str(policy),
         "watch", str(folders.outbox), "--release", str(folders.release), "--quarantine", str(folders.quarantine),
         "--destination", "CN", "--settle", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.integration
def test_sighup_to_dlp_watch_switches_the_policy_of_the_next_decision_and_its_incident(registry, folders, tmp_path):
    state, policy = tmp_path / "state", tmp_path / "policy.toml"
    policy.write_text(EMBARGO)
    process = _watch(registry, folders, state, policy)
    lines: list[dict] = []
    pump = threading.Thread(target=lambda: lines.extend(json.loads(line) for line in process.stdout), daemon=True)
    pump.start()

    def wait_for(event: str, count: int, what: str) -> dict:
        wait_until(lambda: sum(r["event"] == event for r in lines) >= count, 60, what)
        return [r for r in lines if r["event"] == event][count - 1]

    try:
        wait_for("started", 1, "the daemon to start")
        (folders.outbox / "before.txt").write_text(LEAK)
        before = wait_for("decision", 1, "the first decision")
        policy.write_text(REVIEWED)  # transfers to CN are reviewed now: leaks only warn
        process.send_signal(signal.SIGHUP)
        reloaded = wait_for("reloaded", 1, "the reload")
        (folders.outbox / "after.txt").write_text(LEAK)
        after = wait_for("decision", 2, "the second decision")
        policy.write_text("[[rule]]\nname = 'broken'\naction = 'deny'\n")  # an error: the last good one stays
        process.send_signal(signal.SIGHUP)
        error = wait_for("error", 1, "the failed reload")
        (folders.outbox / "later.txt").write_text(LEAK)
        later = wait_for("decision", 3, "the third decision")
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(30)
        pump.join(10)
        errors = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
    assert status == 0, errors
    assert (before["verdict"], after["verdict"], later["verdict"]) == ("block", "warn", "warn")
    assert reloaded["trigger"] == "SIGHUP" and reloaded["policy"] == str(policy)
    assert "unknown action 'deny'" in error["error"] and "still scanning with" in error["error"]
    incidents = {i.item: i.to_dict() for i in IncidentStore(state, read_only=True).query()}
    assert incidents["before.txt"]["action"] == "block" and incidents["after.txt"]["action"] == "warn"
    # the recorder switched with the decider: recipients are classified by the policy that decided
    assert [r["class"] for r in incidents["before.txt"]["recipients"]] == ["embargoed"]
    assert [r["class"] for r in incidents["after.txt"]["recipients"]] == ["external"]
    entries = list(AuditLog(state).entries())
    policies = [e for e in entries if e["event"] == "policy"]
    assert len(policies) == 2 and policies[1]["previous"] == policies[0]["sha256"]
    reloads = [(e["trigger"], e["outcome"]) for e in entries if e["event"] == "reload"]
    assert reloads == [("SIGHUP", "done"), ("SIGHUP", "failed")]
    assert AuditLog(state).verify().ok
