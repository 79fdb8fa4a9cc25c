"""Encoded runs inside text parts (extract/encoded.py): base64, hex, escapes and
quoted-printable are decoded and read as nested items, under the archive limits;
hashes, keys, signatures and rules of dashes are left alone."""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import os
import quopri
import re
import unicodedata
import urllib.parse
import zipfile

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dlp.extract import EXTRACTORS, Context, walk
from dlp.extract.base import Limits
from dlp.extract.encoded import MIN_RUN, encoded_items, seven_bit_parent
from dlp.types import Item, Part, Problem

from helpers import prose

MARK = "ZEBRA-PLUTONIUM-7731"
SECRET = f"{prose(40, 3)} {MARK} {prose(20, 4)}"
AROUND = prose(60, 5)


def extract(data: bytes, name: str = "notes.txt", limits: Limits = Limits()) -> list[Part | Problem]:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context(limits)))


def parts(outputs) -> dict[str, str]:
    return {o.locator: o.text for o in outputs if isinstance(o, Part)}


def in_text(encoded: str) -> bytes:
    return f"{AROUND}\n{encoded}\n{AROUND}\n".encode()


def hexdump(data: bytes, separator: str) -> str:
    return separator.join(f"{b:02x}" for b in data)


ENCODINGS = {
    # name: (the encoded text as a text file carries it, the kind in the locator)
    "base64 wrapped at 76 (MIME)": (base64.encodebytes(SECRET.encode()).decode(), "base64"),
    "base64 wrapped at 64 with CRLF (PEM)": ("\r\n".join(
        base64.b64encode(SECRET.encode()).decode()[i:i + 64] for i in range(0, 400, 64)), "base64"),
    "base64 on one line inside a sentence": ("the notes are " + base64.b64encode(SECRET.encode()).decode() + " ok", "base64"),
    "base64 without padding, URL-safe": (base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="), "base64"),
    "base64 in a JSON value": ('{"notes": "' + base64.b64encode(SECRET.encode()).decode() + '"}', "base64"),
    "hex, contiguous": (SECRET.encode().hex(), "hex"),
    "hex, wrapped like xxd -p": ("\n".join(SECRET.encode().hex()[i:i + 60] for i in range(0, 2 * len(SECRET), 60)), "hex"),
    "hex bytes with spaces": (hexdump(SECRET.encode(), " "), "hex"),
    "hex bytes with colons": (hexdump(SECRET.encode(), ":"), "hex"),
    "C array of 0x bytes": (", ".join(f"0x{b:02x}" for b in SECRET.encode()), "hex"),
    "\\x escapes": ("".join(f"\\x{b:02x}" for b in SECRET.encode()), "escaped"),
    "percent-encoded words": (urllib.parse.quote(SECRET), "escaped"),
    "quoted-printable soft breaks": (quopri.encodestring(SECRET.encode()).decode(), "quoted-printable"),
    "quoted-printable, every byte": ("".join(f"={b:02X}" for b in SECRET.encode()), "quoted-printable"),
    "hex bytes separated by dots (found by attack5)": (hexdump(SECRET.encode(), "."), "hex"),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_an_encoded_run_is_read_as_a_child_item(name):
    encoded, kind = ENCODINGS[name]
    data = (encoded + "\n").encode() if kind == "quoted-printable" else in_text(encoded)
    found = {locator: text for locator, text in parts(extract(data)).items() if MARK in text}
    assert any(locator.startswith(f"notes.txt!/{kind}") for locator in found), found


NOT_ENCODED = {
    "sha-256 lines of a lock file": "\n".join(f"sha256:{os.urandom(32).hex()}  pkg-{i}" for i in range(50)),
    "a random key in base64 (PEM)": "-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(os.urandom(600)).decode()
                                    + "-----END PRIVATE KEY-----",
    "rules of dashes and underscores": "\n".join(["-" * 72, "_" * 72, "=" * 72, "+" * 72] * 5),
    "a DKIM signature": "DKIM-Signature: v=1; a=rsa-sha256; b=" + base64.b64encode(os.urandom(256)).decode(),
    "a tracking link": "https://t.example/r?u=" + urllib.parse.quote("https://shop.example/a/b/c?x=1&y=2&z=3&w=4" * 3),
    "hex of random bytes with spaces": hexdump(os.urandom(64), " "),
    "prose with percentages and equals signs": "Growth was 12% in Q1, 15% in Q2; a=b and c==d. " * 40,
    "a long identifier": "ThisIsAVeryLongIdentifierNameThatKeepsGoingAndGoingWithoutEverStoppingAtAll" * 2,
}


@pytest.mark.parametrize("name", list(NOT_ENCODED))
def test_what_only_looks_encoded_makes_no_child_and_no_problem(name):
    outputs = extract(in_text(NOT_ENCODED[name]))
    # (random base64 has "+" in it, and one UTF-7 shift in six or so of random base64 is whole:
    # read as such, noise that finds nothing; no line is judged by what else it holds; and if
    # the noise holds a right-to-left override, read in the order shown too, "#visual")
    assert [loc for loc in parts(outputs) if not loc.split("#")[0].endswith("!/utf-7")] == ["notes.txt"]
    assert not [o for o in outputs if isinstance(o, Problem)]


def test_a_zip_in_base64_is_read_by_its_content():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("plan/q3.txt", SECRET)
    found = parts(extract(in_text(base64.encodebytes(out.getvalue()).decode())))
    assert MARK in found["notes.txt!/base64[1]!/plan/q3.txt"]


def test_base64_inside_base64_is_followed_until_the_depth_limit():
    data = SECRET.encode()
    for _ in range(3):
        data = base64.encodebytes(data)
    found = parts(extract(in_text(data.decode())))
    assert MARK in found["notes.txt!/base64[1]!/base64[1]!/base64[1]"]

    for _ in range(12):
        data = base64.b64encode(data)
    outputs = extract(in_text(data.decode()), limits=Limits(max_depth=6))
    assert [o.kind for o in outputs if isinstance(o, Problem)] == ["too_deep"]
    assert not any(MARK in text for text in parts(outputs).values())


def test_a_gzip_bomb_in_base64_stops_at_the_ratio_limit():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    outputs = extract(in_text(base64.encodebytes(bomb).decode()))
    assert [(o.locator, o.kind) for o in outputs if isinstance(o, Problem)] == [("notes.txt!/base64[1]", "ratio")]


def test_too_many_runs_is_a_problem_and_the_first_ones_are_read():
    runs = "\n\n".join(base64.b64encode(f"{MARK} number {i} {prose(12, i)}".encode()).decode() for i in range(8))
    outputs = extract(in_text(runs), limits=Limits(max_members=3))
    assert [o.kind for o in outputs if isinstance(o, Problem)] == ["too_many"]
    assert len([text for text in parts(outputs).values() if MARK in text]) == 3


def test_the_same_run_twice_is_read_once():
    encoded = base64.b64encode(SECRET.encode()).decode()
    found = parts(extract(in_text(f"{encoded}\n\n{AROUND}\n\n{encoded}")))
    assert [locator for locator, text in found.items() if MARK in text] == ["notes.txt!/base64[1]"]


def test_a_second_reading_is_not_searched_again():
    part = Part("x.docx#visible", base64.b64encode(SECRET.encode()).decode(), "docx", meta={"reading": "visible"})
    assert list(encoded_items(part, Item("x.docx", "x.docx", data=b""), Context())) == []


def test_the_decoded_bytes_count_against_the_item_budget():
    encoded = base64.encodebytes((SECRET * 40).encode()).decode()
    outputs = extract(in_text(encoded), limits=Limits(max_total_bytes=len(SECRET) * 20))
    assert [o.kind for o in outputs if isinstance(o, Problem)] == ["too_large"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from(["encodebytes", "b64encode", "urlsafe", "hex"]))
def test_planted_text_is_always_found_whatever_encodes_it(seed, how):
    text = f"{prose(30, seed)} {MARK}"
    raw = text.encode()
    encoded = {"encodebytes": lambda: base64.encodebytes(raw).decode(),
               "b64encode": lambda: base64.b64encode(raw).decode(),
               "urlsafe": lambda: base64.urlsafe_b64encode(raw).decode(),
               "hex": lambda: binascii.hexlify(raw).decode()}[how]()
    assert any(MARK in t for locator, t in parts(extract(in_text(encoded))).items() if locator != "notes.txt")


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=MIN_RUN, max_size=2048))
def test_random_bytes_encoded_make_no_child(data):
    # random bytes are not a readable hiding place; unless they start like a format dlp reads
    if data[:2] in (b"PK", b"%P", b"\x1f\x8b", b"\xff\xd8", b"\x89P", b"GI", b"{\\", b"II", b"MM", b"7z", b"\xfd7"):
        return
    outputs = extract(in_text(base64.b64encode(data).decode()))
    # (a "+" in the base64 may start a UTF-7 shift that makes two letters by chance: read as such,
    # noise that finds nothing; `test_ascii_text_without_seven_bit_text_is_not_read_again`; and
    # if the noise holds a right-to-left override, read in the order shown too, "#visual")
    assert [loc for loc in parts(outputs) if not loc.split("#")[0].endswith("!/utf-7")] == ["notes.txt"]


