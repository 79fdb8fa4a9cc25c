"""The optional C speedups (src/dlp/_speedups.c) against the NumPy and Python code they stand
in for: the same hashes, sentence starts and encoded-run candidates on random input, and a
build that is really there wherever a C compiler is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp import arrays, speedups
from dlp.extract import encoded
from dlp.text import normalise, tokenise

native = speedups.native
needs_native = pytest.mark.skipif(native is None, reason="the C speedups are not built here")


@pytest.fixture
def without_native(monkeypatch):
    """Run the NumPy code (callers read `speedups.native` at each call)."""
    monkeypatch.setattr(speedups, "native", None)


def _both(fn, *args):
    """`fn(*args)` with the C speedups, then with the NumPy code (hypothesis tests cannot take
    a function-scoped fixture)."""
    with_c = fn(*args)
    saved, speedups.native = speedups.native, None
    try:
        return with_c, fn(*args)
    finally:
        speedups.native = saved


def test_the_speedups_are_built_where_a_compiler_is():
    """A failed build is only a warning at install time: a machine with a C compiler that ends up
    without the extension (broken headers, a bad flag) is slower and should say so here."""
    import sysconfig

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: dlp runs its NumPy code")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        pytest.skip("no Python headers on this machine: dlp runs its NumPy code")
    assert native is not None


def test_dlp_speedups_0_switches_them_off():
    code = "from dlp import speedups; print(speedups.native is None)"
    env = dict(os.environ, DLP_SPEEDUPS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


# -- token hashes ------------------------------------------------------------------------------

ASCII_PIECES = st.one_of(
    st.text(alphabet="abcxyz0129", min_size=1, max_size=90),  # short, 8-byte, long and over-64 tokens
    st.sampled_from([" ", "  ", "\n", ".", "-", "Zz", "QUOTE", "x" * 64, "y" * 65, "z" * 200, "a1b2"]),
)


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.lists(ASCII_PIECES, max_size=60))
def test_ascii_token_hashes_are_the_numpy_hashes(pieces):
    toks = tokenise("".join(pieces))
    got = normalise._ascii_hashes(toks.norm, toks.nstarts, toks.nends)
    assert np.array_equal(got, normalise._ascii_hashes_numpy(toks.norm, toks.nstarts, toks.nends))


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=300), st.data())
def test_ascii_hashes_of_any_spans_are_the_numpy_hashes(raw, data):
    """Spans anywhere, up to the last byte (the eight-byte reads past the end see zeros)."""
    norm = np.frombuffer(raw, dtype=np.uint8)
    bounds = sorted(data.draw(st.lists(st.integers(0, len(raw)), min_size=2, max_size=40)))
    starts, ends = np.array(bounds[:-1], dtype=np.int64), np.array(bounds[1:], dtype=np.int64)
    assert np.array_equal(normalise._ascii_hashes(norm, starts, ends), normalise._ascii_hashes_numpy(norm, starts, ends))


@needs_native
def test_bad_token_bounds_are_an_error_not_a_read_past_the_text():
    norm = np.frombuffer(b"abc", dtype=np.uint8)
    with pytest.raises(ValueError):
        native.ascii_hashes(norm, np.array([0, 1], dtype=np.int64), np.array([1], dtype=np.int64),
                            np.empty(2, dtype=np.uint64))  # bounds of different lengths
    with pytest.raises(ValueError):
        native.ascii_hashes(norm, np.array([5], dtype=np.int64), np.array([6], dtype=np.int64), np.empty(1, dtype=np.uint64))


# -- text beyond ASCII: characters replaced, token hashes --------------------------------------------

# ASCII runs of eight and more (read eight at a time), and characters that make one character, several
# (ellipsis, ligatures, fractions, a Roman numeral), none (invisible ones, an accent alone), a capital, a
# digit, a superscript digit, a token of their own (CJK), a blank (Hangul filler), a lone surrogate, a
# right-to-left override, a character beyond the first plane, lookalikes, and long tokens either way
WIDE_PIECES = st.one_of(
    st.text(alphabet="abcXYZ0189 .-", min_size=1, max_size=40),
    st.text(alphabet="aéÉßøÆ\u00a0\u00ad²½", min_size=1, max_size=12),  # (Latin-1 alone: a str of one byte a character)
    st.text(alphabet="aé’“”–…ﬁ½Ⅻ\u200b\u0301ÉİßΣσ日本語カ²\u3164\u00ad\U0001d400ж\u00a0", min_size=1, max_size=12),
    st.sampled_from(["\ud800", "\u202e", "\u202c", "рау", "Ǆemal", "a" * 70, "é" * 70, "x" * 64 + "é", "[12]", "[ 3, 4–5 ]",
                     "coat-\n", "a\u2010 b", "\u2011", "－", "［7］", "co\u00adat",
                     "ＡＢＣ", "№5", "㎏", "\U0001f600", "TheCoatingProcess", "c o a t", "pig-\nment"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(WIDE_PIECES, max_size=40))
def test_characters_beyond_ascii_are_replaced_as_by_numpy(pieces):
    source = np.frombuffer("".join(pieces).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    (layout, hidden), (want, want_hidden) = _both(normalise._normalise, source)
    for name in ("norm", "kind", "upper", "source_of", "singles", "superscripts"):
        got, expected = getattr(layout, name), getattr(want, name)
        assert (got is None) == (expected is None), name
        if got is not None:
            assert got.dtype == expected.dtype and np.array_equal(got, expected), name
    assert np.array_equal(hidden, want_hidden) and hidden.dtype == want_hidden.dtype
    assert layout.norm.flags.writeable  # (joined words are written into it)
    norm = want.norm  # (and where the C pass listed "[" and the hyphens, NumPy finds them)
    assert np.array_equal(layout.brackets, np.flatnonzero(norm == 91))
    assert np.array_equal(layout.dashes, np.flatnonzero((norm == 45) | (norm == 0x2010) | (norm == 0xAD)))
    # read from the str itself (one, two or four bytes a character, as CPython holds it): the same
    from_str, str_hidden = normalise._normalised(native, "".join(pieces))
    for name in ("norm", "kind", "upper", "source_of", "singles", "superscripts", "brackets", "dashes"):
        got, expected = getattr(from_str, name), getattr(layout, name)
        assert (got is None) == (expected is None) and (got is None or np.array_equal(got, expected)), name
    assert np.array_equal(str_hidden, hidden)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(WIDE_PIECES, max_size=40))
def test_tokens_beyond_ascii_hash_as_with_numpy(pieces):
    text = "".join(pieces)
    with_c, without = _both(tokenise, text)
    for name in ("hashes", "starts", "ends", "norm", "nstarts", "nends", "tampered", "halves"):
        assert np.array_equal(getattr(with_c, name), getattr(without, name)), name
    assert with_c.unsegmented == without.unsegmented


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2]), max_size=300), st.integers(0, 3))
def test_runs_and_cuts_of_classes_are_the_numpy_ones(kinds, repeat):
    """Runs of letters and digits, and where a letter meets a digit, 64 classes at a time: at every
    length around a block's edge (a run to the end of the text included)."""
    kind = np.repeat(np.array(kinds, dtype=np.uint8), repeat + 1)
    starts, ends, cuts = (np.frombuffer(r, dtype=np.int64) for r in native.kind_runs(kind))
    want_starts, want_ends = normalise._runs(kind != 0)
    assert np.array_equal(starts, want_starts) and np.array_equal(ends, want_ends)
    assert np.array_equal(cuts, np.flatnonzero(kind[1:] * kind[:-1] == 2) + 1)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "A", "B", "C", "É", "é", "Σ", "σ", "1", " ", "-", "'", "Ǆ", "ǅ"]),
                max_size=200))
