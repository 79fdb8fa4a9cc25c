"""Algorithmic-complexity attacks through `dlp scan` (run by hand): seconds per MB, peak RSS,
verdict and problem kinds of text built to be costly, at several sizes.

    python benchmarks/bench_cost.py [--sizes 1,4,16] [--only one_letter,rlo_short] [--documents 500]

A registry is built as a user would (`dlp register` of BBC business articles from
../shared/corpora, or generated prose without it; `dlp terms add` of 5,000 part numbers
like ``BX-4471-C``; `dlp records add` of 5,000 customer rows), then each case is written at each size and scanned by a fresh
`dlp scan --format json --no-record` (one process at a time). Ordinary mail text is the
yardstick: a case far slower per MB than `enron` needs a budget, and a budget that cut
work short must show as a problem (never `allow` without one).

Figures go to standard output and benchmarks/out/cost.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402

MB = 1 << 20


def _filled(unit, size: int) -> str:
    out, total = [], 0
    while total < size:
        piece = unit()
        out.append(piece)
        total += len(piece)
    return "".join(out)[:size]


def cases(words: list[str], registered: list[str], parts: list[str], mail: str) -> dict:
    r = random.Random(7)
    shuffled_registered = " ".join(registered).split()
    return {
        "enron": lambda n: (mail * (n // len(mail) + 1))[:n],
        "one_letter": lambda n: _filled(lambda: " ".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(1000)) + "\n", n),
        "dotted": lambda n: _filled(lambda: " ".join(".".join(w) for w in r.sample(words, 100)) + "\n", n),
        "glued": lambda n: _filled(lambda: "".join(w.strip(".,") for w in r.sample(words, 200)) + " ", n),
        "no_space": lambda n: _filled(lambda: "".join(r.sample(words, 200)), n),
        "soft_hyphens": lambda n: _filled(lambda: " ".join("\u00ad".join(w) for w in r.sample(words, 100)) + "\n", n),
        "citations": lambda n: _filled(lambda: " ".join(w + f"[{r.randrange(999)}]" for w in r.sample(words, 100)) + "\n", n),
        "glued_numbers": lambda n: _filled(lambda: " ".join(w + str(r.randrange(99)) for w in r.sample(words, 100)) + "\n", n),
        "camel": lambda n: _filled(lambda: " ".join("".join(x.capitalize() for x in r.sample(words, 4)) for _ in range(50)) + "\n", n),
        "lookalikes": lambda n: _filled(lambda: " ".join(w.replace("a", "\u0430").replace("o", "\u043e") for w in r.sample(words, 100)) + "\n", n),
        "rlo_lines": lambda n: _filled(lambda: "\u202e" + " ".join(r.sample(words, 12)) + "\n", n),
        "rlo_short": lambda n: ("\u202eab cd\n" * (n // 7 + 1))[:n],
        "combining": lambda n: _filled(lambda: " ".join(w[0] + "\u0301\u0300\u0302\u0303" * 25 + w[1:] for w in r.sample(words, 20)) + "\n", n),
        "rewrite_candidates": lambda n: _filled(lambda: " ".join(r.sample(shuffled_registered, 15)) + ". ", n),
        "many_terms": lambda n: _filled(lambda: " ".join(r.sample(parts, 20)) + "\n", n),
        "repeated_excerpt": lambda n: _filled(lambda: " ".join(registered[5].split()[10:60]) + "\n", n),
        "letter_digit": lambda n: "".join(r.choice("abcdefghij") + r.choice("0123456789") for _ in range(n // 2)),
        "two_letters_digit": lambda n: "".join(r.choice("abcdefghij") + r.choice("klmnopqrst") + r.choice("0123456789")
                                               for _ in range(n // 3)),
        "base64_lines": lambda n: _filled(lambda: base64.b64encode(" ".join(r.sample(words, 6)).encode()).decode() + "\n", n),
    }


def dlp(*args: str, registry: Path, state: Path, **popen) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "dlp", "--registry", str(registry), "--state", str(state), *args],
                          env=env, capture_output=True, text=True, check=False, **popen)


def scan(path: Path, registry: Path, state: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    args = [sys.executable, "-m", "dlp", "--registry", str(registry), "--state", str(state), "scan", "--format", "json",
            "--no-record", "--no-progress", str(path)]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    try:
        [report] = json.loads(text)["files"]
    except (ValueError, KeyError):
        return {"exit": os.waitstatus_to_exitcode(status), "seconds": round(seconds, 2)}
    megabytes = report["bytes"] / MB
    return {"action": report["action"], "problems": sorted({p["kind"] for p in report["problems"]}),
            "scan_seconds": report["seconds"], "seconds_per_mb": round(report["seconds"] / megabytes, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16", help="megabytes, comma-separated")
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--documents", type=int, default=500, help="documents registered")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    only = set(filter(None, args.only.split(",")))
    if corpus.have_corpora():
        registered = corpus.bbc_articles()[: args.documents]
        mail = "\n".join(corpus.enron_bodies()[:3000])
    else:
        registered = [corpus.prose(400, seed) for seed in range(args.documents)] if hasattr(corpus, "prose") else []
        mail = "\n".join(registered)
    words = mail.split()
    r = random.Random(1)
    parts = sorted({f"{chr(65 + r.randrange(26))}{chr(65 + r.randrange(26))}-{r.randrange(1000, 9999)}-"
                    f"{chr(65 + r.randrange(26))}" for _ in range(5000)})
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="dlp-cost-") as tmp:
        work = Path(tmp)
        registry, state = work / "reg", work / "state"
        (work / "docs").mkdir()
        for i, text in enumerate(registered):
            (work / "docs" / f"{i:04d}.txt").write_text(text, encoding="utf-8")
        (work / "parts.txt").write_text("\n".join(parts) + "\n")
        dlp("register", str(work / "docs"), registry=registry, state=state)
        dlp("terms", "add", "parts", str(work / "parts.txt"), registry=registry, state=state)
        rows = [f"CUST-{i:05d},Company {r.randrange(10**6)} Ltd,user{i}@corp{i % 97}.example,+44 20 7{r.randrange(10**6):06d}"
                for i in range(5000)]
        (work / "customers.csv").write_text("id,company,email,phone\n" + "\n".join(rows) + "\n")
        dlp("records", "add", "customers", str(work / "customers.csv"), "--columns", "id:id,company,email:email,phone:phone",
            "--min-fields", "2", registry=registry, state=state)
        for name, make in cases(words, registered, parts, mail).items():
            if only and name not in only:
                continue
            for size in sizes:
                path = work / f"{name}.txt"
                path.write_text(make(int(size * MB)), encoding="utf-8")
                key = f"{name}@{size:g}MB"
                results[key] = scan(path, registry, state)
                path.unlink()
                print(f"{key:28} {json.dumps(results[key])}", flush=True)
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "cost.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
