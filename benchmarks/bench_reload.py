"""Milter reloads (run by hand): 20 registry changes and a few SIGHUPs under a stream of mail.

    python benchmarks/bench_reload.py [--registry /tmp/prof/n2000 --key /tmp/prof/n2000.key]
                                      [--changes 20] [--hangups 5] [--workers 2] [--rate 4]

Copies the registry (it is changed here), starts the real `dlp milter` on 127.0.0.1 with a
state directory, and sends one clean mail every 1/rate seconds, each on its own
connection, for the whole run. Then, `--changes` times: registers a new document with the
Registry API, waits for the milter's "reloaded" line, waits for the old zygote to exit,
sends an excerpt of the new document (it must be refused) and measures the milter:

- the reload's own time (opening the scanner, forking, starting workers, switching the
  policy) as the milter logs it, and the time from the commit to that line (the milter
  looks at the registry every second);
- the main process's RSS and open descriptors, and the sum of PSS over its process tree
  (main, zygote, workers: pages shared copy-on-write count once), after each reload.

Then `--hangups` SIGHUPs, timed the same way. For the clean stream: how many were answered,
accepted, tempfailed or lost, and the verdict latency (p50, p95, max) during the run.
Figures go to standard output and benchmarks/out/reload.json.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import prose  # noqa: E402

from dlp.frontends.milter import protocol as p  # noqa: E402
from dlp.registry import Registry  # noqa: E402

OFFER = p.Packet("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))  # what Postfix 3.7 offers
FINAL = {"a", "y", "r", "t", "d"}


def message(port: int, body: str, queue_id: str) -> tuple[str, float]:
    """(outcome, seconds from the end of the message to the verdict) over a new connection."""
    packets = [OFFER, p.Packet("M", b"<alice@example.com>\0"), p.Packet("R", b"<bob@elsewhere.example>\0"),
               p.Packet("L", b"Subject\0note\0"), p.Packet("N"), p.Packet("B", body.encode()),
               p.Packet("D", f"Ei\0{queue_id}\0".encode()), p.Packet("E")]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(b"".join(packet.encode() for packet in packets))
            started = time.monotonic()
            decoder, last = p.PacketDecoder(), None
            while last is None or last.command not in FINAL:
                data = sock.recv(65536)
                if not data:
                    return "lost", time.monotonic() - started
                for packet in decoder.feed(data):
                    if packet.command != "O":
                        last = packet
            seconds = time.monotonic() - started
    except OSError:
        return "lost", 0.0
    if last.command == "a":
        return "accept", seconds
    return ("tempfail" if last.payload[:1] == b"4" else "refuse"), seconds


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    parents[int(name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(child for child, parent in parents.items() if parent == current)
    return out


def kib(pid: int, field: str, source: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{source}") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(pid: int) -> dict:
    processes = tree(pid)
    return {"rss_main_mib": round(kib(pid, "VmRSS") / 1024, 1),
            "pss_tree_mib": round(sum(kib(q, "Pss", "smaps_rollup") for q in processes) / 1024, 1),
            "processes": len(processes), "fds_main": len(os.listdir(f"/proc/{pid}/fd"))}


class Milter:
    def __init__(self, argv: list[str]) -> None:
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            found = re.search(pattern, line)
            if found:
                return found
            if "ERROR" in line:
                print("  milter:", line.strip(), file=sys.stderr)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default="/tmp/prof/n2000")
    parser.add_argument("--key", default="/tmp/prof/n2000.key")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--hangups", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=4.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dlp-bench-reload-"))
    registry, key = work / "reg", work / "reg.key"
    shutil.copytree(args.registry, registry)
    shutil.copy(args.key, key)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    milter = Milter([sys.executable, "-m", "dlp", "--registry", str(registry), "--key", str(key), "--state",
                     str(work / "state"), "milter", "--listen", f"inet:{port}@127.0.0.1", "--workers",
                     str(args.workers)])
    stream: list[tuple[str, float]] = []
    running = threading.Event()
    running.set()

    def clean_stream() -> None:
        n = 0
        while running.is_set():
            stream.append(message(port, prose(120, 50_000 + n), f"C{n}"))
            n += 1
            time.sleep(1 / args.rate)

    try:
        milter.wait_for("listening on")
        for n in range(2 * args.workers):  # every worker has scanned: its pages touched, as later
            message(port, prose(120, 40_000 + n), f"W{n}")
        start = measure(milter.process.pid)
        print(f"started: {start}")
        sender = threading.Thread(target=clean_stream, daemon=True)
        sender.start()
        reloads, refused = [], 0
        for n in range(args.changes):
            text = prose(400, 90_000 + n)
            committed = time.monotonic()
            reg = Registry(registry, key)
            reg.add_document(text, text.encode(), f"bench-{n}.txt", secret_id=f"bench-{n}")
            reg.commit()
            commit_s = time.monotonic() - committed
            found = milter.wait_for(r"reloaded \(registry generation (gen-\d+)\).* in ([0-9.]+) s")
            noticed = time.monotonic() - committed
            deadline = time.monotonic() + 30
            while len(tree(milter.process.pid)) != 2 + args.workers and time.monotonic() < deadline:
                time.sleep(0.05)  # main, one zygote, its workers: the old generation is gone
            outcome, _ = message(port, "FYI:\n\n" + " ".join(text.split()[100:250]), f"L{n}")
            refused += outcome == "refuse"
            figures = {"generation": found.group(1), "reload_s": float(found.group(2)), "commit_s": round(commit_s, 3),
                       "commit_to_reloaded_s": round(noticed, 3), **measure(milter.process.pid)}
            reloads.append(figures)
            print(f"change {n + 1:2d}: {figures}")
        hangups = []
        for n in range(args.hangups):
            milter.process.send_signal(signal.SIGHUP)
            found = milter.wait_for(r"reloaded \(SIGHUP\).* in ([0-9.]+) s")
            hangups.append(float(found.group(1)))
        time.sleep(1.0)
        end = measure(milter.process.pid)
        running.clear()
        sender.join(60)
    finally:
        milter.process.send_signal(signal.SIGTERM)
        status = milter.process.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    outcomes = [outcome for outcome, _ in stream]
    latencies = [seconds for outcome, seconds in stream if outcome in ("accept", "refuse")]
    times = [r["reload_s"] for r in reloads]
    result = {
        "registry": args.registry, "workers": args.workers, "changes": args.changes, "exit_status": status,
        "start": start, "end": end, "reloads": reloads,
        "reload_s": {"median": statistics.median(times), "max": max(times)},
        "commit_to_reloaded_s": {"median": statistics.median(r["commit_to_reloaded_s"] for r in reloads)},
        "sighup_reload_s": {"median": statistics.median(hangups), "max": max(hangups)} if hangups else None,
        "new_secrets_refused": f"{refused} of {args.changes}",
        "clean_stream": {"sent": len(stream), **{k: outcomes.count(k) for k in ("accept", "refuse", "tempfail", "lost")},
                         "p50_s": round(percentile(latencies, 0.5), 4), "p95_s": round(percentile(latencies, 0.95), 4),
                         "max_s": round(max(latencies, default=0.0), 4)},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "reloads"}, indent=1))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "reload.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