def test_camel_case_cuts_beyond_ascii_are_the_numpy_ones(chars):
    """Humps and falls of runs with capitals beyond ASCII (and title-case digraphs), every run
    length and place around a 64-character block."""
    source = np.frombuffer(("é" + "".join(chars)).encode("utf-32-le"), dtype=np.uint32)
    layout, _ = normalise._normalise(source)
    starts, ends = normalise._runs(layout.kind != 0)
    (glued, halves), (want_glued, want_halves) = _both(normalise._camel_cuts, layout, starts, ends)
    assert np.array_equal(glued, want_glued) and np.array_equal(halves, want_halves)


@needs_native
@pytest.mark.parametrize("text", ["aXXaa0XXaa0XXaa", "aXXaa0XXaa0XXaa0XXaa0XXaa " * 40, "xYZab1CDef2GHij3KLmn"])
def test_runs_with_more_falls_than_humps_are_cut_as_with_numpy(text):
    """Digits between them, a run's falls (the B of UnderABlanket) need no hump beside them: the
    room the C pass counts for cuts must hold them (a bound of three cuts a hump ran out)."""
    _same_tokens_both_ways(text)


@needs_native
def test_a_character_table_that_does_not_fit_is_an_error():
    source = np.array([97, 233], dtype=np.uint32)
    flat, kind = np.array([97], dtype=np.uint32), np.array([1], dtype=np.uint8)
    rows = np.zeros(129, dtype=np.int64), np.ones(129, dtype=np.int64), np.zeros(129, dtype=np.uint8)
    with pytest.raises(ValueError):  # 233 is not among the wide code points
        native.normalise_chars(source, np.array([234], dtype=np.uint32), *rows, flat, kind)
    with pytest.raises(ValueError):  # a row past the flat table
        native.normalise_chars(source, np.array([233], dtype=np.uint32), rows[0] + 1, rows[1], rows[2], flat, kind)
    with pytest.raises(ValueError):  # token bounds past the text
        native.code_point_hashes(source, np.array([1], dtype=np.int64), np.array([3], dtype=np.int64),
                                 np.empty(1, dtype=np.uint64), np.empty(1, dtype=np.uint8), 3, 0)


# -- sentence starts -----------------------------------------------------------------------------

