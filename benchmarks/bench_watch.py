"""Watch-daemon benchmark (run by hand): files/s, drop-to-release latency and peak RSS.

    python benchmarks/bench_watch.py [--small 1000] [--pdfs 100] [--settle 0.5] [--poll 1.0]
                                     [--workers 2] [--modes threads,processes]

Runs `python -m dlp watch` as a subprocess against a tiny registry for each case:
{1,000 small text files, 100 reportlab PDFs} x {inotify, polling} x {threads, processes}.
Files are dropped at once (written directly: settle detection applies); every 10th
small file and every 10th PDF leaks an excerpt of the registered secret. Latency is
the daemon's decision time minus the time the file was completely written; files/s
counts from the first drop to the last decision. Peak RSS is the largest of the
daemon and its descendants (VmHWM), plus the sum of their RSS sampled every 0.1 s.
Figures go to standard output and benchmarks/out/watch.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import prose  # noqa: E402

from dlp.registry import Registry  # noqa: E402

SECRET = prose(600, seed=3)
LEAK = "Forwarded for review.\n\n" + SECRET[:2500]


def clean(n: int) -> str:
    return (f"Meeting notes {n}. The quarterly picnic moves to Friday; bring sandwiches, a hat and the "
            f"signed forms for the shuttle bus. Room {n % 40} is free after lunch.\n") * 3


def make_pdf(path: Path, text: str) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    words, line, y = text.split(), [], 800
    for word in words:
        line.append(word)
        if len(" ".join(line)) > 90:
            c.drawString(40, y, " ".join(line))
            line, y = [], y - 14
            if y < 40:
                c.showPage()
                y = 800
    c.drawString(40, y, " ".join(line))
    c.save()


def run_case(registry: Path, files: list[tuple[str, bytes]], *, poll: float | None, mode: str, settle: float,
             workers: int, work: Path) -> dict:
    outbox, release, quarantine = work / "outbox", work / "release", work / "quarantine"
    for folder in (outbox, release, quarantine):
        folder.mkdir(parents=True)
    command = [sys.executable, "-m", "dlp", "--registry", str(registry), "watch", str(outbox), "--release", str(release),
               "--quarantine", str(quarantine), "--settle", str(settle), "--workers", str(workers), "--scan-in", mode]
    if poll:
        command += ["--poll", str(poll)]
    daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict] = []
    started = threading.Event()

    def pump() -> None:
        for line in daemon.stdout:
            record = json.loads(line)
            lines.append(record)
            if record["event"] == "started":
                started.set()

    threading.Thread(target=pump, daemon=True).start()
    if not started.wait(120):
        daemon.kill()
        raise RuntimeError(f"daemon did not start: {daemon.stderr.read()[-2000:]}")
    sampler_stop = threading.Event()
    peak = {"rss_sum": 0, "hwm": 0}

    def sample() -> None:
        root = psutil.Process(daemon.pid)
        while not sampler_stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for p in procs:
                    try:
                        total += p.memory_info().rss
                        peak["hwm"] = max(peak["hwm"], _hwm(p.pid))
                    except psutil.Error:
                        pass
                peak["rss_sum"] = max(peak["rss_sum"], total)
            except psutil.Error:
                return
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    dropped: dict[str, float] = {}
    first = time.time()
    for name, data in files:
        (outbox / name).write_bytes(data)
        dropped[name] = time.time()
    deadline = time.time() + 600
    while sum(r["event"] == "decision" for r in lines) < len(files) and time.time() < deadline:
        time.sleep(0.05)
    decisions = [r for r in lines if r["event"] == "decision"]
    peak["hwm"] = max(peak["hwm"], _hwm(daemon.pid))
    sampler_stop.set()
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(60)
    latencies = sorted(r["time"] - dropped[r["file"]] for r in decisions)
    verdicts: dict[str, int] = {}
    for r in decisions:
        verdicts[r["verdict"]] = verdicts.get(r["verdict"], 0) + 1
    last = max(r["time"] for r in decisions)
    return {
        "files": len(files), "decided": len(decisions), "verdicts": verdicts,
        "observer": f"polling {poll:g}s" if poll else "inotify", "scan_in": mode, "workers": workers,
        "settle_s": settle,
        "files_per_s": round(len(decisions) / (last - first), 1),
        "latency_s": {"min": round(latencies[0], 3), "median": round(statistics.median(latencies), 3),
                      "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 3), "max": round(latencies[-1], 3)},
        "scan_s_median": round(statistics.median(r["seconds"] for r in decisions), 4),
        "peak_rss_mb_largest_process": round(peak["hwm"] / 2**20, 1),
        "peak_rss_mb_sum_of_tree": round(peak["rss_sum"] / 2**20, 1),
        "errors": [r for r in lines if r["event"] == "error"][:3],
    }


def _hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--pdfs", type=int, default=100)
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="threads,processes")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        tmp_path = Path(tmp)
        registry = tmp_path / "reg"
        reg = Registry(registry, create=True)
        reg.add_document(SECRET, SECRET.encode(), "secret.txt", secret_id="secret")
        reg.commit()
        small = [(f"note-{n:05d}.txt", (LEAK if n % 10 == 0 else clean(n)).encode()) for n in range(options.small)]
        pdfs = []
        for n in range(options.pdfs):
            path = tmp_path / f"p{n}.pdf"
            make_pdf(path, (LEAK if n % 10 == 0 else clean(n) * 8))
            pdfs.append((f"doc-{n:04d}.pdf", path.read_bytes()))
        results = []
        case = 0
        for label, files in (("small", small), ("pdf", pdfs)):
            for mode in options.modes.split(","):
                for poll in (None, options.poll):
                    case += 1
                    result = run_case(registry, files, poll=poll, mode=mode, settle=options.settle,
                                      workers=options.workers, work=tmp_path / f"case-{case}")
                    result["set"] = label
                    results.append(result)
                    print(json.dumps(result), flush=True)
        out = Path(__file__).resolve().parent / "out"
        out.mkdir(exist_ok=True)
        (out / "watch.json").write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
