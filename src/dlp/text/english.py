"""English lemmas, word weights and stop words, as arrays over unkeyed token hashes.

The rewrite tier compares the *content words* of sentences, lemmatised and weighted by
how rare each word is in English. The linguistic data comes from spaCy's packages,
read as data, never run as a pipeline (spaCy's tokeniser costs 1-2 MB/s):

- lemmas from the `en_lemma_lookup` table of `spacy-lookups-data` ("tested" -> "test");
- weights from the unigram log-probabilities `en_lexeme_prob` of the same package: a
  word rarer than 1e-7 gets the top weight 10, "make" about 1;
- stop words from spaCy's English stop list.

Every entry is tokenised by dlp's own tokeniser and kept only when it is one token, so
a lemma is looked up by exactly the hash the scanner computes for a word. The registry
keys these hashes once (`fingerprint.lexicon`) and stores the keyed table; nothing of
this module runs on the scan path.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from .code import code_words
from .normalise import tokenise_lines

COMMON_LOGPROB = -16.0  # words rarer than this all get the top weight
WEIGHT_FLOOR = 6.0  # -logprob of the most common content words; weights are -logprob minus this
RARE_WEIGHT = -COMMON_LOGPROB - WEIGHT_FLOOR  # 10: words not in the frequency table

STOP = np.uint8(1)  # an English stop word (or a word whose lemma is one)
CODE = np.uint8(2)  # a programming keyword, built-in or idiom (`text.code`)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


ENGLISH_VERSION = f"spacy-lookups-data-{_version('spacy-lookups-data')}-spacy-stop-{_version('spacy')}-code/2"


@dataclass(frozen=True)
class English:
    """Unkeyed hashes of words, the hash of each word's lemma, the lemma's weight, and flags."""

    words: np.ndarray  # uint64, unkeyed token hashes (unsorted)
    lemmas: np.ndarray  # uint64
    weights: np.ndarray  # float32
    flags: np.ndarray  # uint8: STOP


def weight_of_logprob(logprob: float) -> float:
    return max(1.0, -logprob - WEIGHT_FLOOR)


@lru_cache(maxsize=1)
def english() -> English:
    """The English table: built once per machine (about a second of JSON parsing) and kept
    in the cache folder of `text.derived`, then read once per process."""
    from .derived import cached_arrays
    from .normalise import NORMALISER_VERSION

    return English(*cached_arrays("english", f"{ENGLISH_VERSION}+{NORMALISER_VERSION}",
                                  ("words", "lemmas", "weights", "flags"), _build))


def _build() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    lemmas = _lookups("en_lemma_lookup")
    logprob = {w: p for w, p in _lookups("en_lexeme_prob").items() if p > COMMON_LOGPROB}
    stop = _stop_words()
    words: dict[str, tuple[str, float, int]] = {}
    # in a fixed order, lower-case forms first: of "Apple" and "apple", the first seen gives the
    # lemma, and iterating a set made that depend on the process's string hash seed
    for word in sorted(set(lemmas) | set(logprob) | stop, key=lambda w: (w != w.lower(), w)):
        lower = word.lower()
        lemma = lemmas.get(word, lemmas.get(lower, lower)).lower()
        weight = weight_of_logprob(logprob.get(lemma, logprob.get(lower, COMMON_LOGPROB)))
        flag = 1 if (lower in stop or lemma in stop) else 0
        if lower not in words or flag:
            words[lower] = (lemma, weight, flag)
    for word in code_words():
        lemma, weight, flag = words.get(word, (word, weight_of_logprob(logprob.get(word, COMMON_LOGPROB)), 0))
        words[word] = (lemma, weight, flag | int(CODE))
    # words that are already one clean token first: "the" must win over "'the" or "the-"
    surface = sorted(words, key=lambda w: (not w.isalnum(), w))
    surface_hashes = _one_token_hashes(surface)
    lemma_hashes = _one_token_hashes([words[w][0] for w in surface])
    weights = np.array([words[w][1] for w in surface], dtype=np.float32)
    flags = np.array([words[w][2] for w in surface], dtype=np.uint8)
    lemma_hashes = np.where(lemma_hashes != 0, lemma_hashes, surface_hashes)
    _, first = np.unique(surface_hashes, return_index=True)  # the first (cleanest) word of each token
    keep = np.zeros(len(surface), dtype=bool)
    keep[first] = True
    keep &= surface_hashes != 0
    return surface_hashes[keep], lemma_hashes[keep], weights[keep], flags[keep]


def _one_token_hashes(words: list[str]) -> np.ndarray:
    """The unkeyed hash of each word that is exactly one token; 0 for the others.

    All words are tokenised as one text (a word per line), so this costs one
    tokeniser pass, not one per word.
    """
    toks, line = tokenise_lines(words)
    out = np.zeros(len(words), dtype=np.uint64)
    if len(toks) == 0:
        return out
    counts = np.bincount(line, minlength=len(words))
    single = counts == 1
    first = np.searchsorted(line, np.arange(len(words)))
    ok = np.flatnonzero(single)
    out[ok] = toks.hashes[first[ok]]
    return out


def _lookups(table: str) -> dict:
    try:
        data = resources.files("spacy_lookups_data").joinpath("data", f"{table}.json.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        from ..errors import ConfigError

        raise ConfigError("the rewrite tier needs its word tables: pip install spacy-lookups-data") from exc
    return json.loads(gzip.decompress(data))


def _stop_words() -> frozenset[str]:
    """spaCy's English stop words, read as data (importing spaCy itself takes a second or more:
    the file is found without importing the package)."""
    try:
        spec = importlib.util.find_spec("spacy")
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("spacy")
        source = (Path(list(spec.submodule_search_locations)[0]) / "lang" / "en" / "stop_words.py").read_text(
            encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        from ..errors import ConfigError

        raise ConfigError("the rewrite tier needs spaCy's English stop words: pip install spacy") from exc
    start = source.index('"""', source.index("STOP_WORDS")) + 3
    block = source[start : source.index('"""', start)]
    words = set(block.split())
    # spaCy adds contractions with typographic apostrophes; our tokeniser splits them anyway
    return frozenset(w.lower() for w in words)