SENTENCE_PIECES = st.one_of(
    st.text(alphabet="abc9", min_size=1, max_size=6),
    st.sampled_from([" ", ". ", "! ", "?", ".", "\n", "\n\n", "\n\r\n", "\r", "\t", "3.5", "www.x.com", "。", "।",
                     "؟", "\u06d4", "日本", "é", "\u00a0",
                     # what moves letters or hides characters: joins, letter spacing, CamelCase,
                     # lookalikes, invisible and right-to-left characters, fullwidth stops
                     "coat-\n", "ing", "a b c d e ", "Hello\u200bWorld", "рау", "\u00ad", "\u202e", "\u202c",
                     "ＡＢ．", "x²", "[12]"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(SENTENCE_PIECES, max_size=60))
def test_sentence_starts_are_the_numpy_ones(pieces):
    toks = tokenise("".join(pieces))
    flags = _both(normalise._sentence_flags, toks.norm, toks.nstarts, toks.nends)
    assert np.array_equal(*flags)
    listed = tokenise("".join(pieces)).sentence_starts  # listed by C, no flag array
    assert np.array_equal(listed, np.flatnonzero(flags[1] & normalise.SENTENCE))


# -- encoded-run candidates ----------------------------------------------------------------------

RUN_PIECES = st.one_of(
    st.integers(1, 90).map(lambda n: "QmFzZTY0-_/+"[: n % 12 + 1] * (n // 12 + 1)),
    st.integers(1, 40).map(lambda n: "de ad:be,ef;01-"[: n % 15 + 1] * (n // 15 + 1)),
    st.sampled_from([" ", "\n", "\r\n", "\r", "\t", " \n", "\t\r\n", "=", "==", "===", ".", ", ", "é", "0x4f, ",
                     "de:ad:", "ab cd ef ", "gh", "de, ", "ad\r\n", "be :- ", "0a", "de.ad.", "be. ", "3.14",
                     # rules and short lines a base64 search reads and turns down
                     "-" * 40, "_" * 30 + "\n", "-----Original Message-----", "abc\n", "QmFzZTY0QmFzZTY0\n",
                     # dump offsets at a line start or not, C-array bytes
                     "0000000", " 0000000 ", "\n0000000", "x0000000", "00000000: 4865 6c6c 6f20 576f 726c 6421  Hello\n",
                     "00000010: 2054 6865 2048 616c 6379 6f6e  The\n", "0x41, ", "0X7a,", "0x"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(RUN_PIECES, max_size=80))
def test_encoded_runs_found_are_the_python_ones(pieces):
    with_c, without = _both(encoded._candidates, "".join(pieces).encode())
    assert with_c == without


@needs_native
@pytest.mark.parametrize("text", [
    "see " + ", ".join(f"0x{b:02x}" for b in b"The Halcyon coating process, step one: heat") + " end",
    "dump:\n" + "".join(f"{i * 16:08x}: " + " ".join(f"{a:02x}{b:02x}" for a, b in zip(chunk[::2], chunk[1::2]))
                         + "\n" for i, chunk in enumerate([b"The Halcyon coat", b"ing process step"])),
    "  0000000 and 0000000\n\t0000000 54 68 65 20 48 61 6c 63 79 6f 6e 20 63 6f 61 74\n"
    "\t0000020 69 6e 67 20 70 72 6f 63 65 73 73 20 73 74 65 70\n",
])
def test_dumps_and_c_arrays_are_found_either_way(text):
    with_c, without = _both(encoded._candidates, text.encode())
    assert with_c == without and with_c


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(RUN_PIECES, min_size=40, max_size=600), st.integers(0, 63))
def test_long_texts_are_searched_alike_64_bytes_at_a_time(pieces, shift):
    """Texts of many 64-byte blocks (the SSE2 path), runs across block edges and in the last
    partial block: the same candidates as the Python search."""
    with_c, without = _both(encoded._candidates, ("x" * shift + "".join(pieces)).encode())
    assert with_c == without


@needs_native
@pytest.mark.parametrize("byte", range(256))
def test_every_byte_breaks_or_continues_a_run_as_without_the_speedups(byte):
    """The C pass tells the alphabets apart without a table (ranges and exceptions): each byte
    inside a base64 run and inside hex bytes, at every place in a 64-byte block."""
    b = bytes([byte])
    for shift in (0, 13, 31, 47, 63):
        # a run only where the byte is of the alphabet: no 16 characters in a row of it without it
        base64 = b + b.join([b"QmFzZTY0QmFz", b"ZTY0QmFzZTY0", b"VGhlIEhhbGN5", b"b24gcHJvY2Vz", b"cyBydW5zIGF0"] * 2) + b
        hex_bytes = b"g" + b.join(b"%02x" % i for i in range(0x90, 0xe0)) + b" "  # (separated by it alone)
        for data in (b"x" * shift + base64 + b"\n" + b"!" * 140, b"x" * shift + hex_bytes + b"\n" + b"!" * 140):
            with_c, without = _both(encoded._candidates, data)
            assert with_c == without, (byte, shift)


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["=", "%4", "%41", "%g1", "%%41", "\\x", "\\x4", "\\x41", "\\\\x41", "0x", "0X",
                                 "00x", "a", " ", "\n", "f", "é", "=\n", "%", "+", "+a", "+ab", "+abc", "++", "+-b",
                                 "+_bc", "~", "~{", "\x1b", "\x1b$B", "\x1b$", "\x1b(", "\x1b(I", "\x1b(B", "\x1b.A",
                                 "\x1b[", "\x1bN", "\x0e", "\x0f", "+AAA", "+ABC", "+AAAAAQ", "+AAAAAB", "+AAAAAAAA",
                                 "+" + "Q" * 16, "+" + "Q" * 17, "\r", "\r\n", "-", "/"]), max_size=300),
       st.integers(0, 63))
def test_the_c_pass_counts_marks_as_the_regexes_do(pieces, shift):
    data = ("y" * shift + "".join(pieces)).encode()
    *_, zero_x, counted, lines, words = encoded._starts(data)
    assert zero_x == len(re.findall(rb"0[xX]", data))
    assert lines == encoded._marked_lines(data)  # (the lines of 7-bit marks, as the Python search has them)
    assert counted == [data.count(b"="), len(encoded._PERCENT.findall(data.decode())),
                       len(encoded._BACKSLASH_X.findall(data.decode()))]
    assert words == _escape_words(data)


def _escape_words(data: bytes) -> list[tuple[int, int]]:
    """encoded._escape_words, the plain way: each word between ASCII blanks, its escapes counted
    one at a time."""
    words = []
    for word in re.finditer(rb"[^ \t\n\r\x0b\x0c]+", data):
        held = len(re.findall(rb"%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}", word.group()))
        edge = word.start() == 0 or word.end() == len(data)
        if held >= encoded._MIN_ESCAPES or (edge and held > 0):
            words.append(word.span())
    return words


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["%41", "\\x41", "%4", "%%41", "\\x4", "a", "é", " ", "\n", "\t", "\x0b", "\x1c",
                                 "%41" * 11, "\\x41" * 6 + "%41" * 5, "%41" * 10]), max_size=60), st.integers(0, 63),
       st.booleans())
def test_words_that_may_hold_an_escaped_word_are_listed_alike(pieces, shift, with_c):
    """The words of a chunk that may hold a word of eleven escapes (or run on past its ends,
    holding one), as the C pass lists them and `_escape_words`, and as read word by word."""
    data = ("y" * shift + "".join(pieces)).encode()
    if with_c and speedups.native is None:
        pytest.skip("the C speedups are not built here")
    if with_c:
        listed = speedups.native.encoded_starts(data, encoded.MIN_RUN, encoded._BASE64_FIRST, encoded._MIN_DISTINCT,
                                                encoded._MIN_ESCAPES)[-1]
        listed = np.frombuffer(listed, dtype=np.int64).tolist()
        found = list(zip(listed[0::2], listed[1::2]))
    else:
        found = encoded._escape_words(data)
    assert found == _escape_words(data)


def test_runs_are_found_without_the_speedups_too(without_native):
    import base64

    text = b"see " + base64.b64encode(b"The Halcyon coating process runs at 40 degrees " * 4) + b" and " + \
        b" ".join(b"%02x" % b for b in b"The Halcyon coating process, step one") + b" end"
    kinds = [kind for _, _, kind, *_ in encoded._candidates(text)]
    assert kinds == ["base64", "hex"]


# -- numbers glued to words ----------------------------------------------------------------------

MARK_PIECES = st.one_of(
    st.text(alphabet="ab", min_size=1, max_size=5),
    st.text(alphabet="0179", min_size=1, max_size=4),
    st.sampled_from([" ", "  ", ".", ".,;: ", ")", "-", ":", "/", "'", "\u2019", "'s", "'ll", "🙂", "\n", "\u00a0", "\u3000", "\u2028", "é", "日本", "a3", "3a", "[12]",
                     "日", "ж", "жж", "жжж", "한", "ب", "α", "ǅ", "ɐ"]),  # (strays beyond Latin, and the edge of Latin)
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(MARK_PIECES, max_size=60))
def test_glued_number_and_stray_marks_are_the_numpy_ones(pieces):
    def marks(text):
        toks = tokenise(text)  # (computed on first use, with or without the C code)
        return toks.marks, toks.splits.ravel(), toks.split_hashes(toks.splits), *toks.joins

    with_c, without = _both(marks, "".join(pieces))
    assert all(np.array_equal(a, b) for a, b in zip(with_c, without))


CUT_PIECES = st.one_of(
    st.sampled_from(["mole", "cular", "t", "he", "the", "pigm", "ents", "a", "nd", "i", "s", "on", "ly", "re", "sin",
                     "tita", "nium", "any", "one", "molecular", "xq", "zv", "7", "42", "é", "日", "ж"]),
    st.sampled_from([" ", " ", " ", "  ", "\n", "\r\n", "\t", "\u00a0", "\u3000", "-", ".", "", "- ", " . ", ", ",
                     " -- ", "\u2014 ", "\u2019 ", "\r", "\u2028"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(CUT_PIECES, max_size=60))
def test_words_cut_by_a_blank_are_the_numpy_ones(pieces):
    with_c, without = _both(lambda text: tokenise(text).blank_cuts, "".join(pieces))
    assert np.array_equal(with_c, without)


# -- rare-lemma hits of the rewrite tier -----------------------------------------------------------

def _stored(stored: int, seed: int):
    """(a random generator, `stored` random keyed values, their bitmap)."""
    from dlp.fingerprint import bitmap

    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 2**64, stored, dtype=np.uint64, endpoint=False)
    return rng, keys, bitmap.build(keys, bitmap.bits_for(stored))


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 2000), min_size=2, max_size=4), st.integers(0, 2**32 - 1))
def test_rare_lemma_hits_of_several_segments_are_the_first_segments_hits(sizes, seed):
    """One pass over the tokens for every segment: a token held by several segments (with
    other payloads) counts once, as the first segment holds it."""
    from dlp.arrays import distinct_first
    from dlp.fingerprint import bitmap, table

    rng = np.random.default_rng(seed)
    shared = rng.integers(1, 2**64, 50, dtype=np.uint64, endpoint=False)
    segments, all_keys = [], [shared]
    for n in sizes:
        keys = np.unique(np.concatenate([shared, rng.integers(1, 2**64, n, dtype=np.uint64, endpoint=False)]))
        slots, payload = table.build(keys, rng.integers(0, 2**40, len(keys), dtype=np.uint64))
        segments.append((bitmap.build(np.sort(keys), bitmap.bits_for(len(keys))), slots, payload))
        all_keys.append(keys)
    queries = np.concatenate([rng.choice(np.concatenate(all_keys), 3000), rng.integers(0, 2**64, 3000, dtype=np.uint64),
                              np.zeros(1, dtype=np.uint64)])
    at, packed = native.rare_hits_many(queries, [b for b, _, _ in segments], [s for _, s, _ in segments],
                                       [p for _, _, p in segments])
    pos, keys = zip(*[native.rare_hits_many(queries, [b], [s], [p]) for b, s, p in segments])
    pos = np.concatenate([np.frombuffer(p, dtype=np.int64) for p in pos])
    keys = np.concatenate([np.frombuffer(k, dtype=np.uint64) for k in keys])
    uniq, first = distinct_first(pos)
    assert np.array_equal(np.frombuffer(at, dtype=np.int64), uniq)
    assert np.array_equal(np.frombuffer(packed, dtype=np.uint64), keys[first])


