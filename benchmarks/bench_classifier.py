"""Classifier-tier benchmark (run by hand): BBC news categories and Enron mails.

    python benchmarks/bench_classifier.py [--category tech] [--fraction 0.5] [--enron 3000]

Half of one BBC category is registered as secrets tagged with the category; half of
every other category is given as negatives; `train` cross-validates and saves the
model. Then: recall on the held-out half of the category, false positives on the
held-out halves of the others and on Enron mails, training time, model size, and
scan cost per MB with the classifier on and off.

Figures go to standard output and benchmarks/out/classifier.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

from dlp.classify.features import hashed_counts  # noqa: E402
from dlp.classify.model import Model  # noqa: E402
from dlp.classify.train import Sample, train  # noqa: E402
from dlp.detectors.classifier import ClassifierDetector  # noqa: E402
from dlp.registry import Registry  # noqa: E402
from dlp.scanner import Scanner  # noqa: E402
from dlp.text import tokenise  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
BBC = corpus.SHARED / "text_corpora" / "bbc_news"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--category", default="tech")
    ap.add_argument("--fraction", type=float, default=0.5)
    ap.add_argument("--enron", type=int, default=3000, help="Enron mails scanned for false positives")
    args = ap.parse_args()
    if not corpus.have_corpora():
        sys.exit("../shared/corpora is not present")
    rng = random.Random(1)
    docs = {c.name: sorted(c.glob("*.txt")) for c in sorted(BBC.iterdir()) if c.is_dir()}
    split = {}
    for cat, paths in docs.items():
        paths = paths[:]
        rng.shuffle(paths)
        k = int(len(paths) * args.fraction)
        split[cat] = (paths[:k], paths[k:])
    results: dict = {"category": args.category}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        key = tmp / "bench.key"
        key.write_text(bytes(range(32)).hex() + "\n")
        reg = Registry(tmp / "reg", key, create=True)
        started = time.perf_counter()
        for p in split[args.category][0]:
            raw = p.read_bytes()
            reg.add_document(raw.decode("latin-1"), raw, p.name, secret_id=f"{args.category}-{p.stem}",
                             tags=[args.category])
        reg.commit()
        results["register_seconds"] = round(time.perf_counter() - started, 2)
        reg = Registry(tmp / "reg", key)
        negatives = []
        for cat, (train_half, _) in split.items():
            if cat == args.category:
                continue
            for p in train_half:
                raw = p.read_bytes()
                values = reg.keyer.tokens(tokenise(raw.decode("latin-1")))
                negatives.append(Sample(p.name, *hashed_counts(values), reg.keyer.digest(raw)))
        started = time.perf_counter()
        model = train(reg, negatives, "bench")
        results["train_seconds"] = round(time.perf_counter() - started, 2)
        card = model.save(tmp / "models" / "bench")
        model = Model.load(tmp / "models" / "bench", reg.key_check)
        results["model_bytes"] = card["model_bytes"]
        results["cv"] = card["classes"]
        results["positives"], results["negatives"] = card["data"]["positives"], card["data"]["negatives"]
        detector = ClassifierDetector(model)
        scanner = Scanner(reg, models=[model])

        def flagged(text: str) -> bool:
            return any(f.kind == "classifier" for f in scanner.scan_text(text))

        held = split[args.category][1]
        hits = sum(flagged(p.read_bytes().decode("latin-1")) for p in held)
        results["heldout_recall"] = round(hits / len(held), 4)
        results["heldout_positives"] = len(held)
        others = [p for c, (_, h) in split.items() if c != args.category for p in h]
        fps = [p.name for p in others if flagged(p.read_bytes().decode("latin-1"))]
        results["heldout_other_fp_rate"] = round(len(fps) / len(others), 4)
        results["heldout_others"] = len(others)
        mails = corpus.enron_bodies()[: args.enron]
        long_mails = [m for m in mails if len(tokenise(m)) >= detector.min_tokens]
        enron_fp = sum(flagged(m) for m in mails)
        results["enron_fp_rate"] = round(enron_fp / len(mails), 4)
        results["enron_mails"] = len(mails)
        results["enron_mails_classified"] = len(long_mails)
        results["enron_false_positives"] = enron_fp
        text = [m for m in mails]
        mb = sum(len(m.encode()) for m in text) / 1e6
        base = Scanner(reg)
        t0 = time.perf_counter()
        for m in text:
            base.scan_text(m)
        t1 = time.perf_counter()
        for m in text:
            scanner.scan_text(m)
        t2 = time.perf_counter()
        results["scan_mb"] = round(mb, 2)
        results["scan_mb_per_s_without"] = round(mb / (t1 - t0), 2)
        results["scan_mb_per_s_with_classifier"] = round(mb / (t2 - t1), 2)
        results["classifier_added_s_per_mb"] = round(((t2 - t1) - (t1 - t0)) / mb, 4)
    print(json.dumps(results, indent=1))
    OUT.mkdir(exist_ok=True)
    (OUT / "classifier.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
