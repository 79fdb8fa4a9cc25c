"""One registry for the attacks, built through the real CLI, and a CLI runner that scans many files at once.

The attack tables write one real file per case and scan them all with a single
`dlp scan --format json --no-record` call: one scanner start for a whole table keeps
the suite fast. Cases that document a hole carry ``xfail(strict=True)``: the day the
hole is closed they pass, the strict mark fails, and the mark has to go.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from dlp.frontends.cli import Env, main

from .texts import CODENAMES, SECRET, STAFF_COLUMNS, STAFF_CSV


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Dlp:
    """`dlp --registry REG --state STATE ...` run in process, as a user would type it."""

    registry: Path
    state: Path

    def __call__(self, *argv: str, environ: dict | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        env = Env(stdout=out, stderr=err, stdin=io.TextIOWrapper(io.BytesIO(b"")), environ=environ or {})
        code = main(["--registry", str(self.registry), "--state", str(self.state), *argv], env)
        return Result(code, out.getvalue(), err.getvalue())

    def must(self, *argv: str) -> Result:
        result = self(*argv)
        assert result.code == 0, f"dlp {' '.join(argv)}: {result.code} {result.err}"
        return result

    def scan(self, *paths: Path | str) -> dict[str, dict]:
        """The JSON file reports of one `dlp scan` over `paths`, by path."""
        result = self("scan", "--format", "json", "--no-record", "--no-progress", *map(str, paths))
        assert result.code in (0, 1), f"dlp scan: {result.code} {result.err}"
        return {f["path"]: f for f in json.loads(result.out)["files"]}


def fresh(tmp: Path) -> Dlp:
    """An empty registry under `tmp` (its key and state beside it)."""
    return Dlp(tmp / "reg", tmp / "state")


@pytest.fixture(scope="session")
def dlp(tmp_path_factory) -> Dlp:
    """The company's registry: the Halcyon process (secret), its code names, the staff list."""
    root = tmp_path_factory.mktemp("attacks")
    (root / "halcyon.txt").write_text(SECRET, encoding="utf-8")
    (root / "codenames.txt").write_text(CODENAMES, encoding="utf-8")
    (root / "staff.csv").write_text(STAFF_CSV, encoding="utf-8")
    d = fresh(root)
    d.must("register", str(root / "halcyon.txt"), "--id", "halcyon", "--label", "Halcyon process",
           "--classification", "secret")
    d.must("terms", "add", "codenames", str(root / "codenames.txt"), "--label", "Code names")
    d.must("records", "add", "staff", str(root / "staff.csv"), "--columns", STAFF_COLUMNS, "--min-fields", "2",
           "--label", "Staff", "--classification", "secret")
    return d


def action(report: dict) -> str:
    return report["action"]


def kinds(report: dict, secret: str) -> set[str]:
    """The finding kinds that name `secret` in a file report."""
    return {f["kind"] for f in report["findings"] if f["secret"] == secret}


def hole(reason: str):
    """The mark of a case that documents a hole the lead should close."""
    return pytest.mark.xfail(strict=True, reason=reason)
