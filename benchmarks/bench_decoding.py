"""Decoding benchmark (run by hand): MB/s of `dlp.extract.decoding.decode` on the kinds
of input the scanner meets, and of the printable runs of unknown binary content.

    python benchmarks/bench_decoding.py [--mb 50] [--repeat 5]

Each figure is the median of `--repeat` runs over about `--mb` megabytes; plain UTF-8
must stay on the fast path (about one `bytes.decode`), which is printed for comparison.
Figures go to standard output and benchmarks/out/decoding.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

from dlp.extract.decoding import decode, printable_runs


def inputs(megabytes: int) -> dict[str, bytes]:
    size = megabytes * 1024 * 1024
    english = ("The quarterly review covers coating trials, mixer throughput and the spring "
               "shutdown schedule for the Tarragona plant. ")
    french = "Le café de la Société générale à Besançon reçoit l'équipe d'ingénieurs. "
    ascii_text = (english * (size // len(english) + 1))[:size].encode()
    rng = random.Random(7)
    return {
        "utf-8 (fast path)": ascii_text,
        "cp1252": (french * (size // len(french) + 1))[:size].encode("cp1252"),
        "utf-16 with BOM": (english * (size // len(english) // 2 + 1))[: size // 2].encode("utf-16"),
        "FF FE + utf-8 (doubtful)": b"\xff\xfe" + ascii_text,
        "utf-8 with utf-16 inside (doubtful)": ascii_text[: size // 2] + english.encode("utf-16-le") + ascii_text[: size // 2],
        "random bytes (binary: printable runs)": rng.randbytes(size // 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    results = {}
    for name, data in inputs(options.mb).items():
        runs = []
        for _ in range(options.repeat):
            started = time.perf_counter()
            decoded = decode(data)
            if decoded is None:
                printable_runs(data)
            runs.append(time.perf_counter() - started)
        seconds = statistics.median(runs)
        results[name] = {"mb": round(len(data) / 2**20, 1), "median_s": round(seconds, 4),
                         "mb_per_s": round(len(data) / 2**20 / seconds, 1),
                         "doubt": decoded.doubt if decoded else "binary"}
        print(json.dumps({name: results[name]}), flush=True)
    data = inputs(options.mb)["utf-8 (fast path)"]
    started = time.perf_counter()
    data.decode("utf-8")
    results["bytes.decode alone"] = {"mb_per_s": round(len(data) / 2**20 / (time.perf_counter() - started), 1)}
    print(json.dumps({"bytes.decode alone": results["bytes.decode alone"]}))
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "decoding.json").write_text(json.dumps({"cpus": os.cpu_count(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
