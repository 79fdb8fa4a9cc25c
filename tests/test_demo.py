"""Golden report of the shipped demo: examples/demo builds a registry and scans examples/outbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

GOLDEN = Path(__file__).parent / "golden" / "demo-report.json"


def stable(report: dict) -> dict:
    """The report without what varies between runs (timings)."""
    report["summary"].pop("seconds")
    for f in report["files"]:
        f.pop("seconds")
        if f.get("meta", {}).pop("incident", "").startswith("INC-") and not f["meta"]:
            f.pop("meta")
    return report


def test_demo_scan_matches_the_golden_report(tmp_path):
    # Winnowing picks fingerprints by keyed hash, so exact figures depend on the key: fix it.
    key = tmp_path / "fixed.key"
    key.write_text("5a" * 32 + "\n")
    key.chmod(0o600)
    env = dict(os.environ, DLP=f"{sys.executable} -m dlp", DLP_DEMO_REGISTRY=str(tmp_path / "registry"),
               DLP_KEY_FILE=str(key))
    done = subprocess.run(["sh", str(REPO / "examples" / "demo"), "--format", "json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    report = stable(json.loads(done.stdout))
    if os.environ.get("DLP_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    assert report == json.loads(GOLDEN.read_text())
    actions = {Path(f["path"]).name: f["action"] for f in report["files"]}
    assert sorted(actions.values()).count("block") == 5 and actions["note-hamburg-stand-graphics.txt"] == "warn"
    assert actions["mail-thanks-soltera-visit.txt"] == "allow"  # the shared footer is boilerplate


def test_demo_with_the_destination_policy_lets_the_partner_have_what_its_licence_covers(tmp_path):
    env = dict(os.environ, DLP=f"{sys.executable} -m dlp", DLP_DEMO_REGISTRY=str(tmp_path / "registry"))
    done = subprocess.run(["sh", str(REPO / "examples" / "demo"), "--format", "json", "--policy",
                           "examples/policy.toml", "--to", "compras@soltera.example"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    actions = {Path(f["path"]).name: (f["action"], f["decision"]["rule"]) for f in report["files"]}
    assert actions["dispensing-cell-spec-review-copy.pdf"] == ("allow", "rule:covered by an agreement")
    assert actions["memo-soltera-gelled-pails.docx"] == ("block", "rule:secret leaves the company")
    assert actions["crm-pipeline-export-2024-09.csv"] == ("block", "rule:secret leaves the company")
    assert actions["forum-gear-pump-staggered-start.html"] == ("quarantine", "rule:confidential leaves the company")
    assert actions["note-hamburg-stand-graphics.txt"] == ("allow", "rule:covered by an agreement")
    incidents = subprocess.run([sys.executable, "-m", "dlp", "--registry", str(tmp_path / "registry"), "incidents",
                                "list", "--format", "json"], env=env, capture_output=True, text=True, timeout=60)
    listed = json.loads(incidents.stdout)
    assert sorted(i["action"] for i in listed) == ["block", "block", "quarantine"]
    assert all(i["recipients"][0]["class"] == "external" and i["recipients"][0]["partner"] for i in listed)