# -- the run search, against the plain loop it replaced -------------------------------------

def _reference_base64_starts(data: bytes) -> list[int]:
    """Where the search tried the base64 regex before candidates came from two needles: at
    every run of 16 or more characters of the alphabet, kept when MIN_RUN long or ending a line
    (blanks before the line break or not: attack4)."""
    from dlp.extract.encoded import _ALPHABET, _BASE64

    mask = data.translate(bytes(ord("a") if b in _ALPHABET else ord(" ") for b in range(256)))
    tried, position = [], mask.find(b"a" * 16)
    while position >= 0:
        stop = mask.find(b" ", position)
        stop = len(mask) if stop < 0 else stop
        after = stop + len(data[stop:]) - len(data[stop:].lstrip(b" \t"))  # blanks before a line break
        if stop - position < MIN_RUN and data[after:after + 1] not in (b"\n", b"\r"):
            position = mask.find(b"a" * 16, stop)
            continue
        tried.append(position)
        position = mask.find(b"a" * 16, max(_BASE64.match(data, position).end(), position + 1))
    return tried


def _reference_escaped_words(text: str, pattern) -> list[bytes]:
    import re

    from dlp.extract.encoded import _ESCAPE, _ESCAPED_WORD, _MIN_ESCAPED_WORDS, _MIN_ESCAPES, _unescape

    last_space, done, out = re.compile(r"\s\S*\Z"), 0, []
    for escape in pattern.finditer(text):
        if escape.start() < done:
            continue
        space = last_space.search(text, max(done, escape.start() - 4096), escape.start())
        word = _ESCAPED_WORD.match(text, space.start() + 1 if space else max(done, escape.start() - 4096))
        if word is None:
            done = escape.end()
            continue
        done = word.end()
        if len(_ESCAPE.findall(word.group())) >= _MIN_ESCAPES:
            data = _unescape(word.group())
            if len(data.split()) >= _MIN_ESCAPED_WORDS:
                out.append(data)
    return out


_PIECES = st.one_of(
    st.integers(1, 90).map(lambda n: "QmFzZTY0-_/+"[: n % 12 + 1] * (n // 12 + 1)),  # runs of the alphabet
    st.integers(1, 90).map(lambda n: "x" * n),
    st.sampled_from([" ", "\n", "\r\n", "\t", "=", "==", ".", ", ", "\u00a0", "\u2003", "é", "0x4f, ", "de:ad:",
                     "%20", "%4A", "\\x41", "%zz", "%", "\\"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60))
def test_the_base64_search_tries_exactly_where_the_plain_loop_did(pieces):
    from dlp.extract.encoded import _BASE64, _BASE64_MASK, _Base64Starts

    data = "".join(pieces).encode()
    starts, tried = _Base64Starts(data.translate(_BASE64_MASK)), []
    position = starts.next(0)
    while position >= 0:
        tried.append(position)
        position = starts.next(max(_BASE64.match(data, position).end(), position + 1))
    assert tried == _reference_base64_starts(data)


@pytest.mark.parametrize("percent", [0, 1, 5, 6, 10, 11])
def test_a_word_of_both_kinds_of_escapes_is_read_however_many_of_each(either_search, percent):
    """Eleven escapes make a word worth reading, whichever kinds they are: counting the escapes
    first (the C pass) must not skip a word whose kinds are each too few on their own."""
    sentence = "The Halcyon coating process runs at forty degrees for two hours"
    escaped = [i for i, c in enumerate(sentence) if c == " "] + [1]  # eleven characters
    assert len(escaped) == 11
    kind = {at: ("%" if k < percent else "\\x") for k, at in enumerate(escaped)}
    word = "".join(f"{kind[i]}{ord(c):02x}" if i in kind else c for i, c in enumerate(sentence))
    from dlp.extract.encoded import _decoded_runs
    decoded = [data for k, _, data, _ in _decoded_runs(f"see {word} end") if k == "escaped"]
    assert set(decoded) == {sentence.encode()}  # (found from either kind: read once, by its digest)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60), st.integers(0, 12))
def test_escaped_words_are_the_words_the_plain_loop_found(pieces, repeat):
    from dlp.extract.encoded import _BACKSLASH_X, _PERCENT, _escaped_words

    text = "".join(pieces) + " " + "The%20Halcyon%20coating" * repeat
    for pattern, first in ((_PERCENT, "%"), (_BACKSLASH_X, "\\")):
        assert [d for _, d in _escaped_words(text, pattern, first)] == _reference_escaped_words(text, pattern)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["%", "%2", "%20", "%zz", "\\", "\\x", "\\x4", "\\x41", "\\x4g", "a", " ", "%%41",
                                 "\\\\x41", "é", "%E9"]), max_size=80))
def test_escapes_found_by_their_first_character_are_those_finditer_finds(pieces):
    from dlp.extract.encoded import _BACKSLASH_X, _PERCENT, _found

    text = "".join(pieces)
    for pattern, first in ((_PERCENT, "%"), (_BACKSLASH_X, "\\")):
        assert [m.span() for m in _found(text, pattern, first)] == [m.span() for m in pattern.finditer(text)]


# -- evasions of the run search (attack4): each fails with the C candidate search and the Python
# one alike, and with the search before them (6492a09); planted so that a fix shows here

@pytest.mark.parametrize("shift", range(0, 140, 3))
def test_runs_across_the_edges_of_64_byte_blocks_are_found_as_without_the_speedups(shift, monkeypatch):
    """The C search reads 64 bytes at a time and carries how many bytes of a class end one block
    into the next: short hex runs, dump offsets and base64 lines that straddle a block edge are
    candidates exactly where the Python search finds them (found when the carry was dropped)."""
    from dlp import speedups
    from dlp.extract.encoded import _candidates, _offsets, _starts

    if speedups.native is None:
        pytest.skip("the C speedups are not built here")
    payload = SECRET.encode()[:48]
    dump = "\n".join(f"{i:07o} " + " ".join(f"{b:02x}" for b in payload[i:i + 16]) for i in range(0, 48, 16))
    line = base64.b64encode(payload).decode()
    data = ("x" * shift + "\n" + hexdump(payload[:12], " ") + "\n" + "y" * (shift % 61) + "\n" + dump + "\n"
            + "z" * (shift % 37) + "\n" + line + "\n" + line + "\n" + "q" * 30).encode()
    assert _starts(data)[2] == _offsets(data) == [data.index(b"0000000")]  # the dump's first offset, wherever it falls
    marks_c, marks_py = [0] * 6, [0] * 6
    with_c = _candidates(data, marks_c)
    monkeypatch.setattr(speedups, "native", None)
    without = _candidates(data, marks_py)
    assert with_c == without and marks_c == marks_py
    assert {kind for _, _, kind, _, _ in with_c} >= {"hex", "base64"}


