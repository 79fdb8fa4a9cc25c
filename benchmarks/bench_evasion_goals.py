"""Issue 20's detection goals, measured as the issue measured them (run by hand).

    python benchmarks/bench_evasion_goals.py [--docs 10000] [--trials 50] [--no-unrelated]

A deployment-sized registry (--docs documents of ~5 KB: Reuters-21578 articles joined, topped
up with synthetic text; BBC News stays unregistered, as unrelated text) is registered with
`dlp register`. Then, in process, through the scanner and the default policy as `dlp scan`
uses them:

- each of the issue's disguises is applied to excerpts of 25, 40 and 60 words of registered
  Reuters documents, each planted at a random word of the body of a random Enron mail, and the
  mail scanned as the .eml file it is: the share blocked, beside the share blocked with no
  disguise (the same excerpts and mails: an excerpt made only of boilerplate that several
  registered documents share is not evidence, disguised or not);
- every Enron mail of the corpus and every BBC News text is scanned: how many block or warn.

The disguises are the issue's table: a zero-width space, zero-width joiner, word joiner or soft
hyphen inside every third word; Latin letters replaced by Cyrillic lookalikes (а е о р с х у і)
in every second word; hard-wrapped lines of at most 60 characters with the word at each line end
hyphenated; all capitals with no-break spaces and no punctuation between the words. One more,
beyond the issue's table: every mark of punctuation deleted, inside words too. Figures go to standard output
and benchmarks/out/evasion_goals.json. Needs ../shared/corpora.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SRC = Path(__file__).resolve().parents[1] / "src"
LENGTHS = (25, 40, 60)
CYRILLIC = dict(zip("aeopcxyi", "аеорсхуі"))
PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014"


def inside(mark: str, every: int) -> Callable[[list[str]], str]:
    """`mark` in the middle of every `every`th word."""
    def disguise(words: list[str]) -> str:
        return " ".join(w[: len(w) // 2] + mark + w[len(w) // 2:] if i % every == 0 and len(w) > 1 else w
                        for i, w in enumerate(words))
    return disguise


def cyrillic(words: list[str]) -> str:
    return " ".join("".join(CYRILLIC.get(c, c) for c in w) if i % 2 == 0 else w for i, w in enumerate(words))


def hard_wrapped(words: list[str], width: int = 60) -> str:
    """Lines of at most `width` characters; a word that does not fit is hyphenated across the break
    (a word of letters: word processors never hyphenate a number)."""
    lines, line = [], ""
    for w in words:
        if len(line) + 1 + len(w) <= width or not line:
            line = f"{line} {w}" if line else w
            continue
        room = width - len(line) - 2  # a blank and the hyphen
        if len(w) > 4 and w.isalpha() and room >= 2:  # (words are hyphenated, numbers never)
            cut = min(room, len(w) - 2)
            lines.append(f"{line} {w[:cut]}-")
            line = w[cut:]
        else:
            lines.append(line)
            line = w
    return "\n".join(lines + [line])


def shouted(words: list[str]) -> str:
    """All capitals, no punctuation between the words, no-break spaces between them."""
    bare = (w.strip(PUNCTUATION).upper() for w in words)
    return "\u00a0".join(w for w in bare if w)


def stripped(words: list[str]) -> str:
    """Every mark of punctuation deleted, inside words too (`tr -d '[:punct:]'`: Kong's -> Kongs,
    2.81 -> 281, snow-capped -> snowcapped): beyond the issue's table."""
    bare = ("".join(c for c in w if c not in PUNCTUATION) for w in words)
    return " ".join(w for w in bare if w)


DISGUISES: dict[str, Callable[[list[str]], str]] = {
    "none": " ".join,
    "zero-width space in every 3rd word": inside("\u200b", 3),
    "zero-width joiner in every 3rd word": inside("\u200d", 3),
    "word joiner in every 3rd word": inside("\u2060", 3),
    "soft hyphen in every 3rd word": inside("\u00ad", 3),
    "Cyrillic lookalikes in every 2nd word": cyrillic,
    "hard-wrapped, hyphenated at line ends": hard_wrapped,
    "all caps, no-break spaces, no punctuation": shouted,
    "(beyond the issue) every punctuation mark deleted": stripped,
}


def reuters_documents(n: int, size: int = 5000) -> tuple[list[str], int]:
    """n documents of about `size` characters: Reuters articles joined, then synthetic text;
    and how many are Reuters."""
    return corpus.joined_articles(corpus.reuters_articles(), n, size)


