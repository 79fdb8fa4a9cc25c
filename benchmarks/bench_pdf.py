"""PDF benchmark (run by hand): pages/s through `dlp scan`, the PDF fixtures of
../shared/corpora in files/s, and the watch daemon's 100-PDF burst.

    python benchmarks/bench_pdf.py [--pages 300] [--repeat 5] [--skip extract,scan,corpus,watch] [--pdfs 100]
    PYTHONPATH=/path/to/older/checkout/src python benchmarks/bench_pdf.py   # "before"

- extract: pages/s of the extraction alone (the walk, with its killable worker), in this
  process: a 300-page text PDF against a 1-page one (made with reportlab), each read
  `--repeat` times; pages/s = 299 / (median(300 pages) - median(1 page)).
- scan: the same two files through `dlp scan` (every detector of a registry with one
  document), so interpreter start-up, registry loading and the worker fork cancel out.
- corpus: one `dlp scan` over every PDF fixture of ../shared/corpora (files/s, median of
  `--repeat` runs, at most 3).
- watch: `python -m dlp watch` on 100 reportlab PDFs dropped at once (one in ten leaks),
  inotify, thread workers, through benchmarks/bench_watch.py's `run_case`.

With PYTHONPATH pointing at the `src/` of an earlier commit (`git archive COMMIT src |
tar -x -C DIR`), this process and every `dlp` it starts run that code: "before" on the
same machine. Figures go to standard output and benchmarks/out/pdf.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def make_pdf(path: Path, pages: int, seed: int = 1) -> None:
    """`pages` pages of prose, 50 lines of about 90 characters each."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    text = prose(800, seed)
    lines = [text[i:i + 90] for i in range(0, len(text) - 90, 90)]
    for page in range(pages):
        y = 800
        for line in range(50):
            c.drawString(40, y, lines[(page * 50 + line) % len(lines)])
            y -= 15
        c.showPage()
    c.save()


def dlp(*argv: str, env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dlp", *argv], env=env, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"dlp {' '.join(argv[:3])}... exit {done.returncode}: {done.stderr[-500:]}")
    return elapsed


def pages_per_second(registry: Path, work: Path, pages: int, repeat: int, env: dict) -> dict:
    big, one = work / f"text-{pages}.pdf", work / "text-1.pdf"
    scan = ["--registry", str(registry), "scan", "--no-record"]
    dlp(*scan, str(one), env=env)  # warm the page cache and the import caches
    times = {"1": [], str(pages): []}
    for _ in range(repeat):
        times["1"].append(dlp(*scan, str(one), env=env))
        times[str(pages)].append(dlp(*scan, str(big), env=env))
    small, large = statistics.median(times["1"]), statistics.median(times[str(pages)])
    return {"pages": pages, "repeat": repeat, "median_s_1_page": round(small, 3),
            f"median_s_{pages}_pages": round(large, 3),
            "pages_per_s": round((pages - 1) / max(large - small, 1e-6), 1),
            "runs_s": {k: [round(t, 3) for t in v] for k, v in times.items()}}


def extract_pages_per_second(work: Path, pages: int, repeat: int) -> dict:
    from dlp.extract import EXTRACTORS, Context, walk
    from dlp.types import Item

    big, one = work / f"text-{pages}.pdf", work / "text-1.pdf"

    def read(path: Path) -> float:
        started = time.perf_counter()
        outputs = list(walk(Item(locator=str(path), name=path.name, path=str(path)), EXTRACTORS, Context()))
        elapsed = time.perf_counter() - started
        assert outputs and outputs[0].text, outputs[:2]
        return elapsed

    read(one)
    small = statistics.median(read(one) for _ in range(repeat))
    large = statistics.median(read(big) for _ in range(repeat))
    return {"pages": pages, "median_s_1_page": round(small, 4), f"median_s_{pages}_pages": round(large, 3),
            "pages_per_s": round((pages - 1) / max(large - small, 1e-6), 1)}


def corpus_files_per_second(registry: Path, repeat: int, env: dict) -> dict:
    files = []
    for path in sorted(CORPORA.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                if b"%PDF-" in handle.read(1024):
                    files.append(str(path))
    runs = [dlp("--registry", str(registry), "scan", "--no-record", "--format", "json", *files, env=env)
            for _ in range(min(repeat, 3))]
    seconds = statistics.median(runs)
    return {"files": len(files), "median_s": round(seconds, 2), "files_per_s": round(len(files) / seconds, 1),
            "runs_s": [round(t, 2) for t in runs]}


def watch_burst(registry: Path, work: Path, pdfs: int, env: dict) -> dict:
    import bench_watch

    files = []
    for n in range(pdfs):
        path = work / f"burst-{n}.pdf"
        bench_watch.make_pdf(path, bench_watch.LEAK if n % 10 == 0 else bench_watch.clean(n) * 8)
        files.append((f"doc-{n:04d}.pdf", path.read_bytes()))
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return bench_watch.run_case(registry, files, poll=None, mode="threads", settle=0.5, workers=2,
                                    work=work / "watch")
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pdfs", type=int, default=100)
    parser.add_argument("--skip", default="", help="comma-separated: extract, scan, corpus, watch")
    options = parser.parse_args()
    skip = set(filter(None, options.skip.split(",")))
    env = dict(os.environ)
    where = subprocess.run([sys.executable, "-c", "import dlp; print(dlp.__file__)"], env=env,
                           capture_output=True, text=True).stdout.strip()
    results: dict = {"cpus": os.cpu_count(), "dlp": where}
    print(json.dumps(results), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        work = Path(tmp)
        import bench_watch
        from dlp.registry import Registry

        registry = work / "reg"
        reg = Registry(registry, create=True)
        reg.add_document(bench_watch.SECRET, bench_watch.SECRET.encode(), "secret.txt", secret_id="secret")
        reg.commit()
        make_pdf(work / f"text-{options.pages}.pdf", options.pages)
        make_pdf(work / "text-1.pdf", 1)
        if "extract" not in skip:
            results["extract"] = extract_pages_per_second(work, options.pages, options.repeat)
            print(json.dumps(results["extract"]), flush=True)
        if "scan" not in skip:
            results["scan"] = pages_per_second(registry, work, options.pages, options.repeat, env)
            print(json.dumps(results["scan"]), flush=True)
        if "corpus" not in skip and CORPORA.is_dir():
            results["corpus"] = corpus_files_per_second(registry, options.repeat, env)
            print(json.dumps(results["corpus"]), flush=True)
        if "watch" not in skip:
            results["watch"] = watch_burst(registry, work, options.pdfs, env)
            print(json.dumps(results["watch"]), flush=True)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "pdf.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
