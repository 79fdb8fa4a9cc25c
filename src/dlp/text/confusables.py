"""Lookalike letters folded to their Latin skeleton, in the sense of Unicode's UTS #39.

An insider who writes ``рауrоll`` with Cyrillic а, о and р hides the word from any
matcher that compares code points. The fold maps each non-ASCII letter that Unicode's
confusables data says looks like one ASCII letter or digit (Cyrillic а е о р с х у і,
Greek ο ν ρ, Latin ɑ ı, ...) to that ASCII character. NFKC, applied before, already
folds fullwidth forms and mathematical alphanumerics.

Genuine Greek or Cyrillic text must stay as it is, so only two kinds of token are folded:

- tokens that mix scripts: ASCII letters next to lookalikes (``pаyroll``);
- tokens made only of lookalikes (``рау``, with any ASCII letters).

A Russian word with at least one letter that has no Latin lookalike (``привет``) is
left alone, so a registered Russian document is found in Russian text exactly as
before. Registration and scanning fold alike, so both sides always agree.

The data comes from the `confusable-homoglyphs` package, a generated copy of Unicode's
``confusables.txt``; its version is part of the normaliser version, so a store built
with other data is refused and rebuilt.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import metadata, resources

import numpy as np

try:
    _DATA_VERSION = metadata.version("confusable-homoglyphs")
except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
    _DATA_VERSION = "missing"
CONFUSABLES_VERSION = f"skeleton-confusable-homoglyphs-{_DATA_VERSION}/2"


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    """Sorted non-ASCII code points and the ASCII code point each folds to (parsing the data costs
    20 ms, paid by the first scan of a process that meets non-ASCII text: kept in the cache folder
    of derived tables)."""
    from .derived import cached_arrays

    keys, targets = cached_arrays("confusables", CONFUSABLES_VERSION, ("keys", "targets"), _parsed)
    return keys, targets


def _parsed() -> tuple[np.ndarray, np.ndarray]:
    try:
        raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - a declared dependency
        from ..errors import ConfigError

        raise ConfigError("the confusables data is missing: pip install confusable-homoglyphs") from exc
    pairs: dict[int, int] = {}
    capitals: dict[int, int] = {}
    for char, glyphs in json.loads(raw).items():
        if len(char) != 1 or ord(char) < 128:
            continue
        targets = {g["c"].lower() for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()}
        if len(targets) != 1:
            continue
        folded = char.casefold()
        if len(folded) == 1 and folded != char:
            # a capital is met in the text as its case fold: it stands for that small letter,
            # unless the small letter has a skeleton of its own (capital І looks like "l",
            # but і, which is what the text holds after folding, looks like "i")
            capitals[ord(folded)] = ord(targets.pop())
        else:
            pairs[ord(char)] = ord(targets.pop())
    for code, target in capitals.items():
        pairs.setdefault(code, target)
    keys = np.array(sorted(pairs), dtype=np.uint32)
    return keys, np.array([pairs[int(k)] for k in keys], dtype=np.uint32)


CODE_POINTS = 0x110000  # every Unicode code point (tables indexed by code point; the tokeniser's too)


@lru_cache(maxsize=1)
def _by_code_point() -> np.ndarray:
    """The fold of every code point (0: none), for one gather per character instead of a binary search
    (4.4 MB, built once per process)."""
    keys, targets = _table()
    out = np.zeros(CODE_POINTS, dtype=np.uint32)
    out[keys] = targets
    return out


_TABLE_FROM = 1 << 14  # non-ASCII characters from which folding reads the per-code-point table


def fold_confusable_tokens(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray):
    """`norm` with lookalikes folded inside the tokens that mix scripts or are all lookalikes,
    and the indices of the tokens folded: (those that mixed scripts, those all lookalikes).

    Only called for text with non-ASCII characters; returns `norm` itself when nothing folds.
    """
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    wide = np.flatnonzero(norm >= 128)
    if len(wide) == 0 or len(nstarts) == 0:
        return norm, none
    if len(wide) > _TABLE_FROM:
        fold_of = _by_code_point()[norm[wide]]
    else:  # a few characters: a binary search beats building the table
        keys, targets = _table()
        at = np.minimum(np.searchsorted(keys, norm[wide]), len(keys) - 1)
        fold_of = np.where(keys[at] == norm[wide], targets[at], 0)
    foldable = fold_of != 0
    if not foldable.any():
        return norm, none
    # per token: foldable characters, other non-ASCII letters, ASCII letters (running counts:
    # a token's is the difference at its bounds; int32 halves what is written and read)
    n = len(norm)

    def count(where: np.ndarray) -> np.ndarray:
        running = np.zeros(n + 1, dtype=np.int32)
        running[where + 1] = 1
        np.cumsum(running, out=running)
        return running[nends] - running[nstarts]

    folds, others = count(wide[foldable]), count(wide[~foldable])
    latin = count(np.flatnonzero(((norm | np.uint32(0x20)) - np.uint32(97)) < np.uint32(26)))
    chosen = (folds > 0) & ((latin > 0) | (others == 0))
    if not chosen.any():
        return norm, none
    # the characters inside chosen tokens: +1 at their starts, -1 at their ends, summed
    inside = np.zeros(n + 1, dtype=np.int8)
    inside[nstarts[chosen]] += 1  # (tokens do not overlap: no index twice in one statement)
    inside[nends[chosen]] -= 1
    in_chosen = np.cumsum(inside[:n], dtype=np.int8) > 0
    at = np.flatnonzero(foldable)
    at = at[in_chosen[wide[at]]]
    if len(at) == 0:
        return norm, none
    out = norm.copy()
    out[wide[at]] = fold_of[at]
    # folded tokens that mixed scripts first, then those made only of lookalikes
    mixed = np.flatnonzero(chosen & (latin > 0))
    pure = np.flatnonzero(chosen & (latin == 0))
    return out, (mixed, pure)
