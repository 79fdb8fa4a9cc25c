"""Policy and evidence benchmark (run by hand): decisions per second and the size of an incident.

    python benchmarks/bench_policy.py [--decisions 200000] [--incidents 2000]

- the policy engine alone: `DestinationPolicy.decide` on realistic findings and
  destinations (examples/policy.toml: 6 rules, a partner, embargo list), 1-3
  findings and 1-3 recipients per item;
- the whole decide-and-record step (`Decider.decide`: policy, allow entries,
  exposure preview; `Recorder.record`: audit entry, exposure, incident) per item,
  on a fresh state directory;
- bytes per incident: the JSON body, and the SQLite file and audit trail per
  incident after `--incidents` warn/quarantine/block decisions.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from dlp.recording import Recorder
from dlp.destinations import load_policy
from dlp.types import Destination, Detection, Finding

ROOT = Path(__file__).resolve().parents[1]
ADDRESSES = ["compras@soltera.example", "li@firma.cn", "x@gmail.com", "bob@bfcoatings.example", "k@shop.ir",
             "anna@partner.de", "joe@startup.io", "m@ops.bfcoatings.example"]
SECRETS = [("formulation", "secret", "document"), ("design-spec", "secret", "document"),
           ("mixing-controller", "confidential", "document"), ("codenames", "confidential", "terms"),
           ("customers", "secret", "records")]


def finding(rng: random.Random) -> Finding:
    secret, classification, kind = rng.choice(SECRETS)
    words = rng.randint(10, 400)
    start = rng.randint(0, 1500)
    evidence = {"runs": [{"start": 100, "end": 900, "words": words, "secret_words": [start, start + words], "hits": 9}],
                "secret_words": 2000} if kind == "document" else {"matches": [{"start": 5, "end": 20, "row": 3,
                                                                              "term": 2}]}
    return Finding(secret=secret, version=1, label=secret.title(), kind=kind, score=min(1.0, words / 40),
                   matched_words=words, coverage=words / 2000, locator="mail.eml!/attachments/a.docx",
                   classification=classification, detector="fingerprint" if kind == "document" else "aho-corasick",
                   evidence=evidence)


def workload(n: int, seed: int = 7):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        findings = [finding(rng) for _ in range(rng.randint(1, 3))]
        destination = Destination(tuple(rng.sample(ADDRESSES, rng.randint(1, 3))), None, "mail",
                                  sender="alice@bfcoatings.example")
        out.append((findings, destination))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=2_000)
    args = parser.parse_args()
    policy = load_policy(ROOT / "examples" / "policy.toml")

    items = workload(args.decisions)
    started = time.perf_counter()
    actions: dict[str, int] = {}
    for findings, destination in items:
        label = policy.decide(findings, (), destination).action.label
        actions[label] = actions.get(label, 0) + 1
    seconds = time.perf_counter() - started
    print(f"policy engine: {args.decisions / seconds:,.0f} decisions/s "
          f"({seconds / args.decisions * 1e6:.1f} us each; {actions})")

    with tempfile.TemporaryDirectory(prefix="dlp-bench-policy-") as tmp:
        state = Path(tmp) / "state"
        recorder = Recorder(state, policy)
        decider = recorder.decider()
        records = workload(args.incidents, seed=11)
        incidents = 0
        started = time.perf_counter()
        for i, (findings, destination) in enumerate(records):
            report = decider.decide(Detection(f"/srv/outbox/item{i}.eml", tuple(findings), (), 48_000, 0.05),
                                    destination)
            settled = recorder.record(report, destination, {"kind": "mail", "queue_id": f"4Q{i:08X}"})
            incidents += "incident" in settled.meta
        seconds = time.perf_counter() - started
        recorder.close()
        sizes = {p.name: p.stat().st_size for p in state.iterdir() if p.is_file()}
        sample = json.dumps(Recorder(state, policy).incidents.query(limit=1)[0].to_dict())
        print(f"deciding and recording (policy, allow entries, exposure, incident, audit): {args.incidents / seconds:,.0f} items/s "
              f"({seconds / args.incidents * 1e3:.2f} ms each), {incidents} incidents of {args.incidents} items")
        print(f"one incident as JSON: {len(sample):,} bytes (1-3 findings, 1-3 recipients)")
        total_db = sum(v for k, v in sizes.items() if k.startswith("incidents.sqlite"))
        print(f"incidents.sqlite (with WAL): {total_db / max(1, incidents):,.0f} bytes per incident; "
              f"audit.jsonl {sizes.get('audit.jsonl', 0) / args.incidents:,.0f} bytes per decision; "
              f"exposure.sqlite {sum(v for k, v in sizes.items() if k.startswith('exposure')):,} bytes")
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)


if __name__ == "__main__":
    main()
