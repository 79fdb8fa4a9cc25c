"""Cost of reading hidden parts (run by hand): CPU seconds, not wall time (the machine
is shared), of what extract/encoded.py, imagemeta.py, pdfvisible.py and the readings as
shown add to ordinary files.

    python benchmarks/bench_parts.py [--repeat 5]
    PYTHONPATH=/path/to/older/checkout/src python benchmarks/bench_parts.py   # "before"

- encoded: ns per character of the encoded-run search on 1 MB of prose and 1 MB of the
  Enron mail of ../shared/corpora (skipped "before", where it does not exist);
- extract: CPU of the walk (in this process, parsers not forked) over the document
  fixtures of ../shared/corpora, per format (PDF, DOCX, other), and over a 300-page PDF;
- scan: CPU of whole `dlp scan` commands (children's rusage) over a 1-page and a
  300-page PDF, the corpus PDFs and all document fixtures, against a one-document registry.

Each figure is the minimum of `--repeat` runs. Figures go to standard output and
benchmarks/out/parts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from helpers import prose  # noqa: E402

CORPORA = REPO.parent / "shared" / "corpora"


def best(function, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        function()
        runs.append(time.process_time() - started)
    return min(runs)


def encoded_ns_per_char(repeat: int) -> dict:
    try:
        from dlp.extract.encoded import _decoded_runs
    except ImportError:
        return {}
    texts = {"prose": prose(160_000, 9)[:1_000_000]}
    mails = sorted((CORPORA / "enron_maildir_subset").rglob("*")) if CORPORA.is_dir() else []
    mail, size = [], 0
    for path in mails:
        if path.is_file() and size < 1_000_000:
            mail.append(path.read_text(encoding="latin-1"))
            size += len(mail[-1])
    if mail:
        texts["mail"] = "\n".join(mail)[:1_000_000]
    return {name: round(best(lambda: list(_decoded_runs(text)), repeat * 4) / len(text) * 1e9, 2)
            for name, text in texts.items()}


def walk_cpu(paths: list[Path], repeat: int) -> float:
    from dlp.extract import EXTRACTORS, Context, walk
    from dlp.types import Item

    def read():
        for path in paths:
            list(walk(Item(locator=str(path), name=path.name, path=str(path)), EXTRACTORS, Context(isolation=None)))

    read()
    return round(best(read, repeat), 3)


def scan_cpu(registry: Path, paths: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", "dlp", "--registry", str(registry), "scan", "--no-record",
                               "--no-progress", *paths], capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):
            raise RuntimeError(done.stderr.decode()[-400:])
        runs.append((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
    return round(min(runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    import dlp

    results: dict = {"cpus": os.cpu_count(), "dlp": dlp.__file__, "encoded_ns_per_char": encoded_ns_per_char(options.repeat)}
    print(json.dumps(results), flush=True)
    from bench_pdf import make_pdf

    with tempfile.TemporaryDirectory(prefix="bench-parts-") as tmp:
        work = Path(tmp)
        make_pdf(work / "t300.pdf", 300)
        make_pdf(work / "t1.pdf", 1)
        documents = sorted(p for p in (CORPORA / "document_fixtures").rglob("*") if p.is_file()) if CORPORA.is_dir() else []
        groups = {"pdf": [p for p in documents if p.suffix.lower() == ".pdf"],
                  "docx": [p for p in documents if p.suffix.lower() == ".docx"]}
        groups["other"] = [p for p in documents if p not in groups["pdf"] and p not in groups["docx"]]
        results["extract_cpu_s"] = {"pdf-300-pages": walk_cpu([work / "t300.pdf"], options.repeat),
                                    **{f"{name} ({len(paths)} files)": walk_cpu(paths, options.repeat)
                                       for name, paths in groups.items() if paths}}
        print(json.dumps({"extract_cpu_s": results["extract_cpu_s"]}), flush=True)
        (work / "secret.txt").write_text(prose(2000, 11))
        registry = work / "reg"
        subprocess.run([sys.executable, "-m", "dlp", "--registry", str(registry), "register", str(work / "secret.txt")],
                       check=True, capture_output=True)
        pdfs = [str(p) for p in sorted(CORPORA.rglob("*")) if p.is_file() and b"%PDF-" in p.open("rb").read(1024)] \
            if CORPORA.is_dir() else []
        scans = {"1-page pdf": [str(work / "t1.pdf")], "300-page pdf": [str(work / "t300.pdf")],
                 f"{len(pdfs)} corpus pdfs": pdfs, f"{len(documents)} document fixtures": [str(p) for p in documents]}
        results["scan_cpu_s"] = {name: scan_cpu(registry, paths, max(1, options.repeat - 2))
                                 for name, paths in scans.items() if paths}
        print(json.dumps({"scan_cpu_s": results["scan_cpu_s"]}), flush=True)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "parts.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