@pytest.fixture(params=["C speedups", "NumPy/Python"])
def either_search(request, monkeypatch):
    """The candidate search with the C speedups where built, then without them."""
    from dlp import speedups
    if request.param == "NumPy/Python":
        monkeypatch.setattr(speedups, "native", None)
    elif speedups.native is None:
        pytest.skip("the C speedups are not built here")


def _read_with_mark(outputs) -> dict[str, str]:
    return {locator: text for locator, text in parts(outputs).items() if "!/" in locator and MARK in text}


@pytest.mark.parametrize("filler", ["lorem ipsum dolor sit amet, ", "lorem ipsum dolor sit amét, "])
@pytest.mark.parametrize("before_edge", [10, 80])
def test_a_base64_block_across_the_edge_of_a_search_chunk_is_read(either_search, before_edge, filler):
    """The text is searched 4 Mi characters at a time, and a run that reaches a chunk's end is
    searched again from its start with the next chunk, but only when a candidate was found in
    the chunk: a MIME block whose first line starts 10 characters before the edge (a fragment
    too short to be a candidate), or whose second line does (the match in the first chunk ends
    after line one, short of the edge), is read from the middle of a line in the next chunk,
    out of step with base64's 4-character groups, and decodes to noise. `dlp scan` of such a
    file (business-001 of bbc_news as MIME base64 at 4 Mi - 10 characters) said ALLOW; at
    4 Mi - 0 or 4 Mi - 40 (a multiple of four) it blocked. (Read since: the next chunk starts
    where the run the edge falls in starts, and a match ending near the edge is read again.)"""
    from dlp.extract.encoded import _CHUNK
    block = base64.encodebytes(SECRET.encode()).decode()  # lines of 76 and a line break
    head = (filler * (_CHUNK // 28 + 2))[: _CHUNK - before_edge - 1] + "\n"  # (ASCII or not: offsets differ)
    text = head + block + "\nregards\n"
    assert text.index(block) == _CHUNK - before_edge
    assert _read_with_mark(extract(text.encode()))


def _od(data: bytes) -> str:
    """`od -A x -t x1`: an offset, then sixteen hex bytes, per line."""
    return "\n".join(f"{i:06x} " + " ".join(f"{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16))


def _hexdump_c(data: bytes) -> str:
    """`hexdump -C`: an offset, sixteen bytes in two groups of eight, and the bytes as text."""
    def line(i: int) -> str:
        chunk = data[i:i + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        return f"{i:08x}  {hexes:<48}  |" + "".join(chr(b) if 32 <= b < 127 else "." for b in chunk) + "|"
    return "\n".join(line(i) for i in range(0, len(data), 16)) + f"\n{len(data):08x}"


def _xxd(data: bytes) -> str:
    """`xxd`: an offset and a colon, eight groups of two bytes, two blanks, the bytes as text."""
    def line(i: int) -> str:
        chunk = data[i:i + 16]
        groups = " ".join(chunk[j:j + 2].hex() for j in range(0, len(chunk), 2))
        return f"{i:08x}: {groups:<39}  " + "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
    return "\n".join(line(i) for i in range(0, len(data), 16))


EVASIONS = {
    "base64 wrapped at 60 with CR line breaks": "\r".join(
        base64.b64encode(SECRET.encode()).decode()[i:i + 60] for i in range(0, 600, 60)),
    "base64 wrapped at 60, a blank at the end of each line": "\n".join(
        base64.b64encode(SECRET.encode()).decode()[i:i + 60] + " " for i in range(0, 600, 60)),
    "hex bytes with a comma and a space": hexdump(SECRET.encode(), ", "),
    "hex bytes with CRLF between them": hexdump(SECRET.encode(), "\r\n"),
    "an od -A x -t x1 dump (an offset before every sixteen bytes)": _od(SECRET.encode()),
    "a hexdump -C dump (offsets, two groups of eight, the text column)": _hexdump_c(SECRET.encode()),
    "an xxd dump (offsets, bytes in pairs, the text column)": _xxd(SECRET.encode()),
}


@pytest.mark.parametrize("name", list(EVASIONS))
def test_an_encoded_run_that_evades_the_candidate_search_is_read(either_search, name):
    """None makes a child item today. Blanks before each line break, ", " and CRLF between hex
    bytes: the regular expressions would read them (`_BASE64` allows blanks before a line
    break, `_HEX_BYTES` one to three separators), but no candidate starts there (the base64
    needles want a run MIN_RUN long or ending at the line break itself; the hex needle wants
    exactly one separator after each of eight bytes). CR alone: a candidate starts the first
    line, but `_BASE64` joins lines at LF or CRLF only, and one line of 60 is short of MIN_RUN.
    od and hexdump: sixteen bytes a line, an offset between lines, and `_HEX_BYTES` wants 32.
    (All read since: blanks and one to three separators in the candidate searches, CR alone in
    `_BASE64`, dumps as `_DUMP`.)"""
    assert _read_with_mark(extract(in_text(EVASIONS[name])))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# found attacking the encoded-run speedups (attack5); each missed with DLP_SPEEDUPS=0 too (dlp scan
# of an excerpt of a registered document so encoded, in a text file: ALLOW)
_SECRET_BYTES = SECRET.encode()
UNREAD = {
    "base64 wrapped at 12 (base64 -w 12)": "\n".join(
        _b64(_SECRET_BYTES)[i:i + 12] for i in range(0, len(_b64(_SECRET_BYTES)), 12)),
    "base64 in groups of eight characters with a blank between": " ".join(
        _b64(_SECRET_BYTES)[i:i + 8] for i in range(0, len(_b64(_SECRET_BYTES)), 8)),
    "each line of 46 bytes encoded on its own (padding ends every line)": "\n".join(
        _b64(_SECRET_BYTES[i:i + 46]) for i in range(0, len(_SECRET_BYTES), 46)),
    "base32 (coreutils base32)": base64.b32encode(_SECRET_BYTES).decode(),
    "an xxd dump whose first line follows a label": "Dump: " + _xxd(_SECRET_BYTES),
    "an xxd -s 16 dump (its first offset is not zero)": "\n".join(
        f"{int(line[:8], 16) + 16:08x}" + line[8:] for line in _xxd(_SECRET_BYTES).split("\n")),
}


GLUED = {  # found by attack5 too; read since: a run that reads as noise is read again without the
    # one to three characters its length has over a multiple of four
    "one letter glued in front of a base64 run": "x" + _b64(_SECRET_BYTES),
    "three letters glued in front of a wrapped base64 run": "zzz" + "\n".join(
        _b64(_SECRET_BYTES)[i:i + 76] for i in range(0, len(_b64(_SECRET_BYTES)), 76)),
}


@pytest.mark.parametrize("name", list(GLUED))
def test_a_base64_run_with_letters_glued_in_front_is_read(either_search, name):
    assert _read_with_mark(extract(in_text(GLUED[name])))


@pytest.mark.xfail(strict=True, reason="open holes (attack5): these shapes are not searched for yet")
@pytest.mark.parametrize("name", list(UNREAD))
def test_an_encoded_run_a_reader_decodes_by_hand_is_read(either_search, name):
    """Open holes: what a hostile insider's colleague decodes with one command (or by dropping one
    glued letter) is not read. base64 lines shorter than 16 or blank-separated groups are no
    candidate; a run with padding on every line is cut into lines shorter than MIN_RUN; a
    glued letter shifts every group of four; "." is not a hex-byte separator; base32 is not
    searched; an xxd dump is found only from a zero offset at a line start."""
    assert _read_with_mark(extract(in_text(UNREAD[name])))


# -- Chinese and Japanese in code pages without spaces, and in UTF-16 without a mark ---------------

CHINESE = ("本公司的涂层工艺配方包括以下成分和比例，这些信息属于商业秘密，不得向第三方披露。"
           "我们的研发团队经过多年努力才完成了这一配方的优化工作，任何泄露都将造成重大损失。")
JAPANESE = ("当社のコーティング工程では、エポキシ樹脂に亜鉛リン酸塩を加え、ミキサーが二段目の速度に"
            "達する前に混合します。この情報は営業秘密であり、第三者への開示を禁じます。")


@pytest.mark.parametrize("text,codec", [(CHINESE, "gbk"), (CHINESE, "gb18030"), (CHINESE, "utf-16-le"),
                                        (CHINESE, "utf-16-be"), (JAPANESE, "shift_jis"), (JAPANESE, "euc_jp"),
                                        (JAPANESE, "utf-16-le"), (CHINESE, "utf-8")])
def test_base64_of_chinese_or_japanese_in_any_common_encoding_is_read_as_its_text(text, codec):
    """Such text has no blank between its words (a legacy code page's text had to have them) and,
    in UTF-16, no NUL to tell it by: it was judged noise and never read."""
    encoded = base64.encodebytes(text.encode(codec)).decode()
    found = parts(extract(in_text(encoded)))
    assert any(t.strip() == text for loc, t in found.items() if "!/base64[" in loc), (codec, found.keys())


def test_random_bytes_in_base64_are_still_noise():
    """The same rules leave random runs unread (about one in 25,000 of 64 to 100 bytes reads
    as UTF-16 Chinese by chance; none of these)."""
    rng = __import__("random").Random(20)
    readable = 0
    for size in (64, 70, 80, 100, 160, 300) * 200:
        data = bytes(rng.randrange(256) for _ in range(size))
        found = parts(extract(in_text(base64.b64encode(data).decode())))
        readable += any("!/base64[" in loc for loc in found)
    assert readable == 0


# -- what is worth a charset guess (encoded._may_be_code_page_text) --------------------------------

KOREAN = ("당사의 코팅 공정에서는 에폭시 수지에 인산아연을 첨가하고 믹서가 두 번째 속도에 도달하기 전에 "
          "혼합합니다. 이 정보는 영업 비밀이며 제3자에게 공개하는 것을 금지합니다.")
THAI = "กระบวนการเคลือบของบริษัทใช้อีพ็อกซีเรซินผสมกับสังกะสีฟอสเฟตก่อนที่เครื่องผสมจะถึงความเร็วขั้นที่สอง"


TRADITIONAL = "本公司的塗層工藝配方包括以下成分和比例，這些資訊屬於商業機密，不得向第三方披露。"
RUSSIAN = "Процесс нанесения покрытия остаётся коммерческой тайной компании. "
ENGLISH = "The coating process of the company stays a trade secret: the oven temperature and the drying time. "
GREEK = "Η διαδικασία επικάλυψης της εταιρείας παραμένει εμπορικό απόρρητο. "


@pytest.mark.parametrize("text,codec", [(KOREAN, "euc_kr"), (KOREAN, "cp949"), (KOREAN, "johab"), (JAPANESE, "cp932"),
                                        (THAI, "cp874"), (TRADITIONAL, "big5"), (RUSSIAN * 2, "cp1251")])
def test_text_in_a_code_page_is_guessed_and_read_as_before(text, codec):
    """Runs that cannot be text in any code page are turned down before the charset guess;
    text in one, with blanks or in a script written without them, still gets to it."""
    from dlp.extract.encoded import _may_be_code_page_text
    data = text.encode(codec)
    assert _may_be_code_page_text(data)
    found = parts(extract(in_text(base64.encodebytes(data).decode())))
    assert any(t.strip() == text.strip() for loc, t in found.items() if "!/base64[" in loc), (codec, found.keys())


def test_turning_runs_down_before_the_guess_changes_no_judgement(monkeypatch):
    """`_readable` says the same with the check before the guess and without it, on text in
    every code page the guess knows that can write it, and on noise."""
    import random
    import dlp.extract.encoded as encoded
    rng = random.Random(7)
    samples = [t.encode(c) for t in (KOREAN, JAPANESE, THAI, TRADITIONAL, CHINESE, RUSSIAN, prose(40, 3), "Ünïcödé façade " * 9)
               for c in ("euc_kr", "cp949", "johab", "iso2022_kr", "cp932", "shift_jis", "euc_jp", "iso2022_jp_2",
                         "cp874", "tis_620", "big5", "gbk", "gb18030", "hz", "cp1251", "koi8_r", "cp1252", "cp437",
                         "mac_roman", "cp037", "utf_7") if _encodes(t, c)]
    samples += [bytes(rng.randrange(256) for _ in range(rng.choice((64, 70, 90, 200)))) for _ in range(300)]
    samples += [bytes(rng.randrange(128, 256) for _ in range(20)) + b"\xff" * rng.randrange(30, 60) for _ in range(100)]
    gated = [encoded._readable(d) for d in samples]
    monkeypatch.setattr(encoded, "_may_be_code_page_text", lambda data: True)
    assert gated == [encoded._readable(d) for d in samples]
    assert sum(gated) > 20  # (the text in the list is read)


def _encodes(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def test_runs_of_slashes_read_as_base64_are_turned_down_without_a_guess(monkeypatch):
    """Mail has lines of "/" after a few letters (a URL, a rule): as base64, dozens of 0xFF bytes."""
    import random
    import dlp.extract.decoding as decoding
    guessed = []
    monkeypatch.setattr(decoding, "_guess", lambda data: guessed.append(data))
    rng = random.Random(3)
    runs = [base64.b64encode(bytes(rng.randrange(128, 255) for _ in range(size)) + b"\xff" * slashes).decode()
            for size in (15, 20, 30) for slashes in (45, 60, 150)]
    assert all("/" * 40 in run for run in runs)
    found = parts(extract(in_text("\n".join(runs))))
    assert not any("!/base64[" in loc for loc in found) and guessed == []


def test_every_multi_byte_code_page_the_guess_knows_is_judged_by_one_rule():
    """A code page of more than one byte a character that charset-normalizer may name is either
    one written without blanks (`_SPACELESS`) or read with blanks (`_SPACED_WIDE`); otherwise
    `_may_be_code_page_text` would turn its text down unread (UTF-8, -16, -32: `decode`'s own)."""
    constant = pytest.importorskip("charset_normalizer.constant")
    from charset_normalizer.utils import is_multi_byte_encoding

    import codecs
    from dlp.extract.encoded import _SPACED_WIDE, _SPACELESS
    known = {codecs.lookup(name).name for name in (*_SPACELESS, *_SPACED_WIDE)}
    wide = {codecs.lookup(name).name for name in constant.IANA_SUPPORTED if is_multi_byte_encoding(name)}
    assert wide - known == {codecs.lookup(n).name for n in ("utf_8", "utf_16", "utf_16_be", "utf_16_le", "utf_32",
                                                            "utf_32_be", "utf_32_le")}


# -- text in a 7-bit encoding (encoded._seven_bit) ------------------------------------------------

FRENCH = "Le procédé de revêtement reste confidentiel : la température du four et la durée du séchage. "


@pytest.mark.parametrize("text,codec", [(JAPANESE, "iso2022_jp"), (JAPANESE, "iso2022_jp_2"), (JAPANESE, "utf-7"),
                                        (CHINESE, "hz"), (CHINESE, "utf-7"), (KOREAN, "utf-7"), (RUSSIAN * 2, "utf-7"),
                                        (FRENCH * 2, "utf-7")])
def test_text_in_a_seven_bit_encoding_is_read_as_its_text(text, codec):
    """Every byte is ASCII: the file read as ASCII, and its words were escape sequences and base64."""
    data = ("Notes du jour\n" + text + "\nfin\n").encode(codec)
    assert data.isascii()
    found = parts(extract(data))
    readings = [t for loc, t in found.items() if loc.startswith("notes.txt!/")]
    assert len(readings) == 1 and text.strip() in readings[0], found.keys()


@pytest.mark.parametrize("text", [
    "call +1 713 555 0100 or +44 20 7946 0000, C++ and +-1 on a+b-c " * 20,
    "\x1b[1;31mERROR\x1b[0m\x1b(B build failed at step 12 " * 30,  # (terminal colours: no escape to another set)
    "see http://example.com/~user/a~b/c and $x = ~1; in Perl ~ " * 30,
])
def test_ascii_text_without_seven_bit_text_is_not_read_again(text):
    """A "+" before fewer than three characters of base64 makes no character, "C++" none, and
    escapes of terminal colours are no escape to another set: nothing to read again."""
    found = parts(extract(text.encode()))
    assert not [loc for loc in found if seven_bit_parent(loc)], list(found)


@pytest.mark.parametrize("text", [
    '<Default Extension="xml" ContentType="application/vnd.openxmlformats+xml"/> ' * 40,
    "IMCEANOTES-+22Emery+2C+20Henry+22+20+3Chenry+2Eemery+40ubspainewebber+2Ecom+3E+40ENRON@ENRON.com\n" * 30,
])
def test_shifts_an_encoder_would_not_write_are_read_as_noise(text):
    """"+xml" and Exchange's "+22Emery+2C..." leave bits over, which no encoder writes; but an
    evader can, and every lenient decoder reads past them (attack 10: a junk character or a
    mark in each shift hid text decoders show), so they are read like any shift: a reading of
    noise, the ASCII around it as it was (what it costs: a reading of some 230 KB per 40 MB of
    Enron mail, scanned in some 15 ms)."""
    found = parts(extract(text.encode()))
    readings = [t for loc, t in found.items() if seven_bit_parent(loc)]
    assert len(readings) == 1 and ("ContentType" in readings[0] or "IMCEANOTES-" in readings[0])


def test_a_seven_bit_paragraph_among_many_lines_with_the_same_marks_is_read():
    """Lines are judged one by one: many "+xml" and "+40ENRON" around a UTF-7 paragraph do not
    hide it, and are not read with it."""
    noise = '<Override ContentType="application/vnd.ms-excel.sheet+xml"/> IMCEANOTES-+22Emery+2C+20Henry+22+40ENRON\n'
    data = (noise * 300).encode() + (RUSSIAN * 2).encode("utf-7") + b"\n" + (noise * 300).encode()
    found = parts(extract(data))
    readings = [t for loc, t in found.items() if loc.endswith("!/utf-7")]
    assert len(readings) == 1 and (RUSSIAN * 2).strip() in readings[0]


@pytest.mark.parametrize("mark", ["\ue000", "\x1f", "\ufffd", "\ufdd0", "\x85"])
def test_a_character_no_text_holds_hides_no_shift(mark):
    """An evader puts a private-use character or a control in every shift, or a shift of
    noise after every word ("+4AA-", "+xml"): what no text holds is dropped, the rest read, and
    the blank after a shift that stays as it was stays too (found by attacking 7dce06f)."""
    words = (RUSSIAN * 2).split()
    data = b" ".join((w + mark).encode("utf-7") + b"+4AA- +xml" for w in words)
    reading = [t for loc, t in parts(extract(data)).items() if loc.endswith("!/utf-7")]
    assert reading and set(words) <= set(reading[0].replace("+xml", " ").split())


def _lines(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def _jis_without_return(text: str) -> bytes:
    """ISO-2022-JP whose lines do not shift back to ASCII at their ends (the next one goes on)."""
    lines = [line.encode("iso2022_jp") for line in _lines(text, 30)]
    lines = [line[:-3] if line.endswith(b"\x1b(B") else line for line in lines]
    return b"\n".join([lines[0]] + [line[3:] if line.startswith(b"\x1b$B") else line for line in lines[1:]]) + b"\x1b(B"


def _jis_body(line: str) -> bytes:
    """A line of ISO-2022-JP without the escapes into and out of JIS X 0208 (the set stays on)."""
    return line.encode("iso2022_jp").replace(b"\x1b$B", b"").replace(b"\x1b(B", b"")


def _single_shifted(text: str) -> bytes:
    """Latin-1 letters by ISO-2022-JP-2's single shift: "ESC . A" once, "ESC N" before each."""
    return b"\x1b.A" + b"".join(b"\x1bN" + bytes([ord(c) - 0x80]) if ord(c) > 0x7F else c.encode() for c in text)


def _alternating(text: str) -> str:
    """Six characters in UTF-8, six in UTF-7, and so on."""
    pieces = [text[i : i + 6] for i in range(0, len(text), 6)]
    return "".join(p if k % 2 == 0 else p.encode("utf-7").decode() for k, p in enumerate(pieces))


def _junk_after_shifts(encoded: bytes, junk: bytes, shortest: int = 6) -> bytes:
    """UTF-7 with `junk` (base64 characters) added at the end of each shift of `shortest` base64
    characters or more (6: two characters or more)."""
    return re.sub(rb"(\+[A-Za-z0-9+/]{%d,})(-?)" % shortest, lambda m: m.group(1) + junk + m.group(2), encoded)


SEVEN_BIT_EVASIONS = {  # (what the file holds, the text that must be read out of it) -- found by attacking it
    "Korean in UTF-7 (words of two or three syllables)": ((KOREAN * 2).encode("utf-7"), KOREAN),
    "French in UTF-7, lines of 60 characters": ("\n".join(_lines(FRENCH * 2, 60)).encode("utf-7"), FRENCH[:50]),
    "a row of stars after each line": ("\n".join(l + " " + "★" * 12 for l in _lines(RUSSIAN * 2, 60)).encode("utf-7"),
                                       RUSSIAN[:40]),
    "Greek words in each line": (
        "\n".join(l + " καλημέρα σας φίλοι" for l in _lines(JAPANESE, 30)).encode("utf-7"), JAPANESE[:25]),
    "three stray bytes after each line": (b"\n".join(l.encode("utf-7") + b" \xc3\xa9\xc3\xa8\xc3\xa0"
                                                     for l in _lines(JAPANESE, 30)), JAPANESE[:25]),
    "UTF-8 and UTF-7 every six characters": (_alternating(JAPANESE).encode(), JAPANESE),
    "ISO-2022-JP lines that do not shift back": (_jis_without_return(JAPANESE), JAPANESE[:25]),
    "JIS X 0213 escapes after a JIS X 0208 line": (
        "よろしくお願いいたします。".encode("iso2022_jp") + b"\n\n"
        + JAPANESE.encode("iso2022_jp").replace(b"\x1b$B", b"\x1b$(Q"), JAPANESE),
    "HZ with soft line breaks": (b"~\n".join(l.encode("hz") for l in _lines(CHINESE, 20)), CHINESE[:15]),
    "UTF-7 folded at 76 columns": ("\n".join(_lines(JAPANESE.encode("utf-7").decode(), 76)).encode(), JAPANESE),
    "English, each word in a UTF-7 shift of its own": (
        b" ".join(b"+" + base64.b64encode(w.encode("utf-16-be")).rstrip(b"=") + b"-" for w in SECRET.split()[:40]),
        " ".join(SECRET.split()[:40])),
    "ISO-2022-JP shifted once, seventy lines before the excerpt": (
        b"\x1b$B" + b"\n".join(_jis_body(line) for line in ["明日の会議は午後三時からです。"] * 70 + _lines(JAPANESE, 30))
        + b"\x1b(B", JAPANESE[:25]),
    "HZ shifted once, seventy lines before the excerpt": (
        b"~{" + b"\n".join(line.encode("hz")[2:-2] for line in ["明天的会议在下午三点开始。"] * 70 + _lines(CHINESE, 20))
        + b"~}", CHINESE[:15]),
    "ISO-2022-JP-2, accents by single shifts": (_single_shifted(FRENCH * 2), FRENCH[:50]),
    "ISO-2022-JP shifted once at the start of a line of 40 KB": (
        b"\x1b$B" + _jis_body("明日の会議は午後三時からです。" * 1400) + b"\n" + _jis_body(JAPANESE) + b"\x1b(B",
        JAPANESE[:25]),
    "Russian in ISO-2022-KR": ((RUSSIAN * 2).encode("iso2022_kr"), RUSSIAN[:40]),
    "ISO-2022-KR in the middle of ASCII text": (
        KOREAN.encode("iso2022_kr")[:4] + b"Status report for the quarter, see below.\n" * 300
        + KOREAN.encode("iso2022_kr")[4:], KOREAN),
    "ISO-2022-KR and a UTF-8 dash": (KOREAN.encode("iso2022_kr") + "\n\u2014 Alice\n".encode(), KOREAN),
    # decoders read a shift to its last whole code unit: an extra base64 character before each
    # shift ends (bits left over, which no encoder writes) left the text readable and unread
    **{f"{name}: a junk character at the end of each UTF-7 shift": (_junk_after_shifts(text.encode("utf-7"), junk),
                                                                   text[:40])
       for name, text, junk in (("Russian", RUSSIAN * 3, b"Z"), ("Japanese", JAPANESE, b"A"),
                                ("Korean", KOREAN, b"x"), ("French", FRENCH * 2, b"AB"))},
    # found by attacking the reading of shifts cut short (helper, attack 9)
    "a middle dot and a junk character at the end of each UTF-7 shift": (
        _junk_after_shifts(" ".join(w + "\u00b7" for w in (RUSSIAN * 2).split()).encode("utf-7"), b"A", 3),
        " ".join(w + "\u00b7" for w in RUSSIAN.split())),  # (the dots are read: they are text)
    "a letter a UTF-7 shift, a junk character after each": (
        b" ".join(b"".join(_junk_after_shifts(ch.encode("utf-7"), b"Z", 3) for ch in w) for w in (GREEK * 2).split()),
        GREEK),
    "a shift of NUL cut short between the words": (b" +AAAA- ".join(w.encode("utf-7") for w in (RUSSIAN * 2).split()),
                                                   RUSSIAN),
    "ISO-2022-KR designated more than 4 MiB before its text": (
        b"\x1b$)C" + b"Status report for the quarter, see below.\n" * 110_000 + KOREAN.encode("iso2022_kr")[4:],
        KOREAN),
    # found by attacking the rules for shifts cut short (helper, attack 10)
    "a letter of each English word in a shift cut short": (
        b" ".join(w[:1].encode() + _junk_after_shifts(w[1].encode("utf-7") if w[1].isalpha() else w[1].encode(), b"Z", 3)
                  + w[2:].encode() for w in (ENGLISH * 2).split() if len(w) > 2),
        " ".join(w for w in ENGLISH.split() if len(w) > 2)),
    "a zero-width space in a shift cut short inside each word": (
        b" ".join(w[:2].encode() + _junk_after_shifts("\u200b".encode("utf-7"), b"A", 3) + w[2:].encode()
                  for w in (ENGLISH * 2).split()), " ".join(w[:2] + "\u200b" + w[2:] for w in ENGLISH.split())),
    "each letter of a Russian word in a shift cut short, dots between": (
        b" ".join(b".".join(_junk_after_shifts(ch.encode("utf-7"), b"x", 3) for ch in w) for w in (RUSSIAN * 2).split()),
        " ".join(".".join(w) for w in RUSSIAN.split())),
    "a vanishing shift cut short at the end of each line": (
        b"\n".join(line.encode() + b" +AAAA-" for line in _lines(ENGLISH * 3, 50)), ENGLISH[:60]),
    "French in NFD, its accents in whole shifts": (unicodedata.normalize("NFD", FRENCH * 2).encode("utf-7"),
                                                  unicodedata.normalize("NFD", FRENCH)),
    "a lone ISO-2022 escape before UTF-7": (b"\x1b$B" + (RUSSIAN * 2).encode("utf-7"), RUSSIAN),
    "a lone '~{' before UTF-7": (b"~{" + (RUSSIAN * 2).encode("utf-7"), RUSSIAN),
    "one character a line in ISO-2022-JP": (b"\n".join(ch.encode("iso2022_jp") for ch in JAPANESE), JAPANESE),
    "a line of 80 KB, a whole shift at its start, the excerpt 40 KB on": (
        b"+AGEAYg- " + b"lorem ipsum dolor sit amet " * 1500 + (RUSSIAN * 2).encode("utf-7") + b" " + b"y" * 30_000,
        RUSSIAN),
    "a 100 KB line, the excerpt 32 KiB after a '+'": (
        ("call +17135550100 " + "x" * (32768 - 30) + " ").encode() + JAPANESE.encode("utf-7") + b" " + b"y" * 60_000,
        JAPANESE),
}


@pytest.mark.parametrize("name", list(SEVEN_BIT_EVASIONS))
def test_seven_bit_text_is_read_however_it_is_dressed(name):
    data, text = SEVEN_BIT_EVASIONS[name]
    readings = "".join(t for loc, t in parts(extract(data)).items()
                       if set(loc.rsplit("!/", 1)[-1].split("+")) <= {"utf-7", "hz", "iso-2022-jp", "iso-2022-kr"}
                       or loc == "notes.txt")  # (ISO-2022-KR that reads as binary: `decode` reads it whole)
    assert "".join(text.split()) in "".join(readings.split()), name


_SCRIPT_TEXT = st.text(alphabet="абвгдежзийклмнопрстуфхцчшщыэюяΑΒΓΔαβγδεζηθ日本語中文字東京漢字あいうえおカタナàéèêçôü ",
                       min_size=8, max_size=120)


@settings(max_examples=200, deadline=None)
@given(_SCRIPT_TEXT, st.lists(st.sampled_from(["+xml", "+4AA-", "+22Emery+2C+20Henry", "C++", "+1", "+-", "a+b",
                                               "+AAAA-", "★", "ü"]), max_size=8), st.randoms(use_true_random=False))
def test_utf7_text_with_noise_between_its_words_reads_back(text, noise, rng):
    """Whatever noise stands between the words of a UTF-7 text (shifts that make no text,
    plain "+", other characters), each word reads back as it was written."""
    from dlp.extract.encoded import _utf7
    words = text.split()
    pieces = [w.encode("utf-7") for w in words]
    for n in noise:
        pieces.insert(rng.randrange(len(pieces) + 1), n.encode("utf-8"))
    reading = iter(_utf7(b" ".join(pieces))[0].split())
    assert all(w in reading for w in words), pieces  # (the words, in order, among what was read)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["абвгдежзийклмнопрстуфхцчшщыэюя ΑΒΓΔαβγδεζηθ", "日本語中文字東京漢字あいうえおカタナ ",
                        "àéèêçôü abcdef", "가나다라마바사아자차카타파하 "]).flatmap(
           lambda alphabet: st.text(alphabet=alphabet, min_size=8, max_size=120)),
       st.sampled_from([b"A", b"Z", b"x", b"9", b"+", b"/"]))
def test_utf7_text_with_junk_at_the_end_of_its_shifts_is_read(text, junk):
    """A junk base64 character after the last whole code unit of each shift (bits left over: no
    encoder writes them, but decoders read past them): every word of two letters or more of a
    text in one script (Latin, Greek and Cyrillic count as one: they share lookalikes) reads
    back, and the line is read. (Two junk characters or more can make one more unit, which a
    decoder shows too: a junk letter glued to the word.)"""
    from dlp.extract.encoded import _ascii_pairs, _decoded_runs

    words = [w for w in text.split() if len(w) >= 2]
    # (eight characters or more each of two printable ASCII bytes, "ああああああああ", read as ASCII
    # read two bytes a character: a line of base64 after a "+")
    # (a word of ASCII letters and one accented one, "procède", is not enough for a line to be read
    # for shifts cut short: "+xml" in content types makes one letter between ASCII letters too)
    assume(words and any(sum(ord(c) > 127 for c in w) >= 2 for w in words)
           and not any(len(w) >= 8 and _ascii_pairs(w) for w in words))
    data = re.sub(rb"(\+[A-Za-z0-9+/]{3,})(-?)", lambda m: m.group(1) + junk + m.group(2), " ".join(words).encode("utf-7"))
    read = [run for kind, _, run, _ in _decoded_runs(data.decode("ascii")) if kind == "utf-7"]
    assert read, data
    reading = iter(read[0].decode().split())
    assert all(w in reading for w in words), data


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="가나다라마바사 한국어日本語éüжλ\t", max_size=40), st.text(alphabet="가나다 日本語é", max_size=20),
       st.lists(st.sampled_from(["+xml", "+4AA-", "+22Emery+2C+20Henry", "C++", "+1", "+-", "a+b", "+AAAA-",
                                 "+AGEAYgBj-", "+ZeVnLIqe-", "+AB8-", "word"]), min_size=1, max_size=8))
def test_text_beyond_ascii_around_utf7_shifts_leaves_their_reading_as_it_is(before, after, pieces):
    """A line's shifts read the same whatever text beyond ASCII stands around them (the text
    between shifts is read as it is, not through the decoder: a Korean line with a "+" in it
    was read a word at a time by an error handler, and the shifts of such a line read
    otherwise than those of an ASCII line: "+1" as "+1+1-")."""
    from dlp.extract.encoded import _utf7

    shifts = " ".join(pieces).encode("ascii")
    alone, count = _utf7(shifts)
    assert _utf7(before.encode() + b" " + shifts + b" " + after.encode()) == (f"{before} {alone} {after}", count)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([b"document.write('<IMG SRC=\"x;ord='+random+'?\">');", b"+22Emery+2C+20Henry+22 wrote",
                                 "Привет мир".encode("utf-7"), b"C++ and +1", "東京 x".encode("utf-7") + b"+A",
                                 b"~{<:Ky2;S{#,NpJ)l6HK!#~} +AGEAYgBj-", b"+AGEAYgBj-", b"+AGEAYgBjZ-\r"]),
                min_size=1, max_size=12))
