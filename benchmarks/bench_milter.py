"""Milter under attack (run by hand): 200 idle plus 50 slow connections against a steady
stream of good mail.

    python benchmarks/bench_milter.py [--seconds 60] [--rate 4] [--idle 200] [--slow 50]
                                      [--slow-senders 1] [--workers 2] [--baseline 20]
                                      [--attacker-address 127.0.0.2 --max-per-client 100]
                                      [--src DIR]   # run another checkout's dlp (before/after)

Starts `python -m dlp milter` (the real command, no recording) on 127.0.0.1 against a
small registry, then speaks the milter protocol to it as an MTA would:

- baseline: only the good stream, `--rate` messages per second, each on its own
  connection (one SMTP session each, as Postfix does), every 10th one leaking an
  excerpt of the registered secret (it must be refused);
- attack: the same stream while `--idle` connections sit idle (half never negotiate,
  half negotiate and go silent; a closed one is reopened at once) and `--slow`
  connections each send, again and again, a mail with a 60 KB PDF whose content
  stream takes pdfminer minutes to parse, from `--slow-senders` senders.

For the good stream: answered share, accepted / refused / tempfailed, latency from the
end of the message to the verdict (p50, p95, max). For the attackers: what they got
(tempfail, hold, ...), how often their idle connections were closed, the milter's
peak memory over its process tree (sum of PSS: pages shared copy-on-write count once). Figures go to standard output and
benchmarks/out/milter.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
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

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from frontends.milter.harness import slow_pdf  # noqa: E402
from helpers import prose  # noqa: E402

from dlp.frontends.milter import protocol as p  # noqa: E402
from dlp.registry import Registry  # noqa: E402

SECRET = prose(600, seed=5)
EXCERPT = " ".join(SECRET.split()[200:300])
OFFER = p.Packet("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))  # what Postfix 3.7 offers
ANSWER_TIMEOUT = 120.0


def text_mail(n: int, leak: bool) -> tuple[list[tuple[str, str]], bytes]:
    body = prose(80, 1000 + n) + ("\r\n\r\nFYI:\r\n" + EXCERPT if leak else "")
    return [("From", f"good{n}@example.com"), ("To", "bob@partner.example"), ("Subject", f"note {n}")], \
        body.encode() + b"\r\n"


def pdf_mail(pdf: bytes) -> tuple[list[tuple[str, str]], bytes]:
    encoded = base64.encodebytes(pdf).replace(b"\n", b"\r\n")
    body = (b"--b\r\nContent-Type: text/plain\r\n\r\nThe figures, as promised.\r\n"
            b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"figures.pdf\"\r\n\r\n" + encoded + b"--b--\r\n")
    return [("From", "mallory@example.com"), ("To", "x@competitor.example"), ("Subject", "figures"),
            ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="b"')], body


def packets(sender: str, headers: list[tuple[str, str]], body: bytes, queue_id: str) -> bytes:
    out = [p.Packet("M", f"<{sender}>\0".encode()), p.Packet("R", b"<bob@partner.example>\0")]
    out += [p.Packet("L", f"{name}\0{value}\0".encode()) for name, value in headers]
    out.append(p.Packet("N"))
    out += [p.Packet("B", body[i:i + 65535]) for i in range(0, len(body), 65535)]
    out += [p.Packet("D", f"Ei\0{queue_id}\0".encode()), p.Packet("E")]
    return b"".join(packet.encode() for packet in out)


async def one_message(port: int, sender: str, headers, body: bytes, queue_id: str,
                      source: str = "127.0.0.1") -> tuple[str, float]:
    """(outcome, seconds from the end of the message to the verdict) over a new connection."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 10)
    except (OSError, TimeoutError):
        return "no connection", 0.0
    decoder = p.PacketDecoder()
    try:
        writer.write(OFFER.encode())
        await writer.drain()
        if not await _until(reader, decoder, {"O"}, 10):
            return "closed", 0.0
        writer.write(packets(sender, headers, body, queue_id))
        await writer.drain()
        started = time.monotonic()
        held, outcome = False, None
        deadline = started + ANSWER_TIMEOUT
        while outcome is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return "no answer", ANSWER_TIMEOUT
            data = await asyncio.wait_for(reader.read(65536), left)
            if not data:
                return "closed", time.monotonic() - started
            for packet in decoder.feed(data):
                if packet.command == "q":
                    held = True
                elif packet.command == "a":
                    outcome = "hold" if held else "accept"
                elif packet.command == "y":
                    outcome = "tempfail" if packet.payload[:1] == b"4" else "refuse"
        return outcome, time.monotonic() - started
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return "closed", 0.0
    finally:
        writer.close()


