"""Hostile input ends as a bounded problem of the right kind, and the walk goes on."""

from __future__ import annotations

import gzip
import os
import struct
import time
import zipfile

import pytest

from dlp.errors import ExtractionError
from dlp.extract import EXTRACTORS, Context, Limits, walk
from dlp.extract.isolate import run_isolated
from dlp.types import Item, Part, Problem

from . import builders as b
from .test_formats import MARK, found


def run(data: bytes, name: str = "x", limits: Limits | None = None, extractors=EXTRACTORS):
    return list(walk(Item(locator=name, name=name, data=data), extractors, Context(limits or Limits())))


def kinds(outputs) -> list[str]:
    return [o.kind for o in outputs if isinstance(o, Problem)]


def test_gzip_ratio_bomb_stops_while_streaming():
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024), compresslevel=9)
    outputs = run(b.zip_of({"bomb.gz": bomb, "ok.txt": MARK.encode()}), "a.zip")
    assert kinds(outputs) == ["ratio"]
    assert [p.locator for p in found(outputs)] == ["a.zip!/ok.txt"]


def test_zip_member_declaring_a_bomb_is_refused_before_reading():
    outputs = run(b.zip_of({"zeros": b"\0" * (8 * 1024 * 1024), "ok.txt": MARK.encode()}), "a.zip")
    (problem,) = [o for o in outputs if isinstance(o, Problem)]
    assert problem.kind == "ratio" and problem.locator == "a.zip!/zeros" and "declares" in problem.detail
    assert found(outputs)


def test_zip_member_lying_about_its_size_is_caught_while_streaming():
    data = bytearray(b.zip_of({"zeros": b"\0" * (8 * 1024 * 1024)}))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 1000)  # declared size: 1000 bytes
    struct.pack_into("<I", data, 22, 1000)
    assert kinds(run(bytes(data), "lie.zip")) in (["ratio"], ["corrupt"])


def overlapping_zip() -> bytes:
    """Two central directory entries that share one local file (Fifield's trick, small)."""
    data = b.zip_of({"a.txt": MARK.encode()})
    central = data.index(b"PK\x01\x02")
    end = data.index(b"PK\x05\x06")
    entry = data[central:end]
    twin = entry.replace(b"a.txt", b"b.txt")
    record = bytearray(data[end:])
    struct.pack_into("<HHI", record, 8, 2, 2, len(entry) * 2)
    return data[:central] + entry + twin + bytes(record)


def test_overlapping_members_are_a_ratio_problem():
    outputs = run(overlapping_zip(), "o.zip")
    assert kinds(outputs) == ["ratio"] and not found(outputs)


def test_encrypted_member_is_reported_and_the_rest_read():
    data = bytearray(b.zip_of({"locked.txt": b"secret", "open.txt": MARK.encode()}))
    data[data.index(b"PK\x03\x04") + 6] |= 0x01
    data[data.index(b"PK\x01\x02") + 8] |= 0x01
    outputs = run(bytes(data), "e.zip")
    assert [(o.kind, o.locator) for o in outputs if isinstance(o, Problem)] == [("encrypted", "e.zip!/locked.txt")]
    assert found(outputs)


def test_too_many_members():
    data = b.zip_of({f"m{i}.txt": b"x" for i in range(8)})
    outputs = run(data, "m.zip", Limits(max_members=5))
    assert kinds(outputs) == ["too_many"]
    members = [o for o in outputs if isinstance(o, Part) and not o.locator.endswith("!/names")]
    assert len(members) == 5
    names = next(o for o in outputs if isinstance(o, Part) and o.locator == "m.zip!/names")
    assert names.text.split() == [f"m{i}.txt" for i in range(8)]  # every name is read, members or not


def test_total_expanded_bytes_budget():
    members = {f"r{i}.bin": os.urandom(600_000) for i in range(3)}
    outputs = run(b.zip_of(members), "t.zip", Limits(max_total_bytes=1_000_000))
    assert kinds(outputs) == ["too_large"]


def test_text_per_part_is_truncated():
    outputs = run(b"word " * 1000, "t.txt", Limits(max_text_chars=100))
    assert kinds(outputs) == ["truncated"] and len(outputs[1].text) == 100


