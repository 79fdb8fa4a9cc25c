"""Benchmark material: real text from ../shared/corpora when present, synthetic otherwise."""

from __future__ import annotations

import email
import html
import random
import re
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "du", "sha", "gor", "lin", "tek", "mor", "zu"]


def have_corpora() -> bool:
    return SHARED.is_dir()


def reuters_articles() -> list[str]:
    out = []
    for sgm in sorted((SHARED / "text_corpora" / "reuters21578").glob("reut2-*.sgm")):
        raw = sgm.read_bytes().decode("latin-1")
        for body in re.findall(r"<BODY>(.*?)</BODY>", raw, flags=re.S):
            out.append(html.unescape(body).replace("\x03", "").strip())
    return out


def bbc_articles() -> list[str]:
    return [p.read_bytes().decode("latin-1") for p in sorted((SHARED / "text_corpora" / "bbc_news").glob("*/*.txt"))]


def enron_paths() -> list[Path]:
    return sorted(p for p in (SHARED / "enron_maildir_subset" / "maildir").rglob("*") if p.is_file())


def enron_bodies() -> list[str]:
    bodies = []
    for path in enron_paths():
        msg = email.message_from_bytes(path.read_bytes())
        part = msg.get_payload(decode=True) if not msg.is_multipart() else None
        if part:
            bodies.append(part.decode("latin-1"))
    return bodies


# what a word processor makes of typed punctuation (its "smart quotes" and dashes), in order
_TYPOGRAPHIC = ((re.compile(r"(\w)'(\w)"), "\\1\u2019\\2"),  # it's
                (re.compile(r"(^|[\s(\[])'", re.M), "\\1\u2018"), (re.compile(r"'"), "\u2019"),  # 'quoted'
                (re.compile(r'(^|[\s(\[])"', re.M), "\\1\u201c"), (re.compile(r'"'), "\u201d"),  # "quoted"
                (re.compile(r" - "), " \u2013 "), (re.compile(r"--"), "\u2014"), (re.compile(r"\.\.\."), "\u2026"))


def typographic(text: str) -> str:
    """`text` as office software writes what was typed: curly quotes and apostrophes, en and em
    dashes, ellipses (what every DOCX and most PDFs and HTML mail hold: text beyond ASCII)."""
    for pattern, replacement in _TYPOGRAPHIC:
        text = pattern.sub(replacement, text)
    return text


def traffic() -> list[str]:
    """Unrelated outbound text: the Enron mail bodies, or synthetic text where ../shared is absent."""
    return enron_bodies() if have_corpora() else synthetic(2000, 800, 9)


def mail_text(mb: float, bodies: list[str]) -> str:
    """`bodies` over and over, joined by blank lines, until they hold `mb` million characters
    (one body past it at most: callers cut)."""
    text, i = [], 0
    while sum(len(t) for t in text) < mb * 1e6:
        text.append(bodies[i % len(bodies)])
        i += 1
    return "\n\n".join(text)


def write_documents(folder: Path, docs: list[str]) -> None:
    """`docs` as doc00000.txt, doc00001.txt ... in a new `folder` (what `dlp register` reads)."""
    folder.mkdir()
    for i, d in enumerate(docs):
        (folder / f"doc{i:05d}.txt").write_text(d)


def synthetic(n_docs: int, words_per_doc: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lexicon = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(20000)]
    return [" ".join(rng.choice(lexicon) for _ in range(words_per_doc)) for _ in range(n_docs)]


def secret_documents(n: int = 10_000, size: int = 5000) -> tuple[list[str], str]:
    """n documents of about `size` characters: Reuters/BBC articles joined, or synthetic."""
    if not have_corpora():
        return synthetic(n, size // 6, 1), "synthetic"
    docs, real = joined_articles(reuters_articles() + bbc_articles(), n, size)
    return docs, f"reuters21578+bbc_news ({real} docs), synthetic ({n - real} docs)"


def joined_articles(articles: list[str], n: int, size: int = 5000) -> tuple[list[str], int]:
    """n documents of about `size` characters: `articles` joined in order, then synthetic text
    (never an article twice: repeats would be suppressed as boilerplate); and how many are articles."""
    articles = [a for a in articles if len(a) > 200]
    docs, i = [], 0
    while len(docs) < n and i < len(articles):
        parts, length = [], 0
        while length < size and i < len(articles):
            parts.append(articles[i])
            length += len(articles[i])
            i += 1
        docs.append("\n\n".join(parts)[: size + 500])
    real = len(docs)
    return docs + synthetic(n - real, size // 6, 1), real


def part_numbers(n: int = 100_000, seed: int = 3) -> list[str]:
    """Part numbers as companies write them: letters, hyphens and digits (AB-4471-C, KALOMI-0093, ZX-12-7B)."""
    rng = random.Random(seed)
    letters = "ABCDEFGHKMNPRSTXZ"
    out: set[str] = set()
    while len(out) < n:
        kind = rng.random()
        if kind < 0.4:
            out.add(f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(1000, 9999)}-{rng.choice('ABCDEFG')}")
        elif kind < 0.7:
            out.add("".join(rng.choice(SYLLABLES) for _ in range(3)).upper() + f"-{rng.randint(0, 9999):04d}")
        else:
            out.add(f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(1, 99)}-{rng.randint(1, 9)}{rng.choice(letters)}")
    return sorted(out)
