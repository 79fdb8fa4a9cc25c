"""`dlp audit verify` and `dlp audit show` through the real CLI entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.frontends import cli

AUDIT_MODULE = "dlp.frontends.commands.audit"


@pytest.fixture(autouse=True)
def audit_registered(monkeypatch):
    monkeypatch.setattr(cli, "COMMAND_MODULES", tuple(dict.fromkeys((*cli.COMMAND_MODULES, AUDIT_MODULE))))


class Run:
    def __init__(self, tmp: Path) -> None:
        self.registry = tmp / "reg"

    def __call__(self, *argv: str) -> int:
        env = cli.Env(stdout=io.StringIO(), stderr=io.StringIO(), environ={})
        code = cli.main(["--registry", str(self.registry), *argv], env)
        self.out, self.err = env.stdout.getvalue(), env.stderr.getvalue()
        return code


@pytest.fixture
def run(tmp_path) -> Run:
    return Run(tmp_path)


@pytest.fixture
def state(tmp_path) -> Path:
    clock = iter(range(1_790_000_000, 1_790_000_100))
    log = AuditLog(tmp_path / "state", clock=lambda: float(next(clock)))
    for i in range(5):
        log.append("decision", item=f"memo {i}.txt", action="allow", incident=None, n=i)
    return tmp_path / "state"


def test_verify_an_intact_trail(run, state):
    assert run("audit", "--state", str(state), "verify") == 0, run.err
    assert run.out == "audit trail intact: 5 entries\n"


def test_state_after_the_subcommand_and_the_global_option_work_too(run, state):
    assert run("audit", "verify", "--state", str(state)) == 0 and "5 entries" in run.out
    assert run("--state", str(state), "audit", "verify") == 0 and "5 entries" in run.out


def test_verify_a_tampered_trail(run, state):
    log = state / "audit.jsonl"
    entries = log.read_text().splitlines(keepends=True)
    log.write_text(entries[0] + entries[1].replace('"allow"', '"block"') + "".join(entries[2:]))
    assert run("audit", "--state", str(state), "verify") == 1
    assert run.out == "audit trail broken at line 2: line 2: entry was altered (hash does not match)\n"


def test_verify_a_truncated_trail(run, state):
    log = state / "audit.jsonl"
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:3]))
    assert run("audit", "--state", str(state), "verify") == 1
    assert run.out.startswith("audit trail broken at line 4: 2 entries missing at the end")


def test_show_the_last_two_as_json(run, state):
    assert run("audit", "--state", str(state), "show", "--last", "2", "--format", "json") == 0, run.err
    shown = [json.loads(line) for line in run.out.splitlines()]
    assert [e["seq"] for e in shown] == [4, 5]
    assert shown[-1] == list(AuditLog(state).entries())[-1]


def test_show_as_text(run, state):
    assert run("audit", "--state", str(state), "show", "--last", "1") == 0, run.err
    assert run.out == '5 2026-09-21T14:13:24Z decision item="memo 4.txt" action=allow incident=null n=4\n'


@pytest.mark.parametrize("argv, message", [
    (("audit", "show", "--last", "0"), "positive number"),
    (("audit",), "required"),
])
def test_usage_errors(run, state, argv, message):
    assert run(*argv) == cli.EXIT_USAGE and message in run.err


def test_a_missing_state_directory_is_a_usage_error(run, tmp_path):
    assert run("audit", "--state", str(tmp_path / "nowhere"), "verify") == cli.EXIT_USAGE
    assert "no state directory" in run.err and not (tmp_path / "nowhere").exists()


# -- evidence first: administrative commands through the CLI --------------------------------------

from helpers import prose  # noqa: E402

SECRET = prose(300, seed=5)


class Admin(Run):
    """`dlp --registry R --state S ...` with files to register."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.tmp, self.state = tmp, tmp / "state"
        (tmp / "plan.txt").write_text(SECRET)
        (tmp / "other.txt").write_text(prose(300, seed=6))
        (tmp / "codes.txt").write_text("Halcyon\nBluebird\n")
        (tmp / "people.csv").write_text("name,email\nAda Lovelace,ada@example.org\nAlan Turing,alan@example.org\n")
        (tmp / "empty.txt").write_bytes(b"")

    def __call__(self, *argv: str) -> int:
        return super().__call__("--state", str(self.state), *argv)

    def live(self) -> dict:
        from dlp.registry import Registry

        reg = Registry(self.registry_root)
        return {sid: len(s.versions) for sid, s in reg.secrets.items()} | {"generation": reg.generation}

    @property
    def registry_root(self) -> Path:
        return self.tmp / "reg"


