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
    """Sorted non-ASCII code points and the ASCII code point each folds to."""
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


def fold_confusable_tokens(norm: np.ndarray, nstarts: np.ndarray, nends: np.ndarray):
    """`norm` with lookalikes folded inside the tokens that mix scripts or are all lookalikes,
    and the indices of the tokens folded: (those that mixed scripts, those all lookalikes).

    Only called for text with non-ASCII characters; returns `norm` itself when nothing folds.
    """
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    wide = np.flatnonzero(norm >= 128)
    if len(wide) == 0 or len(nstarts) == 0:
        return norm, none
    keys, targets = _table()
    at = np.searchsorted(keys, norm[wide])
    at[at >= len(keys)] = 0
    foldable = keys[at] == norm[wide]
    if not foldable.any():
        return norm, none
    # per token: foldable characters, other non-ASCII letters, ASCII letters
    n = len(norm)
    fold_mask = np.zeros(n + 1, dtype=np.int64)
    fold_mask[wide[foldable]] = 1
    other_wide = np.zeros(n + 1, dtype=np.int64)
    other_wide[wide[~foldable]] = 1
    ascii_letter = np.zeros(n + 1, dtype=np.int64)
    ascii_letter[:n] = ((norm | np.uint32(0x20)) - np.uint32(97)) < np.uint32(26)
    count = lambda m: np.add.reduceat(m, _bounds(nstarts, nends))[0::2]  # noqa: E731
    folds, others, latin = count(fold_mask), count(other_wide), count(ascii_letter)
    chosen = (folds > 0) & ((latin > 0) | (others == 0))
    if not chosen.any():
        return norm, none
    inside = np.zeros(n + 1, dtype=np.int8)  # +1 at chosen token starts, -1 at their ends
    np.add.at(inside, nstarts[chosen], 1)
    np.add.at(inside, nends[chosen], -1)
    in_chosen = np.cumsum(inside[:n]) > 0
    positions = wide[foldable]
    positions = positions[in_chosen[positions]]
    if len(positions) == 0:
        return norm, none
    out = norm.copy()
    out[positions] = targets[np.searchsorted(keys, norm[positions])]
    # folded tokens that mixed scripts first, then those made only of lookalikes
    mixed = np.flatnonzero(chosen & (latin > 0))
    pure = np.flatnonzero(chosen & (latin == 0))
    return out, (mixed, pure)


def _bounds(nstarts: np.ndarray, nends: np.ndarray) -> np.ndarray:
    bounds = np.empty(2 * len(nstarts), dtype=np.int64)
    bounds[0::2] = nstarts
    bounds[1::2] = nends
    return bounds
