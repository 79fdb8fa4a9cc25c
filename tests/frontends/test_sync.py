"""`dlp register DIR --sync` mirrors a folder; `dlp compact` merges segments; both audited, both crash-safe."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.frontends import cli
from dlp.index import Index
from dlp.scanner import Scanner

from helpers import prose

REPO = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.reg = tmp / "reg"

    def __call__(self, *argv: str) -> int:
        out, err = io.StringIO(), io.StringIO()
        env = cli.Env(stdout=out, stderr=err, environ={"DLP_REGISTRY": str(self.reg), "DLP_STATE": str(self.tmp / "state")})
        code = cli.main(list(argv), env)
        self.out, self.err = out.getvalue(), err.getvalue()
        return code

    def generation(self) -> str:
        return (self.reg / "CURRENT").read_text().strip()


@pytest.fixture
def run(tmp_path) -> Run:
    folder = tmp_path / "specs"
    (folder / "sub").mkdir(parents=True)
    for i in range(4):
        (folder / ("sub" if i == 3 else "") / f"spec-{i}.txt").write_text(prose(300, 100 + i))
    return Run(tmp_path)


def excerpt_of(path: Path, words: int = 40) -> str:
    return " ".join(path.read_text().split()[50 : 50 + words])


def blocked(run: Run, text: str) -> bool:
    report = Scanner(Index.open(run.reg)).scan_bytes(text.encode(), "m.txt")
    return report.action.label == "block"


def test_a_folder_is_mirrored_new_changed_and_gone(run):
    folder = run.tmp / "specs"
    assert run("register", str(folder), "--sync") == 0, run.err
    assert "4 new, 0 changed, 0 removed" in run.out
    secrets = Index.open(run.reg).secrets
    assert set(secrets) == {"spec-0", "spec-1", "spec-2", "sub-spec-3"}
    assert secrets["sub-spec-3"].origin["path"] == os.path.join("sub", "spec-3.txt")

    before = run.generation()
    assert run("register", str(folder), "--sync") == 0
    assert "no change; 4 unchanged" in run.out and run.generation() == before  # nothing written

    (folder / "spec-0.txt").write_text(prose(300, 999))  # changed content: a new version
    os.utime(folder / "spec-1.txt", ns=(1, 2))  # new time, same bytes: only the record moves
    (folder / "sub" / "spec-3.txt").unlink()  # gone: removed
    (folder / "spec-9.txt").write_text(prose(300, 555))  # new
    assert run("register", str(folder), "--sync", "--dry-run") == 0
    assert run.generation() == before
    assert run.out.splitlines()[:4] == [
        f"{'version':9} {'spec-0':28} spec-0.txt", f"{'touch':9} {'spec-1':28} spec-1.txt",
        f"{'new':9} {'spec-9':28} spec-9.txt", f"{'remove':9} {'sub-spec-3':28} {os.path.join('sub', 'spec-3.txt')}"]
    assert run("register", str(folder), "--sync") == 0, run.err
    assert "1 new, 1 changed, 1 removed, 2 unchanged" in run.out
    secrets = Index.open(run.reg).secrets
    assert set(secrets) == {"spec-0", "spec-1", "spec-2", "spec-9"}
    assert len(secrets["spec-0"].versions) == 2 and len(secrets["spec-1"].versions) == 1
    assert blocked(run, excerpt_of(folder / "spec-0.txt")) and blocked(run, excerpt_of(folder / "spec-9.txt"))
    assert run("register", str(folder), "--sync") == 0 and "no change" in run.out

    entries = [e for e in AuditLog(run.tmp / "state").entries() if e["event"] == "register"]
    last = [e for e in entries if e.get("phase") == "intent"][-1]
    assert (last["new"], last["version"], last["touch"], last["remove"]) == (["spec-9"], ["spec-0"], ["spec-1"],
                                                                               ["sub-spec-3"])
    assert AuditLog(run.tmp / "state").verify().ok


def test_a_sync_removes_only_what_it_registered(run):
    folder = run.tmp / "specs"
    other = run.tmp / "other.txt"
    other.write_text(prose(200, 7))
    assert run("register", str(other), "--id", "kept") == 0
    assert run("register", str(folder), "--sync") == 0
    for f in folder.rglob("*.txt"):
        f.unlink()
    assert run("register", str(folder), "--sync") == 0, run.err
    assert set(Index.open(run.reg).secrets) == {"kept"}


def test_a_file_that_cannot_be_read_stops_the_sync_with_nothing_changed(run, tmp_path):
    folder = run.tmp / "specs"
    assert run("register", str(folder), "--sync") == 0
    before = run.generation()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300))
    (folder / "spec-2.txt").write_text(prose(300, 4242))
    assert run("register", str(folder), "--sync") == 2
    assert "nothing changed" in run.err and run.generation() == before


def test_near_duplicates_are_named_and_count_once_for_boilerplate(run):
    text = prose(400, 31)
    for name in ("a", "b", "c"):  # the same document under three ids (copies in three folders)
        (run.tmp / f"{name}.txt").write_text(text)
        assert run("register", str(run.tmp / f"{name}.txt"), "--id", f"copy-{name}") == 0
    assert "nearly the same document as 'copy-a'" in run.err
    assert blocked(run, " ".join(text.split()[100:200]))  # not boilerplate: one family, not three


def test_compact_merges_segments_and_drops_removed_versions(run):
    for i in range(6):
        (run.tmp / f"d{i}.txt").write_text(prose(250, 500 + i))
        assert run("register", str(run.tmp / f"d{i}.txt")) == 0
    assert run("remove", "d1") == 0
    before = Index.open(run.reg)
    assert before.statistics()["segments"] > 1 and before.statistics()["dead_owners"] == 1
    assert run("compact") == 0, run.err
    after = Index.open(run.reg)
    assert after.statistics()["segments"] == 1 and after.statistics()["dead_owners"] == 0
    assert set(after.secrets) == {"d0", "d2", "d3", "d4", "d5"}
    assert blocked(run, excerpt_of(run.tmp / "d4.txt")) and not blocked(run, excerpt_of(run.tmp / "d1.txt"))


def test_one_more_document_writes_one_small_segment(run):
    for i in range(5):
        (run.tmp / f"e{i}.txt").write_text(prose(800, 600 + i))
    assert run("register", *[str(run.tmp / f"e{i}.txt") for i in range(5)]) == 0
    sizes = {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in run.reg.glob("seg-*")}
    (run.tmp / "one.txt").write_text(prose(100, 77))
    assert run("register", str(run.tmp / "one.txt")) == 0
    new = {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in run.reg.glob("seg-*")}
    added = set(new) - set(sizes)
    assert len(added) == 1 and new[added.pop()] < max(sizes.values())
    assert set(sizes) <= set(new)  # the old segments are untouched and still listed


@pytest.mark.integration
def test_kill_9_during_compact_leaves_a_usable_store(run):
    """A real `dlp compact` killed at random moments: every time, the registry opens and finds what it held."""
    for i in range(8):
        (run.tmp / f"k{i}.txt").write_text(prose(600, 700 + i))
        assert run("register", str(run.tmp / f"k{i}.txt")) == 0
    assert run("remove", "k3") == 0
    env = dict(os.environ, DLP_REGISTRY=str(run.reg), DLP_STATE=str(run.tmp / "state"),
               PYTHONPATH=str(REPO / "src"))
    rng = random.Random(5)
    for _attempt in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "dlp", "compact"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        index = Index.open(run.reg)
        assert set(index.secrets) == {f"k{i}" for i in range(8)} - {"k3"}
        assert blocked(run, excerpt_of(run.tmp / "k6.txt"))
    assert run("audit", "recover") in (0, 1)
    assert run("compact") == 0, run.err
    assert Index.open(run.reg).statistics()["segments"] == 1


def test_links_to_files_are_registered_and_links_to_folders_are_reported(tmp_path):
    """A hostile insider found a symlink in a synced folder skipped without a word: the file it
    named was not protected. A link to a file now stands for the file; a link to a folder (it may
    loop) and a broken link are named on standard error."""
    run = Run(tmp_path)
    store, specs = tmp_path / "store", tmp_path / "specs"
    store.mkdir()
    specs.mkdir()
    (store / "process.txt").write_text(prose(200, 1))
    (specs / "current-process.txt").symlink_to(store / "process.txt")
    (specs / "archive").symlink_to(store, target_is_directory=True)
    (specs / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    assert run("register", str(specs), "--sync") == 0, run.err
    assert "current-process" in run.out and "1 new" in run.out
    assert "archive: a link to a folder: not followed" in run.err and "gone.txt" in run.err
    assert blocked(run, excerpt_of(store / "process.txt"))


def test_a_new_version_that_equals_another_secret_is_named(run):
    # a version stays in its secret's family, so the two would count twice for boilerplate
    (run.tmp / "plan.txt").write_text(prose(400, 61))
    (run.tmp / "other.txt").write_text(prose(400, 62))
    assert run("register", str(run.tmp / "plan.txt"), "--id", "plan") == 0
    assert run("register", str(run.tmp / "other.txt"), "--id", "other") == 0 and "nearly" not in run.err
    (run.tmp / "other.txt").write_text(prose(400, 61))  # its next version: the plan, word for word
    assert run("register", str(run.tmp / "other.txt"), "--id", "other") == 0
    assert "this version of 'other' is nearly the same document as 'plan'" in run.err
    (run.tmp / "solo.txt").write_text(prose(400, 64))
    assert run("register", str(run.tmp / "solo.txt"), "--id", "solo") == 0
    (run.tmp / "solo.txt").write_text(prose(400, 64) + " " + prose(20, 63))  # near its own version only
    assert run("register", str(run.tmp / "solo.txt"), "--id", "solo") == 0 and "nearly" not in run.err
