"""Resolving incidents in the core (what `dlp release`, `dlp confirm` and the console share)."""

from __future__ import annotations

import datetime as dt
import stat
import sys
from pathlib import Path

import pytest

from dlp import resolution
from dlp.recording import Recorder
from dlp.errors import UsageError
from dlp.types import Action, Decision, Destination, FileReport, Finding
from dlp.rules import DefaultPolicy

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def recorder(tmp_path) -> Recorder:
    return Recorder(tmp_path / "state", DefaultPolicy(), today=lambda: TODAY)


def held_mail(recorder: Recorder, queue_id: str = "4F2A1C") -> str:
    finding = Finding("plan", 1, "Plan", "document", 1.0, 40, 0.1, "m.eml", evidence={
        "runs": [{"start": 0, "end": 200, "words": 40, "secret_words": [100, 140]}], "secret_words": 400})
    report = FileReport("m.eml", Action.QUARANTINE, (finding,), decision=Decision(Action.QUARANTINE, "test"))
    settled = recorder.record(report, Destination(("li@firma.cn",), None, "mail"), {"kind": "mail", "queue_id": queue_id})
    return settled.meta["incident"]


@pytest.fixture
def postsuper(tmp_path) -> tuple[str, Path]:
    calls = tmp_path / "calls"
    script = tmp_path / "postsuper"
    script.write_text(f"#!{sys.executable}\nimport sys\nopen({str(calls)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
                      "sys.exit(3 if 'FAILS' in sys.argv else 0)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script), calls


def test_release_of_a_held_mail_runs_postsuper_and_audits_who(recorder, postsuper):
    command, calls = postsuper
    incident = held_mail(recorder)
    done = resolution.release(recorder, incident, by="alice", justification="ticket 81", postsuper=command,
                              allow_until=dt.date(2026, 12, 31), via="console")
    assert calls.read_text() == "-H 4F2A1C\n"
    assert done.status == "released" and done.outcome == "mail 4F2A1C released from the hold queue"
    assert [(a.secret, a.destination, a.until) for a in done.allows] == [("plan", "domain:firma.cn", dt.date(2026, 12, 31))]
    entries = list(recorder.audit.entries())
    assert [e["event"] for e in entries] == ["decision", "release", "allow", "release"]  # intent, allow, done
    assert entries[1]["by"] == "alice" and entries[1]["via"] == "console" and entries[1]["justification"] == "ticket 81"


@pytest.mark.parametrize("by,why,until,says", [
    ("", "why", None, "who"), ("alice", "  ", None, "why"), ("alice", "why", dt.date(2026, 11, 22), "in the past"),
])
def test_nothing_happens_without_who_why_or_with_a_past_date(recorder, postsuper, by, why, until, says):
    command, calls = postsuper
    incident = held_mail(recorder)
    with pytest.raises(UsageError, match=says):
        resolution.release(recorder, incident, by=by, justification=why, allow_until=until, postsuper=command)
    assert not calls.exists() and recorder.incidents.get(incident).status == "open"
    assert [e["event"] for e in recorder.audit.entries()] == ["decision"]


def test_a_failing_postsuper_leaves_the_incident_open(recorder, postsuper):
    command, calls = postsuper
    incident = held_mail(recorder, "FAILS")
    with pytest.raises(UsageError, match="postsuper -H FAILS failed"):
        resolution.release(recorder, incident, by="alice", justification="x", postsuper=command)
    assert recorder.incidents.get(incident).status == "open"


def test_confirm_once(recorder):
    incident = held_mail(recorder)
    done = resolution.confirm(recorder, incident, by="carol", justification="sent to a competitor", via="cli")
    assert done.status == "confirmed" and "stays" in done.outcome
    with pytest.raises(UsageError, match="already confirmed"):
        resolution.release(recorder, incident, by="bob", justification="x")
    with pytest.raises(UsageError, match="no incident"):
        resolution.confirm(recorder, "INC-20261123-00000000", by="bob", justification="x")