@needs_native
@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3000), min_size=2, max_size=4), st.integers(0, 2**32 - 1))
def test_lookups_in_several_segments_are_each_segments_lookup(sizes, seed):
    from dlp.fingerprint import bitmap

    rng = np.random.default_rng(seed)
    pairs = []
    for n in sizes:
        values = np.sort(rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False))
        pairs.append((values, bitmap.build(values, bitmap.bits_for(max(1, n)))))
    queries = np.concatenate([rng.choice(np.concatenate([v for v, _ in pairs] + [np.zeros(1, np.uint64)]), 2000),
                              rng.integers(0, 2**64, 2000, dtype=np.uint64)])
    for got, (values, bits) in zip(bitmap.lookup_many(pairs, queries), pairs):
        for a, b in zip(got, bitmap.lookup(values, bits, queries)):
            assert np.array_equal(a, b)


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_rare_lemma_hits_are_the_probe_and_table_lookup(stored, seed):
    from dlp.fingerprint import bitmap, table

    rng, keys, bits = _stored(stored, seed)
    slots, payload = table.build(keys, rng.integers(0, 2**40, stored, dtype=np.uint64))
    queries = np.concatenate([rng.choice(keys, stored), rng.integers(0, 2**64, stored, dtype=np.uint64),
                              np.zeros(1, dtype=np.uint64)])
    rng.shuffle(queries)
    at, packed = native.rare_hits_many(queries, [bits], [slots], [payload])
    maybe = np.flatnonzero(bitmap.probe(bits, queries))
    q, expected = table.lookup(slots, payload, queries[maybe])
    order = np.argsort(maybe[q], kind="stable")
    assert np.array_equal(np.frombuffer(at, dtype=np.int64), maybe[q][order])
    assert np.array_equal(np.frombuffer(packed, dtype=np.uint64), expected[order])


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_table_payloads_are_the_table_lookup(stored, seed):
    from dlp.fingerprint import table

    rng, keys, _ = _stored(stored, seed)
    slots, payload = table.build(keys, np.arange(stored, dtype=np.int64) * 3)
    queries = np.concatenate([rng.choice(keys, stored), rng.integers(0, 2**64, stored, dtype=np.uint64),
                              np.zeros(1, dtype=np.uint64)])
    rng.shuffle(queries)
    with_c, without = _both(table.find, slots, payload, queries, -1)
    assert np.array_equal(with_c, without)
    assert (with_c >= 0).sum() >= stored  # the stored keys asked for are found


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 2**32 - 1), st.floats(0, 1), st.integers(2, 6))
def test_gap_shingles_are_the_shingles_of_the_other_reading(n, seed, density, k):
    """Marks at the edges, marks in a row, texts too short for a window: every window of the
    text less its marks that spans a mark's gap, hashed as the shingles are (of marks in a row,
    for the first only: they leave one gap)."""
    from dlp.fingerprint.shingles import MIX, shingles

    rng = np.random.default_rng(seed)
    values = rng.integers(1, 2**64, n, dtype=np.uint64)
    marks = np.flatnonzero(rng.random(n) < density).astype(np.int64)
    skip = rng.random(len(marks)) < 0.2
    which, spans = native.gap_shingles(values, marks, skip.view(np.uint8), k, int(MIX), 0, len(marks))
    got = sorted(zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist()))
    other = np.delete(values, marks)
    expected = []
    for j, mark in enumerate(marks.tolist()):
        gap = mark - j  # where the token after the mark stands in the other reading
        for start in range(gap - k + 1, gap):
            if start >= 0 and start + k <= len(other) and not skip[j] and not (j and marks[j - 1] == mark - 1):
                expected.append((j, int(shingles(other[start : start + k], k)[0])))
    assert got == sorted(expected)


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2**32 - 1), st.floats(0, 1), st.integers(1, 3), st.integers(1, 7))
def test_gap_shingles_in_blocks_through_bitmaps_are_those_whose_bit_is_set(n, seed, density, maps, block):
    """Listed a block of marks at a time and through bitmaps (of several sizes, as a registry's
    segments): exactly the shingles of the whole listing whose bit is set in one of them."""
    from dlp.fingerprint import bitmap
    from dlp.fingerprint.shingles import MIX

    rng = np.random.default_rng(seed)
    values = rng.integers(1, 2**64, n, dtype=np.uint64)
    marks = np.flatnonzero(rng.random(n) < density).astype(np.int64)
    skip = (rng.random(len(marks)) < 0.2).view(np.uint8)
    which, spans = native.gap_shingles(values, marks, skip, 3, int(MIX), 0, len(marks))
    whole = list(zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist()))
    # each bitmap holds some of the listed shingles and some values of its own
    listed = np.frombuffer(spans, dtype=np.uint64)
    bitmaps = [bitmap.build(np.sort(np.concatenate([listed[rng.random(len(listed)) < 0.3],
                                                    rng.integers(0, 2**64, 5, dtype=np.uint64)])), bits)
               for bits in (8, 12, 16)[:maps]]
    got = []
    for at in range(0, len(marks), block):
        which, spans = native.gap_shingles(values, marks, skip, 3, int(MIX), at, min(at + block, len(marks)), bitmaps)
        got += zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist())
    passes = lambda h: any(bitmap.probe(b, np.array([h], dtype=np.uint64))[0] for b in bitmaps)
    assert got == [(j, h) for j, h in whole if passes(h)]


@needs_native
def test_gap_shingles_and_glued_marks_refuse_bounds_outside_the_text():
    from dlp.fingerprint.shingles import MIX

    values = np.arange(1, 11, dtype=np.uint64)
    for marks, lo, hi in (([2, 5, 10], 0, 3), ([2, 5, 10], 2, 3), ([5, 2], 0, 2), ([-1], 0, 1)):
        marks = np.array(marks, dtype=np.int64)
        with pytest.raises(ValueError):
            native.gap_shingles(values, marks, np.zeros(len(marks), np.uint8), 3, int(MIX), lo, hi)
    norm = np.frombuffer(b"ab 12 cd", dtype=np.uint8)
    for starts, ends in (([0, 3, 6], [2, 5, 9]), ([0, 3, 9], [2, 5, 9]), ([0, 3, 6], [2, 2, 8])):
        with pytest.raises(ValueError):
            native.glued_marks(norm, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64), 2, 3, 8)
    got = native.glued_marks(norm, np.array([0, 3, 6], dtype=np.int64), np.array([2, 5, 8], dtype=np.int64), 2, 3, 8)
    assert np.frombuffer(got, dtype=np.int64).tolist() == [1]  # "12" stands between two words



def _halves_and_marks(rng, n, density):
    """Token values of a text, its glued CamelCase pairs (the words of each) and its marks: apart."""
    values = rng.integers(1, 2**64, n, dtype=np.uint64)
    kind = rng.random(n)
    halves = np.flatnonzero(kind < density).astype(np.int64)
    marks = np.flatnonzero((kind >= density) & (kind < density + (1 - density) * 0.3)).astype(np.int64)
    first, second = (rng.integers(1, 2**64, len(halves), dtype=np.uint64) for _ in range(2))
    return values, halves, first, second, marks


def _other_reading(values, halves, first, second, marks):
    """(the text less its marks, each of `halves` read as its word or two, where each lands)."""
    reading, at = [], {}
    for t in range(len(values)):
        if t in marks:
            continue
        j = int(np.searchsorted(halves, t))
        if j < len(halves) and halves[j] == t:
            at[j] = len(reading)
            reading += [first[j]] if second is None else [first[j], second[j]]
        else:
            reading.append(values[t])
    return np.array(reading, dtype=np.uint64), at


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 2**32 - 1), st.floats(0, 1), st.integers(2, 6))
def test_half_shingles_are_the_shingles_of_the_other_reading(n, seed, density, k):
    """Pairs at the edges, pairs and marks in a row, texts too short for a window: every window
    of the text less its marks, each pair read as its two words, that holds a word of a pair."""
    from dlp.fingerprint.shingles import MIX, shingles

    values, halves, first, second, marks = _halves_and_marks(np.random.default_rng(seed), n, density)
    which, spans = native.half_shingles(values, halves, first, second, marks, k, int(MIX))
    got = sorted(zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist()))
    reading, at = _other_reading(values, halves, first, second, marks)
    expected = [(j, int(shingles(reading[start : start + k], k)[0]))
                for j, p in at.items() for start in range(p - k + 1, p + 2) if start >= 0 and start + k <= len(reading)]
    assert got == sorted(expected)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 2**32 - 1), st.floats(0, 1), st.integers(2, 6), st.booleans())
