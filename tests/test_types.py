"""Values that flow through a scan: the reversible escape of file names."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings, strategies as st

from dlp.types import escape_path, unescape_path

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("name, escaped", [
    ("plan.pdf", "plan.pdf"),
    ("Überweisung 2026/Ö-Plan.docx", "Überweisung 2026/Ö-Plan.docx"),
    ("进度表.xlsx", "进度表.xlsx"),
    (os.fsdecode(b"bad\xff.txt"), "bad\\xff.txt"),
    (b"latin1-\xe9t\xe9.txt", "latin1-\\xe9t\\xe9.txt"),
    ("two\nlines.txt", "two\\x0alines.txt"),
    ("tab\there", "tab\\x09here"),
    ("esc\x1b[31mred", "esc\\x1b[31mred"),
    ("back\\slash", "back\\\\slash"),
    ("literal \\xff", "literal \\\\xff"),
    ("gpj.\u202eexe", "gpj.\\xe2\\x80\\xaeexe"),  # right-to-left override: shows as "exe.jpg"
    ("nel\u0085", "nel\\xc2\\x85"),
])
def test_escape_table(name, escaped):
    assert escape_path(name) == escaped
    assert unescape_path(escaped) == (os.fsdecode(name) if isinstance(name, bytes) else name)


@given(st.binary(max_size=64))
def test_any_bytes_round_trip_as_valid_printable_json_text(raw):
    escaped = escape_path(raw)
    assert unescape_path(escaped) == os.fsdecode(raw)
    assert escape_path(os.fsdecode(raw)) == escaped
    escaped.encode("utf-8")  # no lone surrogates
    assert json.loads(json.dumps(escaped, ensure_ascii=False)) == escaped
    assert "\n" not in escaped and "\r" not in escaped and "\x1b" not in escaped


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\\" + BIDI),
               max_size=40))
def test_ordinary_names_are_unchanged(name):
    assert escape_path(name) == name == unescape_path(name)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40))
def test_writable_text_takes_no_writer_down_and_is_written_once(text):
    """Whatever a command line or the wire decodes to (lone surrogates, controls, bidirectional
    controls): UTF-8 takes it, no line break or override is left in it, and writing it again
    changes nothing; text with none of them is unchanged."""
    from dlp.types import writable

    bidi = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

    def unwritable(ch: str) -> bool:
        return 0xD800 <= ord(ch) <= 0xDFFF or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in bidi

    out = writable(text)
    out.encode("utf-8")
    assert not any(map(unwritable, out))
    assert writable(out) == out
    if not any(map(unwritable, text)):
        assert out == text


def test_a_destination_holds_writable_text():
    from dlp.types import Destination

    d = Destination(addresses=("bob\udcff@partner.example", "carol@example.com"), country="D\nE", sender="e\u202ev")
    assert d.addresses == ("bob\\xff@partner.example", "carol@example.com")
    assert (d.country, d.sender) == ("D\\x0aE", "e\\u202ev")
    from dataclasses import replace

    assert replace(d, channel="mail").addresses == d.addresses  # (made again: the same)
