"""Names, settle detection and settings: small pure pieces with exact clocks."""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest

from dlp.errors import ConfigError
from dlp.frontends.watch.journal import rename_noreplace
from dlp.frontends.watch.names import is_temporary, with_suffix
from dlp.frontends.watch.settings import load_settings
from dlp.frontends.watch.settle import SettleTracker


@pytest.mark.parametrize("rel, temporary", [
    ("report.pdf", False), ("sub/report.pdf", False), ("report.pdf.part", True), ("a.tmp", True),
    (".~lock.plan.odt#", True), ("~$plan.docx", True), (".hidden", True), (".git/config", True),
    ("sub/.cache/x.txt", True), ("plan.docx~", True), ("file.crdownload", True), ("partial.txt", False),
])
def test_temporary_names(rel, temporary):
    assert is_temporary(rel) is temporary


@pytest.mark.parametrize("rel, n, expected", [
    ("plan.pdf", 0, "plan.pdf"), ("plan.pdf", 1, "plan~1.pdf"), ("a/plan.tar.gz", 2, "a/plan~2.tar.gz"),
    ("README", 3, "README~3"),
])
def test_collision_suffix(rel, n, expected):
    assert with_suffix(rel, n) == expected


class FakeFiles:
    def __init__(self) -> None:
        self.now = 0.0
        self.files: dict[str, tuple[int, int, int]] = {}

    def lstat(self, path: str):
        if path not in self.files:
            raise FileNotFoundError(path)
        size, mtime, ino = self.files[path]
        return SimpleNamespace(st_size=size, st_mtime_ns=mtime, st_ino=ino)


def test_settle_waits_for_stable_size_and_mtime():
    fs = FakeFiles()
    tracker = SettleTracker(2.0, clock=lambda: fs.now, lstat=fs.lstat)
    fs.files["a"] = (10, 1, 7)
    tracker.touch("a")
    assert tracker.due() == []  # first look
    fs.now, fs.files["a"] = 1.5, (20, 2, 7)
    assert tracker.due() == []  # grew: the clock restarts
    fs.now = 3.0
    assert tracker.due() == []  # stable for 1.5 s only
    fs.now = 3.6
    assert [s.path for s in tracker.due(busy={"a"})] == []  # busy paths wait
    [settled] = tracker.due()
    assert settled.path == "a" and settled.first_seen == 0.0 and len(tracker) == 0


def test_settle_renamed_in_is_due_at_first_look_and_vanished_paths_are_dropped():
    fs = FakeFiles()
    tracker = SettleTracker(60.0, clock=lambda: fs.now, lstat=fs.lstat)
    fs.files["b"] = (5, 1, 8)
    tracker.touch("b", renamed=True)
    tracker.touch("gone")
    assert [s.path for s in tracker.due()] == ["b"]
    assert "gone" not in tracker


def test_rename_noreplace_never_overwrites(tmp_path):
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "a", tmp_path / "b")
    rename_noreplace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "b").read_text() == "b" and (tmp_path / "c").read_text() == "a"
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("text, message", [
    ("workers = 0\n[[outbox]]\npath='{o}'\nrelease='{r}'\nquarantine='{q}'\n", "workers must be at least 1"),
    ("[[outbox]]\npath='{o}'\nrelease='{o}/rel'\nquarantine='{q}'\n", "lies inside"),
    ("[[outbox]]\npath='{o}'\nquarantine='{q}'\n", "outbox 0: release is required"),
    ("speed = 3\n", "unknown key 'speed'"),
    ("settle = 'fast'\n", "settle must be float"),
    ("[[outbox]]\npath='{o}'\nrelease='{r}'\nquarantine='{q}'\npoll=-1\n", "poll must be more than 0"),
    ("", "no outbox to watch"),
    ("[[outbox]\n", "not valid TOML"),
])
def test_config_errors_name_the_file_and_key(tmp_path, text, message):
    (tmp_path / "o").mkdir()
    config = tmp_path / "watch.toml"
    config.write_text(text.format(o=tmp_path / "o", r=tmp_path / "r", q=tmp_path / "q"))
    with pytest.raises(ConfigError, match=message) as error:
        load_settings(config)
    assert str(config) in str(error.value)