def test_half_shingles_probed_are_the_windows_of_the_halves_flagged(n, seed, density, k, two):
    """With a probe flag per centre: none of the windows of those flagged 0 (still read as their
    words in the others'), the windows holding a word of those flagged 1, and with those the
    k - 1 windows after them for those flagged 2; one word or two."""
    from dlp.fingerprint.shingles import MIX, shingles

    rng = np.random.default_rng(seed)
    values, halves, first, second, marks = _halves_and_marks(rng, n, density)
    probe = rng.integers(0, 3, len(halves)).astype(np.uint8)
    which, spans = native.half_shingles(values, halves, first, second if two else None, marks, k, int(MIX), None, probe)
    got = sorted(zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist()))
    reading, at = _other_reading(values, halves, first, second if two else None, marks)
    last = 1 if two else 0
    expected = [(j, int(shingles(reading[start : start + k], k)[0]))
                for j, p in at.items() if probe[j]
                for start in range(p - k + 1, p + last + 1 + (k - 1) * (probe[j] == 2))
                if start >= 0 and start + k <= len(reading)]
    assert got == sorted(expected)


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2**32 - 1), st.floats(0, 1), st.integers(1, 3))
def test_half_shingles_through_bitmaps_are_those_whose_bit_is_set(n, seed, density, maps):
    from dlp.fingerprint import bitmap
    from dlp.fingerprint.shingles import MIX

    rng = np.random.default_rng(seed)
    values, halves, first, second, marks = _halves_and_marks(rng, n, density)
    which, spans = native.half_shingles(values, halves, first, second, marks, 5, int(MIX))
    whole = list(zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist()))
    listed = np.frombuffer(spans, dtype=np.uint64)
    bitmaps = [bitmap.build(np.sort(np.concatenate([listed[rng.random(len(listed)) < 0.3],
                                                    rng.integers(0, 2**64, 5, dtype=np.uint64)])), bits)
               for bits in (8, 12, 16)[:maps]]
    which, spans = native.half_shingles(values, halves, first, second, marks, 5, int(MIX), bitmaps)
    got = list(zip(np.frombuffer(which, dtype=np.int64).tolist(), np.frombuffer(spans, dtype=np.uint64).tolist()))
    passes = lambda h: any(bitmap.probe(b, np.array([h], dtype=np.uint64))[0] for b in bitmaps)
    assert got == [(j, h) for j, h in whole if passes(h)]


@needs_native
def test_half_shingles_refuse_pairs_outside_the_text_or_out_of_order():
    from dlp.fingerprint.shingles import MIX

    values, words = np.arange(1, 11, dtype=np.uint64), np.ones(2, dtype=np.uint64)
    for halves, marks in (([2, 10], []), ([5, 2], []), ([-1, 3], []), ([2, 5], [7, 3]), ([2, 5], [10])):
        with pytest.raises(ValueError):
            native.half_shingles(values, np.array(halves, dtype=np.int64), words, words,
                                 np.array(marks, dtype=np.int64), 3, int(MIX))
    with pytest.raises(ValueError):  # a first and a second word for each pair
        native.half_shingles(values, np.array([2, 5], dtype=np.int64), words[:1], words, np.zeros(0, np.int64), 3,
                             int(MIX))

# -- sorted search -----------------------------------------------------------------------------------

@needs_native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=300), st.lists(st.integers(0, 64), max_size=100), st.booleans(),
       st.booleans())
def test_sorted_search_is_numpys_searchsorted(values, queries, ascending, right):
    """Repeated values, queries before, between and past them, in order or not."""
    from dlp.fingerprint.bitmap import searchsorted

    a = np.sort(np.array(values, dtype=np.uint64))
    q = np.array(sorted(queries) if ascending else queries, dtype=np.uint64)
    side = "right" if right else "left"
    assert np.array_equal(searchsorted(a, q, side), np.searchsorted(a, q, side=side))


@needs_native
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1 << 16, (1 << 16) + 1, 100_003]), st.integers(0, 3),
       st.booleans(), st.booleans())
def test_sorted_search_through_a_sample_is_numpys_searchsorted(seed, n, spread, ascending, right):
    """Arrays long enough to be searched through every 16th entry: runs of repeated values
    across block edges, queries before, inside and past the array, in order or not."""
    from dlp.fingerprint import bitmap

    rng = np.random.default_rng(seed)
    a = np.sort(rng.integers(0, [1 << 20, 1 << 40, 1 << 63, 50][spread], n, dtype=np.uint64))
    q = np.concatenate((rng.choice(a, 3000), rng.integers(0, 1 << 63, 2000, dtype=np.uint64), a[:2], a[-2:],
                        np.array([0, 2**64 - 1], dtype=np.uint64)))
    q = np.sort(q) if ascending else q
    side = "right" if right else "left"
    assert bitmap._sample(a) is not None  # (the path under test)
    assert np.array_equal(bitmap.searchsorted(a, q, side), np.searchsorted(a, q, side=side))


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5000), st.integers(0, 2**32 - 1))
def test_bitmap_probes_are_the_numpy_ones(stored, seed):
    from dlp.fingerprint import bitmap

    rng, keys, bits = _stored(stored, seed)
    queries = np.concatenate([keys, rng.integers(0, 2**64, 3 * stored, dtype=np.uint64, endpoint=False)])
    with_c, without = _both(bitmap.probe, bits, queries)
    assert with_c[:stored].all()  # every stored key passes
    assert np.array_equal(with_c, without)


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=60), st.integers(1, 6))
def test_shingles_are_the_numpy_ones(values, k):
    from dlp.fingerprint.shingles import shingles

    with_c, without = _both(shingles, np.array(values, dtype=np.uint64), k)
    assert np.array_equal(with_c, without)


@needs_native
@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 2**64 - 1), min_size=1, max_size=400), st.integers(0, 3))
def test_the_keyed_cache_gives_the_same_values_either_way(hashes, repeat):
    """Cold and warm, with words that share a slot (the cache has 2**20 slots: the low bits)."""
    from dlp.fingerprint import Keyer

    h = np.array(hashes * (repeat + 1) + [x ^ (1 << 40) for x in hashes], dtype=np.uint64)
    c_keyer, numpy_keyer = Keyer(b"k" * 32), Keyer(b"k" * 32)
    for _ in range(2):  # cold, then warm
        got = c_keyer.cached(h)
        saved, speedups.native = speedups.native, None
        try:
            expected = numpy_keyer.cached(h)
        finally:
            speedups.native = saved
        assert np.array_equal(got, expected)
    assert np.array_equal(got, c_keyer.values(h))


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 500), max_size=200), st.lists(st.integers(0, 500), max_size=40))
def test_merged_cuts_are_numpys_insert(array, values):
    """`arrays.merged` merges token cuts into sorted bounds in C: where numpy.insert puts them, ties too."""
    a, v = np.sort(np.array(array, dtype=np.int64)), np.sort(np.array(values, dtype=np.int64))
    with_c, without = _both(arrays.merged, a, v)
    assert np.array_equal(with_c, without) and np.array_equal(with_c, np.insert(a, np.searchsorted(a, v), v))


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([1, 1, 1, 2, 5, 24, 25, 40])), max_size=200))
def test_links_and_long_tokens_are_the_numpy_ones(bounds):
    """Tokens in order (gaps of 0 to 3 characters), many of one character: the links between
    one-character tokens one apart, and the long tokens, as NumPy lists them."""
    gaps = np.array([g for g, _ in bounds], dtype=np.int64)
    lengths = np.array([n for _, n in bounds], dtype=np.int64)
    starts = np.cumsum(gaps) + np.cumsum(lengths) - lengths
    ends = starts + lengths
    (links, longs), (links2, longs2) = _both(normalise._links_and_long, starts, ends)
    assert np.array_equal(links, links2) and np.array_equal(longs, longs2)
    expected = [i for i in range(len(starts) - 1) if lengths[i] == lengths[i + 1] == 1 and gaps[i + 1] == 1]
    assert links.tolist() == expected


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.booleans()), min_size=1, max_size=60),
       st.booleans())
