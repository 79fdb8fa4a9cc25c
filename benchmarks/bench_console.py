"""Review-console benchmark (run by hand): queue pages over 100,000 incidents, server time p50/p95.

    python benchmarks/bench_console.py [--incidents 100000] [--requests 400] [--keep DIR]

Fills a state directory with incidents shaped like the demo's (a document finding with
runs, one or two recipients with class and country, a problem now and then) spread over
90 days, through `IncidentStore.add` (the code every gateway records with). Then starts
`dlp console` as a subprocess on 127.0.0.1, logs in over HTTP like a browser, and asks
for queue pages: the unfiltered queue, each filter alone, combinations of filters, deep
pages reached by following the "older" cursor, and filters that match nothing. Each
answer carries the server's own time (`Server-Timing: app;dur=...`, measured by the
console around the whole request: session check, queries, template); the client's
wall time is reported too. Figures go to standard output and benchmarks/out/console.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from dlp.incidents import IncidentStore

OUT = Path(__file__).resolve().parent / "out"
SECRETS = [f"secret-{i:02d}" for i in range(60)]
COUNTRIES = ["CN", "DE", "RU", "US", "FR", "ES", "KP", None]
CLASSES = ["external", "external", "external", "unknown", "embargoed", "partner", "internal"]
PASSWORD = "benchmark password 1"


def fill(state: Path, n: int) -> float:
    rng = random.Random(7)
    domains = [f"firm{i}.{tld}" for i in range(400) for tld in ("de", "cn", "com", "fr", "ru")]
    start = time.time() - 90 * 86400
    clock = [start]
    store = IncidentStore(state, clock=lambda: clock[0])
    store._db.execute("PRAGMA synchronous=OFF")  # filling only: the benchmark measures reading
    began = time.perf_counter()
    for i in range(n):
        clock[0] = start + i * (90 * 86400 / n)
        recipients = []
        for _ in range(rng.choice((1, 1, 1, 2))):
            domain = rng.choice(domains)
            recipients.append({"address": f"user{rng.randrange(500)}@{domain}", "domain": domain,
                               "country": rng.choice(COUNTRIES), "class": rng.choice(CLASSES), "why": "bench"})
        secret = rng.choice(SECRETS)
        body = {"recipients": recipients, "destination": {"addresses": [r["address"] for r in recipients]},
                "findings": [{"secret": secret, "version": 1, "label": secret.replace("-", " ").title(),
                              "kind": "document", "detector": "fingerprint", "classification": "secret",
                              "tags": [f"tag{int(secret[-2:]) % 7}"], "score": 1.0, "matched_words": 57,
                              "coverage": 0.06, "density": 0.19, "locator": f"mail-{i}.eml!/attachments/plan.docx",
                              "evidence": {"runs": [{"start": 848, "end": 1187, "words": 57, "secret_words": [721, 778],
                                                     "hits": 19}], "secret_words": 943}}],
                "problems": [{"locator": f"mail-{i}.eml!/a.zip", "kind": rng.choice(["encrypted", "corrupt"]),
                              "detail": "bench"}] if i % 40 == 0 else [],
                "reasons": ["bench"], "target": {"kind": "mail", "queue_id": f"{i:X}"}}
        store.add(channel=rng.choice(["mail", "mail", "watch", "cli"]), sender="a@acme.example",
                  item=f"mail-{i}.eml", action=rng.choice(["warn", "quarantine", "block", "block"]), rule="rule:bench",
                  body=body, recipients=recipients)
        if i % 10 == 0 and i:
            for inc in store.page(size=1).incidents:  # some resolved, as in a real queue
                if rng.random() < 0.6:
                    store.resolve(inc.id, rng.choice(["released", "confirmed", "false_positive"]), "bench", "bench")
    store.close()
    return time.perf_counter() - began


QUERIES = [
    {"status": ""}, {}, {"status": "released"}, {"secret": "secret-07", "status": ""}, {"to": "CN", "status": ""},
    {"to": "firm12.de"}, {"label": "Secret 33"}, {"tag": "tag3", "action": "block"}, {"class": "embargoed"},
    {"channel": "watch", "action": "quarantine"}, {"problem": "encrypted", "status": ""},
    {"secret": "secret-01", "to": "ru", "channel": "mail", "action": "block", "status": ""},
    {"since": "X-30", "until": "X-20", "status": ""}, {"secret": "nothing-like-this"},
    {"to": "cn", "status": "confirmed", "class": "partner"},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--keep", type=Path, help="reuse (or fill and keep) this state directory")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-console-"))
    state = args.keep or root / "state"
    filled = None
    if not (state / "incidents.sqlite").exists():
        filled = fill(state, args.incidents)
        print(f"filled {args.incidents} incidents in {filled:.1f} s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLP_")}
    dlp = [sys.executable, "-m", "dlp", "--state", str(state), "--registry", str(root / "no-registry")]
    subprocess.run([*dlp, "console", "user", "add", "bench", "--role", "viewer"], input=PASSWORD + "\n", text=True,
                   env=env, capture_output=True)
    server = subprocess.Popen([*dlp, "console", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(server.stdout.readline().rsplit(":", 1)[1].strip("/\n"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def get(path: str, headers: dict) -> tuple[int, str, float, float]:
            t = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read().decode()
            wall = (time.perf_counter() - t) * 1000
            server_ms = float(re.search(r"dur=([0-9.]+)", response.getheader("server-timing")).group(1))
            return response.status, body, server_ms, wall

        status, page, _, _ = get("/login", {})
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        login_cookie = "dlp_login=" + token
        conn.request("POST", "/login", body=urlencode({"name": "bench", "password": PASSWORD, "csrf": token}),
                     headers={"content-type": "application/x-www-form-urlencoded", "cookie": login_cookie})
        response = conn.getresponse()
        response.read()
        session = response.getheader("set-cookie").split(";")[0]
        headers = {"cookie": session}
        today = time.time()
        samples: dict[str, list[float]] = {}
        walls: list[float] = []
        rng = random.Random(3)
        for i in range(args.requests):
            query = dict(rng.choice(QUERIES))
            for key in ("since", "until"):
                if key in query:
                    days = int(query[key].split("-")[1])
                    query[key] = time.strftime("%Y-%m-%d", time.gmtime(today - days * 86400))
            name = urlencode(query) or "(open)"
            path = "/?" + urlencode(query)
            depth = rng.choice((0, 0, 1, 5, 20))  # follow the "older" link this many times
            for _ in range(depth + 1):
                status, body, server_ms, wall = get(path, headers)
                assert status == 200, (status, body[:300])
                samples.setdefault(name if depth == 0 else name + " (deep)", []).append(server_ms)
                walls.append(wall)
                following = re.search(r'<a rel="next" href="(/\?[^"]+)"', body)
                if not following:
                    break
                path = following.group(1).replace("&amp;", "&")
        every = sorted(v for values in samples.values() for v in values)
        p95 = every[int(0.95 * (len(every) - 1))]
        figures = {
            "incidents": args.incidents, "requests": len(every), "fill_seconds": filled,
            "server_ms": {"p50": statistics.median(every), "p95": p95, "max": every[-1]},
            "client_wall_ms": {"p50": statistics.median(walls), "p95": sorted(walls)[int(0.95 * (len(walls) - 1))]},
            "per_query_p95_ms": {k: sorted(v)[int(0.95 * (len(v) - 1))] for k, v in sorted(samples.items())},
            "database_mb": round((state / "incidents.sqlite").stat().st_size / 2 ** 20, 1),
        }
        for page_name in ("/dashboard", "/dashboard?days=90", "/api/incidents?status=&limit=50"):
            _, _, server_ms, _ = get(page_name, headers)
            figures.setdefault("other_pages_ms", {})[page_name] = server_ms
    finally:
        server.terminate()
        server.wait(30)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "console.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print(f"queue page, {args.incidents} incidents: server p50 {figures['server_ms']['p50']:.1f} ms, "
          f"p95 {figures['server_ms']['p95']:.1f} ms (goal: p95 <= 200 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
