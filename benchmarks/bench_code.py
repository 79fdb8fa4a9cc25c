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
"""

from __future__ import annotations

import os
import random
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
