"""A third party adds a file format with one module and an entry point, touching no dlp module."""

from __future__ import annotations

import sys

import pytest

from dlp.errors import ConfigError
from dlp.extract import EXTRACTORS, extractors
from dlp.frontends.cli import Env, main
from dlp.scanner import Scanner

from helpers import plugin_distribution, prose, registry_with

# a made-up format: a magic line, then the text rot13-encoded (no built-in reader can read it)
PLUGIN = '''
"""Rot13 notes: an example reader written outside dlp."""

import codecs

from dlp.types import Part

MAGIC = b"ROT13NOTE\\n"


class Rot13Notes:
    name = "rot13-notes"

    def sniff(self, head, item):
        return head.startswith(MAGIC)

    def extract(self, item, ctx):
        text = item.read()[len(MAGIC):].decode("ascii", "replace")
        yield Part(item.locator, codecs.decode(text, "rot13"), "rot13")
'''


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A distribution on sys.path with its metadata, as pip would leave it: a real entry point."""
    site = plugin_distribution(tmp_path, monkeypatch, "rot13notes", PLUGIN, "dlp.extractors",
                               "rot13 = rot13notes:Rot13Notes")
    extractors.cache_clear()
    yield site
    extractors.cache_clear()
    sys.modules.pop("rot13notes", None)


def rot13_file(text: str) -> bytes:
    import codecs

    return b"ROT13NOTE\n" + codecs.encode(text, "rot13").encode()


def test_a_plugin_reader_comes_before_the_catch_alls(installed):
    names = [e.name for e in extractors()]
    assert names.index("rot13-notes") == len(EXTRACTORS) - 4
    assert names[-4:] == [e.name for e in EXTRACTORS[-4:]]


def test_an_excerpt_in_a_plugin_format_is_blocked(tmp_path, installed):
    secret = prose(400, 7)
    scanner = Scanner(registry_with(tmp_path, {"plan": secret}))
    excerpt = " ".join(secret.split()[100:160])
    report = scanner.scan_bytes(rot13_file(f"Notes from the visit. {excerpt} See you soon."), "visit.r13")
    assert [f.secret for f in report.findings] == ["plan"] and report.action.label == "block"


def test_the_cli_reads_a_plugin_format_end_to_end(tmp_path, installed):
    secret = tmp_path / "plan.txt"
    secret.write_text(prose(400, 8))
    note = tmp_path / "visit.r13"
    note.write_bytes(rot13_file(" ".join(secret.read_text().split()[50:110])))
    env = Env(environ={})
    registry = ["--registry", str(tmp_path / "reg")]
    assert main([*registry, "register", str(secret)], env) == 0
    assert main([*registry, "scan", "--no-record", str(note)], env) == 1  # 1: something to block


def test_a_broken_plugin_reader_is_a_configuration_error(installed):
    (installed / "rot13notes.py").write_text("raise ImportError('missing dependency')\n")
    with pytest.raises(ConfigError, match="extractor plugin 'rot13'"):
        extractors()