def planted(mail: bytes, excerpt: str, rng: random.Random) -> bytes:
    """The Enron mail with `excerpt` at a random word of its body (after the header's blank line)."""
    head, sep, body = mail.partition(b"\n\n")
    words = body.split(b" ")
    at = rng.randrange(len(words) + 1)
    return head + sep + b" ".join(words[:at] + [excerpt.encode()] + words[at:])


def detection(scanner, docs: list[str], real: int, mails: list[Path], trials: int) -> dict:
    from dlp.types import Action

    rng = random.Random(20)
    table: dict[str, dict[int, float]] = {name: {} for name in DISGUISES}
    misses: list[dict] = []
    for length in LENGTHS:
        cases = []
        while len(cases) < trials:
            d = rng.randrange(real)
            words = docs[d].split()
            if len(words) < length:
                continue
            start = rng.randrange(len(words) - length + 1)
            cases.append((d, words[start:start + length], rng.choice(mails), rng.random()))
        for name, disguise in DISGUISES.items():
            blocked = 0
            for d, words, mail, where in cases:
                data = planted(mail.read_bytes(), disguise(words), random.Random(where))  # (the same place each time)
                report = scanner.scan_bytes(data, "mail.eml")
                hit = report.action is Action.BLOCK and any(f.secret == f"doc{d:05d}" for f in report.findings)
                blocked += hit
                if not hit:
                    misses.append({"disguise": name, "words": length, "doc": f"doc{d:05d}",
                                   "action": report.action.label, "mail": mail.name})
            table[name][length] = round(blocked / len(cases), 3)
            print(f"{length:3} words  {name:42} blocked {blocked / len(cases):6.1%}", flush=True)
    return {"blocked": table, "misses": misses[:100]}


def unrelated(scanner) -> dict:
    from dlp.types import Action

    out = {}
    for name, items in (("enron", [(p, p.read_bytes(), "mail.eml") for p in corpus.enron_paths()]),
                        ("bbc", [(p, p.read_bytes(), "article.txt")
                                 for p in sorted((corpus.SHARED / "text_corpora" / "bbc_news").glob("*/*.txt"))])):
        actions = {a.label: 0 for a in Action}
        flagged = []
        started = time.perf_counter()
        for path, data, as_name in items:
            report = scanner.scan_bytes(data, as_name)
            actions[report.action.label] += 1
            if report.action in (Action.BLOCK, Action.QUARANTINE, Action.WARN):
                flagged.append({"path": str(path.relative_to(corpus.SHARED)), "action": report.action.label,
                                "findings": [(f.secret, f.kind, f.matched_words) for f in report.findings]})
        out[name] = {"items": len(items), "actions": actions, "flagged": flagged[:50],
                     "seconds": round(time.perf_counter() - started, 1)}
        print(f"unrelated {name}: {len(items)} items, {actions}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=50, help="excerpts per length (each under every disguise)")
    ap.add_argument("--no-unrelated", action="store_true", help="leave out the scan of every Enron mail and BBC text")
    args = ap.parse_args()
    if not corpus.have_corpora():
        raise SystemExit("needs ../shared/corpora (Reuters, BBC News and Enron mail)")
    sys.path.insert(0, str(SRC))
    from dlp.scanner import open_scanner

    results: dict = {"python": sys.version.split()[0], "trials": args.trials}
    with tempfile.TemporaryDirectory(prefix="dlp-bench-goals-") as folder:
        work = Path(folder)
        docs, real = reuters_documents(args.docs)
        corpus.write_documents(work / "docs", docs)
        env = dict(os.environ, DLP_REGISTRY=str(work / "reg"), PYTHONPATH=str(SRC))
        subprocess.run([sys.executable, "-m", "dlp", "register", str(work / "docs")], env=env, check=True,
                       capture_output=True)
        results["registry"] = {"documents": len(docs), "reuters": real, "synthetic": len(docs) - real}
        print("registered:", results["registry"], flush=True)
        scanner = open_scanner(work / "reg", environ={})
        results["detection"] = detection(scanner, docs, real, corpus.enron_paths(), args.trials)
        if not args.no_unrelated:
            results["unrelated"] = unrelated(scanner)
    OUT.mkdir(exist_ok=True)
    (OUT / "evasion_goals.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