@pytest.fixture
def admin(tmp_path) -> Admin:
    a = Admin(tmp_path)
    assert a("register", str(tmp_path / "plan.txt"), "--id", "plan") == 0, a.err
    assert a("terms", "add", "codes", str(tmp_path / "codes.txt")) == 0, a.err
    return a


def no_key(admin: Admin) -> None:
    (admin.state / "audit.key").unlink()


def key_unreadable(admin: Admin) -> None:
    (admin.state / "audit.key").unlink()
    (admin.state / "audit.key").mkdir()


def key_foreign(admin: Admin) -> None:
    (admin.state / "audit.key").write_bytes(bytes(32))


def log_cut_short(admin: Admin) -> None:
    with open(admin.state / "audit.jsonl", "ab") as out:
        out.write(b'{"seq": 99')


ADMIN_COMMANDS = [
    ("register", "{tmp}/other.txt", "--id", "other"),
    ("register", "{tmp}/plan.txt", "--id", "plan"),  # a new version would be a change too
    ("register", "--public", "{tmp}/other.txt"),
    ("terms", "add", "codes2", "{tmp}/codes.txt"),
    ("records", "add", "people", "{tmp}/people.csv"),
    ("remove", "plan"),
]


@pytest.mark.parametrize("damage", [no_key, key_unreadable, key_foreign, log_cut_short])
@pytest.mark.parametrize("argv", ADMIN_COMMANDS, ids=lambda argv: "-".join(argv[:2]).replace("{tmp}/", ""))
def test_an_admin_command_without_a_usable_trail_changes_nothing(admin, damage, argv):
    before = admin.live()
    damage(admin)
    log = (admin.state / "audit.jsonl").read_bytes()
    assert admin(*(a.format(tmp=admin.tmp) for a in argv)) == cli.EXIT_USAGE
    assert admin.err.count("\n") == 1 and admin.err.startswith("dlp: error: ") and "internal" not in admin.err
    assert admin.live() == before
    assert (admin.state / "audit.jsonl").read_bytes() == log


def test_an_admin_command_leaves_an_intent_and_a_completion(admin):
    assert admin("remove", "codes") == 0, admin.err
    assert admin("audit", "show", "--format", "json", "--last", "2") == 0
    intent, done = [json.loads(line) for line in admin.out.splitlines()]
    assert (intent["event"], intent["phase"], intent["secret"], done["phase"]) == ("remove", "intent", "codes", "done")
    assert done["generation"] == admin.live()["generation"] and done["versions"] == 1
    assert admin("audit", "show", "--last", "1") == 0
    assert admin.out.startswith(f"{done['seq']} {done['time']} remove done {done['change']} generation=")


@pytest.mark.parametrize("argv", [("register", "{tmp}/empty.txt"), ("register", "{tmp}/empty.txt", "{tmp}/other.txt"),
                                  ("register", "--public", "{tmp}/empty.txt")])
def test_an_empty_document_is_refused_and_nothing_is_registered(admin, argv):
    before = admin.live()
    assert admin(*(a.format(tmp=admin.tmp) for a in argv)) == cli.EXIT_USAGE
    assert "empty.txt: the file is empty" in admin.err and "nothing registered" in admin.err
    assert admin.live() == before
    env = cli.Env(stdout=io.StringIO(), stderr=io.StringIO(), stdin=io.TextIOWrapper(io.BytesIO(b"")), environ={})
    code = cli.main(["--registry", str(admin.registry_root), "--state", str(admin.state), "scan", "-",
                     str(admin.tmp / "empty.txt"), "--format", "json"], env)
    assert code == 0 and {f["action"] for f in json.loads(env.stdout.getvalue())["files"]} == {"allow"}