def test_the_lines_of_a_seven_bit_reading_read_as_each_alone(lines):
    """Each different line of a part is read in UTF-7 once and its reading reused: the reading of
    lines repeated in any order is the one each line read again makes."""
    from dlp.extract import encoded

    text = b"\n".join(lines).decode("ascii")  # (nothing kept: every line read)
    assert list(encoded._decoded_runs(text)) == _decoded_runs_with(text, "_utf7_read",
                                                                   lambda line, read: encoded._utf7(line))


def _decoded_runs_with(text: str, name: str, value) -> list:
    """`encoded._decoded_runs` of `text` with encoded.<name> set to `value` meanwhile."""
    from dlp.extract import encoded

    saved = getattr(encoded, name)
    setattr(encoded, name, value)
    try:
        return list(encoded._decoded_runs(text))
    finally:
        setattr(encoded, name, saved)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([base64.b64encode(prose(12, 1).encode()).decode(), "x" + base64.b64encode(b"%PDF-1.4 " * 9).decode(),
                                 "Zm9v" * 20, "-" * 70, "0123456789abcdef" * 5, "some words in between",
                                 base64.b64encode(bytes(range(7, 250, 4))).decode()]), max_size=12))
def test_base64_runs_repeated_in_a_part_read_as_each_alone(pieces):
    """What a base64 match reads as is kept for its repeats in the part: the runs decoded are those
    decoding each again gives."""
    from dlp.extract import encoded

    text = "\n\n".join(pieces)
    assert list(encoded._decoded_runs(text)) == _decoded_runs_with(text, "_KEPT_RUNS", 0)  # (nothing kept)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab+/=- \n:.%é日", max_size=60), st.integers(0, 60), st.integers(0, 60), st.integers(1, 70))
