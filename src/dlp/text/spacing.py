"""Letter-spaced text read as words again: ``c o n f i d e n t i a l`` is ``confidential``.

Spacing a word's letters out keeps it readable and turns it into one-letter tokens
that match nothing. The tokeniser joins every run of three or more one-letter tokens
separated by single spaces (a wider gap or any punctuation ends the run). When the
writer spaced out whole sentences with single spaces, the word boundaries are gone
from the text itself; they are put back the way a reader does it, with a dictionary:
the most probable split of the run into English words (a unigram model, Viterbi over
the letters), from the word log-probabilities of `spacy-lookups-data` that the rewrite
tier already uses. Its version is part of the normaliser version.

Most letter-spaced text is a heading whose words stand apart by wider gaps
(``E X T R E M E   M A R K E T S``): each of its runs is a word without any dictionary.
The table is read only for the rest (the head of the file, about 0.15 s once per
process) and kept as two arrays, a hash of each word and its cost. Unknown words cost
more the longer they are, so a rare technical word splits into pieces only when the
pieces are real words.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import metadata, resources

import numpy as np

try:
    _DATA_VERSION = metadata.version("spacy-lookups-data")
except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
    _DATA_VERSION = "missing"

MAX_WORD = 24
WORDS = 150_000  # the most probable words (rank 150,000 has a log-probability near -18)
UNKNOWN_COST, UNKNOWN_PER_LETTER = 20.0, 4.0  # a word the table lacks: 20 + 4 per letter (-logprob units)
SHORT_RUN = 4  # runs of at most this many letters are one word ("a b c"), without a dictionary
SPACING_VERSION = f"viterbi-en_lexeme_prob-{_DATA_VERSION}-top{WORDS}/3"


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    """Sorted hashes of the WORDS most probable lower-case English words and their costs (minus
    the log-probability). The file lists one word a line, most probable first: only its head
    is decompressed."""
    source = resources.files("spacy_lookups_data").joinpath("data", "en_lexeme_prob.json.gz")
    entry = re.compile(rb'\n\s*"([a-z]{1,%d})":\s*(-?[0-9.]+)' % MAX_WORD)  # keys such as "The" or "'s" left out
    pairs: list[tuple[bytes, bytes]] = []
    try:
        with gzip.open(source.open("rb")) as stream:
            rest = b""
            while len(pairs) < WORDS:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                block = rest + chunk
                cut = block.rfind(b"\n")
                pairs.extend(entry.findall(block[:cut]))
                rest = block[cut:]
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - a declared dependency
        from ..errors import ConfigError

        raise ConfigError("letter-spaced text needs the English word table: pip install spacy-lookups-data") from exc
    pairs = pairs[:WORDS]
    hashes = np.fromiter((hash(w.decode("ascii")) for w, _ in pairs), dtype=np.int64, count=len(pairs))
    costs = np.fromiter((-float(p) for _, p in pairs), dtype=np.float32, count=len(pairs))
    hashes, first = np.unique(hashes, return_index=True)  # a word twice: its first, most probable entry
    return hashes, costs[first]


@lru_cache(maxsize=4096)
def word_lengths(letters: str) -> tuple[int, ...]:
    """The lengths of the words `letters` (lower case, no spaces) most probably spell, in order.

    Cached: letter-spaced headings of newsletters come back mail after mail."""
    n = len(letters)
    if n <= SHORT_RUN:
        return (n,) if n else ()
    hashes, costs = _table()
    # cost[i, k]: the word of k + 1 letters ending at letter i
    keys = [hash(letters[max(0, i - k) : i + 1]) if k <= i else 0 for i in range(n) for k in range(MAX_WORD)]
    query = np.array(keys, dtype=np.int64)
    at = np.minimum(np.searchsorted(hashes, query), len(hashes) - 1)
    known = hashes[at] == query
    lengths = np.tile(np.arange(1, MAX_WORD + 1, dtype=np.float32), n)
    cost = np.where(known, costs[at], UNKNOWN_COST + UNKNOWN_PER_LETTER * lengths).reshape(n, MAX_WORD).tolist()
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        row = cost[end - 1]
        for k in range(min(MAX_WORD, end)):
            value = best[end - k - 1] + row[k]
            if value < best[end]:
                best[end], back[end] = value, end - k - 1
    out = []
    end = n
    while end > 0:
        out.append(end - back[end])
        end = back[end]
    return tuple(out[::-1])
