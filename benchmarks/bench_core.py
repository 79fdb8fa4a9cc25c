"""Text-core benchmark (run by hand): registration, scan throughput, detection, false blocks.

    python benchmarks/bench_core.py [--docs 10000] [--terms 100000] [--scan-mb 50]

Figures go to standard output and benchmarks/out/core.json. Everything runs in one
process on one core. Uses ../shared/corpora when present (Reuters/BBC as secrets,
Enron mails as unrelated traffic), synthetic text otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from dlp.registry import Registry  # noqa: E402
from dlp.scanner import Scanner  # noqa: E402
from dlp.types import Action, Destination  # noqa: E402
from dlp.verdict import DefaultPolicy  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--terms", type=int, default=100_000)
    ap.add_argument("--scan-mb", type=float, default=50)
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    results: dict = {"corpora": corpus.have_corpora()}
    work = Path(tempfile.mkdtemp(prefix="dlp-bench-"))
    try:
        docs, source = corpus.secret_documents(args.docs)
        results["secrets"] = {"documents": len(docs), "source": source,
                              "mb": round(sum(len(d) for d in docs) / 1e6, 1)}
        print(f"secrets: {len(docs)} documents from {source}, {results['secrets']['mb']} MB")

        t = time.perf_counter()
        reg = Registry(work / "reg", create=True)
        for i, d in enumerate(docs):
            reg.add_document(d, d.encode(), f"doc{i}.txt", secret_id=f"doc{i}")
        t_docs = time.perf_counter() - t
        terms = corpus.part_numbers(args.terms)
        t = time.perf_counter()
        reg.add_terms("parts", terms, min_distinct=1)
        t_terms = time.perf_counter() - t
        t = time.perf_counter()
        reg.commit()
        t_commit = time.perf_counter() - t
        size = du(work / "reg")
        results["registration"] = {
            "documents_seconds": round(t_docs, 2),
            "documents_mb_per_s": round(results["secrets"]["mb"] / t_docs, 1),
            "documents_per_s": round(len(docs) / t_docs),
            "terms": len(terms), "terms_seconds": round(t_terms, 2),
            "commit_seconds": round(t_commit, 2),
            "index_mb_on_disk": round(size / 1e6, 1),
            "index": reg.store.read().manifest["index"],
        }
        print("registration:", results["registration"])

        t = time.perf_counter()
        scanner = Scanner(Registry(work / "reg"))
        results["load_seconds"] = round(time.perf_counter() - t, 2)
        print(f"load: {results['load_seconds']} s")

        # -- throughput on unrelated plain text --------------------------------
        if corpus.have_corpora():
            traffic = corpus.enron_bodies()
            traffic_source = "enron mail bodies"
        else:
            traffic = corpus.synthetic(2000, 800, 9)
            traffic_source = "synthetic"
        parts, total = [], 0
        i = 0
        while total < args.scan_mb * 1e6:
            text = traffic[i % len(traffic)]
            i += 1
            parts.append(text)
            total += len(text.encode())
        scanner.scan_text(parts[0])  # warm-up: first call fills numpy caches
        t = time.perf_counter()
        findings = 0
        for text in parts:
            findings += len(scanner.scan_text(text))
        dt = time.perf_counter() - t
        results["throughput"] = {"source": traffic_source, "mb": round(total / 1e6, 1), "findings_in_parts": findings,
                                 "by_part_size": {"as is (mean %d bytes)" % (total // len(parts)): round(total / 1e6 / dt, 1)}}
        joined = "\n\n".join(parts)
        for size in (16_384, 262_144, 1 << 20, 4 << 20):
            pieces = [joined[i : i + size] for i in range(0, len(joined), size)]
            t = time.perf_counter()
            for piece in pieces:
                scanner.scan_text(piece)
            dt = time.perf_counter() - t
            results["throughput"]["by_part_size"][f"{size // 1024} KB"] = round(len(joined) / 1e6 / dt, 1)
        print("throughput:", results["throughput"])

        # -- detection rate against excerpt length -----------------------------
        rng = random.Random(11)
        hosts = traffic if corpus.have_corpora() else corpus.synthetic(500, 600, 13)
        policy = DefaultPolicy()
        table = []
        for length in (10, 15, 20, 25, 30, 40, 60, 80):
            found = blocked = 0
            for _ in range(args.trials):
                d = rng.randrange(len(docs))
                w = docs[d].split()
                start = rng.randrange(0, max(1, len(w) - length))
                excerpt = " ".join(w[start : start + length])
                host = rng.choice(hosts).split()
                at = rng.randrange(len(host) + 1)
                text = " ".join(host[:at] + [excerpt] + host[at:])
                hits = [f for f in scanner.scan_text(text) if f.secret == f"doc{d}"]
                found += bool(hits)
                blocked += policy.decide(hits, (), Destination()).action is Action.BLOCK
            table.append({"words": length, "found": round(found / args.trials, 3), "blocked": round(blocked / args.trials, 3)})
            print(f"excerpt {length:3} words: found {found / args.trials:6.1%}  blocked {blocked / args.trials:6.1%}")
        results["detection"] = table

        # -- false blocks on unrelated mail -----------------------------------------
        if corpus.have_corpora():
            paths = corpus.enron_paths()
            actions = {a.label: 0 for a in Action}
            flagged = []
            t = time.perf_counter()
            for p in paths:
                report = scanner.scan_path(p)
                actions[report.action.label] += 1
                if report.findings:
                    flagged.append({"path": str(p.relative_to(corpus.SHARED)), "action": report.action.label,
                                    "findings": [(f.secret, f.kind, f.matched_words) for f in report.findings]})
            results["unrelated"] = {"files": len(paths), "actions": actions, "seconds": round(time.perf_counter() - t, 1),
                                    "flagged": flagged[:50]}
            print("unrelated enron mails:", {k: v for k, v in results["unrelated"].items() if k != "flagged"})
            for f in flagged[:20]:
                print("   ", f)
        results["peak_rss_mb"] = round(rss_mb())
        print(f"peak RSS: {results['peak_rss_mb']} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "core.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
