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
