"""The daemon in a thread with a real inotify or polling observer on real folders."""

from __future__ import annotations

import json
import os
import socket
import stat
import time

import pytest

from .conftest import LEAK, clean_text
from dlp.frontends.watch.scans import ScannerSpec
from dlp.registry import Registry
from dlp.types import Action


def test_clean_file_released_and_leak_quarantined_with_sidecar(folders, run_daemon):
    decisions = []
    with run_daemon((folders.box(country="CN"),), on_decision=lambda *a: decisions.append(a)) as running:
        (folders.outbox / "notes.txt").write_text(clean_text(1))
        (folders.outbox / "deep" / "er").mkdir(parents=True)
        (folders.outbox / "deep" / "er" / "plan.txt").write_text(LEAK)
        lines = {r["file"]: r for r in running.log.wait("decision", 2)}
    assert (folders.release / "notes.txt").read_text() == clean_text(1)
    held = folders.quarantine / "deep" / "er" / "plan.txt"
    assert held.read_text() == LEAK
    assert stat.S_IMODE(held.stat().st_mode) == 0o600
    sidecar = folders.quarantine / "deep" / "er" / "plan.txt.dlp.json"
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600
    report = json.loads(sidecar.read_text())
    assert report["original"] == "deep/er/plan.txt"
    assert report["release"] == str(folders.release)
    assert report["release_path"] == str(folders.release / "deep" / "er" / "plan.txt")
    assert report["report"]["action"] == "block"
    assert report["destination"]["country"] == "CN"
    assert lines["deep/er/plan.txt"]["secrets"] == ["plan"]
    assert lines["deep/er/plan.txt"]["verdict"] == "block"
    assert lines["notes.txt"]["verdict"] == "allow"
    assert {str(final) for _, _, final in decisions} == {str(folders.release / "notes.txt"), str(held)}
    assert all(dest.channel == "watch" and dest.country == "CN" for _, dest, _ in decisions)
    assert not list(folders.outbox.rglob("*.txt"))
    assert sorted(p.name for p in (folders.outbox / ".dlp-work").iterdir()) == [".lock"]


def test_files_already_in_the_outbox_are_processed_at_start(folders, run_daemon):
    for n in range(5):
        (folders.outbox / f"early-{n}.txt").write_text(clean_text(n))
    with run_daemon((folders.box(),)) as running:
        running.log.wait("decision", 5)
    assert sorted(p.name for p in folders.release.iterdir()) == [f"early-{n}.txt" for n in range(5)]


def test_slow_writer_is_not_released_before_it_finishes(folders, run_daemon):
    target = folders.outbox / "slow.txt"
    with run_daemon((folders.box(),), settle=0.5) as running:
        with open(target, "w") as handle:
            for n in range(12):  # 12 writes 0.15 s apart: 1.8 s, longer than the settle time
                handle.write(clean_text(n))
                handle.flush()
                time.sleep(0.15)
                assert not (folders.release / "slow.txt").exists(), f"released after {n + 1} of 12 writes"
        running.log.wait("decision")
    assert (folders.release / "slow.txt").read_text() == "".join(clean_text(n) for n in range(12))


def test_temporary_names_wait_until_renamed(folders, run_daemon):
    with run_daemon((folders.box(),), settle=30.0) as running:  # only the rename can make it due
        for name in ("report.pdf.part", ".~lock.report.odt#", "draft.tmp", ".hidden"):
            (folders.outbox / name).write_text(clean_text(0))
        (folders.outbox / "report.txt.part").write_text(clean_text(1))
        os.rename(folders.outbox / "report.txt.part", folders.outbox / "report.txt")
        [line] = running.log.wait("decision", timeout=10)
    assert line["file"] == "report.txt"
    assert (folders.release / "report.txt").read_text() == clean_text(1)
    assert sorted(p.name for p in folders.outbox.iterdir() if p.is_file()) == sorted(
        [".hidden", ".~lock.report.odt#", "draft.tmp", "report.pdf.part"])


def test_name_collision_gets_a_suffix_never_overwrites(folders, run_daemon):
    (folders.release / "sub").mkdir(parents=True)
    (folders.release / "sub" / "a.tar.gz").write_text("older")
    (folders.release / "sub" / "a~1.tar.gz").write_text("older too")
    with run_daemon((folders.box(),)) as running:
        (folders.outbox / "sub").mkdir()
        (folders.outbox / "sub" / "a.tar.gz").write_text(clean_text(1))
        [line] = running.log.wait("decision")
    assert line["to"] == str(folders.release / "sub" / "a~2.tar.gz")
    assert (folders.release / "sub" / "a.tar.gz").read_text() == "older"
    assert (folders.release / "sub" / "a~2.tar.gz").read_text() == clean_text(1)


