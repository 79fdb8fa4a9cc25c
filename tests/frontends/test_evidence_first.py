"""Evidence first, through the real `dlp` command: no registry change without its audit intent.

A real `dlp register` of many documents is killed with SIGKILL at random moments; after
every kill the registry and the audit trail must agree, and recovery must mark every gap.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from dlp.audit import AuditLog
from dlp.changes import probe_registry
from dlp.registry import Registry

from helpers import prose

BATCHES, PER_BATCH = 5, 50


def dlp(env: dict, *argv: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dlp", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **kwargs)


def applied_ids(state: Path) -> set[str]:
    """Every secret id the audit trail says reached the registry: completed changes, recovered ones
    found applied, and interrupted ones whose generation the registry names."""
    audit = AuditLog(state)
    intents, applied = {}, set()
    for entry in audit.entries():
        change = entry.get("change")
        if entry.get("phase") == "intent":
            intents[change] = entry.get("secrets", [])
        elif entry.get("phase") == "done" or (entry.get("phase") == "recovered" and entry.get("applied")):
            applied.update(intents[change])
    for change in audit.open_changes():
        if probe_registry(change).applied:
            applied.update(change.fields["secrets"])
    return applied


def kill_at_random(process: subprocess.Popen, rng: random.Random, whole: float, current: Path) -> None:
    time.sleep(rng.uniform(0.2, whole * 1.3))  # anywhere from start-up to after the last entry
    process.send_signal(signal.SIGKILL)


def kill_at_commit(process: subprocess.Popen, rng: random.Random, whole: float, current: Path) -> None:
    """Right after the new generation goes live: between the commit and the completion entry, or just after."""
    before = current.read_bytes()
    deadline = time.monotonic() + 120
    while current.read_bytes() == before and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)


def test_kill_9_during_register_leaves_no_secret_without_its_intent(tmp_path):
    env = {**os.environ, "DLP_REGISTRY": str(tmp_path / "reg"), "DLP_STATE": str(tmp_path / "state")}
    for b in range(BATCHES):
        folder = tmp_path / f"batch{b}"
        folder.mkdir()
        for i in range(PER_BATCH):
            (folder / f"b{b}-doc{i:03d}.txt").write_text(prose(60, seed=b * 1000 + i))
    for b in (0, 1):  # the second one, into a registry that exists, measures a whole run
        started = time.monotonic()
        whole = dlp(env, "register", str(tmp_path / f"batch{b}"))
        assert whole.wait(300) == 0, whole.stderr.read()
        whole.stderr.close()
    whole = time.monotonic() - started
    rng = random.Random(1414)
    for b, kill in zip(range(2, BATCHES), (kill_at_random, kill_at_random, kill_at_commit)):
        process = dlp(env, "register", str(tmp_path / f"batch{b}"))
        kill(process, rng, whole, tmp_path / "reg" / "CURRENT")
        assert process.wait(60) in (0, -signal.SIGKILL)
        process.stderr.close()
        result = AuditLog(tmp_path / "state").verify()
        assert result.broken_at is None, result.reason  # a kill never leaves a torn or unchained line
        live = set(Registry(tmp_path / "reg").secrets)
        assert live == applied_ids(tmp_path / "state")  # every live secret has its intent, and only those
        assert {sid.split("-")[0] for sid in live} <= {f"b{k}" for k in range(b + 1)}
    recover = dlp(env, "audit", "recover")
    assert recover.wait(120) == 0, recover.stderr.read()
    recover.stderr.close()
    verify = subprocess.run([sys.executable, "-m", "dlp", "audit", "verify"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert verify.returncode == 0 and verify.stdout.startswith("audit trail intact"), verify.stdout
    assert AuditLog(tmp_path / "state").open_changes() == []
    live = set(Registry(tmp_path / "reg").secrets)
    assert live == applied_ids(tmp_path / "state")
    for b in range(BATCHES):  # each registration is all or nothing
        assert len([s for s in live if s.startswith(f"b{b}-")]) in (0, PER_BATCH)
    assert {"b0", "b1", "b4"} <= {s.split("-")[0] for s in live}  # the last one was killed after its commit
