"""Property: truncated or fuzzed bytes of valid containers never raise out of `walk`,
and everything that comes out is a part or a problem of a known kind."""

from __future__ import annotations

import bz2
import gzip

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlp.extract import EXTRACTORS, Context, Limits, walk
from dlp.types import PROBLEM_KINDS, Item, Part, Problem

from . import builders as b

MARK = "fuzz marker text"


def _mbox() -> bytes:
    message = b.mail("body " + MARK, {"a.zip": b.zip_of({"x.txt": MARK.encode()})})
    return b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n" + message.as_bytes() + b"\n"


SEEDS = {
    "zip": b.zip_of({"a/b.txt": MARK.encode(), "c.docx": b.docx_by_parts({"word/document.xml": b.run(MARK)})}),
    "docx": b.docx_by_parts({"word/document.xml": b.run(MARK), "word/footnotes.xml": b.run(MARK)}),
    "xlsx": b.xlsx(["s", MARK], [["@s", "@" + MARK, 3]]),
    "pptx": b.pptx([MARK, "two"]),
    "odt": b.odt(MARK, header=MARK),
    "tgz": b.tar_of({"a.txt": MARK.encode(), "b.zip": b.zip_of({"c.txt": b"x"})}, "w:gz"),
    "tar": b.tar_of({"a.txt": MARK.encode()}),
    "bz2": bz2.compress(MARK.encode() * 50),
    "gz": gzip.compress(MARK.encode() * 50),
    "eml": b.mail("body " + MARK, {"x.zip": b.zip_of({"y.txt": MARK.encode()})}).as_bytes(),
    "mbox": _mbox(),
    "rtf": rb"{\rtf1\ansi{\fonttbl{\f0 A;}}\f0 " + MARK.encode() + rb"\par\u1234?{\*\x y}}",
    "pdf": b.pdf(MARK, annotation=MARK),
    "xml": b'<?xml version="1.0"?><r a="1"><x>' + MARK.encode() + b"</x></r>",
}


def _check(data: bytes, name: str) -> None:
    ctx = Context(Limits(timeout_seconds=20))
    for out in walk(Item(locator=name, name=name, data=data), EXTRACTORS, ctx):
        assert isinstance(out, (Part, Problem))
        if isinstance(out, Problem):
            assert out.kind in PROBLEM_KINDS
        assert out.locator.startswith(name)


FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), cut=st.floats(0, 1))
def test_truncated_containers_never_raise(name, cut):
    data = SEEDS[name]
    _check(data[: int(len(data) * cut)], name)


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=12),
)
def test_fuzzed_containers_never_raise(name, edits):
    data = bytearray(SEEDS[name])
    for where, value in edits:
        data[min(len(data) - 1, int(len(data) * where))] = value
    _check(bytes(data), name)


@settings(max_examples=60, deadline=None, database=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data):
    _check(data, "blob")