def _bound_socket(path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.fspath(path))  # the socket file stays after close


@pytest.mark.parametrize("make, detail", [
    (lambda p: os.mkfifo(p), "named pipe"),
    (lambda p: _bound_socket(p), "socket"),
    (lambda p: os.symlink("/etc/hostname", p), "symbolic link"),
])
def test_unscannable_entries_are_quarantined_and_the_daemon_goes_on(folders, run_daemon, make, detail):
    # tests run as root, so permissions cannot make a file unreadable; these cannot be read either
    with run_daemon((folders.box(),)) as running:
        make(folders.outbox / "odd")
        [line] = running.log.wait("decision")
        (folders.outbox / "after.txt").write_text(clean_text(2))
        [after] = running.log.wait("decision")
    assert line["verdict"] == "quarantine" and line["problems"] == ["unreadable"]
    assert os.path.lexists(folders.quarantine / "odd")
    sidecar = json.loads((folders.quarantine / "odd.dlp.json").read_text())
    assert detail in sidecar["report"]["problems"][0]["detail"]
    assert after["verdict"] == "allow"


def test_fail_open_releases_unscannable_content_but_never_what_is_not_a_file(folders, run_daemon):
    corrupt = b"%PDF-1.7\n" + os.urandom(3000)
    with run_daemon((folders.box(),), fail_open=True) as running:
        (folders.outbox / "broken.pdf").write_bytes(corrupt)
        os.mkfifo(folders.outbox / "pipe")
        os.symlink("/etc/hostname", folders.outbox / "link")
        lines = {r["file"]: r for r in running.log.wait("decision", 3, timeout=30)}
    assert lines["broken.pdf"]["verdict"] == "warn"
    assert (folders.release / "broken.pdf").read_bytes() == corrupt
    # a released link would hand the transfer job bytes that were never scanned
    for name in ("pipe", "link"):
        assert lines[name]["verdict"] == "quarantine" and lines[name]["rule"] == "watch:not-a-file"
        assert os.path.lexists(folders.quarantine / name) and not os.path.lexists(folders.release / name)


def test_a_file_that_vanishes_before_its_claim_is_not_an_error(folders, run_daemon):
    with run_daemon((folders.box(),), settle=0.6) as running:
        (folders.outbox / "gone.txt").write_text(clean_text(1))
        time.sleep(0.2)  # seen, not settled yet
        os.unlink(folders.outbox / "gone.txt")
        (folders.outbox / "stays.txt").write_text(clean_text(2))
        [line] = running.log.wait("decision")
    assert line["file"] == "stays.txt"
    assert not [r for r in running.log.all if r["event"] == "error"]


