"""The CLI in-process: every exit status and the one-line error messages."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dlp.frontends.cli import Env, main

from helpers import prose, words

SECRET = " ".join(words(600, seed=3))


class Run:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.reg = tmp / "reg"

    def __call__(self, *argv, stdin: bytes = b"", environ=None):
        out, err = io.StringIO(), io.StringIO()
        env = Env(stdout=out, stderr=err, stdin=io.TextIOWrapper(io.BytesIO(stdin)), environ=environ or {})
        code = main(["--registry", str(self.reg), *argv], env)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code


@pytest.fixture
def run(tmp_path):
    r = Run(tmp_path)
    (tmp_path / "secret.txt").write_text(SECRET)
    assert r("register", str(tmp_path / "secret.txt"), "--label", "Plan", "--classification", "secret") == 0, r.err
    return r


def test_register_prints_ids_and_creates_a_private_key(run, tmp_path):
    assert "new" in run.out or run.out == ""
    key = tmp_path / "reg.key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    assert run("list") == 0 and "secret" in run.out and "Plan" in run.out


def test_register_refuses_what_is_not_a_regular_file_without_waiting_on_it(run, tmp_path):
    """A named pipe in a folder being registered is named and not read: opening it to read
    waited for a writer forever, holding the registry's lock (found attacking `register`)."""
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "a.txt").write_text(prose(80, 21))
    os.mkfifo(folder / "b-pipe")
    before = (run("list"), run.out)[1]
    assert run("register", str(folder)) == 2
    assert run.err.splitlines() == [f"dlp: error: cannot register {folder / 'b-pipe'}: unreadable: not a regular file "
                                    f"(named pipe): not read",
                                    "dlp: error: nothing registered; fix or leave out the files above"]
    assert run("list") == 0 and run.out == before


def test_a_file_larger_than_an_item_may_be_is_not_read_whole(tmp_path):
    from dlp.extract.base import Limits
    from dlp.extract.documents import read_document

    big = tmp_path / "big.txt"
    big.write_text(prose(3000, 22))
    text, raw, problems = read_document(big, limits=Limits(max_item_bytes=1000))
    assert (text, raw, [p.kind for p in problems]) == ("", b"", ["too_large"])
    assert read_document(big)[0].split()[:5] == prose(3000, 22).split()[:5]


def test_clean_file_exits_0_and_leak_exits_1(run, tmp_path):
    clean = tmp_path / "clean.txt"
    clean.write_text(prose(500, 11))
    leak = tmp_path / "leak.txt"
    leak.write_text(prose(100, 12) + " " + " ".join(SECRET.split()[100:140]) + " " + prose(100, 13))
    assert run("scan", str(clean)) == 0 and run.out.startswith("ALLOW")
    assert run("scan", str(clean), str(leak)) == 1
    assert "BLOCK" in run.out and "secret v1" in run.out and "[document/fingerprint]" in run.out


def test_json_report_follows_the_schema(run, tmp_path):
    leak = tmp_path / "leak.md"
    leak.write_text(" ".join(SECRET.split()[:60]))
    assert run("scan", "--format", "json", str(leak)) == 1
    report = json.loads(run.out)
    assert report["schema"] == "dlp.report/1"
    (f,) = report["files"]
    assert f["action"] == "block" and f["path"] == str(leak)
    finding = f["findings"][0]
    for field in ("secret", "version", "label", "kind", "score", "matched_words", "coverage", "locator", "evidence"):
        assert field in finding
    assert report["summary"]["actions"] == {"allow": 0, "warn": 0, "quarantine": 0, "block": 1}
    for w in SECRET.split()[:60]:
        if len(w) > 7:
            assert w not in run.out


