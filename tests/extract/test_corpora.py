"""Sweeps over ../shared/corpora (skipped when absent): every file gets a result with no
exception and no hang; encrypted files are reported encrypted; bombs stay bounded."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlp.extract import EXTRACTORS, Context, Limits, expand_path, walk
from dlp.extract.ocr import Ocr, OcrSettings
from dlp.types import Part, Problem

pytestmark = pytest.mark.corpus

DANGER = "archive_fixtures/DANGER_bombs_and_path_traversal"
BOMBS = {
    "kd2fw-zipbomb_1G.zip": "ratio",
    "ooxml-xml-bombs-apache-poi/poc-shared-strings.xlsx": "ratio",
    "ooxml-xml-bombs-apache-poi/poc-xmlbomb.xlsx": "ratio",
    "ooxml-xml-bombs-apache-poi/poc-xmlbomb-empty.xlsx": "ratio",
    "recursive-extractor/zbsm.zip": "ratio",
    "recursive-extractor/10GB.bz2": "ratio",
    "recursive-extractor/10GB.gz.bz2": "ratio",
    "recursive-extractor/10GB.xz.bz2": "ratio",
    "recursive-extractor/10GB.zip.bz2": "ratio",
    "recursive-extractor/10GB.7z.bz2": "ratio",
    "recursive-extractor/10GB.rar.bz2": "ratio",
}
ENCRYPTED = [
    "archive_fixtures/recursive-extractor/TestDataArchives/TestDataEncryptedZipCrypto.zip",
    "archive_fixtures/recursive-extractor/TestDataArchives/TestDataEncryptedAES.zip",
    "document_fixtures/apache-poi-docx/bug53475-password-is-pass.docx",
    "document_fixtures/apache-poi-docx/protected_agile.docx",
    "document_fixtures/apache-poi-docx/legacy-doc/PasswordProtected.doc",
    "document_fixtures/apache-poi-docx/legacy-doc/password_tika_binaryrc4.doc",
    "document_fixtures/pdfminer-samples/encryption/aes-256-r6.pdf",
    "document_fixtures/pdfminer-samples/encryption/rc4-40.pdf",
    "document_fixtures/pypdf-resources/encryption/r6-both-passwords.pdf",
    "document_fixtures/unstructured-example-docs/pdf/password.pdf",
    "email_fixtures/unstructured/eml/fake-encrypted.eml",
]


def scan(path: Path, timeout: float = 20.0) -> list[Part | Problem]:
    out: list[Part | Problem] = []
    for item in expand_path(str(path)):
        out.extend(walk(item, EXTRACTORS, Context(Limits(timeout_seconds=timeout))))
    return out


_FRESH = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import test_corpora
started = time.monotonic()
result = getattr(test_corpora, sys.argv[2])(sys.argv[3])
result["seconds"] = time.monotonic() - started
# this process's own high-water mark (VmHWM: its RUSAGE_SELF keeps the size of the process it
# was forked from, as Linux carries it across exec), and its workers' (forked from it)
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
result["peak_mib"] = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps(result))
"""


def in_fresh_interpreter(function: str, path: Path) -> dict:
    """`function(path)` of this module, run in a new interpreter, with its time and peak memory.
    A process's peak memory is a high-water mark for its whole life: measured in the test
    process, it would be whatever the tests before it reached; and a child's RUSAGE_SELF
    starts at the size of the test process it was forked from, hence VmHWM."""
    run = subprocess.run([sys.executable, "-c", _FRESH, str(Path(__file__).parent), function, str(path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.splitlines()[-1])


def problem_kinds(path: str) -> dict:
    return {"kinds": sorted({o.kind for o in scan(Path(path)) if isinstance(o, Problem)})}


def sweep(folder: str) -> dict:
    slowest, escaped = 0.0, []
    no_ocr = Ocr(OcrSettings(enabled=False))  # OCR costs seconds a file: test_ocr.py sweeps a sample with it
    for item in expand_path(folder):
        started = time.monotonic()
        outputs = list(walk(item, EXTRACTORS, Context(Limits(timeout_seconds=30), ocr=no_ocr)))
        slowest = max(slowest, time.monotonic() - started)
        escaped += [item.locator for o in outputs if not isinstance(o, (Part, Problem))]
    return {"slowest": slowest, "escaped": escaped}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bomb_ends_as_a_bounded_problem(corpora, name):
    result = in_fresh_interpreter("problem_kinds", corpora / DANGER / name)
    assert BOMBS[name] in result["kinds"]
    assert result["seconds"] < 10
    assert result["peak_mib"] < 1024


@pytest.mark.parametrize("name", ["zip-slip.zip", "zip-slip-win.zip", "zip-slip.tar", "zip-slip-win.tar"])
def test_zip_slip_members_are_read_in_memory(corpora, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    outputs = scan(corpora / DANGER / "recursive-extractor" / name)
    assert any(".." in o.locator for o in outputs if isinstance(o, Part))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ENCRYPTED)
def test_encrypted_is_never_clean(corpora, name):
    outputs = scan(corpora / name)
    assert "encrypted" in {o.kind for o in outputs if isinstance(o, Problem)}


def test_mbox_tgz_and_maildir_folders(corpora):
    enron = corpora / "enron_maildir_subset"
    mbox = scan(enron / "derived_buy-r_inbox.mbox")
    assert len([o for o in mbox if isinstance(o, Part) and o.locator.endswith("/headers")]) == 1143
    tgz = scan(enron / "archive_fixture" / "enron_mail.tgz")
    assert len([o for o in tgz if isinstance(o, Part) and o.locator.endswith("!/headers")]) == 43
    assert not [o for o in mbox + tgz if isinstance(o, Problem)]


@pytest.mark.parametrize("folder", ["archive_fixtures", "email_fixtures", "document_fixtures"])
def test_sweep_has_no_escape_and_no_hang(corpora, folder):
    result = in_fresh_interpreter("sweep", corpora / folder)
    assert result["escaped"] == []
    assert result["slowest"] < 40
    assert result["peak_mib"] < 1024
