"""What the evasion work costs a scan (issue 20's goal: the core within 10%), run by hand.

    python benchmarks/bench_evasion_share.py [--docs 10000] [--scan-mb 40] [--runs 3] [--interleaved] [--typographic]

A registry of --docs documents (bench_core's: Reuters-21578 and BBC articles topped up with
synthetic text) is registered with `dlp register`; then one process per reading scans the
same --scan-mb of Enron mail bodies in-process (after a 4 MB warm-up; the best of five
scans) with the evasion work as it is, and with each part of it left out:

- words: CamelCase, glued and letter-spaced words (and the listing of the tokens they start
  from), words broken at line ends, citation marks, words cut in two by a character (`mole-cular`)
  or by blanks (`mole cular`);
- marks: numbers glued to words or standing between them, strays of another script between or
  glued to words, and the second reading without them; words that marks cut in pieces (`t4he`);
- encoded: base64, hex, escaped and quoted-printable runs decoded and read;
- all three.

A part is left out by replacing the functions that do it with ones that find nothing (so
the rest of the scan is what it would be on text without such things). The share is
(seconds with everything - seconds without all three) / seconds with everything. The
modes are run --runs times, alternating, and the median of each is reported (timings on
this virtual machine drift by 10% within minutes); with --interleaved, every mode runs in one
process, a scan each in turn, --runs rounds (steadier when the machine is noisy). With
--typographic, the mail is scanned as office software writes it (curly quotes and dashes: text
beyond ASCII, which the tokeniser reads as code points). Figures go to standard output and
benchmarks/out/evasion_share.json. With PYTHONPATH pointing at the `src/` of an earlier commit,
every process it starts runs that code ("before", on the same machine).
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
MODES = ("everything", "without words", "without marks", "without encoded", "without all three")

# run in a fresh process per mode (the parts left out are replaced before the scanner is
# opened), or, with "interleaved", every mode in one process, a scan each in turn
_SCAN = r"""
import json, sys, time
mode, registry, path = sys.argv[1], sys.argv[2], sys.argv[3]
import dlp.text.normalise as N
import dlp.extract.encoded as E
from dlp import speedups


def leave_out(mode):
    # replace the functions that do the parts `mode` leaves out; returns what puts them back
    saved = [(N, k, getattr(N, k)) for k in ("_drop_citations", "_camel_cuts", "_camel_cuts_in", "_glued_cuts",
                                             "_broken_words", "_letter_spacing", "_links_and_long")]
    saved += [(speedups, "native", speedups.native), (E, "_decoded_runs", E._decoded_runs)]
    marks = N.Tokens.marks
    splits = N.Tokens.__dict__.get("splits")  # (code from before words cut in two were read: None)
    if mode in ("without words", "without all three"):
        if splits is not None:
            N.Tokens.splits = property(lambda self: N._NO_HALVES)  # (rows of first and last token: none)
        N._drop_citations = lambda layout, text, *listed: (layout, [])
        N._camel_cuts = lambda layout, s, e: (N._NO_INT, N._NO_INT)
        N._camel_cuts_in = lambda *a: (N._NO_INT, N._NO_INT)
        N._glued_cuts = lambda *a: (N._NO_INT, 0)
        N._broken_words = lambda *a: None
        N._letter_spacing = lambda *a: (None, 0)
        N._links_and_long = lambda *a: (N._NO_INT, N._NO_INT)  # (what the two above read: nothing else does)
        if hasattr(N, "_cut_candidates"):  # (code from before words cut by blanks were read: none)
            saved.append((N, "_cut_candidates", N._cut_candidates))
            N._cut_candidates = lambda *a: (N._NO_INT, N._NO_COSTS)
        if speedups.native is not None:  # the C pass cuts CamelCase words itself: asked not to
            class WithoutCamel:
                def __getattr__(self, name, native=speedups.native):
                    return getattr(native, name)
                def ascii_runs(self, data, *asked, native=speedups.native):  # (nor the links and long tokens)
                    try:
                        return native.ascii_runs(data, False)
                    except TypeError:  # an older build, whose C pass leaves CamelCase to _camel_cuts_in
                        return native.ascii_runs(data)
            speedups.native = WithoutCamel()
    if mode in ("without marks", "without all three"):
        N.Tokens.marks = property(lambda self: N._NO_INT)
        if hasattr(N, "_tails"):  # (code from before strays glued to words were read)
            saved.append((N, "_tails", N._tails))
            N._tails = lambda *a: N._NO_TAILS
    if mode in ("without encoded", "without all three"):
        E._decoded_runs = lambda text, *rest: iter(())

    def undo():
        for module, name, value in saved:
            setattr(module, name, value)
        N.Tokens.marks = marks
        if splits is not None:
            N.Tokens.splits = splits
    return undo