def test_zip_slip_names_stay_locators(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outputs = run(b.zip_of({"../../../../tmp/evil.txt": MARK.encode(), "..\\..\\win.txt": b"w"}), "s.zip")
    assert [p.locator for p in found(outputs)] == ["s.zip!/../../../../tmp/evil.txt"]
    assert list(tmp_path.iterdir()) == []


def test_xml_entity_bomb_in_docx():
    prolog = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' \
             '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    data = b.docx_by_parts({"word/document.xml": b.run(MARK + "&c;&c;&c;")}, prolog=prolog)
    outputs = run(data, "bomb.docx")
    assert [(o.kind, o.locator) for o in outputs if isinstance(o, Problem)] == [("ratio", "bomb.docx!/word/document.xml")]
    (hit,) = found(outputs)
    assert "aaaa" not in hit.text


def test_corrupt_member_does_not_stop_the_archive():
    data = b.zip_of({"bad.docx": b"PK\x03\x04 not really a zip", "ok.txt": MARK.encode()})
    outputs = run(data, "c.zip")
    assert kinds(outputs) == ["corrupt"] and found(outputs)


def _sleep(item: Item, limits: Limits):
    time.sleep(30)
    return []


def _explode(item: Item, limits: Limits):
    raise ExtractionError("encrypted", "from the worker")


def _hog(item: Item, limits: Limits):
    return [bytearray(limits.worker_memory_bytes * 2)]


class _Hanging:
    name = "hanging"

    def sniff(self, head, item):
        return head.startswith(b"HANG")

    def extract(self, item, ctx):
        yield from run_isolated(_sleep, item, ctx)


def test_hanging_parser_is_killed_at_the_item_deadline():
    started = time.monotonic()
    outputs = run(b"HANG", "h", Limits(timeout_seconds=1.0), extractors=(_Hanging(),) + EXTRACTORS)
    assert kinds(outputs) == ["timeout"]
    assert time.monotonic() - started < 5


def test_hanging_member_does_not_stop_the_next_item():
    extractors = (_Hanging(),) + EXTRACTORS
    ctx = Context(Limits(timeout_seconds=1.0))
    first = list(walk(Item(locator="h", name="h", data=b"HANG"), extractors, ctx))
    second = list(walk(Item(locator="t", name="t", data=MARK.encode()), extractors, Context(Limits(timeout_seconds=5))))
    assert kinds(first) == ["timeout"] and found(second)


def test_worker_errors_and_memory_cap_become_problems():
    ctx = Context(Limits(worker_memory_bytes=64 * 1024 * 1024))
    item = Item(locator="w", name="w", data=b"")
    with pytest.raises(ExtractionError) as raised:
        run_isolated(_explode, item, ctx)
    assert raised.value.kind == "encrypted"
    with pytest.raises(ExtractionError) as raised:
        run_isolated(_hog, item, ctx)
    assert raised.value.kind == "too_large"


def test_truncated_zip_is_corrupt():
    data = b.zip_of({"a.txt": MARK.encode() * 100})
    assert kinds(run(data[: len(data) // 2], "t.zip")) == ["corrupt"]


def test_truncated_gzip_keeps_what_came_out():
    data = gzip.compress((MARK + "\n").encode() * 20000)
    outputs = run(data[: len(data) // 2], "t.txt.gz")
    assert kinds(outputs) == ["truncated"] and found(outputs)


def test_declared_sizes_in_zipinfo_are_never_trusted_for_allowing():
    data = b.zip_of({"z": b"\0" * (3 * 1024 * 1024)})
    info = zipfile.ZipFile(__import__("io").BytesIO(data)).infolist()[0]
    assert info.file_size / info.compress_size > 200
    assert kinds(run(data, "z.zip")) == ["ratio"]


def test_the_time_running_out_while_an_item_is_read_as_text_is_a_problem_of_the_item(tmp_path, monkeypatch):
    """Two bytes of gzip magic before text: the gzip reader fails and the item is read as text,
    after the walk's own error handling. The item's deadline running out in the encoded runs of
    that text escaped the walk and ended the whole `dlp scan` (exit 2, no report for any file:
    found attacking stop 36)."""
    import base64

    from dlp.extract import encoded

    def out_of_time(part, parent, ctx):
        raise ExtractionError("timeout", "item took longer than 0.05 s")
        yield  # (a generator, as encoded_items is)

    monkeypatch.setattr(encoded, "encoded_items", out_of_time)
    text = "the coating process holds for twenty minutes " * 20 + base64.b64encode(b"x" * 300).decode()
    item = Item(locator="a.txt", name="a.txt", data=b"\x1f\x8b\n" + text.encode())
    out = list(walk(item, EXTRACTORS, Context(Limits())))
    assert [p.kind for p in out if isinstance(p, Problem)][-1] == "timeout"
    assert any(isinstance(p, Part) and "coating process" in p.text for p in out)  # (what was read before it)
