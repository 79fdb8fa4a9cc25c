"""The watch daemon records an incident for what it quarantines; `dlp release` moves the file on."""

from __future__ import annotations

import io
import json
import os

from dlp.recording import Recorder
from dlp.frontends.cli import Env, main
from dlp.frontends.watch.command import _recording
from dlp.types import unescape_path
from dlp.rules import DefaultPolicy

from .conftest import LEAK, clean_text, wait_until


def test_quarantined_file_is_an_incident_and_release_moves_it(run_daemon, folders, registry, tmp_path):
    state = tmp_path / "state"
    recorder = Recorder(state, DefaultPolicy())
    with run_daemon((folders.box(),), decider=recorder.decider(), on_decision=_recording(recorder)) as running:
        (folders.outbox / "sub").mkdir()
        (folders.outbox / "sub" / "plan-copy.txt").write_text(LEAK)
        (folders.outbox / "notes.txt").write_text(clean_text(1))
        running.log.wait("decision", 2)
    [incident] = recorder.incidents.query()
    quarantined = folders.quarantine / "sub" / "plan-copy.txt"
    assert incident.target == {"kind": "file", "path": os.fspath(quarantined), "quarantined": True}
    assert incident.channel == "watch" and incident.action == "block" and incident.secrets == ["plan"]
    assert (folders.release / "notes.txt").exists()

    out, err = io.StringIO(), io.StringIO()
    code = main(["--registry", str(registry), "--state", str(state), "release", incident.id, "--by", "alice",
                 "--justification", "customer contract, ticket 81"], Env(stdout=out, stderr=err, environ={}))
    assert code == 0, err.getvalue()
    released = folders.release / "sub" / "plan-copy.txt"
    wait_until(released.exists, what="the released file")
    assert released.read_text() == LEAK and not quarantined.exists()
    assert not quarantined.with_name("plan-copy.txt.dlp.json").exists()
    assert f"moved to {released}" in out.getvalue()
    assert recorder.incidents.get(incident.id).status == "released"
    events = [e["event"] for e in recorder.audit.entries()]
    assert events.count("decision") == 2 and events[-1] == "release"


def test_recovery_repeating_the_hook_records_the_decision_once(run_daemon, folders, tmp_path):
    recorder = Recorder(tmp_path / "state", DefaultPolicy())
    hook = _recording(recorder)
    seen = []
    with run_daemon((folders.box(),), decider=recorder.decider(),
                    on_decision=lambda *args: (seen.append(args), hook(*args))) as running:
        (folders.outbox / "plan-copy.txt").write_text(LEAK)
        running.log.wait("decision")
    hook(*seen[0])  # what recovery does after a crash between the hook and the journal's end
    [incident] = recorder.incidents.query()
    assert [e["event"] for e in recorder.audit.entries()] == ["decision"]
    assert seen[0][0].meta["journal"] and incident.target["quarantined"]


def test_any_file_name_is_decided_recorded_and_released(run_daemon, folders, registry, tmp_path):
    """A name that is not UTF-8 used to be quarantined with no incident and no audit entry."""
    state = tmp_path / "state"
    recorder = Recorder(state, DefaultPolicy())
    leak_name = os.fsdecode(b"plan-\xff\xfe.txt")
    clean_name = os.fsdecode(b"notes\nALLOW x.txt")
    with run_daemon((folders.box(),), decider=recorder.decider(), on_decision=_recording(recorder)) as running:
        (folders.outbox / leak_name).write_text(LEAK)
        (folders.outbox / clean_name).write_text(clean_text(1))
        lines = {r["file"]: r for r in running.log.wait("decision", 2)}
    assert lines["plan-\\xff\\xfe.txt"]["verdict"] == "block"
    assert lines["notes\\x0aALLOW x.txt"]["verdict"] == "allow"
    assert (folders.release / clean_name).read_text() == clean_text(1)
    [incident] = recorder.incidents.query()
    assert incident.item == "plan-\\xff\\xfe.txt"
    assert unescape_path(incident.target["path"]) == os.fspath(folders.quarantine / leak_name)
    assert recorder.audit.verify().ok
    assert [e["event"] for e in recorder.audit.entries()] == ["decision", "decision"]
    sidecar = json.loads((folders.quarantine / f"{leak_name}.dlp.json").read_text(encoding="utf-8"))
    assert sidecar["original"] == "plan-\\xff\\xfe.txt"

    out, err = io.StringIO(), io.StringIO()
    code = main(["--registry", str(registry), "--state", str(state), "release", incident.id, "--by", "alice",
                 "--justification", "checked"], Env(stdout=out, stderr=err, environ={}))
    assert code == 0, err.getvalue()
    assert (folders.release / leak_name).read_text() == LEAK
    assert "plan-\\xff\\xfe.txt" in out.getvalue()
