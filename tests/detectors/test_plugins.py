"""A third party adds a detector with one module and an entry point, touching no dlp module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dlp.errors import ConfigError
from dlp.scanner import Scanner

from helpers import plugin_distribution, prose, registry_with

PLUGIN = '''
"""Card numbers that pass the Luhn check: an example detector written outside dlp."""

import re

from dlp.types import Finding

CARD = re.compile(r"\\b(?:\\d[ -]?){13,19}\\b")


def luhn(digits: str) -> bool:
    total, odd = 0, False
    for ch in reversed(digits):
        d = int(ch) * (2 if odd else 1)
        total, odd = total + (d - 9 if d > 9 else d), not odd
    return total % 10 == 0


class CardNumbers:
    name = "luhn"

    @classmethod
    def from_index(cls, index):
        return cls()

    def detect(self, scanned):
        out = []
        for m in CARD.finditer(scanned.part.text):
            digits = re.sub(r"\\D", "", m.group())
            if 13 <= len(digits) <= 19 and luhn(digits):
                out.append(Finding(secret="payment-card", version=1, label="Payment card number", kind="pattern",
                                   score=1.0, matched_words=1, coverage=0.0, locator=scanned.part.locator,
                                   detector=self.name, evidence={"start": m.start(), "end": m.end()}))
        return out
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A distribution on sys.path with its metadata, as pip would leave it: a real entry point."""
    yield plugin_distribution(tmp_path, monkeypatch, "cardplugin", PLUGIN, "dlp.detectors", "cards = cardplugin:CardNumbers")
    sys.modules.pop("cardplugin", None)


def test_a_plugin_detector_runs_after_the_built_in_ones(tmp_path, installed):
    scanner = Scanner(registry_with(tmp_path, {"plan": prose(300, 1)}))
    assert [d.name for d in scanner.detectors][-1] == "luhn"
    report = scanner.scan_bytes(b"Please charge 4111 1111 1111 1111 for the samples.", "mail.txt")
    assert [(f.secret, f.detector) for f in report.findings] == [("payment-card", "luhn")]
    assert report.action.label == "warn"  # the built-in policy warns on findings it has no rule for
    assert scanner.scan_bytes(b"Order 4111 1111 1111 1112 shipped.", "mail.txt").findings == ()


def test_a_broken_plugin_is_a_configuration_error(tmp_path, installed):
    (installed / "cardplugin.py").write_text("raise ImportError('missing dependency')\n")
    with pytest.raises(ConfigError, match="detector plugin 'cards'"):
        Scanner(registry_with(tmp_path, {"plan": prose(300, 1)}))


BROKEN = '''
"""A detector with a bug: it fails on every part that mentions samples."""


class Broken:
    name = "broken"

    @classmethod
    def from_index(cls, index):
        return cls()

    def detect(self, scanned):
        if "samples" in scanned.part.text:
            raise KeyError(scanned.part.text[:200])  # (a message that quotes the scanned text)
        return []
'''


@pytest.fixture
def broken(tmp_path, monkeypatch):
    yield plugin_distribution(tmp_path, monkeypatch, "brokenplugin", BROKEN, "dlp.detectors", "broken = brokenplugin:Broken")
    sys.modules.pop("brokenplugin", None)


def test_a_detector_that_fails_leaves_a_problem_and_the_scan_goes_on(tmp_path, broken, caplog):
    """A bug in one detector (a plugin's here) aborted the whole `dlp scan` (exit 3) and every item
    after it. Now the part it failed on is `scan_failed`, unscannable for the policy; the other
    detectors still read the part, and neither the problem nor the log quotes the exception's
    message, which may hold the scanned text."""
    secret = prose(300, 1)
    scanner = Scanner(registry_with(tmp_path, {"plan": secret}))
    excerpt = " ".join(secret.split()[40:90])
    report = scanner.scan_bytes(f"About the samples. {excerpt} Regards.".encode(), "mail.txt")
    assert [f.secret for f in report.findings] == ["plan"]
    [problem] = report.problems
    assert (problem.locator, problem.kind) == ("mail.txt", "scan_failed")
    assert problem.detail.startswith("broken: KeyError at brokenplugin.py:")
    assert "broken failed on mail.txt: KeyError at brokenplugin.py:" in caplog.text
    assert excerpt.split()[0] not in problem.detail + caplog.text
    clean = scanner.scan_bytes(b"Where are the samples we ordered?", "ask.txt")
    assert clean.findings == () and [p.kind for p in clean.problems] == ["scan_failed"]
    assert clean.action.label != "allow"  # unscannable is never clean
    assert scanner.scan_bytes(b"Nothing to see here.", "ok.txt").problems == ()


def test_the_command_goes_on_past_a_failing_detector(tmp_path, broken):
    from dlp.frontends.cli import Env, main
    import io
    import json

    (tmp_path / "plan.txt").write_text(prose(300, 1))
    (tmp_path / "ask.txt").write_text("Where are the samples we ordered?")
    (tmp_path / "ok.txt").write_text("Nothing to see here.")

    def dlp(*argv):
        out, err = io.StringIO(), io.StringIO()
        code = main(["--registry", str(tmp_path / "reg"), *argv], Env(stdout=out, stderr=err, environ={}))
        return code, out.getvalue()

    assert dlp("register", str(tmp_path / "plan.txt"))[0] == 0
    code, out = dlp("scan", "--no-record", "--format", "json", "--to", "buyer@example.cn",
                    str(tmp_path / "ask.txt"), str(tmp_path / "ok.txt"))
    files = {Path(f["path"]).name: f for f in json.loads(out)["files"]}
    assert files["ask.txt"]["action"] == "quarantine" and files["ask.txt"]["problems"][0]["kind"] == "scan_failed"
    assert files["ok.txt"]["action"] == "allow"
    assert code == 1
