"""Hostile inputs through `dlp scan` (run by hand): verdict, problem kinds, time, peak RSS.

    python benchmarks/bench_hostile.py [--skip 1gb] [--only NAME]

Each input is scanned by a fresh `dlp scan --format json --no-record --to x@elsewhere.example`
(an outbound destination: unscannable content is quarantined), against a registry of one
secret; generated inputs carry a 60-word excerpt of it at their very end, so "blocked"
means nothing before the end hid it. Peak RSS is the scanning process's and its
children's (the killable parser workers), from wait4. The bomb fixtures of
../shared/corpora are used when present.

- a 200 MB text file on one line (words, no newline), excerpt at the end;
- a 1 GB text file (lines of prose), excerpt at the end;
- a 300 MB file of blanks with the excerpt's words 1 MB apart;
- a zip of 10,000 tiny members, a zip nested 12 deep, a 42-style overlapping zip;
- a PNG header claiming 100,000 x 100,000 pixels, then text;
- corpora: the 1 GB zip bomb, the 10 GB compressed bombs, OOXML XML bombs.

Figures go to standard output and benchmarks/out/hostile.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
BOMBS = REPO.parent / "shared" / "corpora" / "archive_fixtures" / "DANGER_bombs_and_path_traversal"

from helpers import prose  # noqa: E402

SECRET = prose(600, 4242)
EXCERPT = " ".join(SECRET.split()[200:260])


def scan(path: Path, registry: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    args = [sys.executable, "-m", "dlp", "--registry", str(registry), "scan", "--format", "json", "--no-record",
            "--no-progress", "--to", "x@elsewhere.example", str(path)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        error = err.read().decode()[-300:]
    code = os.waitstatus_to_exitcode(status)
    try:
        [report] = json.loads(text)["files"]
    except (ValueError, KeyError):
        return {"exit": code, "error": error, "seconds": round(seconds, 2)}
    # ru_maxrss of wait4 is the largest of the process and the children it waited for (KiB)
    return {"exit": code, "action": report["action"], "blocked_by_secret": any(f["secret"] == "plan" for f in report["findings"]),
            "problems": sorted({p["kind"] for p in report["problems"]}), "seconds": round(seconds, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024)}


def one_line(path: Path, megabytes: int) -> None:
    chunk = prose(20000, 3).replace("\n", " ") + " "
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < megabytes << 20:
            out.write(chunk)
            written += len(chunk)
        out.write(EXCERPT)


def lines(path: Path, megabytes: int) -> None:
    block = "\n".join(prose(120, i) for i in range(200)) + "\n"
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        while written < megabytes << 20:
            out.write(block)
            written += len(block)
        out.write(EXCERPT + "\n")


def spread(path: Path, megabytes: int) -> None:
    words = EXCERPT.split()
    gap = " " * ((megabytes << 20) // len(words))
    with open(path, "w", encoding="utf-8") as out:
        for w in words:
            out.write(gap)
            out.write(w)


def many_members(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(10_000):
            z.writestr(f"m{i}.txt", f"member {i}")
        z.writestr("last.txt", EXCERPT)


def nested(path: Path, depth: int) -> None:
    data = EXCERPT.encode()
    name = "leak.txt"
    for level in range(depth):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr(name, data)
        data, name = buffer.getvalue(), f"level{level}.zip"
    path.write_bytes(data)


def giant_png(path: Path) -> None:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    path.write_bytes(png + b"\n" + EXCERPT.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", default="", help="comma-separated names to skip (e.g. 1gb)")
    parser.add_argument("--only", default="", help="comma-separated names to run")
    args = parser.parse_args()
    skip, only = set(filter(None, args.skip.split(","))), set(filter(None, args.only.split(",")))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="dlp-hostile-") as tmp:
        work = Path(tmp)
        from dlp.registry import Registry

        reg = Registry(work / "reg", create=True)
        reg.add_document(SECRET, SECRET.encode(), "plan.txt", secret_id="plan")
        reg.commit()
        cases = {
            "200mb-one-line": (lambda p: one_line(p, 200), "one-line.txt"),
            "1gb": (lambda p: lines(p, 1000), "big.txt"),
            "300mb-spread": (lambda p: spread(p, 300), "spread.txt"),
            "10k-members": (many_members, "many.zip"),
            "nested-12": (lambda p: nested(p, 12), "nested.zip"),
            "giant-png-header": (giant_png, "picture.png"),
        }
        for name, (make, filename) in cases.items():
            if name in skip or (only and name not in only):
                continue
            path = work / filename
            make(path)
            results[name] = {"bytes": path.stat().st_size, **scan(path, work / "reg")}
            path.unlink()
            print(f"{name:22} {json.dumps(results[name])}", flush=True)
        if BOMBS.is_dir() and not only:
            for path in sorted(p for p in BOMBS.rglob("*") if p.is_file() and "slip" not in p.name):
                name = path.name
                results[name] = {"bytes": path.stat().st_size, **scan(path, work / "reg")}
                print(f"{name:22} {json.dumps(results[name])}", flush=True)
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "hostile.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
