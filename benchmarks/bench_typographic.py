"""What text beyond ASCII costs a scan (run by hand): the same mail as written and as office
software writes it (curly quotes and apostrophes, en and em dashes, ellipses: `corpus.typographic`,
what every DOCX and most PDFs and HTML mail hold), tokenised alone and scanned in-process.

    python benchmarks/bench_typographic.py [--docs 10000] [--scan-mb 40] [--runs 5]
    PYTHONPATH=/path/to/older/checkout/src python benchmarks/bench_typographic.py   # "before"

A registry of --docs documents (bench_core's) is registered with `dlp register`; one process
then tokenises and scans --scan-mb of Enron mail bodies both ways, a round each in turn,
--runs rounds, and reports the best round of each (CPU seconds of the process: the machine is
shared) as MB/s of the text as written. One character in a few hundred beyond ASCII sends a
text down the tokeniser's path for code points: the gap between the two columns is what that
path costs. The evasion work's share of the scan of such text: `bench_evasion_share.py
--typographic`. Figures go to standard output and benchmarks/out/typographic.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

SRC = HERE.parent / "src"
OUT = HERE / "out"

_MEASURE = r"""
import json, sys, time
registry, plain_path, typographic_path, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from dlp.scanner import open_scanner
from dlp.text.normalise import tokenise
scanner = open_scanner(registry, None)
texts = {"as written": open(plain_path, "rb").read(), "typographic": open(typographic_path, "rb").read()}
for data in texts.values():  # (warm-up: caches, the character table, the scanner's first part)
    scanner.scan_bytes(data[:4_000_000], "warm.txt")
seconds = {f"{stage} {name}": [] for stage in ("tokenise", "scan") for name in texts}
for _ in range(runs):
    for name, data in texts.items():
        text = data.decode("utf-8")
        started = time.process_time()
        tokenise(text)
        seconds[f"tokenise {name}"].append(time.process_time() - started)
        started = time.process_time()
        scanner.scan_bytes(data, "mail.txt")
        seconds[f"scan {name}"].append(time.process_time() - started)
print(json.dumps(seconds))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--scan-mb", type=float, default=40)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlp-bench-typographic-") as folder:
        work = Path(folder)
        docs, source = corpus.secret_documents(args.docs)
        corpus.write_documents(work / "docs", docs)
        plain = corpus.mail_text(args.scan_mb, corpus.traffic())[: int(args.scan_mb * 1e6)]
        fancy = corpus.typographic(plain)
        (work / "plain.txt").write_text(plain, encoding="utf-8")
        (work / "typographic.txt").write_text(fancy, encoding="utf-8")
        beyond = sum(1 for ch in fancy if ord(ch) > 127)
        env = dict(os.environ, DLP_REGISTRY=str(work / "reg"), PYTHONPATH=os.environ.get("PYTHONPATH") or str(SRC))
        subprocess.run([sys.executable, "-m", "dlp", "register", str(work / "docs")], env=env, check=True,
                       capture_output=True)
        out = subprocess.run([sys.executable, "-c", _MEASURE, str(work / "reg"), str(work / "plain.txt"),
                              str(work / "typographic.txt"), str(args.runs)], env=env, check=True,
                             capture_output=True, text=True)
        seconds = json.loads(out.stdout.strip().splitlines()[-1])
    mb = len(plain.encode("utf-8")) / 1e6  # (MB of the text as written, for both columns)
    best = {k: min(v) for k, v in seconds.items()}
    results = {"documents": len(docs), "source": source, "scan_mb": args.scan_mb,
               "characters_beyond_ascii": beyond, "of_characters": len(fancy), "runs": seconds,
               "mb_per_s": {k: round(mb / v, 1) for k, v in best.items()}}
    print(f"registered: {len(docs)} documents, {source}; {args.scan_mb:g} MB of Enron mail bodies, "
          f"{beyond:,} characters of {len(fancy):,} made typographic")
    for stage in ("tokenise", "scan"):
        plain_rate, fancy_rate = (results["mb_per_s"][f"{stage} {name}"] for name in ("as written", "typographic"))
        print(f"{stage:9} as written {plain_rate:7.1f} MB/s   typographic {fancy_rate:7.1f} MB/s   "
              f"({fancy_rate / plain_rate:.0%} of the rate as written)")
    OUT.mkdir(exist_ok=True)
    (OUT / "typographic.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
