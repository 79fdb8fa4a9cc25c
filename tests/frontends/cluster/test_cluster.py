"""`dlp scan --cluster` on a real dask.distributed LocalCluster of worker processes on 127.0.0.1.

The cluster's report must equal the local scan's, file for file and in the same
order, also when a worker is killed mid-scan or a file keeps failing.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import time
from pathlib import Path

import pytest

dask = pytest.importorskip("dask", reason="dask[distributed] is not installed: pip install 'dlp[cluster]'")
distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed: pip install 'dlp[cluster]'")

from dlp.extract import expand_path  # noqa: E402
from dlp.frontends.cli import Env, main  # noqa: E402
from dlp.frontends.cluster.runner import CLUSTER_CONFIG, scan, scan_batch  # noqa: E402
from dlp.frontends.cluster.shipment import pack  # noqa: E402
from dlp.scanner import open_scanner  # noqa: E402
from dlp.types import Destination  # noqa: E402

from extract.builders import docx_with_python_docx, pdf  # noqa: E402
from helpers import prose, words  # noqa: E402

pytestmark = pytest.mark.integration

SECRET = " ".join(words(600, seed=3))
EXCERPT = " ".join(SECRET.split()[100:160])
WAIT = 60  # seconds: the bound on any one scan or worker restart


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A registry beside a mixed folder: text, DOCX, PDF, leaks, a corrupt and an empty file."""
    root = tmp_path_factory.mktemp("cluster")
    (root / "secret.txt").write_text(SECRET)
    assert cli(root, "register", str(root / "secret.txt"), "--label", "Plan")[0] == 0
    files = root / "share"
    (files / "deep" / "er").mkdir(parents=True)
    for i in range(12):
        (files / f"note{i:02d}.txt").write_text(prose(300, 100 + i))  # seed 3 would be the secret
    (files / "leak.txt").write_text(prose(150, 50) + " " + EXCERPT + " " + prose(150, 51))
    (files / "deep" / "plan.docx").write_bytes(docx_with_python_docx(prose(100, 52) + " " + EXCERPT))
    (files / "deep" / "minutes.docx").write_bytes(docx_with_python_docx(prose(200, 53)))
    (files / "deep" / "er" / "leak.pdf").write_bytes(pdf(EXCERPT + " " + prose(80, 54)))
    (files / "deep" / "er" / "clean.pdf").write_bytes(pdf(prose(150, 55)))
    (files / "broken.docx").write_bytes(b"PK\x03\x04 this is no zip archive")
    (files / "empty.txt").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def client():
    """Two worker processes; a task is given up after one lost worker, to keep the failure tests short."""
    with dask.config.set({**CLUSTER_CONFIG, "distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as c:
            yield c


def cli(root: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["--registry", str(root / "reg"), *argv], Env(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


def without_timings(report: dict) -> dict:
    report = json.loads(json.dumps(report))
    report.get("summary", {}).pop("seconds", None)
    for f in report.get("files", [report]):
        f.pop("seconds", None)
        f.get("meta", {}).pop("incident", None)  # a fresh id per recorded incident
        if "meta" in f and not f["meta"]:
            f.pop("meta")
    return report


def local_reports(root: Path, items, destination=Destination()) -> list[dict]:
    scanner = open_scanner(root / "reg", None, None, environ={})
    return [without_timings(scanner.scan_item(item, destination).to_dict()) for item in items]


def on_cluster(client, root: Path, items, destination=Destination(), **options) -> list[dict]:
    client.wait_for_workers(2, timeout=WAIT)
    scanner = open_scanner(root / "reg", None, None, environ={})
    detections = scan(client, pack(scanner), items, timeout=WAIT, **options)
    return [without_timings(scanner.decider.decide(d, destination).to_dict()) for d in detections]


def test_the_cli_report_equals_the_local_scan(client, corpus):
    share = str(corpus / "share")
    code, local, _ = cli(corpus, "scan", "--format", "json", share)
    assert code == 1
    code, remote, err = cli(corpus, "scan", "--format", "json", "--cluster", client.scheduler.address, share)
    assert code == 1, err
    local, remote = json.loads(local), json.loads(remote)
    assert without_timings(remote) == without_timings(local)
    actions = {Path(f["path"]).name: f["action"] for f in remote["files"]}
    assert {name for name, action in actions.items() if action == "block"} == {"leak.txt", "plan.docx", "leak.pdf"}
    problems = {Path(f["path"]).name: [p["kind"] for p in f["problems"]] for f in remote["files"] if f["problems"]}
    assert problems.keys() == {"broken.docx"}


def test_every_file_in_its_own_task_still_gives_the_same_report(client, corpus):
    items = expand_path(str(corpus / "share"))
    assert on_cluster(client, corpus, items, batch_bytes=1) == local_reports(corpus, items)


def test_a_file_that_keeps_failing_becomes_a_problem_not_a_failed_scan(client, corpus):
    items = expand_path(str(corpus / "share"))
    poison = next(i for i, item in enumerate(items) if item.name == "minutes.docx")

    def failing(plugin, batch):
        if any(item.name == "minutes.docx" for _, item in batch):
            raise RuntimeError("parser bug")
        return scan_batch(plugin, batch)

    for destination, action in ((Destination(), "warn"), (Destination(addresses=("x@partner.example",)), "quarantine")):
        remote = on_cluster(client, corpus, items, destination, task=failing)
        expected = local_reports(corpus, items, destination)
        assert [r for i, r in enumerate(remote) if i != poison] == [r for i, r in enumerate(expected) if i != poison]
        assert remote[poison]["action"] == action
        [problem] = remote[poison]["problems"]
        assert problem["kind"] == "unreadable" and "RuntimeError: parser bug" in problem["detail"]


def test_a_worker_killed_mid_scan_still_gives_every_file_once(client, corpus):
    items = expand_path(str(corpus / "share"))
    client.wait_for_workers(2, timeout=WAIT)
    before = client.run(os.getpid)
    killed = []

    def slow(plugin, batch):
        time.sleep(0.3)  # keep tasks in flight while the test kills a worker
        return scan_batch(plugin, batch)

    def kill_one(report):
        if not killed:
            pid = next(iter(before.values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    remote = on_cluster(client, corpus, items, task=slow, batch_bytes=1, on_detection=kill_one)
    assert killed and remote == local_reports(corpus, items)
    client.wait_for_workers(2, timeout=WAIT)  # the nanny started a new worker process
    assert killed[0] not in client.run(os.getpid).values()


def test_a_file_that_kills_every_worker_becomes_a_problem(client, corpus):
    items = expand_path(str(corpus / "share"))
    poison = next(i for i, item in enumerate(items) if item.name == "leak.pdf")

    def crashing(plugin, batch):
        if any(item.name == "leak.pdf" for _, item in batch):
            os._exit(70)  # as a segfaulting parser would
        return scan_batch(plugin, batch)

    remote = on_cluster(client, corpus, items, task=crashing)
    expected = local_reports(corpus, items)
    assert [r for i, r in enumerate(remote) if i != poison] == [r for i, r in enumerate(expected) if i != poison]
    assert [p["kind"] for p in remote[poison]["problems"]] == ["unreadable"]
    assert "KilledWorker" in remote[poison]["problems"][0]["detail"]


def test_local_cluster_from_the_cli(corpus):
    share = corpus / "share"
    paths = [str(share / "leak.txt"), str(share / "note00.txt")]
    code, out, err = cli(corpus, "scan", "--cluster", "local:1", *paths)
    assert code == 1, err
    assert out.startswith("BLOCK") and "2 files" in out


@pytest.mark.parametrize("argv, message", [
    (("--cluster", "nonsense", "X"), "scheduler address"),
    (("--cluster", "local:0", "X"), "at least 1"),
    (("--cluster", "local:1", "--jobs", "2", "X"), "exclude each other"),
    (("--cluster", "local:1", "-"), "standard input"),
])
def test_usage_errors(corpus, argv, message):
    argv = tuple(str(corpus / "secret.txt") if a == "X" else a for a in argv)
    code, _, err = cli(corpus, "scan", *argv)
    assert code == 2 and message in err