def test_joined_tokens_are_the_numpy_ones(tokens, wide):
    """Tokens (gaps of 0 to 3 characters, 0 to 4 letters), any of them run on through the next,
    in chains too, in ASCII and in code points of four bytes: the same characters moved in
    place, the same bounds as NumPy makes them."""
    gaps = np.array([g for g, _, _ in tokens], dtype=np.int64)
    lengths = np.array([n for _, n, _ in tokens], dtype=np.int64)
    starts = np.cumsum(gaps) + np.cumsum(lengths) - lengths
    ends = starts + lengths
    joined = np.array([i for i, (_, _, j) in enumerate(tokens[:-1]) if j], dtype=np.int64)
    text = np.frombuffer(bytes(97 + i % 26 for i in range(int(ends[-1]) + 2)), dtype=np.uint8)
    norm = text.astype(np.uint32) + 0x400 if wide else text.copy()
    if len(joined) == 0:
        return
    (n1, s1, e1, (a1, b1)), (n2, s2, e2, (a2, b2)) = _both(lambda: normalise._join(norm.copy(), starts.copy(),
                                                                                  ends.copy(), joined))
    assert all(np.array_equal(x, y) for x, y in ((n1, n2), (s1, s2), (e1, e2), (a1, a2), (b1, b2)))
    # every token but the joined words ends where its word does; those end their spans where the last part did
    heads = joined[np.append(True, joined[1:] != joined[:-1] + 1)]
    tails = joined[np.append(joined[1:] != joined[:-1] + 1, True)] + 1
    assert b1.tolist() == ends[tails].tolist() and s1[a1].tolist() == starts[heads].tolist()
    assert len(s1) == len(starts) - len(joined)


@needs_native
def test_joined_tokens_refuse_what_does_not_fit():
    norm = np.frombuffer(bytearray(b"ab cd ef"), dtype=np.uint8)
    starts, ends = np.array([0, 3, 6], dtype=np.int64), np.array([2, 5, 8], dtype=np.int64)
    for joined in ([2], [1, 0], [-1], [1, 1]):
        with pytest.raises(ValueError):
            native.join_tokens(norm, starts, ends, np.array(joined, dtype=np.int64))
    with pytest.raises(ValueError):  # out of order
        native.join_tokens(norm, np.array([3, 0, 6], dtype=np.int64), ends, np.array([0], dtype=np.int64))
    left, at, span = native.join_tokens(norm, starts, ends, np.array([0, 1], dtype=np.int64))
    assert norm.tobytes() == b"abcdef  " and left == 1 and starts[:1].tolist() == [0] and ends[:1].tolist() == [6]
    assert np.frombuffer(at, dtype=np.int64).tolist() == [0] and np.frombuffer(span, dtype=np.int64).tolist() == [8]
    with pytest.raises((BufferError, ValueError)):  # written in place: a read-only array is refused
        native.join_tokens(norm, np.frombuffer(bytes(24), dtype=np.int64), ends, np.array([0], dtype=np.int64))


# -- the ASCII tokeniser as a whole --------------------------------------------------------------

WORD_PIECES = st.one_of(
    st.text(alphabet="abcXYZ019", min_size=1, max_size=12),
    st.sampled_from([" ", "  ", "\n", ". ", ",", "-", "coat-\n", "ing", "[12]", "[3, 4]", "BF [220]", "a b c d e f ",
                     "HTMLParser", "coatingProcess", "BlueFin", "the1process2of3", "x" * 70, "ID-4471-B", "''", "\t",
                     "[ 5]", "[", "[ ", "[7", "[x]", "[2-5]", "[ 1, 4 ]"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(WORD_PIECES, max_size=60))
def test_ascii_tokens_are_the_numpy_tokens(pieces):
    """Everything the tokeniser gives, with the C passes and without: offsets, the normalised
    text, hashes, halves, marks and citations."""
    _same_tokens_both_ways("".join(pieces))


@needs_native
@settings(max_examples=40, deadline=None)
@given(st.lists(WORD_PIECES, min_size=50, max_size=800), st.integers(0, 63))
def test_long_ascii_texts_are_cut_alike_64_bytes_at_a_time(pieces, shift):
    """Texts of many 64-byte blocks (the C pass `ascii_runs` reads them 64 bytes at a time):
    tokens, humps and citations across block edges, and in the last partial block."""
    _same_tokens_both_ways("x" * shift + "".join(pieces))


CAMEL_PIECES = st.one_of(
    st.text(alphabet="abcdeABCDE", min_size=1, max_size=30),
    st.sampled_from(["UnderABlanket", "XMLHttpRequestFactory", "IDs", "PDFs", "aBcDeF", "McDonald", "iPhone12Pro",
                     "ABCdefGHIjkl", "coatingProcessRatio", "HTMLParser", " ", "\n", "-", "7", "x" * 40, "USTrade",
                     "IThink", "ABcd12EFgh", "ATeam", "PIGMENTIs", "ABc1DEf", "URLs", "ToIts", "eBay", "IsA", "QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQaa"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(CAMEL_PIECES, max_size=40), st.integers(0, 63))
def test_camel_case_cuts_made_in_c_are_the_numpy_ones(pieces, shift):
    """Glued CamelCase words (humps, runs of capitals before small letters, three words or two,
    short or long) are cut by the C pass `ascii_runs` where `_camel_cuts` cuts them."""
    _same_tokens_both_ways("x" * shift + "".join(pieces))


@needs_native
@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["ProcessRatio" * 12, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcd" * 3 + "Xy", "sTV1aBcDef2GhIj",
                                 "a" * 70 + "BcdEfg", "XMLHTTPRequest" * 6, "UnderABlanket", "x", " ", "7", "\n"]),
                max_size=30), st.integers(0, 63))
def test_camel_case_cuts_of_runs_over_many_blocks_are_the_numpy_ones(pieces, shift):
    """A run of letters and digits longer than a 64-byte block, its falls before its first hump,
    its humps in later blocks: the C pass puts each cut among the bounds as soon as those before
    it are written (`insert_near_end`), where `_camel_cuts` has it."""
    _same_tokens_both_ways("x" * shift + "".join(pieces))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([1, 1, 1, 2, 5, 25, 40])), max_size=120), st.data())
def test_links_after_glued_cuts_are_those_of_the_cut_bounds(bounds, data):
    """Long tokens cut into words (one character long too, at either end): the links `_links_cut`
    makes of those before are those a pass over the cut bounds lists."""
    gaps = np.array([g for g, _ in bounds], dtype=np.int64)
    lengths = np.array([n for _, n in bounds], dtype=np.int64)
    starts = np.cumsum(gaps) + np.cumsum(lengths) - lengths
    ends = starts + lengths
    cuts = sorted({int(starts[i]) + data.draw(st.integers(1, int(lengths[i]) - 1))
                   for i in np.flatnonzero(lengths >= 25).tolist() for _ in range(data.draw(st.integers(0, 4)))})
    cuts = np.array(cuts, dtype=np.int64)
    if len(cuts) == 0:
        return
    cut_starts, cut_ends = arrays.merged(starts, cuts), arrays.merged(ends, cuts)
    links = normalise._links_and_long(starts, ends)[0]
    expected = normalise._links_and_long(cut_starts, cut_ends)[0]
    assert normalise._links_cut(links, starts, cuts, cut_starts, cut_ends).tolist() == expected.tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["a", "b c", "x y z", " ", "  ", "\n", "thequickbrownfoxjumpsoverthelazydog",
                                 "aquickbrownfoxjumpsoverthelazydoga", "interestingmaterialsandcoatings", "c o a t",
                                 "Ia", "1 2", "q"]), max_size=30))
