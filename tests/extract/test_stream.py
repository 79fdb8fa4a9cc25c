"""Large text files are read a chunk at a time: bounded memory, nothing lost at the seams.

The sizes are scaled down here (chunks of 64 KiB, streaming from 256 KiB, 300 words of
overlap); `benchmarks/bench_memory.py` measures the real ones on a 200 MB single-line
file and a 1 GB file.
"""

from __future__ import annotations

import pytest

from dlp.extract import stream, text
from dlp.types import Action

from helpers import prose, scanner_with

SECRET = prose(400, 77)
WORDS = SECRET.split()


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(stream, "CHUNK_BYTES", 64 << 10)
    monkeypatch.setattr(stream, "GAP_CHARS", 4096)
    monkeypatch.setattr(stream, "_GAP", __import__("re").compile(r"\W{4096,}"))
    monkeypatch.setattr(stream, "OVERLAP_WORDS", 300)
    monkeypatch.setattr(stream, "OVERLAP_CHARS", 32 << 10)
    monkeypatch.setattr(text, "STREAM_BYTES", 256 << 10)


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return scanner_with(tmp_path_factory.mktemp("stream"), {"plan": SECRET})


def filler(chars: int, seed: int = 5) -> str:
    out, n = [], 0
    while n < chars:
        out.append(prose(2000, seed + len(out)))
        n += len(out[-1]) + 1
    return "\n".join(out)


def excerpt(n: int = 40) -> str:
    return " ".join(WORDS[100:100 + n])


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_an_excerpt_anywhere_in_a_streamed_file_is_blocked_with_offsets_in_the_whole_file(
        small_chunks, scanner, tmp_path, where):
    body = filler(900_000)
    at = {"start": 0, "middle": len(body) // 2, "end": len(body)}[where]
    content = body[:at] + "\n" + excerpt() + "\n" + body[at:]
    path = tmp_path / "big.txt"
    path.write_text(content, encoding="utf-8")
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK
    [finding] = [f for f in report.findings if f.kind == "document"]
    run = finding.evidence.runs[0]
    assert content[run.start:run.end].split() == excerpt().split()
    assert finding.locator == str(path) and not report.problems


def test_an_excerpt_across_a_chunk_seam_is_found(small_chunks, scanner, tmp_path):
    """Words spread over the seam between two 64 KiB chunks, far apart in characters."""
    gap = " " * 3000
    content = filler(60_000) + "\n" + gap.join(excerpt(30).split()) + "\n" + filler(400_000, seed=9)
    path = tmp_path / "seam.txt"
    path.write_text(content, encoding="utf-8")
    assert scanner.scan_path(path).action is Action.BLOCK


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-8", b"")])
def test_streamed_files_in_other_encodings(small_chunks, scanner, tmp_path, encoding, bom):
    content = filler(400_000) + "\n" + excerpt() + "\n" + filler(100_000, seed=11)
    path = tmp_path / "wide.txt"
    path.write_bytes(bom + content.encode(encoding))
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK, report.problems


def test_a_lying_bom_on_a_streamed_file_is_read_on_evidence(small_chunks, scanner, tmp_path):
    """Two bytes of UTF-16 BOM in front of a large UTF-8 file: each chunk is decoded on its own
    evidence, the doubt is said once, and the excerpt at the end is found."""
    content = filler(500_000) + "\n" + excerpt() + "\n"
    path = tmp_path / "lying.txt"
    path.write_bytes(b"\xff\xfe" + content.encode("utf-8"))
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK
    assert [p.kind for p in report.problems].count("doubtful_encoding") == 1


def test_a_large_file_that_is_not_text_is_read_for_printable_runs_a_chunk_at_a_time(small_chunks, scanner, tmp_path):
    import random

    rng = random.Random(3)
    noise = bytes(rng.randrange(256) for _ in range(300_000))
    path = tmp_path / "blob.bin"
    path.write_bytes(b"plain text to start with " * 40 + noise + excerpt().encode() + noise[:1000])
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK


@pytest.mark.parametrize("filler_char", [" ", "-", "\n"])
def test_words_megabytes_apart_in_a_streamed_file_are_one_excerpt(small_chunks, scanner, tmp_path, filler_char):
    """A 60-word excerpt whose words are 200 KB of blanks (or a ruler) apart, in a file of 12 MB:
    the word-less runs are left out of each chunk, so the words still meet; the evidence offsets
    point at the words in the file."""
    words = excerpt(60).split()
    gap = filler_char * 200_000
    content = filler(50_000) + gap + gap.join(words) + gap + filler(50_000, seed=12)
    path = tmp_path / "spread.txt"
    path.write_text(content, encoding="utf-8")
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK
    [finding] = [f for f in report.findings if f.kind == "document"]
    run = max(finding.evidence.runs, key=lambda r: r.words)
    assert run.words >= 20
    assert any(content.startswith(w, run.start) for w in words)  # the offsets are the file's
    assert any(content[run.end - len(w):run.end] == w for w in words)


@pytest.mark.parametrize("hidden", ["\u200b", "\u2060\ufe0f", "\u0301"])
def test_invisible_runs_inside_words_of_a_streamed_file_do_not_split_them(small_chunks, monkeypatch, scanner,
                                                                          tmp_path, hidden):
    """Each word of a 60-word excerpt cut in two by a run of zero-width characters (or accents)
    as long as a word-less gap: the tokeniser reads such a run as nothing, so the gap left in
    its place must read as nothing too, not as a line break between two halves of a word."""
    monkeypatch.setattr(stream, "CHUNK_BYTES", 1 << 20)  # the excerpt in one or two chunks, as 8 MiB chunks hold it
    run = hidden * (5000 // len(hidden))  # beyond the fixture's 4096-character gap
    inside = [w[:len(w) // 2] + run + w[len(w) // 2:] if len(w) > 1 else w for w in excerpt(60).split()]
    content = filler(50_000) + "\n" + " ".join(inside) + "\n" + filler(50_000, seed=13)
    path = tmp_path / "invisible.txt"
    path.write_text(content, encoding="utf-8")
    assert len(content.encode()) > text.STREAM_BYTES  # streamed
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK
    [finding] = [f for f in report.findings if f.kind == "document"]
    assert max(r.words for r in finding.evidence.runs) >= 58


def test_words_far_apart_in_a_doubtful_streamed_file_are_one_excerpt(small_chunks, scanner, tmp_path):
    words = excerpt(60).split()
    gap = " " * 40_000  # 60 words over 2.4 MB: many 64 KiB chunks, a word or two in each
    content = filler(50_000) + gap + gap.join(words) + gap + filler(50_000, seed=12)
    path = tmp_path / "lying-spread.txt"
    path.write_bytes(b"\xff\xfe" + content.encode("utf-8"))
    report = scanner.scan_path(path)
    assert "doubtful_encoding" in [p.kind for p in report.problems]
    runs = [r.words for f in report.findings if f.kind == "document" for r in f.evidence.runs]
    assert max(runs, default=0) >= 20