async def _until(reader, decoder, commands: set[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = await asyncio.wait_for(reader.read(65536), deadline - time.monotonic())
        except TimeoutError:
            return False
        if not data:
            return False
        if any(packet.command in commands for packet in decoder.feed(data)):
            return True
    return False


async def good_stream(port: int, rate: float, seconds: float, first: int) -> list[dict]:
    results, tasks = [], []

    async def send(n: int) -> None:
        leak = n % 10 == 0
        headers, body = text_mail(n, leak)
        outcome, latency = await one_message(port, f"good{n}@example.com", headers, body, f"G{n}")
        results.append({"n": n, "leak": leak, "outcome": outcome, "latency": latency})

    start = time.monotonic()
    n = first
    while time.monotonic() - start < seconds:
        tasks.append(asyncio.ensure_future(send(n)))
        n += 1
        await asyncio.sleep(max(0.0, start + (n - first) / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    return results


async def idle_connections(port: int, count: int, stop: asyncio.Event, stats: dict, source: str) -> None:
    async def hold(negotiate: bool) -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            except OSError:
                await asyncio.sleep(0.1)
                continue
            if negotiate:
                writer.write(OFFER.encode())
            stats["opened"] += 1
            try:
                done = asyncio.ensure_future(reader.read())  # returns when the milter closes it
                waiter = asyncio.ensure_future(stop.wait())
                await asyncio.wait({done, waiter}, return_when=asyncio.FIRST_COMPLETED)
                if done.done():
                    stats["closed by the milter"] += 1
                waiter.cancel()
                done.cancel()
            finally:
                writer.close()
            await asyncio.sleep(0.1)

    await asyncio.gather(*(hold(i % 2 == 0) for i in range(count)))


async def slow_connections(port: int, count: int, senders: int, stop: asyncio.Event, pdf: bytes,
                           results: list[dict], source: str) -> None:
    headers, body = pdf_mail(pdf)

    async def loop(i: int) -> None:
        n = 0
        while not stop.is_set():
            sender = f"mallory{i % senders}@example.com"
            outcome, seconds = await one_message(port, sender, headers, body, f"S{i}x{n}", source)
            results.append({"outcome": outcome, "seconds": seconds})
            n += 1
            if outcome in ("no connection", "closed"):
                await asyncio.sleep(0.2)

    await asyncio.gather(*(loop(i) for i in range(count)))


def summary(results: list[dict]) -> dict:
    latencies = sorted(r["latency"] for r in results if r["outcome"] in ("accept", "refuse", "hold", "tempfail"))
    counts: dict[str, int] = {}
    for r in results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    leaks = [r for r in results if r["leak"]]
    return {
        "messages": len(results),
        "outcomes": counts,
        "clean accepted": sum(r["outcome"] == "accept" for r in results if not r["leak"]),
        "clean": sum(not r["leak"] for r in results),
        "leaks refused": sum(r["outcome"] == "refuse" for r in leaks),
        "leaks accepted": sum(r["outcome"] == "accept" for r in leaks),
        "leaks": len(leaks),
        "latency p50": round(statistics.median(latencies), 4) if latencies else None,
        "latency p95": round(latencies[int(0.95 * (len(latencies) - 1))], 4) if latencies else None,
        "latency max": round(latencies[-1], 4) if latencies else None,
    }


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self.processes = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                # PSS: pages the workers share with the zygote count once, not once per process
                self.peak = max(self.peak, sum(proc.memory_full_info().pss for proc in tree if proc.is_running()))
                self.processes = max(self.processes, len(tree))
            except psutil.Error:
                pass
            await asyncio.sleep(0.2)


async def attack(port: int, args, pid: int) -> dict:
    stop = asyncio.Event()
    idle_stats = {"opened": 0, "closed by the milter": 0}
    slow_results: list[dict] = []
    sampler = RssSampler(pid)
    sampling = asyncio.ensure_future(sampler.run(stop))
    idle = asyncio.ensure_future(idle_connections(port, args.idle, stop, idle_stats, args.attacker_address))
    await asyncio.sleep(2)  # the idle connections are in place before anything else
    slow = asyncio.ensure_future(slow_connections(port, args.slow, args.slow_senders, stop, slow_pdf(), slow_results,
                                                  args.attacker_address))
    await asyncio.sleep(3)  # and the slow mail has filled the workers
    good = await good_stream(port, args.rate, args.seconds, first=100_000)
    stop.set()
    await asyncio.gather(idle, sampling)
    slow.cancel()
    counts: dict[str, int] = {}
    for r in slow_results:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return {"good": summary(good), "slow": {"answered": len(slow_results), "outcomes": counts},
            "idle": idle_stats, "peak pss MB": round(sampler.peak / 2**20, 1), "processes": sampler.processes}


def start_milter(registry: Path, args, port: int) -> subprocess.Popen:
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve() / "src")
    command = [sys.executable, "-m", "dlp", "--registry", str(registry), "milter", "--listen",
               f"inet:{port}@127.0.0.1", "--no-record", "--workers", str(args.workers)]
    if args.quantum:
        command += ["--quantum", str(args.quantum)]
    if args.max_per_client:
        command += ["--max-per-client", str(args.max_per_client)]
    # a session of its own, so whatever it leaves behind (the old milter orphaned its parser
    # children) can be stopped with its process group at the end
    milter = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = milter.stderr.readline()
        if "listening on" in line:  # then keep reading its log, so it never blocks on a full pipe
            threading.Thread(target=_count_log_lines, args=(milter,), daemon=True).start()
            return milter
        if not line and milter.poll() is not None:
            break
    milter.kill()
    raise SystemExit(f"the milter did not start: {milter.stderr.read()}")


LOG_KINDS = {"evicted": "connections evicted", "refused:": "connections refused", "closed: no negotiation":
             "handshake timeouts", "not scanned": "messages not scanned", "cut": "connections cut"}
LOG_COUNTS: dict[str, int] = {}
LOG_SAMPLES: dict[str, str] = {}


def _count_log_lines(milter: subprocess.Popen) -> None:
    for line in milter.stderr:
        for needle, kind in LOG_KINDS.items():
            if needle in line:
                LOG_COUNTS[kind] = LOG_COUNTS.get(kind, 0) + 1
                LOG_SAMPLES.setdefault(kind, line.strip()[:200])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the attack phase")
    parser.add_argument("--baseline", type=float, default=20.0, help="length of the good-mail-only phase")
    parser.add_argument("--rate", type=float, default=4.0, help="good messages per second")
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--slow-senders", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quantum", type=float, help="the milter's --quantum (default: its own)")
    parser.add_argument("--max-per-client", type=int, help="the milter's --max-per-client (default: its own)")
    parser.add_argument("--attacker-address", default="127.0.0.1",
                        help="source address of the idle and slow connections (the good mail comes from "
                             "127.0.0.1, as from a local MTA); e.g. 127.0.0.2 with --max-per-client")
    parser.add_argument("--src", help="run the dlp of another checkout (its src/ goes first on PYTHONPATH)")
    parser.add_argument("--label", default="run", help="names the output file benchmarks/out/milter-LABEL.json")
    args = parser.parse_args()
    random.seed(1)
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-milter-"))
    registry = Registry(work / "reg", create=True)
    registry.add_document(SECRET, SECRET.encode(), "plan.txt", secret_id="plan", label="Plan")
    registry.commit()
    port = free_port()
    milter = start_milter(work / "reg", args, port)
    try:
        baseline = summary(asyncio.run(good_stream(port, args.rate, args.baseline, first=0)))
        under_attack = asyncio.run(attack(port, args, milter.pid))
    finally:
        milter.terminate()
        try:
            milter.wait(30)
        except subprocess.TimeoutExpired:
            milter.kill()
        try:
            os.killpg(milter.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(work, ignore_errors=True)
    figures = {"settings": vars(args), "baseline": baseline, "attack": under_attack,
               "milter log": {"counts": LOG_COUNTS, "samples": LOG_SAMPLES}}
    print(json.dumps(figures, indent=2))
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    name = f"milter-{args.label}.json"
    (out / name).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