def test_corrupt_content_is_quarantined_fail_closed(folders, run_daemon):
    with run_daemon((folders.box(),)) as running:
        (folders.outbox / "broken.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(3000))
        [line] = running.log.wait("decision", timeout=30)
    assert line["verdict"] in ("quarantine", "block")
    assert (folders.quarantine / "broken.pdf").exists()


@pytest.mark.integration
def test_polling_observer(folders, run_daemon):
    with run_daemon((folders.box(poll=0.3),), rescan=600.0) as running:
        assert "PollingObserver" in running.log.all[0]["observers"]
        (folders.outbox / "polled.txt").write_text(clean_text(1))
        (folders.outbox / "polled-leak.txt").write_text(LEAK)
        lines = {r["file"]: r["verdict"] for r in running.log.wait("decision", 2, timeout=20)}
    assert lines == {"polled.txt": "allow", "polled-leak.txt": "block"}


def test_registry_reload_without_restart(folders, run_daemon, tmp_path):
    root = tmp_path / "own-registry"
    reg = Registry(root, create=True)
    reg.add_document(clean_text(0) * 3, b"x", "other.txt", secret_id="other")
    reg.commit()
    with run_daemon((folders.box(),), spec=ScannerSpec.of(str(root)), registry_check=0.1) as running:
        (folders.outbox / "first.txt").write_text(LEAK)
        [first] = running.log.wait("decision")
        reg = Registry(root)
        reg.add_document(LEAK, LEAK.encode(), "plan.txt", secret_id="plan")
        reg.commit()
        [reloaded] = running.log.wait("reloaded", timeout=30)
        (folders.outbox / "second.txt").write_text(LEAK)
        [second] = running.log.wait("decision")
    assert first["verdict"] == "allow"
    assert reloaded["registry"] == "gen-000001 -> gen-000002"
    assert second["verdict"] == "block" and second["secrets"] == ["plan"]


def test_several_outboxes_and_a_config_reload(folders, run_daemon, tmp_path):
    from dlp.frontends.watch.settings import load_settings

    second = tmp_path / "outbox-b"
    second.mkdir()
    config = tmp_path / "watch.toml"

    def write_config(boxes):
        config.write_text("settle = 0.2\n" + "".join(
            f'[[outbox]]\npath = "{b}"\nrelease = "{tmp_path / (b.name + "-release")}"\n'
            f'quarantine = "{tmp_path / (b.name + "-quarantine")}"\ncountry = "CN"\n' for b in boxes))

    write_config([folders.outbox])
    settings = load_settings(config)
    with run_daemon(settings.outboxes, reload_settings=lambda: load_settings(config)) as running:
        write_config([folders.outbox, second])
        running.daemon.reload()
        running.log.wait("configured")
        (second / "b.txt").write_text(clean_text(1))
        (folders.outbox / "a.txt").write_text(LEAK)
        lines = {r["file"]: r for r in running.log.wait("decision", 2)}
    assert lines["b.txt"]["to"] == str(tmp_path / "outbox-b-release" / "b.txt")
    assert lines["a.txt"]["to"] == str(tmp_path / "outbox-quarantine" / "a.txt")


def test_second_daemon_on_the_same_outbox_is_refused(folders, run_daemon):
    from dlp.errors import ConfigError

    with run_daemon((folders.box(),)):
        with pytest.raises(ConfigError, match="already watched"):
            with run_daemon((folders.box(),)):
                pass


@pytest.mark.integration
def test_burst_of_1000_files(folders, run_daemon):
    with run_daemon((folders.box(),), workers=2) as running:
        for n in range(1000):
            sub = folders.outbox / f"d{n % 10}"
            sub.mkdir(exist_ok=True)
            (sub / f"f{n:04d}.txt").write_text(LEAK if n % 50 == 0 else clean_text(n))
        lines = running.log.wait("decision", 1000, timeout=60)
    assert len({r["file"] for r in lines}) == 1000
    placed = folders.placed()
    assert len(placed) == 1000 and all(len(v) == 1 for v in placed.values())
    held = {rel for rel, [path] in placed.items() if path.is_relative_to(folders.quarantine)}
    assert held == {f"d{n % 10}/f{n:04d}.txt" for n in range(0, 1000, 50)}
    assert Action.BLOCK.label in {r["verdict"] for r in lines}


def test_a_loose_quarantine_folder_is_tightened_at_start_and_said_so(folders, run_daemon):
    folders.quarantine.mkdir(mode=0o755)
    folders.quarantine.chmod(0o755)
    with run_daemon((folders.box(),)) as running:
        (folders.outbox / "plan.txt").write_text(LEAK)
        running.log.wait("decision")
    [note] = [r for r in running.log.all if r["event"] == "tightened"]
    assert "quarantine folder" in note["detail"] and "0755 tightened to 0700" in note["detail"]
    assert stat.S_IMODE(folders.quarantine.stat().st_mode) == 0o700


def test_a_file_too_large_to_copy_is_kept_back_unread_even_fail_open(folders, run_daemon):
    """A sparse 2 GiB file would cost 2 GiB of disk to copy: it is quarantined as too_large."""
    with run_daemon((folders.box(),), fail_open=True) as running:
        with open(folders.outbox / "huge.bin", "wb") as handle:
            handle.truncate(2 << 30)
        [line] = running.log.wait("decision", timeout=30)
    assert line["verdict"] == "quarantine" and line["rule"] == "watch:too-large" and line["problems"] == ["too_large"]
    held = folders.quarantine / "huge.bin"
    assert held.stat().st_size == 2 << 30 and held.stat().st_blocks == 0  # still the sparse original
    assert sorted(p.name for p in (folders.outbox / ".dlp-work").iterdir()) == [".lock"]
