"""Letter-spaced text read as words again: ``c o n f i d e n t i a l`` is ``confidential``.

Spacing a word's letters out keeps it readable and turns it into one-letter tokens
that match nothing. The tokeniser joins every run of three or more one-letter tokens
one spacer apart (a blank, or a dot, dash, underscore, star or bullet all along the run;
a wider gap or other punctuation ends the run). When the writer spaced out whole
sentences with single blanks, the word boundaries are gone from the text itself; they are put back the way a reader does it, with a dictionary:
the most probable split of the run into English words (a unigram model, Viterbi over
the letters), from the word log-probabilities of `spacy-lookups-data` that the rewrite
tier already uses. Its version is part of the normaliser version.

Most letter-spaced text is a heading whose words stand apart by wider gaps
(``E X T R E M E   M A R K E T S``): each of its runs is a word without any dictionary.
The table is read only for the rest: the head of the file (the most probable words come
first), parsed with numpy, once per process (about 0.1 s). Words are looked up by the
tokeniser's own unkeyed hash of their letters, so the split is the same in every process.
Unknown words cost more the longer they are, so a rare technical word splits into
pieces only when the pieces are real words.

The same table tells a word cut in two by a blank (``mole cular``) from two words
(`cut_tables`: bitmaps of its common words and of every word's two pieces, for
`normalise.Tokens.blank_cuts`).
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import metadata, resources
from typing import Any, Mapping

import numpy as np

from ..arrays import among

try:
    _DATA_VERSION = metadata.version("spacy-lookups-data")
except metadata.PackageNotFoundError:  # pragma: no cover - a declared dependency
    _DATA_VERSION = "missing"

MAX_WORD = 24
WORDS = 150_000  # the most probable lower-case words (rank 150,000 has a log-probability near -18)
UNKNOWN_COST, UNKNOWN_PER_LETTER = 20.0, 4.0  # a word the table lacks: 20 + 4 per letter (-logprob units)
SHORT_RUN = 4  # runs of at most this many letters are one word ("a b c"), without a dictionary
SPACING_VERSION = f"viterbi-en_lexeme_prob-{_DATA_VERSION}-top{WORDS}/4"
_HEAD = 12 << 20  # decompressed bytes read at a time: 150,000 lower-case words lie in the first 12 MB


_PROVIDED: list[tuple[np.ndarray, np.ndarray]] = []  # the table as a registry stored it (see `provide`)


def provide(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Use the table a registry stored with its lexicon (`stored`), if it is of this version.

    Parsing the word list costs a quarter of a second in every process that meets a run
    of glued letters (a long word of a link or a base64 line is enough), which is most
    scans of real mail; the registry keeps it from the first commit. The table holds
    unkeyed hashes of public English words only. It is copied (1.8 MB, under a
    millisecond), not kept mapped: a process that follows its registry across
    generations must hold no file of the one it left."""
    if not _PROVIDED and meta.get("spacing_version") == SPACING_VERSION and "sp_hash" in arrays:
        _PROVIDED.append((np.array(arrays["sp_hash"]), np.array(arrays["sp_cost"])))


def stored() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(segment metadata, arrays) of the table, for a registry's lexicon segment."""
    hashes, costs = _table()
    return {"spacing_version": SPACING_VERSION}, {"sp_hash": hashes, "sp_cost": costs}


def warm() -> None:
    """Have the table ready (a process about to fork workers that tokenise)."""
    _table()


def _table() -> tuple[np.ndarray, np.ndarray]:
    return _PROVIDED[0] if _PROVIDED else _parsed()


@lru_cache(maxsize=1)
def _parsed() -> tuple[np.ndarray, np.ndarray]:
    """Sorted unkeyed hashes of the WORDS most probable lower-case English words and their costs
    (minus the log-probability), read from the word list (once per machine: `text.derived`)."""
    from .derived import cached_arrays

    hashes, costs = cached_arrays("spacing", SPACING_VERSION, ("hashes", "costs"), _parse)
    return hashes, costs


def _parse() -> tuple[np.ndarray, np.ndarray]:
    from .normalise import span_hashes

    (starts, ends, raw), costs = _words()
    hashes = span_hashes(raw, starts, ends)
    hashes, first = np.unique(hashes, return_index=True)  # a word twice: its first, most probable entry
    return hashes, costs[first]


def _words():
    """((starts, ends, bytes as an array), costs) of the WORDS most probable lower-case words."""
    source = resources.files("spacy_lookups_data").joinpath("data", "en_lexeme_prob.json.gz")
    try:
        with gzip.open(source.open("rb")) as stream:
            data = b""
            while True:
                more = stream.read(_HEAD)
                data += more
                words, costs = _entries(data[: data.rfind(b"\n") + 1])
                if len(words[0]) >= WORDS or not more:
                    return words, costs
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - a declared dependency
        from ..errors import ConfigError

        raise ConfigError("letter-spaced text needs the English word table: pip install spacy-lookups-data") from exc


