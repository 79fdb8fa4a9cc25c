"""Test helpers: reproducible synthetic texts and small registries."""

from __future__ import annotations

import random
from pathlib import Path

from dlp.registry import Registry
from dlp.scanner import Scanner

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "du", "sha", "gor", "lin", "tek", "mor", "zu"]


def words(n: int, seed: int, vocabulary: int = 5000) -> list[str]:
    """n words drawn from a pseudo-language of `vocabulary` words; the seed picks the text."""
    rng = random.Random(seed)
    lexicon_rng = random.Random(vocabulary)
    lexicon = ["".join(lexicon_rng.choice(SYLLABLES) for _ in range(lexicon_rng.randint(1, 4))) for _ in range(vocabulary)]
    return [rng.choice(lexicon) for _ in range(n)]


def prose(n: int, seed: int) -> str:
    """Words with punctuation and capitals, so normalisation has something to do."""
    rng = random.Random(seed + 1)
    out = []
    for i, w in enumerate(words(n, seed)):
        if i == 0 or out[-1].endswith("."):
            w = w.capitalize()
        if rng.random() < 0.08:
            w += rng.choice([".", ",", ";", ":"])
        out.append(w)
    return " ".join(out)


def registry_with(tmp: Path, documents: dict[str, str], **settings) -> Registry:
    reg = Registry(tmp / "reg", create=True)
    reg.settings.update(settings)
    for sid, text in documents.items():
        reg.add_document(text, text.encode(), f"{sid}.txt", secret_id=sid, label=sid.title())
    reg.commit()
    return Registry(tmp / "reg")


def scanner_with(tmp: Path, documents: dict[str, str], **settings) -> Scanner:
    return Scanner(registry_with(tmp, documents, **settings))


def plugin_distribution(tmp: Path, monkeypatch, module: str, source: str, group: str, entry: str) -> Path:
    """A distribution of one module on sys.path with its metadata, as pip would leave it: `entry`
    (``name = module:Class``) a real entry point of `group`. The caller pops `module` from
    sys.modules when done."""
    import importlib
    import textwrap

    site = tmp / "site"
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return site