def test_tokens_of_glued_words_among_letters_are_those_of_a_second_pass(pieces):
    """Glued words beside spaced-out letters tokenise as they did when the links were listed again
    over the cut bounds."""
    text = "".join(pieces)
    got = tokenise(text)
    saved = normalise._links_cut
    normalise._links_cut = lambda links, starts, cuts, cut_starts, cut_ends: normalise._links_and_long(cut_starts,
                                                                                                     cut_ends)[0]
    try:
        expected = tokenise(text)
    finally:
        normalise._links_cut = saved
    assert np.array_equal(got.hashes, expected.hashes) and np.array_equal(got.starts, expected.starts) \
        and np.array_equal(got.ends, expected.ends)


@needs_native
def test_ascii_runs_can_leave_camel_case_alone():
    """`ascii_runs(data, False)` (what bench_evasion_share.py measures without the word rules)
    cuts where letters meet digits only: no CamelCase cut, no half cut."""
    from dlp import speedups

    data = b"coatingProcessRatio HTMLParser BlueFin ab12cd"  # (capitals before small letters are cut only
    # in a token with a hump: HTMLParser is left whole; it and BlueFin are two words, half cuts)
    def listed(*flag):
        return [np.frombuffer(r, dtype=np.int64).tolist() for r in speedups.native.ascii_runs(data, *flag)[:3]]
    assert listed(False) == [[0, 20, 31, 39, 41, 43], [19, 30, 38, 41, 43, 45], []]
    assert listed() == listed(True) == [[0, 7, 14, 20, 31, 39, 41, 43], [7, 14, 19, 30, 38, 41, 43, 45], [24, 35]]


LINK_PIECES = st.one_of(CAMEL_PIECES, st.sampled_from(["a b c", "c o a t", "I a", "1 2 3", "x" * 25, "y" * 24, "a",
                                                         "Q" * 30 + "rs", "ab" * 13 + "Cd" * 13, "1a2b3c", "a.b.c"]))


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(LINK_PIECES, max_size=60), st.integers(0, 63))
def test_links_and_long_tokens_listed_by_the_c_pass_are_those_of_its_bounds(pieces, shift):
    """`ascii_runs` lists the links and long tokens (`_links_and_long`) as it writes the bounds,
    CamelCase cuts among them, whatever block a run starts or is cut in: the same as a pass of
    `links_and_long` over the bounds it returns."""
    from dlp import speedups
    from dlp.text.normalise import GLUED_LETTERS

    data = ("x" * shift + "".join(pieces)).encode()
    runs = speedups.native.ascii_runs(data, True, GLUED_LETTERS)
    starts, ends = (np.frombuffer(r, dtype=np.int64) for r in runs[:2])
    links, longs = speedups.native.links_and_long(starts, ends, GLUED_LETTERS)
    assert runs[5] == links and runs[6] == longs
    assert speedups.native.ascii_runs(data)[:5] == runs[:5]


@needs_native
@pytest.mark.parametrize("text", ["", "a", "9", "aB", "abcDef", "x" * 64, "x" * 63 + "Y", "ab" * 32 + "Cd",
                                  "1" * 64 + "a", "a" * 128, "[1]", "ab[12]cd", "aB" * 100])
def test_the_c_runs_of_edge_cases_are_the_numpy_ones(text):
    _same_tokens_both_ways(text)


def _same_tokens_both_ways(text: str) -> None:
    def everything(text):
        t = tokenise(text)
        return [t.hashes, t.starts, t.ends, t.norm, t.nstarts, t.nends, t.halves, t.marks, t.citations,
                t.tampered, t.sentence_starts, t.sentence_flags]  # (starts first: listed by C, not from the flags)

    with_c, without = _both(everything, text)
    for a, b in zip(with_c, without):
        assert np.array_equal(a, b)
    halves = with_c[6]
    assert np.all(halves[1:, 0] > halves[:-1, 0])  # (one pair a token at most: the C gate for pairs asks it)


UNICODE_PIECES = st.one_of(
    WORD_PIECES,
    st.text(alphabet="aZ9éÉßﬁǅ²①Ⅻİ\u0301\u200bрΣ日жب", min_size=1, max_size=8),
    # one character that becomes several (ligatures, digraphs, circled numbers, fractions), beside
    # letters, digits and capitals
    st.sampled_from(["ﬁ", "ǅx", "a①b", "㎡", "5㎡x", "㏠", "ⅫV", "x½y", "Ǆa", "ﬃ2", "İs", "aßB", "ＡＢ１", "e\u0301X", "\u202e", "\u00ad",
                     "ôæRò\u00addá", "ProjectHal\u00adcyonX", "coat-\ningProcess"]),
)


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(UNICODE_PIECES, max_size=60))
def test_tokens_of_any_text_are_the_numpy_tokens(pieces):
    """The same beyond ASCII, where one source character can become several normalised ones
    (and no cut falls between them)."""
    _same_tokens_both_ways("".join(pieces))


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40), st.integers(0, 3)), max_size=120),
       st.integers(1, 9))
def test_lemma_pairs_are_the_numpy_ones(entries, top):
    """Sentences of any length, repeated lemmas, lemmas of equal rarity, ties at the cut."""
    from dlp.fingerprint.rewrite import pairs

    sentences = np.array([s for s, _, _ in entries], dtype=np.int64)
    keys = np.array([(r << 32) | (lemma * 7919) for _, lemma, r in entries], dtype=np.uint64)
    (h, s), (h2, s2) = _both(pairs, sentences, keys, top)
    assert np.array_equal(h, h2) and np.array_equal(s, s2)
    # in sentence order, as the rewrite tier gives them, C sorts each sentence's lemmas itself
    order = np.argsort(sentences, kind="stable")
    (h, s), (h2, s2) = _both(pairs, sentences[order], keys[order], top)
    assert np.array_equal(h, h2) and np.array_equal(s, s2)
    assert np.all(s[1:] >= s[:-1])  # sentence by sentence: a batch's documents each get theirs together


@needs_native
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40), st.integers(0, 3)), max_size=120),
       st.sampled_from([1, 2, 8, 9, 200]), st.integers(1, 3), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_passing_pairs_are_the_numpy_ones(entries, top, segments, min_pairs, seed):
    """The rewrite tier's first stage in one C pass: the same pairs pass the same bitmaps, in
    the same sentences (bitmaps dense enough that some sentences pass and some do not)."""
    from dlp.fingerprint.rewrite import passing_pairs

    entries = sorted(entries)
    sentences = np.array([s for s, _, _ in entries], dtype=np.int64)
    keys = np.array([(r << 32) | (lemma * 7919) for _, lemma, r in entries], dtype=np.uint64)
    rng = np.random.default_rng(seed)
    bitmaps = [(rng.random(1 << 7) < 0.3).astype(np.uint8) * rng.integers(1, 256, 1 << 7, dtype=np.uint8)
               for _ in range(segments)]
    (h, s, p), (h2, s2, p2) = _both(passing_pairs, sentences, keys, top, bitmaps, min_pairs)
    got = sorted(zip(h.tolist(), s.tolist(), *[x.tolist() for x in p]))
    expected = sorted(zip(h2.tolist(), s2.tolist(), *[x.tolist() for x in p2]))
    assert got == expected