def scanned(scanner, data, mode):
    started = time.process_time()
    result = scanner.scan_bytes(data, "mail.txt")
    seconds = time.process_time() - started
    if result.problems:  # a mode that breaks a detector measures less work, not the work left out
        raise SystemExit(f"the scan in mode {mode!r} has problems: {result.problems[:3]}")
    return seconds


if mode == "interleaved":
    from dlp.scanner import open_scanner
    scanner = open_scanner(registry, None)
    data = open(path, "rb").read()
    modes = sys.argv[4].split(",")
    for m in modes:  # (a warm-up scan in each mode)
        undo = leave_out(m)
        scanner.scan_bytes(data[:4_000_000], "warm.txt")
        undo()
    seconds = {m: [] for m in modes}
    for _ in range(int(sys.argv[5])):
        for m in modes:
            undo = leave_out(m)
            seconds[m].append(scanned(scanner, data, m))
            undo()
    print(json.dumps(seconds))
else:
    leave_out(mode)
    from dlp.scanner import open_scanner
    scanner = open_scanner(registry, None)
    data = open(path, "rb").read()
    scanner.scan_bytes(data[:4_000_000], "warm.txt")
    print(min(scanned(scanner, data, mode) for _ in range(5)))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--scan-mb", type=float, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--typographic", action="store_true",
                    help="the mail as office software writes it (curly quotes, dashes: corpus.typographic), text "
                         "beyond ASCII that the tokeniser reads as code points")
    ap.add_argument("--interleaved", action="store_true",
                    help="every mode in one process, a scan each in turn, --runs rounds (the steady measure on a "
                         "noisy machine: one mode's runs in separate processes differed by a quarter on a bad day)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlp-bench-evasion-") as folder:
        results = _measured(Path(folder), args)
    # (a checkout whose ../shared is missing measures synthetic text: a different scan altogether)
    print(f"registered: {results['documents']} documents, {results['source']}; scanned: {results['traffic']}")
    for mode in MODES:
        print(f"{mode:18} {results['median_seconds'][mode]:.3f} s  ({args.scan_mb / results['median_seconds'][mode]:.1f} MB/s)"
              "  runs " + " ".join(f"{s:.3f}" for s in results["runs"][mode]))
    part = results["each_part_seconds"]
    print(f"the evasion work: {results['share_of_everything']:.0%} of the scan (words {part['words']:.3f} s, "
          f"marks {part['marks']:.3f} s, encoded {part['encoded']:.3f} s)")
    OUT.mkdir(exist_ok=True)
    (OUT / "evasion_share.json").write_text(json.dumps(results, indent=2))


def _measured(work: Path, args) -> dict:
    """Register the documents, write the mail, and time each mode --runs times, alternating."""
    docs, source = corpus.secret_documents(args.docs)
    corpus.write_documents(work / "docs", docs)
    real = corpus.have_corpora()
    mail = corpus.mail_text(args.scan_mb, corpus.traffic())[: int(args.scan_mb * 1e6)]
    (work / "mail.txt").write_text(corpus.typographic(mail) if args.typographic else mail, encoding="utf-8")
    env = dict(os.environ, DLP_REGISTRY=str(work / "reg"), PYTHONPATH=os.environ.get("PYTHONPATH") or str(SRC))
    subprocess.run([sys.executable, "-m", "dlp", "register", str(work / "docs")], env=env, check=True,
                   capture_output=True)
    seconds: dict[str, list[float]] = {m: [] for m in MODES}
    if args.interleaved:
        out = subprocess.run([sys.executable, "-c", _SCAN, "interleaved", str(work / "reg"), str(work / "mail.txt"),
                              ",".join(MODES), str(args.runs)], env=env, check=True, capture_output=True, text=True)
        seconds = json.loads(out.stdout.strip().splitlines()[-1])
    for _ in range(0 if args.interleaved else args.runs):
        for mode in MODES:
            out = subprocess.run([sys.executable, "-c", _SCAN, mode, str(work / "reg"), str(work / "mail.txt")],
                                 env=env, check=True, capture_output=True, text=True).stdout
            seconds[mode].append(float(out.strip().splitlines()[-1]))
    median = {m: sorted(v)[len(v) // 2] for m, v in seconds.items()}
    full, core = median["everything"], median["without all three"]
    return {"documents": len(docs), "source": source, "scan_mb": args.scan_mb,
            "traffic": f"{args.scan_mb:g} MB of " + ("Enron mail bodies" if real else "synthetic text")
            + (", typographic" if args.typographic else ""), "runs": seconds,
            "interleaved": args.interleaved,
            "median_seconds": median, "share_of_everything": round((full - core) / full, 3),
            "each_part_seconds": {m.removeprefix("without "): round(full - median[m], 3) for m in MODES[1:4]}}


if __name__ == "__main__":
    main()
