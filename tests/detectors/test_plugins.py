"""A third party adds a detector with one module and an entry point, touching no dlp module."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from dlp.errors import ConfigError
from dlp.scanner import Scanner

from helpers import prose, registry_with

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
    site = tmp_path / "site"
    (site / "cardplugin-1.0.dist-info").mkdir(parents=True)
    (site / "cardplugin.py").write_text(textwrap.dedent(PLUGIN))
    (site / "cardplugin-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: cardplugin\nVersion: 1.0\n")
    (site / "cardplugin-1.0.dist-info" / "entry_points.txt").write_text("[dlp.detectors]\ncards = cardplugin:CardNumbers\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
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