@needs_native
def test_passing_pairs_of_many_sentences_without_a_pair_are_the_numpy_ones():
    """Sentences of one lemma make no pair, so a batch of them is bounded by the room for
    sentences, not for pairs: 100,000 of them once wrote past it and corrupted the heap (a
    2 MB mail of short sentences with a registered word in each)."""
    from dlp.fingerprint.rewrite import passing_pairs

    rng = np.random.default_rng(11)
    sentences = np.concatenate([np.arange(100_000), np.repeat(np.arange(100_000, 100_040), 4)]).astype(np.int64)
    rng.shuffle(sentences[:100_000])
    sentences.sort()
    keys = (rng.integers(0, 4, len(sentences), dtype=np.uint64) << np.uint64(32)) | rng.integers(1, 50, len(sentences),
                                                                                                   dtype=np.uint64)
    bitmaps = [np.full(1 << 7, 255, dtype=np.uint8)]  # (every pair passes)
    (h, s, p), (h2, s2, p2) = _both(passing_pairs, sentences, keys, 8, bitmaps, 1)
    assert sorted(zip(h.tolist(), s.tolist())) == sorted(zip(h2.tolist(), s2.tolist())) and len(h) > 0


@needs_native
def test_lemma_pairs_sort_long_sentences_too():
    """A sentence of more lemmas than the insertion sort takes is sorted all the same."""
    from dlp.fingerprint.rewrite import pairs

    rng = np.random.default_rng(7)
    sentences = np.repeat(np.arange(4, dtype=np.int64), [3, 80, 25, 200])
    keys = (rng.integers(0, 8, len(sentences), dtype=np.uint64) << np.uint64(32)) | rng.integers(1, 5000, len(sentences), dtype=np.uint64)
    (h, s), (h2, s2) = _both(pairs, sentences, keys, 12)
    assert np.array_equal(h, h2) and np.array_equal(s, s2)


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 6)), max_size=60), st.integers(0, 2**32 - 1))
def test_families_per_run_are_the_numpy_counts(runs, seed):
    """Runs short and long (past the pairwise comparison), values repeated or not."""
    from dlp.segments import _families_per_run

    rng = np.random.default_rng(seed)
    change = np.concatenate([[True] + [False] * (length - 1) for length, _ in runs]).astype(bool) if runs else \
        np.zeros(0, dtype=bool)
    family = np.concatenate([rng.integers(0, spread + 1, length) for length, spread in runs]).astype(np.int64) \
        if runs else np.zeros(0, dtype=np.int64)
    with_c, without = _both(_families_per_run, change, family, 8)
    assert np.array_equal(with_c, without)


@needs_native
@pytest.mark.parametrize("dtype", [np.uint64, np.int64, np.float64, np.uint32, np.int32, np.float32])
def test_long_gathers_are_numpys(dtype):
    """`arrays.gather` in C (past its threshold) gives NumPy's answer; an index out of range or
    negative is NumPy's business (its error, or its reading of a negative index)."""
    from dlp.arrays import GATHERED_IN_C, gather

    rng = np.random.default_rng(3)
    values = rng.integers(0, 1 << 30, 100_000).astype(dtype)
    order = rng.permutation(np.concatenate([np.arange(len(values)), rng.integers(0, len(values), GATHERED_IN_C)]))
    assert np.array_equal(gather(values, order.astype(np.int64)), values[order])
    negative = order.astype(np.int64) - len(values) // 2
    assert np.array_equal(gather(values, negative), values[negative])
    with pytest.raises(IndexError):
        gather(values, np.full(GATHERED_IN_C, len(values), dtype=np.int64))


@needs_native
@pytest.mark.parametrize("at", [0, 100, 40_000, 70_000])
def test_the_lines_of_seven_bit_marks_are_cut_alike_in_long_lines(at):
    """A line is taken 32 KiB each way from its mark at most (a file of one line of 70 KB)."""
    data = b"x" * at + b"+BB8EQAQ- and \x1b$B" + b"y" * 50_000 + b"\n~{x~}\n" + b"z" * 10
    assert encoded._starts(data)[5] == encoded._marked_lines(data)


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=60), st.sampled_from([b"", b"see ", b"x+1 ", b"C++ ", b"+random+ ", b"+abc\n"]),
       st.sampled_from([b"", b" end", b"-", b"\r\n", b" +abc", b"\n+A"]))
def test_every_shift_an_encoder_writes_marks_its_line(text, before, after):
    """Every shift a UTF-7 encoder writes marks its line, whatever the text and what is around
    it, by the C pass and the Python search alike (a "+" inside a shift starts none: the C pass
    measures each shift and skips to its end)."""
    encoded_text = text.encode("utf-7")
    data = before + encoded_text + after
    lines = encoded._marked_lines(data)
    if native is not None:
        assert encoded._starts(data)[5] == lines
    for shift in re.finditer(rb"\+[A-Za-z0-9+/]{3,}", encoded_text):
        at = len(before) + shift.start()
        assert any(start <= at < end and kinds & 4 for start, end, kinds in lines), (data, at)


@needs_native
def test_the_sse2_and_avx2_passes_find_the_same_runs():
    """Where the processor has AVX2 the stretch search and the marks pass read 32 bytes a step;
    DLP_SPEEDUPS_AVX2=0 keeps the SSE2 passes (what a processor without AVX2 runs): both give the
    same starts, counts and marked lines, on text with every byte value at every place of a block,
    on base64, hex and dumps, and on escapes and 7-bit marks of every length."""
    import base64
    import subprocess
    import sys

    rng = np.random.default_rng(7)
    samples = [bytes(rng.integers(0, 256, 5000, dtype=np.uint8)), bytes(rng.choice(list(b"ab+/09 \n,.:-_=%"), 20000)),
               b"see " + base64.b64encode(bytes(range(256)) * 8) + b" and " + bytes(range(256)).hex().encode(),
               b"".join(b"%08x: " % (16 * i) + b" ".join(b"%02x" % (i * 16 + k & 255) for k in range(16)) + b"\n"
                        for i in range(64))]
    samples += [bytes([b]) * 17 + b"QmFzZTY0QmFzZTY0VGhlIEhhbGN5b24gcHJvY2Vz" * 3 + bytes([b]) for b in range(256)]
    marks = ("Процесс".encode("utf-7") + b" %41%42 \\x41\\x42 0x41 ~{<:Q~} " + "日本語".encode("iso2022_jp")
             + "한국".encode("iso2022_kr") + b" 0000000 = +abc")  # (every kind of the marks pass, all lengths)
    samples += [(marks * 3)[:size] for size in range(0, len(marks) * 3, 5)] + [marks * 200]
    code = ("import sys, json; from dlp.extract import encoded; from dlp import speedups; "
            "data = [bytes.fromhex(h) for h in json.load(sys.stdin)]; "
            "print(json.dumps([[list(x) if isinstance(x, (bytes, bytearray)) else x for x in "
            "speedups.native.encoded_starts(d, encoded.MIN_RUN, encoded._BASE64_FIRST, encoded._MIN_DISTINCT, "
            "encoded._MIN_ESCAPES)] "
            "for d in data]))")
    import json

    payload = json.dumps([d.hex() for d in samples])
    runs = {flag: subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, text=True, check=True,
                                 env={**os.environ, "DLP_SPEEDUPS_AVX2": flag}).stdout
            for flag in ("0", "1")}
    assert runs["0"] == runs["1"] and json.loads(runs["0"])