def test_config_values_and_command_line_overrides(tmp_path):
    (tmp_path / "o").mkdir()
    config = tmp_path / "watch.toml"
    config.write_text(f"workers = 3\npoll = 4\nignore = ['*.swp']\n[[outbox]]\npath = '{tmp_path / 'o'}'\n"
                      f"release = '{tmp_path / 'r'}'\nquarantine = '{tmp_path / 'q'}'\nto = 'x@example.com'\n")
    settings = load_settings(config, {"workers": 5, "settle": None})
    assert settings.workers == 5 and settings.settle == 2.0
    [box] = settings.outboxes
    assert box.poll == 4.0 and box.destination.addresses == ("x@example.com",)
    assert box.destination.channel == "watch"
    assert "*.swp" in settings.ignore and "*.part" in settings.ignore
    assert os.fspath(box.work).endswith(".dlp-work")


def _box(tmp_path):
    from dlp.frontends.watch.settings import Outbox

    (tmp_path / "o").mkdir(exist_ok=True)
    return Outbox(tmp_path / "o", tmp_path / "r", tmp_path / "q")


@pytest.mark.parametrize("folder, mode, tightened", [
    ("q", 0o755, 0o700), ("q", 0o770, 0o700), ("q", 0o701, 0o700), ("q", 0o700, None),
    ("o/.dlp-work", 0o777, 0o700), ("o/.dlp-work", 0o1733, 0o1700),
    ("r", 0o777, 0o755), ("r", 0o775, 0o755), ("r", 0o755, None), ("r", 0o750, None),
])
def test_existing_folders_looser_than_the_daemon_would_make_them_are_tightened(tmp_path, folder, mode, tightened):
    from dlp.frontends.watch.settings import prepare_folders

    box = _box(tmp_path)
    (tmp_path / folder).mkdir()
    (tmp_path / folder).chmod(mode)
    old = os.umask(0o022)
    try:
        notes = prepare_folders(box)
    finally:
        os.umask(old)
    now = stat.S_IMODE((tmp_path / folder).stat().st_mode)
    if tightened is None:
        assert now == mode and notes == []
    else:
        assert now == tightened
        [note] = notes
        assert f"mode {mode:04o} tightened to {tightened:04o}" in note


def test_a_quarantine_folder_of_another_user_is_refused(tmp_path):
    from dlp.frontends.watch.settings import prepare_folders

    box = _box(tmp_path)
    (tmp_path / "q").mkdir(mode=0o700)
    os.chown(tmp_path / "q", 65534, 65534)
    with pytest.raises(ConfigError, match=r"quarantine folder .* belongs to uid 65534.*chown it"):
        prepare_folders(box)


def test_a_folder_that_cannot_be_tightened_is_refused_with_the_fix(tmp_path, monkeypatch):
    from dlp.frontends.watch import settings

    box = _box(tmp_path)
    (tmp_path / "r").mkdir()
    (tmp_path / "r").chmod(0o777)

    def refused(path, mode):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(settings.os, "chmod", refused)
    with pytest.raises(ConfigError, match=r"release folder .* has mode 0777.*run `chmod 0755"):
        settings.prepare_folders(box)


def test_a_claim_never_follows_a_folder_swapped_for_a_link(tmp_path):
    """Between the look and the claim, outbox/sub becomes a link to another user's folder: the
    claim must not move that user's sub/x.txt into the work folder (and on to the release)."""
    from dlp.frontends.watch.journal import WorkFolder

    outbox, victim = tmp_path / "outbox", tmp_path / "victim"
    (outbox / "sub").mkdir(parents=True)
    victim.mkdir()
    (victim / "x.txt").write_text("the victim's file")
    (outbox / "sub" / "x.txt").write_text("dropped")
    work = WorkFolder(outbox, outbox / ".dlp-work", durable=False)
    work.open()
    entry = {"id": work.new_id(), "state": "claiming", "rel": "sub/x.txt"}
    (outbox / "sub" / "x.txt").unlink()
    (outbox / "sub").rmdir()
    os.symlink(victim, outbox / "sub")
    assert work.claim(entry) is False
    assert (victim / "x.txt").read_text() == "the victim's file" and work.entry_ids() == []
    os.unlink(outbox / "sub")
    (outbox / "sub").mkdir()
    (outbox / "sub" / "x.txt").write_text("dropped")
    assert work.claim(entry) is True and work.file(entry["id"]).read_text() == "dropped"
    work.close()