PAIR_MIX = np.uint64(0x9E3779B97F4A7C15)  # the key of two tokens read as one word: first ^ second * PAIR_MIX
COMMON_BITS_PER_WORD = 128  # bits per word in the bitmap of common words: under 1% of other tokens pass
PAIR_BITS = 24  # bits of the bitmap of the keys of words cut in two (2 MB), two bits set a key (`pair_bits`): ...
PAIR_LOW = 8  # ... the top PAIR_BITS bits of the key, and those above its PAIR_LOW lowest: under 1% of other pairs pass
WORD_BITS = 22  # bits of the bitmap of the words themselves (512 KB): 4% of other tokens pass


def pair_key(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The key of each pair of token hashes (unkeyed, each well mixed already) that `cut_tables`
    holds when they are the two pieces of one word: as the C pass `blank_cuts` computes it."""
    with np.errstate(over="ignore"):
        return first ^ (second * PAIR_MIX)


def cut_tables(piece_cost: float, short_cost: float, word_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bitmaps over the top bits of hashes, for `normalise.Tokens.blank_cuts`: of the common
    words (those of three letters or more that cost less than `piece_cost`, the shorter ones less
    than `short_cost`: a token whose bit is clear is no such word); of the `pair_key` of the two
    pieces of every word that costs less than `word_cost`, cut anywhere but into two common words
    (two tokens whose bit is clear are no such word); and of those words. Built from the word list
    once per machine (`text.derived`)."""
    return _cut_tables(piece_cost, short_cost, word_cost)


@lru_cache(maxsize=2)
def _cut_tables(piece_cost: float, short_cost: float, word_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from .derived import cached_arrays

    version = (f"{SPACING_VERSION}-{piece_cost}-{short_cost}-{word_cost}-{COMMON_BITS_PER_WORD}-{PAIR_BITS}-"
               f"{PAIR_LOW}-{WORD_BITS}/3")
    common, pairs, words = cached_arrays("cut-tables", version, ("common", "pairs", "words"),
                                         lambda: _built_cut_tables(piece_cost, short_cost, word_cost))
    return common, pairs, words


def _built_cut_tables(piece_cost: float, short_cost: float,
                      word_cost: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ..fingerprint.bitmap import build
    from .normalise import span_hashes

    (starts, ends, raw), costs = _words()
    size = ends - starts
    hashes = span_hashes(raw, starts, ends)
    common = hashes[np.where(size >= 3, costs < piece_cost, costs < short_cost)]
    keep = (costs < word_cost) & (size >= 2)
    starts, ends = starts[keep], ends[keep]
    cuts = ends - starts - 1  # a word of L letters is cut in L - 1 places
    word = np.repeat(np.arange(len(starts)), cuts)
    at = starts[word] + 1 + (np.arange(int(cuts.sum())) - np.repeat(np.cumsum(cuts) - cuts, cuts))
    first, second = span_hashes(raw, starts[word], at), span_hashes(raw, at, ends[word])
    known = np.sort(common)
    one_rare = ~(among(first, known) & among(second, known))  # (two common words are never one: "in the")
    keys = pair_key(first[one_rare], second[one_rare])
    pairs = build(np.concatenate((keys, pair_bits(keys)[1] << np.uint64(64 - PAIR_BITS))), PAIR_BITS)
    return (build(common, max(16, int(len(common) * COMMON_BITS_PER_WORD).bit_length())), pairs,
            build(hashes[keep], WORD_BITS))


def pair_bits(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two bits of the bitmap of `cut_tables` each key sets (as the C pass reads them)."""
    return keys >> np.uint64(64 - PAIR_BITS), (keys >> np.uint64(PAIR_LOW)) & np.uint64((1 << PAIR_BITS) - 1)


def words_and_costs() -> tuple[np.ndarray, np.ndarray]:
    """The table: sorted unkeyed hashes of its words, and their costs (minus log-probabilities)."""
    return _table()


def _entries(data: bytes):
    """The lower-case words of the JSON table (one ``"word":logprob,`` a line, most probable first):
    ((starts, ends, bytes as an array), costs), in the order of the file."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = np.append(np.flatnonzero(raw == 10), len(raw))
    key = newline[:-1] + 4  # every entry starts a line: \n  "word":-3.14,
    key = key[(key < len(raw)) & (raw[np.minimum(key - 1, len(raw) - 1)] == 34)]
    quote = np.append(np.flatnonzero((raw[:-1] == 34) & (raw[1:] == 58)), len(raw))  # a key's end: ":
    end = quote[np.searchsorted(quote, key)]
    stop = newline[np.searchsorted(newline, key)]  # the end of the key's line
    ok = (end > key) & (end - key <= MAX_WORD) & (end < stop)
    key, end, stop = key[ok], end[ok], stop[ok]
    size = end - key
    chars = raw[np.repeat(key - (np.cumsum(size) - size), size) + np.arange(int(size.sum()))]
    other = (chars - np.uint8(97)) >= np.uint8(26)  # anything but a-z: "The", "'s", escapes
    lower = np.add.reduceat(other.view(np.uint8), np.cumsum(size) - size) == 0
    key, end, stop = key[lower][:WORDS], end[lower][:WORDS], stop[lower][:WORDS]
    return (key, end, raw), -_numbers(raw, end + 2, stop)


def _numbers(raw: np.ndarray, starts: np.ndarray, stops: np.ndarray, width: int = 16) -> np.ndarray:
    """The numbers written at raw[starts[i]:stops[i]] (a trailing comma allowed), parsed in one go."""
    padded = np.concatenate((raw, np.zeros(width, dtype=np.uint8)))
    cells = padded[starts.astype(np.int32)[:, None] + np.arange(width, dtype=np.int32)]
    cells[np.arange(width) >= (stops - starts)[:, None]] = 0
    cells[cells == 44] = 0  # the comma after the number
    return cells.view(f"S{width}").ravel().astype(np.float32)


@lru_cache(maxsize=4096)
def word_lengths(letters: str) -> tuple[int, ...]:
    """The lengths of the words `letters` (lower case, no spaces) most probably spell, in order.

    Cached: letter-spaced headings of newsletters come back mail after mail."""
    n = len(letters)
    if n <= SHORT_RUN:
        return (n,) if n else ()
    from .normalise import span_hashes

    hashes, costs = _table()
    codes = np.frombuffer(letters.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    codes = codes.astype(np.uint8) if int(codes.max()) < 128 else codes
    # cost[i, k]: the word of k + 1 letters ending at letter i
    end = np.repeat(np.arange(1, n + 1), MAX_WORD)
    size = np.tile(np.arange(1, MAX_WORD + 1), n)
    inside = size <= end
    query = np.zeros(n * MAX_WORD, dtype=np.uint64)
    query[inside] = span_hashes(codes, (end - size)[inside], end[inside])
    at = np.minimum(np.searchsorted(hashes, query), len(hashes) - 1)
    known = (hashes[at] == query) & inside
    cost = np.where(known, costs[at], UNKNOWN_COST + UNKNOWN_PER_LETTER * size).reshape(n, MAX_WORD).tolist()
    best = [0.0] + [float("inf")] * n
    back = [0] * (n + 1)
    for stop in range(1, n + 1):
        row = cost[stop - 1]
        for k in range(min(MAX_WORD, stop)):
            value = best[stop - k - 1] + row[k]
            if value < best[stop]:
                best[stop], back[stop] = value, stop - k - 1
    out = []
    stop = n
    while stop > 0:
        out.append(stop - back[stop])
        stop = back[stop]
    return tuple(out[::-1])


def is_word(letters: str) -> bool:
    """Whether `letters` (one normalised token) is one of the WORDS most probable English words."""
    from .normalise import tokenise

    toks = tokenise(letters)
    return len(toks) == 1 and bool(_known(toks.hashes)[0])


def _known(hashes: np.ndarray) -> np.ndarray:
    """Whether each unkeyed token hash is one of the WORDS most probable English words."""
    return among(hashes, _table()[0])


def glued_forms(phrases: list[str]) -> list[str | None]:
    """Each phrase of several words as written without spaces (``PROJECTHALCYON``,
    ``#projecthalcyon`` for "Project Halcyon"), or None: a run of letters shorter than a glued
    sentence is one token, and nothing in it says where its words end. Only phrases of words
    of letters get one (glued digits would merge numbers: ``ZX-12-7B`` is not ``ZX-127-B``),
    and none when the glued letters are cut into words again anyway (a run long enough) or
    make an English word (``blue bell`` is ``bluebell``, a flower, not a code name). All
    phrases are tokenised as one text, twice."""
    from .normalise import tokenise, tokenise_lines

    def words_of(texts: list[str]) -> list[list[str]]:
        toks, line = tokenise_lines(texts)
        out: list[list[str]] = [[] for _ in texts]
        for i, ln in enumerate(line.tolist()):
            out[ln].append(toks.text_of(i))
        return out

    words = words_of(phrases)
    wanted = [i for i, w in enumerate(words) if len(w) >= 2 and all(x.isalpha() for x in w)]
    out: list[str | None] = [None] * len(phrases)
    if not wanted:
        return out
    joined = ["".join(words[i]) for i in wanted]
    again = words_of(joined)
    single = [k for k, w in enumerate(again) if len(w) == 1]  # cut into words again: no glued form
    if not single:
        return out
    known = _known(tokenise("\n".join(again[k][0] for k in single)).hashes)
    for k, english in zip(single, known.tolist()):
        if not english:
            out[wanted[k]] = again[k][0]
    return out