def test_sarif_and_output_file(run, tmp_path):
    leak = tmp_path / "leak.txt"
    leak.write_text(" ".join(SECRET.split()[:60]))
    target = tmp_path / "report.sarif"
    assert run("scan", "--format", "sarif", "--output", str(target), str(leak)) == 1
    sarif = json.loads(target.read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"][0]["level"] == "error"


def test_standard_input(run):
    assert run("scan", "-", stdin=" ".join(SECRET.split()[:50]).encode()) == 1
    assert "<stdin>" in run.out


def test_missing_path_is_a_usage_error(run, tmp_path):
    assert run("scan", str(tmp_path / "nope.txt")) == 2
    assert run.err.strip() == f"dlp: error: no such file or directory: {tmp_path / 'nope.txt'}"


def test_unreadable_file_is_a_problem_not_the_end_of_the_scan(run, tmp_path):
    sock_path = tmp_path / "unreadable.sock"  # open() fails on a socket even for root
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        clean = tmp_path / "clean.txt"
        clean.write_text("nothing to see")
        assert run("scan", "--format", "json", str(sock_path), str(clean)) == 0
    finally:
        server.close()
    files = json.loads(run.out)["files"]
    assert files[0]["action"] == "warn" and files[0]["problems"][0]["kind"] == "unreadable"
    assert files[1]["action"] == "allow"
    assert run.err.startswith("dlp: warning: cannot read")


def test_corrupt_store(run):
    manifest = next(run.reg.glob("gen-*.json"))
    manifest.write_text("{not json")
    assert run("scan", str(run.tmp / "secret.txt")) == 2
    assert run.err.count("\n") == 1 and "not valid JSON" in run.err and "Traceback" not in run.err


def test_missing_key(run, tmp_path):
    (tmp_path / "reg.key").unlink()
    assert run("scan", str(tmp_path / "secret.txt")) == 2
    assert "registry key" in run.err and "not found" in run.err


def test_wrong_key_is_refused(run, tmp_path):
    other = tmp_path / "other.key"
    other.write_text("00" * 32)
    assert run("list", environ={"DLP_KEY_FILE": str(other)}) == 2
    assert "does not belong" in run.err


def test_version_mismatch(run):
    manifest = next(run.reg.glob("gen-*.json"))
    data = json.loads(manifest.read_text())
    data["body"]["normaliser"] = "something-older/0"
    manifest.write_text(json.dumps(data))
    assert run("list") == 2
    assert "rebuild" in run.err and "something-older/0" in run.err


def test_usage_errors(run):
    assert run("scan") == 2 and run.err.startswith("dlp: error:")
    assert run("show", "nope") == 2 and "no secret with id 'nope'" in run.err
    assert run("register", "--id", "x", str(run.tmp / "secret.txt"), str(run.tmp / "secret.txt")) == 2
    assert run() == 2


def test_internal_errors_exit_3_without_traceback(run, monkeypatch, tmp_path):
    from dlp import scanner

    def boom(self, *a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(scanner.Scanner, "detect", boom)
    assert run("scan", str(tmp_path / "secret.txt")) == 3
    assert run.err == "dlp: internal error: RuntimeError: bug\n"


@pytest.mark.parametrize("argv", [
    ("list",),
    ("audit", "show"),
    ("scan", "secret.txt"),  # a verdict to stop whose line cannot be printed: never 0
])
def test_a_reader_that_goes_away_is_not_an_internal_error(run, tmp_path, argv):
    """`dlp incidents list | head -1`: the pipe closes under dlp, which stops quietly with 128 + SIGPIPE."""
    argv = [str(tmp_path / a) if a.endswith(".txt") else a for a in argv]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before dlp writes a byte
    try:
        done = subprocess.run([sys.executable, "-m", "dlp", "--registry", str(run.reg), *argv], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""  # neither "internal error" nor Python's "Exception ignored ... BrokenPipeError"


def test_versions_show_and_remove(run, tmp_path):
    changed = tmp_path / "secret.txt"
    changed.write_text(SECRET + " appendix")
    assert run("register", str(changed)) == 0 and "version" in run.out and "secret v2" in run.out
    assert run("show", "secret") == 0 and "version 2:" in run.out
    assert run("remove", "secret") == 0
    assert run("show", "secret") == 2


def test_terms_and_records_commands(run, tmp_path):
    terms = tmp_path / "codes.txt"
    terms.write_text("Project Halcyon\nHX-4471-B\n")
    rows = tmp_path / "c.csv"
    rows.write_text("company,email\nAcme Widgets,ops@acme.test\nBorealis,ole@borealis.test\n")
    assert run("terms", "add", "codes", str(terms), "--label", "Code names") == 0 and "2 terms" in run.out
    assert run("records", "add", "customers", str(rows), "--min-fields", "2") == 0 and "2 rows" in run.out
    assert run("records", "add", "bad", str(rows), "--columns", "nope") == 2 and "no column named nope" in run.err
    note = tmp_path / "note.txt"
    note.write_text("Update on project HALCYON for ops@acme.test at Acme Widgets.")
    assert run("scan", "--format", "json", str(note)) == 1
    kinds = sorted(f["kind"] for f in json.loads(run.out)["files"][0]["findings"])
    assert kinds == ["records", "terms"]


def test_parallel_scan_gives_the_same_report(run, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    for i in range(6):
        (folder / f"f{i}.txt").write_text(prose(200, i) + (" " + " ".join(SECRET.split()[:50]) if i % 2 else ""))
    assert run("scan", "--format", "json", str(folder)) == 1
    serial = [(f["path"], f["action"]) for f in json.loads(run.out)["files"]]
    assert run("scan", "--format", "json", "--jobs", "2", str(folder)) == 1
    assert [(f["path"], f["action"]) for f in json.loads(run.out)["files"]] == serial


# -- any file name, atomic reports, unreadable folders, incidents in the text output -----------

ODD_NAMES = [
    b"bad\xff.txt",                 # not UTF-8
    b"latin1-r\xe9sum\xe9.txt",     # a legacy code page
    b"two\nALLOW fake.txt",         # a newline that would forge a report line
    b"back\\slash \\xff.txt",       # the escape character itself
    b"gpj.\xe2\x80\xaeexe",         # right-to-left override
]


def _odd_folder(tmp_path: Path, leak_name: bytes) -> Path:
    """A folder with one clean file per odd name, and the leak under `leak_name`."""
    folder = tmp_path / "out"
    folder.mkdir()
    base = os.fsencode(folder)
    for n, name in enumerate(ODD_NAMES):
        with open(os.path.join(base, b"clean-" + name), "w") as handle:
            handle.write(prose(80, 40 + n))
    with open(os.path.join(base, leak_name), "w") as handle:
        handle.write(prose(40, 7) + " " + " ".join(SECRET.split()[200:260]))
    return folder


@pytest.mark.parametrize("leak_name", ODD_NAMES[::2], ids=lambda n: repr(n)[2:-1])
def test_any_file_name_json_report_incident_and_audit(run, tmp_path, leak_name):
    from dlp.audit import AuditLog
    from dlp.incidents import IncidentStore
    from dlp.types import unescape_path

    folder = _odd_folder(tmp_path, leak_name)
    report_file = tmp_path / "report.json"
    assert run("scan", "--to", "x@example.com", "--format", "json", "--output", str(report_file), str(folder)) == 1, run.err
    files = json.loads(report_file.read_text(encoding="utf-8"))["files"]
    assert len(files) == len(ODD_NAMES) + 1
    for f in files:  # every locator leads back to the very file
        assert os.path.isfile(unescape_path(f["path"])), f["path"]
    [blocked] = [f for f in files if f["action"] == "block"]
    assert os.fsencode(unescape_path(blocked["path"])).endswith(leak_name)
    state = tmp_path / "state"
    [incident] = IncidentStore(state).query()
    assert incident.id == blocked["meta"]["incident"]
    assert os.path.isfile(unescape_path(incident.target["path"]))
    audit = AuditLog(state)
    assert audit.verify().ok
    assert sum(e["event"] == "decision" for e in audit.entries()) == len(files)


def test_any_file_name_in_the_text_output_stays_one_line_per_file(run, tmp_path):
    folder = _odd_folder(tmp_path, b"leak\xff.txt")
    assert run("scan", "--no-record", str(folder)) == 1, run.err
    lines = run.out.splitlines()
    assert [line.split()[0] for line in lines[:-1] if not line.startswith(" ")] == ["ALLOW"] * 5 + ["BLOCK"]
    assert "ALLOW fake.txt" not in [line[11:] for line in lines]  # the newline did not forge a line
    assert "\u202e" not in run.out and "\\xff" in run.out


def test_a_failed_scan_leaves_the_previous_report_untouched(run, monkeypatch, tmp_path):
    from dlp import scanner

    report_file = tmp_path / "report.json"
    report_file.write_text('{"previous": true}\n')
    leak = tmp_path / "leak.txt"
    leak.write_text(" ".join(SECRET.split()[:60]))
    first = tmp_path / "a.txt"
    first.write_text("fine")
    calls = []

    def fail_on_second(self, item):
        calls.append(item.locator)
        if len(calls) == 2:
            raise RuntimeError("bug")
        return original(self, item)

    original = scanner.Scanner.detect
    monkeypatch.setattr(scanner.Scanner, "detect", fail_on_second)
    assert run("scan", "--format", "json", "--output", str(report_file), str(first), str(leak)) == 3
    assert report_file.read_text() == '{"previous": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".report")) == []


def test_the_report_file_is_replaced_whole(run, tmp_path):
    report_file = tmp_path / "report.json"
    report_file.write_text("x" * 100_000)  # longer than the new report: nothing of it may remain
    report_file.chmod(0o640)
    clean = tmp_path / "clean.txt"
    clean.write_text("fine")
    assert run("scan", "--format", "json", "--output", str(report_file), str(clean)) == 0
    assert json.loads(report_file.read_text())["summary"]["files"] == 1
    assert report_file.stat().st_mode & 0o777 == 0o640


def _refuse_listing(monkeypatch, folder: Path) -> None:
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path) == os.fspath(folder):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


@pytest.mark.parametrize("given, destination, action, status", [
    ("folder", (), "warn", 0),
    ("folder", ("--to", "x@example.com"), "quarantine", 1),
    ("inside", (), "warn", 0),
    ("inside", ("--country", "CN"), "quarantine", 1),
])
def test_an_unreadable_folder_is_a_problem_decided_by_policy(run, monkeypatch, tmp_path, given, destination, action,
                                                            status):
    share = tmp_path / "share"
    locked = share / "locked"
    locked.mkdir(parents=True)
    (locked / "plan.txt").write_text(" ".join(SECRET.split()[:60]))
    (share / "fine.txt").write_text("fine")
    _refuse_listing(monkeypatch, locked)
    target = locked if given == "folder" else share
    assert run("scan", "--format", "json", *destination, str(target)) == status, run.err
    files = json.loads(run.out)["files"]
    [problem] = [f for f in files if f["problems"]]
    assert problem["path"] == str(locked) and problem["action"] == action
    assert problem["problems"] == [{"locator": str(locked), "kind": "unreadable",
                                    "detail": "cannot list the folder: Permission denied"}]
    assert "0 files" not in run.out and f"cannot read {locked}" in run.err


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_an_unreadable_folder_for_real_without_dac_override(run, tmp_path):
    """Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH cannot list a folder of mode 000."""
    share = tmp_path / "share"
    (share / "locked").mkdir(parents=True)
    (share / "locked" / "plan.txt").write_text(" ".join(SECRET.split()[:60]))
    (share / "locked").chmod(0)
    try:
        done = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-m",
                               "dlp", "--registry", str(run.reg), "scan", "--to", "x@example.com", str(share)],
                              capture_output=True, text=True, timeout=120)
    finally:
        (share / "locked").chmod(0o700)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(f"QUARANTINE {share / 'locked'}")
    assert "unreadable: cannot list the folder: Permission denied" in done.stdout


def test_the_text_output_names_the_incident(run, tmp_path):
    leak = tmp_path / "leak.txt"
    leak.write_text(" ".join(SECRET.split()[:60]))
    clean = tmp_path / "clean.txt"
    clean.write_text("fine")
    assert run("scan", str(clean), str(leak)) == 1
    lines = run.out.splitlines()
    block = next(i for i, line in enumerate(lines) if line.startswith("BLOCK"))
    incident = re.fullmatch(r" +incident (INC-\d{8}-[0-9a-f]{8})", lines[block + 1])
    assert incident, lines
    assert sum("incident" in line for line in lines) == 1  # the clean file has none
    assert run("incidents", "show", incident.group(1)) == 0
    assert run("scan", "--no-record", str(leak)) == 1 and "incident" not in run.out


@pytest.mark.parametrize("make, detail", [
    (lambda p: os.symlink("/etc/hostname", p), "not a regular file (symbolic link): not read"),
    (lambda p: os.mkfifo(p), "not a regular file (named pipe): not read"),
    (lambda p: os.symlink("/etc", p), "symbolic link to a folder: not followed"),
], ids=["link to a file", "named pipe", "link to a folder"])
def test_what_a_walk_does_not_read_is_a_problem_not_silence(run, tmp_path, make, detail):
    """A transfer tool that follows the link (or reads the pipe) would send bytes never scanned."""
    share = tmp_path / "share"
    share.mkdir()
    (share / "fine.txt").write_text("fine")
    make(share / "odd")
    assert run("scan", "--format", "json", "--to", "x@example.com", str(share)) == 1, run.err
    files = {f["path"]: f for f in json.loads(run.out)["files"]}
    odd = files[str(share / "odd")]
    assert odd["action"] == "quarantine" and odd["problems"][0]["detail"] == detail
    assert files[str(share / "fine.txt")]["action"] == "allow"


def test_explain_lists_what_was_set_aside_and_why_without_text(run, tmp_path):
    """`scan --explain`: a short overlap with a secret is not a finding; the debug section says
    which secret came close, which detector set it aside and why, with numbers and no text."""
    secret = (tmp_path / "secret.txt").read_text()
    words = secret.split()
    near = tmp_path / "near.txt"
    # 11 words: past the winnowing guarantee (10), so a fingerprint is stored whatever the key, yet short of 12
    near.write_text("Hello team, " + " ".join(words[30:41]) + " and that is all for today.")
    code = run("scan", "--explain", "--no-record", "--format", "json", str(near))
    assert code == 0
    [report] = json.loads(run.out)["files"]
    assert report["findings"] == []
    [entry] = [e for e in report["meta"]["explain"] if e["detector"] == "fingerprint"]
    assert entry["reason"] == "chance" and entry["longest_run"] == 11 and entry["needed"] == 12
    assert " ".join(words[31:35]) not in run.out
    assert run("scan", "--explain", "--no-record", str(near)) == 0
    assert "? " in run.out and "(fingerprint): chance" in run.out
    assert run("scan", "--no-record", "--format", "json", str(near)) == 0
    assert "explain" not in json.loads(run.out)["files"][0].get("meta", {})


def test_explain_says_when_shared_text_was_boilerplate(run, tmp_path):
    """A passage of the secret that is also registered public content is no evidence, and
    `--explain` says so (it said nothing: such matches were dropped before any run was measured)."""
    words = (tmp_path / "secret.txt").read_text().split()
    (tmp_path / "site.txt").write_text(" ".join(words[200:260]))
    assert run("register", "--public", str(tmp_path / "site.txt")) == 0, run.err
    mail = tmp_path / "mail.txt"
    mail.write_text("Thanks for coming. " + " ".join(words[200:260]) + " Best regards.")
    assert run("scan", "--explain", "--no-record", "--format", "json", str(mail)) == 0
    [report] = json.loads(run.out)["files"]
    assert report["findings"] == []
    [entry] = [e for e in report["meta"]["explain"] if e["detector"] == "fingerprint"]
    assert entry["secret"] == "secret" and entry["reason"].startswith("boilerplate") and entry["shingles"] > 0
    assert " ".join(words[210:214]) not in run.out


def test_global_options_are_taken_after_the_command_too(run, tmp_path):
    """`dlp scan --registry R file` is what a newcomer types: it works as `dlp --registry R scan file`."""
    leak = tmp_path / "leak.txt"
    leak.write_text(" ".join(SECRET.split()[100:160]))
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdout=out, stderr=err, environ={})
    assert main(["scan", "--registry", str(run.reg), "--no-record", str(leak)], env) == 1, err.getvalue()
    assert "BLOCK" in out.getvalue()
    elsewhere = tmp_path / "empty-registry"
    assert main(["--registry", str(elsewhere), "scan", f"--registry={run.reg}", "--no-record", str(leak)],
                Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})) == 1  # the later one wins


def test_a_member_name_cannot_forge_a_line_of_the_text_report(run, tmp_path):
    """An archive member named with a carriage return and terminal escapes (erase the line, go
    up, erase) followed by a fake ALLOW line: the text report printed it as it was, and a
    terminal showed ALLOW where dlp blocked (found attacking stop 36). Controls are written
    as \\xNN."""
    import io as _io
    import tarfile

    name = "x\r\x1b[2K\x1b[1A\x1b[2KALLOW      outbox/report.tar\n"
    excerpt = " ".join(SECRET.split()[100:160]).encode()
    with tarfile.open(tmp_path / "report.tar", "w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(name=name)
        info.size = len(excerpt)
        tar.addfile(info, _io.BytesIO(excerpt))
    assert run("scan", "--no-record", str(tmp_path / "report.tar")) == 1
    assert "\r" not in run.out and "\x1b" not in run.out and run.out.count("\n") == 2, run.out
    assert run.out.startswith("BLOCK") and "x\\x0d\\x1b[2K" in run.out