def test_the_next_chunk_starts_where_the_run_at_the_edge_starts(text, start, length, tail):
    """`_tail_start` backs off over the characters a run can hold, `_TAIL` at most, as a loop over
    them one by one does."""
    from dlp.extract import encoded

    start = min(start, len(text))
    end = min(len(text), start + max(length, 1))
    if end <= start:
        return
    at = end
    while at > max(start + 1, end - tail) and text[at - 1] in encoded._RUN_TEXT:
        at -= 1
    saved, encoded._TAIL = encoded._TAIL, tail
    try:
        assert encoded._tail_start(text, start, end) == at
    finally:
        encoded._TAIL = saved


def test_a_stray_shift_out_byte_is_no_iso_2022_kr_mark():
    """Mail holds stray SO bytes ("From: \\x0e" in Enron's forwarded headers): without ISO-2022-KR's
    designation in the text they mark nothing, so nothing is read again, nor searched for the SI
    that would shift back (each searched the rest of its chunk, 64 times: 500 ms for 40 MB)."""
    from dlp.extract.encoded import _marked_lines, _seven_bit_spans
    data = (b"--------- Inline attachment follows ---------\r\n\r\nFrom: \x0e\r\nDate: ???\r\n" + prose(200, 4).encode()) * 3
    assert _marked_lines(data) and _seven_bit_spans(data, _marked_lines(data), len(data)) == []
    korean = b"\x1b$)C" + data + KOREAN.encode("iso2022_kr")[4:]
    assert [kinds for _, kinds in _seven_bit_spans(korean, _marked_lines(korean), len(korean))] != []


