"""Cluster benchmark (run by hand): `dlp scan` on 1 and 2 local Dask workers against the plain local scan.

    python benchmarks/bench_cluster.py [--docs 1000] [--files 1500] [--repeats 3]

Scans the same corpus (Enron mails from ../shared/corpora when present, synthetic
text otherwise) against a registry of `--docs` documents:
- in process, one file after another (what `dlp scan` does without --jobs);
- on LocalCluster(n_workers=N, processes=True) for N = 1, 2: start-up, the first scan
  (registry shipped, workers warming up), then the best of `--repeats` warm scans;
- the cost per task: the same empty files as one task each and as one batch, and
  bare Dask no-op tasks;
- the whole command line (`dlp scan`, `--jobs 2`, `--cluster local:1`, `local:2`), start-up included.
Figures go to standard output and benchmarks/out/cluster.json, with the load average,
since a shared machine skews them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from dlp.extract import expand_path  # noqa: E402
from dlp.frontends.cluster.runner import ClusterSpec, connect, scan  # noqa: E402
from dlp.frontends.cluster.shipment import pack  # noqa: E402
from dlp.registry import Registry  # noqa: E402
from dlp.scanner import open_scanner  # noqa: E402
from dlp.types import Destination  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def build(work: Path, n_docs: int, n_files: int) -> tuple[Path, str]:
    docs, source = corpus.secret_documents(n_docs)
    reg = Registry(work / "reg", create=True)
    for i, d in enumerate(docs):
        reg.add_document(d, d.encode(), f"doc{i}.txt", secret_id=f"doc{i}")
    reg.commit()
    share = work / "share"
    share.mkdir()
    if corpus.have_corpora():
        paths = corpus.enron_paths()[:n_files]
        for i, p in enumerate(paths):
            shutil.copyfile(p, share / f"{i:05d}.eml")
        source += f"; scanned: {len(paths)} Enron mails"
    else:
        for i, text in enumerate(corpus.synthetic(n_files, 900, 7)):
            (share / f"{i:05d}.txt").write_text(text)
        source += f"; scanned: {n_files} synthetic texts"
    # a few leaks, so detectors do real work on some files
    for i in range(0, n_files, 100):
        (share / f"leak{i:05d}.txt").write_text(docs[i % len(docs)][:2000])
    return share, source


def mb(items) -> float:
    return sum(os.path.getsize(i.path) for i in items) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--files", type=int, default=1500)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-cluster-"))
    results: dict = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    try:
        share, source = build(work, args.docs, args.files)
        scanner = open_scanner(work / "reg", None, None, environ={})
        items = expand_path(str(share))
        size = mb(items)
        results["corpus"] = {"files": len(items), "mb": round(size, 2), "source": source}
        print(f"corpus: {len(items)} files, {size:.1f} MB ({source}); registry {pack(scanner).size / 1e6:.1f} MB shipped")
        results["shipment_mb"] = round(pack(scanner).size / 1e6, 2)

        local, local_cpu = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            baseline = [scanner.scan_item(item, Destination()) for item in items]
            local.append(time.perf_counter() - t)
            local_cpu.append(time.process_time() - c)
        results["local"] = {"seconds": round(min(local), 2), "mb_per_s": round(size / min(local), 2),
                            "files_per_s": round(len(items) / min(local), 1),
                            "mb_per_cpu_s": round(size / min(local_cpu), 2)}
        print(f"local, in process:  {size / min(local):6.2f} MB/s  {len(items) / min(local):7.1f} files/s")
        expected = [r.action for r in baseline]

        for workers in (1, 2):
            t = time.perf_counter()
            with connect(ClusterSpec(local_workers=workers)) as client:
                up = time.perf_counter() - t
                runs, cpus = [], []
                for _ in range(args.repeats + 1):
                    before = client.run(time.process_time)
                    t = time.perf_counter()
                    reports = [scanner.decider.decide(d) for d in scan(client, pack(scanner), items)]
                    runs.append(time.perf_counter() - t)
                    after = client.run(time.process_time)
                    cpus.append(sum(after[w] - before[w] for w in after if w in before))
                    assert [r.action for r in reports] == expected
                first, warm = runs[0], min(runs[1:])
                entry = {"startup_s": round(up, 2), "first_scan_s": round(first, 2), "warm_scan_s": round(warm, 2),
                         "mb_per_s": round(size / warm, 2), "files_per_s": round(len(items) / warm, 1),
                         "speedup_vs_local": round(min(local) / warm, 2),
                         "mb_per_worker_cpu_s": round(size / min(cpus[1:]), 2)}
                if workers == 2:
                    entry["task_overhead"] = task_overhead(client, scanner, work)
                t = time.perf_counter()
            entry["shutdown_s"] = round(time.perf_counter() - t, 2)
            results[f"cluster_{workers}"] = entry
            print(f"cluster, {workers} worker(s): {entry['mb_per_s']:6.2f} MB/s  {entry['files_per_s']:7.1f} files/s  "
                  f"x{entry['speedup_vs_local']} of local (start {up:.1f} s, first scan {first:.1f} s)")
            if "task_overhead" in entry:
                o = entry["task_overhead"]
                print(f"  per task: {o['dlp_ms_per_task']:.1f} ms per one-file dlp task, "
                      f"{o['dask_noop_ms_per_task']:.2f} ms per bare Dask task")

        results["cli"] = cli_timings(work, share)
        for name, seconds in results["cli"].items():
            print(f"command line, {name:18} {seconds:6.2f} s  ({size / seconds:.2f} MB/s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / "cluster.json").write_text(json.dumps(results, indent=1) + "\n")


def task_overhead(client, scanner, work: Path) -> dict:
    """Tiny files scanned as one task each and as one batch; and Dask's own cost of a no-op task."""
    empty = work / "empty"
    empty.mkdir()
    n = 400
    for i in range(n):
        (empty / f"{i:04d}.txt").write_bytes(b"x")  # one byte: batch_bytes=1 makes one task per file
    items = expand_path(str(empty))
    shipment = pack(scanner)
    timings = {}
    for name, batch in (("one_task_per_file", 1), ("one_batch", 1 << 30)):
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            scan(client, shipment, items, batch_bytes=batch)
            best = min(best, time.perf_counter() - t)
        timings[name] = best
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        client.gather(client.map(_noop, range(1000), pure=False))
        best = min(best, time.perf_counter() - t)
    return {"files": n, "one_task_per_file_s": round(timings["one_task_per_file"], 3),
            "one_batch_s": round(timings["one_batch"], 3),
            "dlp_ms_per_task": round(1000 * (timings["one_task_per_file"] - timings["one_batch"]) / (n - 1), 2),
            "dask_noop_ms_per_task": round(best, 3)}  # 1000 tasks: seconds == ms per task


def _noop(x):
    return x


def cli_timings(work: Path, share: Path) -> dict:
    base = [sys.executable, "-m", "dlp", "--registry", str(work / "reg"), "scan", "--format", "json",
            "--output", str(work / "report.json"), str(share)]
    out = {}
    for name, extra in (("local", []), ("--jobs 2", ["--jobs", "2"]), ("--cluster local:1", ["--cluster", "local:1"]),
                        ("--cluster local:2", ["--cluster", "local:2"])):
        t = time.perf_counter()
        code = subprocess.run(base + extra, capture_output=True).returncode
        assert code in (0, 1), (name, code)
        out[name] = round(time.perf_counter() - t, 2)
    return out


if __name__ == "__main__":
    main()
