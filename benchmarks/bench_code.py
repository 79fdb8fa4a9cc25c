"""Source code (run by hand): reformatted copies of registered modules, and other modules of the
same language, with the Python standard library of this interpreter as the corpus.

    python benchmarks/bench_code.py

40 standard-library modules are registered; the other modules between 2 KB and 200 KB are
scanned and their actions counted (document findings, built-in policy); then 20 registered
modules are reformatted (tabs for four spaces, comment lines emptied, a local name renamed)
and scanned. Last, the matched passages of a few findings are printed for a look: the
standard library shares real code and text between modules (ntpath and posixpath, gzip and
lzma, licence lines, deprecation notices), so a finding there is not by itself a false one.
This runs in one process and prints the text it matched; it writes nothing.

The clean measurement comes after: the same 40 registered modules against Python code that
does not come from the standard library, the modules (2 KB to 200 KB, at most
UNRELATED_PER_PACKAGE each) of the installed packages in UNRELATED_PACKAGES. Every finding
is printed with the passage it matched, to be judged by hand: a passage the package copied
from the standard library (watchdog's copy of fnmatch.translate, click's of textwrap,
sklearn's of pprint) is a correct finding; a run of keywords, idioms or counting numbers is
a false one, and the goal is none.
"""

from __future__ import annotations

import os
import random
import site
import sys
import tempfile
from pathlib import Path

from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.rules import DefaultPolicy
from dlp.types import Destination
lib = Path(os.path.dirname(os.__file__))
files = sorted(p for p in lib.glob("*.py") if 2000 < p.stat().st_size < 200_000)
rng = random.Random(4); rng.shuffle(files)
reg_files, scan_files = files[:40], files[40:240]
tmp = Path(tempfile.mkdtemp()); reg = Registry(tmp / "reg", create=True)
for p in reg_files:
    t = p.read_text(errors="replace"); reg.add_document(t, t.encode(), p.name, secret_id=p.stem)
reg.commit()
sc = Scanner(Registry(tmp / "reg"))
counts = {}
for p in scan_files:
    fs = sc.scan_text(p.read_text(errors="replace"))
    fs = [f for f in fs if f.kind == "document"]
    a = DefaultPolicy().decide(fs, (), Destination()).action.label if fs else "allow"
    counts[a] = counts.get(a, 0) + 1
    if fs: print(p.name, [(f.secret, f.matched_words) for f in fs])
print("unrelated stdlib modules:", len(scan_files), counts)
# reformatted copies of registered modules: tabs for 4 spaces, comments stripped, a renamed local
found = 0
for p in reg_files[:20]:
    t = p.read_text(errors="replace").replace("    ", "\t")
    t = "\n".join(l.split("#")[0].rstrip() if l.lstrip().startswith("#") else l for l in t.splitlines())
    t = t.replace("result", "res_value")
    fs = [f for f in sc.scan_text(t) if f.secret == p.stem]
    found += DefaultPolicy().decide(fs, (), Destination()).action.label == "block"
print("reformatted registered modules blocked:", found, "of 20")
for name in ("abc.py", "mailcap.py", "netrc.py", "socketserver.py", "runpy.py"):
    t = (lib / name).read_text(errors="replace")
    for f in sc.scan_text(t):
        if f.kind == "document":
            for r in f.evidence.longest_run_words and f.evidence.runs[:2]:
                print(name, f.secret, r.words, repr(" ".join(t[r.start:r.end].split())[:160]))

# unrelated code of the same language: installed packages that are not copies of the standard library
UNRELATED_PACKAGES = ("pdfminer", "docx", "watchdog", "bs4", "click", "anyio", "attr", "PIL", "openpyxl", "hypothesis",
                      "distributed", "dask", "sklearn", "spacy", "thinc", "numpy", "scipy")
UNRELATED_PER_PACKAGE = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
packages = Path(next(p for p in site.getsitepackages() if (Path(p) / "numpy").is_dir()))
unrelated = []
for name in UNRELATED_PACKAGES:
    found = sorted(p for p in (packages / name).rglob("*.py") if 2000 < p.stat().st_size < 200_000)
    random.Random(7).shuffle(found)
    unrelated += found[:UNRELATED_PER_PACKAGE]
counts = {}
for p in unrelated:
    t = p.read_text(errors="replace")
    fs = [f for f in sc.scan_text(t) if f.kind == "document"]
    a = DefaultPolicy().decide(fs, (), Destination()).action.label if fs else "allow"
    counts[a] = counts.get(a, 0) + 1
    for f in fs:
        r = max(f.evidence.runs, key=lambda r: r.words)
        print(f"  {a:5} {p.relative_to(packages)} ~ {f.secret}: {f.matched_words} words, longest run "
              f"{r.words}: {' '.join(t[r.start:r.end].split())[:160]!r}")
print("unrelated modules of installed packages:", len(unrelated), counts)