@pytest.mark.parametrize("line", [b"~{xx\n", b"\x1b$Bxx\n", b"\x1b$)C\x0exx\n", b"~{xx\n\x1b$Bxx\n"])
def test_lines_that_never_shift_back_are_searched_once(line, monkeypatch):
    """A file of lines that each shift out of ASCII and never back (a cost bomb found by attack:
    each line went on up to 64 times, each time a mebibyte on to the next "~}": 18 s for 80 KB of
    HZ, hours for 4 MB): a line inside the span of the one before goes with it, searched no
    further. The span goes on a line at a time where each line has an escape, at most once a line."""
    from dlp.extract import encoded

    calls = []
    goes_on = encoded._goes_on
    monkeypatch.setattr(encoded, "_goes_on", lambda *a: calls.append(1) or goes_on(*a))
    data = (line * (200_000 // len(line))).decode("latin-1")
    list(encoded._decoded_runs(data))
    assert len(calls) <= len(data) // len(line) + 10, len(calls)  # (was up to 64 a line)


def test_a_span_of_folded_shifts_is_not_unfolded_again_at_each_step(monkeypatch):
    """Lines of a short word and a shift of 21 characters each, each folded onto the next (a
    cost bomb found by attack: each step of a span unfolded the last 4 KB of lines again,
    23 s for 4 MB): each step looks at the shift the span ends in once."""
    from dlp.extract import encoded

    calls = []
    folded = encoded._folded
    monkeypatch.setattr(encoded, "_folded", lambda *a: calls.append(1) or folded(*a))
    data = (b"ab+" + b"A" * 21 + b"\n") * 5_000
    list(encoded._decoded_runs(data.decode("ascii")))
    assert len(calls) <= 3 * 5_000, len(calls)  # (was some 33 a line)


def test_a_run_of_equal_noisy_lines_is_read_once_and_lines_further_up_again():
    """The same script line of an HTML mail a hundred times over (each "+Math" makes a
    character) is read once; a line equal to one further up, not the one before it, is read
    again, so copies of an excerpt's lines planted earlier in another order take nothing away."""
    noise = b"document.write('<IMG SRC=\"http://ad.example.com/ad;ord='+Math.random()+'?\" WIDTH=1 HEIGHT=1>');\n"
    lines = [w.encode("utf-7") for w in RUSSIAN.split()]
    planted = b"\n".join(lines[::-1]) + b"\n" + noise * 100 + b"\n".join(lines) + b"\n" + noise * 100
    reading = "".join(t for loc, t in parts(extract(planted)).items() if loc.endswith("!/utf-7"))
    assert reading.count("document.write") == 2
    assert "\n".join(RUSSIAN.split()) in reading  # the excerpt's lines in their order, each read
    assert "\n".join(RUSSIAN.split()[::-1]) in reading  # and the copies before it


@pytest.mark.parametrize("shift", range(0, 700, 53))
def test_an_escaped_word_across_the_edges_of_search_chunks_is_read(either_search, shift, monkeypatch):
    """The text is searched for escaped words only when a chunk's search saw a word that may
    hold one (`_escape_words`): a word longer than a chunk, or cut by a chunk's edge anywhere,
    with its escapes on either side of the edge, is still read."""
    from dlp.extract import encoded

    monkeypatch.setattr(encoded, "_CHUNK", 256)
    dense = "The Halcyon coating process runs at forty degrees for two hours and then cools"
    sparse = " ".join(f"{w}{'x' * 300}" for w in dense.split()[:12])  # (one escape in a chunk at most)
    for sentence in (dense * 4, sparse):
        word = "".join(f"%{ord(c):02x}" if c == " " or (k % 9 == 0 and sentence is not sparse) else c
                       for k, c in enumerate(sentence))
        text = prose(30, 8)[:shift] + " " + word + " " + prose(30, 9)
        decoded = [data for kind, _, data, _ in encoded._decoded_runs(text) if kind == "escaped"]
        assert decoded == [sentence.encode()]


def test_only_words_with_enough_escapes_are_searched_for_escaped_words(monkeypatch):
    from dlp.extract import encoded

    searched = []
    monkeypatch.setattr(encoded, "_escaped_words", lambda *a: searched.append(a[3:]) or iter(()))
    links = " ".join(f"see http://example.com/a%20b%20c/{i}?q=x%2Fy%3Dz%26w%3D{i} now" for i in range(300))
    list(encoded._decoded_runs(links))
    assert not searched
    list(encoded._decoded_runs(links + " " + "%41" * 11 + " " + links))
    assert searched == [(len(links) + 1, len(links) + 34)] * 2  # (that word only, for each kind of escape)


def _utf7_all(text: str) -> bytes:
    """`text` in UTF-7 with every character in a shift (as an evader writes it; Python's encoder
    leaves ASCII letters as they are)."""
    return b"+" + base64.b64encode(text.encode("utf-16-be")).rstrip(b"=") + b"-"


@pytest.mark.parametrize("hyphen", ["-", "\u2010", "\u00ad", "\uff0d", "\u2011", "\ufe63", "-\u200b", "-\u2060",
                                    "- _ _ _ _", "- \u3164 \u3164 \u3164 \u3164", "- \u115f \u115f \u115f"])
@pytest.mark.parametrize("pad", [0, 16])
def test_a_text_written_a_letter_a_line_keeps_its_doubled_letters(hyphen, pad):
    """One letter a line, each but a word's last ending in a hyphen of some kind (which joins it
    to the next; blanks around it or not), in UTF-7: "s-" twice in "process" is two equal lines,
    and both are read (attack 11: dropping the second of two equal lines read "proces", "kep",
    "asets"; attack 12, with lines padded to 24 characters and hyphens other than "-")."""
    words = "the coating process keeps all assets sealed".split()
    lines = [" " * pad + letter + (hyphen if k < len(word) - 1 else "") + " " * (pad // 2)
             for word in words for k, letter in enumerate(word)]
    data = b"\n".join(_utf7_all(line) for line in lines)
    reading = "".join(t for loc, t in parts(extract(data)).items() if loc.endswith("!/utf-7"))
    assert reading.split("\n") == lines


_ESCAPE_PIECES = st.one_of(
    st.sampled_from([" ", "\n", "\t", "\x0b", "\x1c", "\u00a0", "\u2003", "é", "日", "%", "\\", "%%41", "%zz",
                     "\\x4g", "The%20Halcyon%20coating", "%54%68%65", "\\x54\\x68\\x65", "%20", "\\x20", "word", "%e9",
                     "%20process%20runs%20at%20forty%20degrees%20for%20two%20hours%20and%20then",
                     "\\x20the\\x20coating\\x20cools\\x20for\\x20an\\x20hour\\x20or\\x20two\\x20more"]),
    st.integers(1, 300).map(lambda n: "y" * n),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ESCAPE_PIECES, max_size=80), st.sampled_from([64, 256, 4 << 20]), st.booleans())
def test_escaped_words_read_in_the_words_listed_are_those_of_the_whole_text(pieces, chunk, with_c):
    """Searched only in the words the run search listed (`_escape_words`), chunks small or large,
    with the C pass or without, the escaped words read are those a search of the whole text finds."""
    from dlp import speedups
    from dlp.extract import encoded

    if with_c and speedups.native is None:
        return
    text = "".join(pieces)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(encoded, "_CHUNK", chunk)
        patch.setattr(speedups, "native", speedups.native if with_c else None)
        read = [data for kind, _, data, _ in encoded._decoded_runs(text) if kind == "escaped"]
    whole = [data for pattern, first in ((encoded._PERCENT, "%"), (encoded._BACKSLASH_X, "\\"))
             for _, data in encoded._escaped_words(text, pattern, first)]
    assert read == whole


def test_escaped_words_far_apart_are_each_read():
    from dlp.extract.encoded import _decoded_runs

    first = "The Halcyon coating process runs at forty degrees for two hours and no more"
    second = "then the coating cools for an hour or two more in the dark room"
    links = " ".join(f"see http://example.com/a%20b/{i}?q=x%2Fy now" for i in range(200))
    text = f"{links} {first.replace(' ', '%20')} {links}\n{second.replace(' ', '%20')} {links}"
    assert [data for kind, _, data, _ in _decoded_runs(text) if kind == "escaped"] == [first.encode(), second.encode()]


@pytest.mark.parametrize("space", ["%C2%A0", "%A0", "%E2%80%AF", "%E3%80%80", "%E2%80%89", "%20"])
def test_an_escaped_word_whose_spaces_are_escaped_blanks_of_another_kind_is_read(space):
    """A sentence in a link with its spaces escaped as no-break or other Unicode spaces (in
    UTF-8 or Latin-1) is prose all the same: its words are counted between any blank."""
    from dlp.extract.encoded import _decoded_runs

    sentence = "The Halcyon coating process runs at forty degrees for two hours and no more"
    text = f"Lien : https://exemple.fr/partage?texte={sentence.replace(' ', space)} merci"
    read = [data for kind, _, data, _ in _decoded_runs(text) if kind == "escaped"]
    assert len(read) == 1 and read[0].replace(urllib.parse.unquote_to_bytes(space), b" ").endswith(sentence.encode())


def test_a_tracking_link_of_escaped_no_break_spaces_alone_is_not_prose():
    from dlp.extract.encoded import _decoded_runs

    text = "see https://t.example.com/c?u=" + "%C2%A0" * 40 + "x%2Fy%3Dz now"
    assert not [data for kind, _, data, _ in _decoded_runs(text) if kind == "escaped"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\udcff", "’", "日", "\U0001f600"]),
               max_size=200), st.data())
def test_byte_offsets_become_the_character_offsets_of_decoding_up_to_each(text, data):
    """Escaped words found in the bytes of a chunk of text beyond ASCII are placed in the text by
    their character offsets, the pieces between them decoded once each, in any order."""
    from dlp.extract.encoded import _char_offsets

    from dlp import speedups

    raw = text.encode("utf-8", errors="surrogatepass")
    boundaries = [len(text[:i].encode("utf-8", errors="surrogatepass")) for i in range(len(text) + 1)]
    offsets = data.draw(st.lists(st.sampled_from(boundaries), max_size=12))
    want = [len(raw[:x].decode("utf-8", errors="surrogatepass")) for x in offsets]
    assert _char_offsets(raw, offsets) == want  # (counted in C where the speedups are built)
    saved, speedups.native = speedups.native, None
    try:
        assert _char_offsets(raw, offsets) == want
    finally:
        speedups.native = saved