def test_verify_reports_an_interrupted_change_and_recover_marks_it(admin):
    log = AuditLog(admin.state)
    context = log.change("register", registry=str(admin.registry_root.resolve()), base_generation=2,
                         secrets=["other"], public=False)
    context.__enter__()  # the process died here: an intent, no change, no completion
    assert admin("audit", "verify") == 1
    assert admin.out.splitlines()[0].endswith("but 1 interrupted change")
    assert "interrupted change at line 5" in admin.out and "register of 1 document (other)" in admin.out
    assert "not applied: " in admin.out and "still at generation 2" in admin.out
    assert admin("audit", "recover") == 0, admin.err
    assert "recovered register of 1 document (other) (seq 5): not applied" in admin.out
    assert admin("audit", "verify") == 0 and "gap marked at line 6: not applied" in admin.out
    assert admin("audit", "recover") == 0 and "0 interrupted changes marked" in admin.out


def test_a_scan_after_the_head_is_lost_raises_an_alarm_that_an_admin_acknowledges(admin, tmp_path):
    for _ in range(2):
        assert admin("scan", "--no-progress", str(tmp_path / "other.txt")) == 0
    log = admin.state / "audit.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-2]))  # two decisions cut
    (admin.state / "audit.head").unlink()
    assert admin("scan", "--no-progress", str(tmp_path / "other.txt")) == 0  # scans go on...
    assert admin("audit", "verify") == 1  # ...but the trail is not called intact
    assert "1 alarm not acknowledged" in admin.out and "head_lost" in admin.out
    assert admin("audit", "acknowledge", "--by", "alice") == cli.EXIT_USAGE and "--reason" in admin.err
    assert admin("audit", "acknowledge", "--by", "alice", "--reason", "restored from the nightly copy") == 0
    assert admin.out.startswith("acknowledged 1 alarm by alice")
    assert admin("audit", "verify") == 0 and "acknowledged by alice" in admin.out
    assert admin("audit", "acknowledge", "--by", "alice", "--reason", "again") == cli.EXIT_USAGE
    assert "nothing to acknowledge" in admin.err


def test_an_admin_command_with_a_state_directory_of_its_own_is_refused(admin, tmp_path):
    before = admin.live()
    code = Run.__call__(admin, "--state", str(tmp_path / "mine"), "remove", "plan")
    assert code == cli.EXIT_USAGE and f"give --state {admin.state.resolve()}" in admin.err
    assert admin.live() == before


def test_a_registration_refused_for_unreadable_files_is_audited_as_failed(admin):
    """Files are read where they are fingerprinted, inside the audited change: one that cannot be
    read, or an empty one, fails the change (intent, then failed, both naming no text), every
    such file is named, and nothing is registered."""
    folder = admin.tmp / "batch"
    folder.mkdir()
    (folder / "a-good.txt").write_text("The kiln schedule for the new glaze stays inside the plant. " * 5)
    (folder / "b-broken.pdf").write_bytes(b"%PDF-1.4 not a PDF at all")
    (folder / "c-empty.txt").write_bytes(b"")
    before = admin.live()
    assert admin("register", str(folder)) == cli.EXIT_USAGE
    errors = admin.err.splitlines()
    assert errors[0].startswith(f"dlp: error: cannot register {folder / 'b-broken.pdf'}: corrupt: ")
    assert errors[1:] == [f"dlp: error: cannot register {folder / 'c-empty.txt'}: the file is empty (no text and no bytes)",
                          "dlp: error: nothing registered; fix or leave out the files above"]
    assert admin.live() == before
    assert admin("audit", "show", "--format", "json", "--last", "2") == 0
    intent, failed = [json.loads(line) for line in admin.out.splitlines()]
    assert (intent["phase"], intent["secrets"], failed["phase"]) == ("intent", ["a-good", "b-broken", "c-empty"], "failed")
    assert failed["change"] == intent["change"] and "nothing registered" in failed["error"]
    assert "kiln" not in admin.out
