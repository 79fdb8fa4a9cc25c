"""`dlp incidents export --format jsonl|syslog|cef [--follow]`: the SIEM feed through the real entry point."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from dlp.frontends.cli import Env, main
from dlp.incidents import IncidentStore


def add(store: IncidentStore, n: int, secret: str = "plan"):
    return store.add(channel="mail", sender="a@acme.example", item=f"mail-{n}.eml", action="block", rule="r",
                     body={"findings": [{"secret": secret, "version": 1, "evidence": {"excerpt": "private words"}}],
                           "recipients": [{"address": f"x{n}@firma.cn", "domain": "firma.cn", "country": "CN",
                                           "class": "external"}], "problems": []},
                     recipients=[{"address": f"x{n}@firma.cn", "domain": "firma.cn", "country": "CN",
                                  "class": "external"}])


def export(state, *argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(["--state", str(state), "incidents", "export", *argv], Env(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt,start", [("jsonl", "{"), ("syslog", "<107>1 "), ("cef", "CEF:0|dlp|dlp|")])
def test_export_one_line_per_incident_in_recording_order(tmp_path, fmt, start):
    store = IncidentStore(tmp_path)
    made = [add(store, n, "plan" if n % 2 else "formula") for n in range(5)]
    code, out, err = export(tmp_path, "--format", fmt)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 5 and all(line.startswith(start) for line in lines)
    assert [next(i.id for i in made if i.id in line) for line in lines] == [i.id for i in made]
    assert "private words" not in out
    code, out, _ = export(tmp_path, "--format", fmt, "--secret", "formula")
    assert len(out.splitlines()) == 3


def test_follow_needs_a_line_format(tmp_path):
    IncidentStore(tmp_path)
    code, _, err = export(tmp_path, "--format", "json", "--follow")
    assert code == 2 and "--follow writes one line per incident" in err


@pytest.mark.integration
def test_follow_writes_new_incidents_as_they_are_recorded(tmp_path):
    store = IncidentStore(tmp_path)
    first = add(store, 0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLP_")}
    feed = subprocess.Popen([sys.executable, "-m", "dlp", "--state", str(tmp_path), "incidents", "export",
                             "--format", "jsonl", "--follow", "--interval", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in feed.stdout], daemon=True)
    reader.start()
    try:
        assert json.loads(lines.get(timeout=30))["id"] == first.id
        later = [add(store, n) for n in (1, 2, 3)]
        got = [json.loads(lines.get(timeout=10))["id"] for _ in later]
        assert got == [i.id for i in later]
        time.sleep(0.3)
        assert lines.empty()  # each once
    finally:
        feed.send_signal(signal.SIGTERM)
        feed.wait(10)
    assert feed.returncode == 0, feed.stderr.read()
