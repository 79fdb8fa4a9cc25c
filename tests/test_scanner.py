"""The scanner on real files: PDFs made by reportlab, DOCX made by python-docx."""

from __future__ import annotations

import os

import docx
import numpy as np
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from dlp.types import Action, Destination

from helpers import prose, registry_with, scanner_with, words

SECRET = " ".join(words(800, seed=21))


@pytest.fixture
def scanner(tmp_path):
    return scanner_with(tmp_path, {"design": SECRET})


def _pdf(path, pages):
    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        line = []
        for w in text.split():
            line.append(w)
            if len(" ".join(line)) > 80:
                c.drawString(40, y, " ".join(line))
                y -= 14
                line = []
        if line:
            c.drawString(40, y, " ".join(line))
        c.showPage()
    c.save()


def test_pdf_excerpt_is_found_with_its_page(scanner, tmp_path):
    pdf = tmp_path / "report.pdf"
    excerpt = " ".join(SECRET.split()[300:360])
    _pdf(pdf, [prose(150, 1), prose(80, 2) + " " + excerpt + " " + prose(40, 3)])
    report = scanner.scan_path(pdf)
    assert report.action is Action.BLOCK
    (f,) = report.findings
    assert f.secret == "design" and f.evidence.runs[0].page == 2


def test_docx_paragraph_and_table_are_found(scanner, tmp_path):
    doc = docx.Document()
    doc.add_paragraph(prose(100, 4))
    table = doc.add_table(rows=1, cols=2)
    table.cell(0, 1).text = " ".join(SECRET.split()[10:50])
    path = tmp_path / "memo.docx"
    doc.save(path)
    report = scanner.scan_path(path)
    assert report.action is Action.BLOCK and report.findings[0].secret == "design"


def test_clean_docx_is_allowed(scanner, tmp_path):
    doc = docx.Document()
    doc.add_paragraph(prose(300, 5))
    path = tmp_path / "clean.docx"
    doc.save(path)
    report = scanner.scan_path(path)
    assert report.action is Action.ALLOW and not report.findings and not report.problems


def test_encodings_are_detected(scanner, tmp_path):
    text = "Überblick: " + " ".join(SECRET.split()[500:540]) + " — café, naïve"
    for encoding in ("utf-16", "cp1252", "utf-8-sig"):
        path = tmp_path / f"note-{encoding}.txt"
        path.write_bytes(text.encode(encoding))
        assert scanner.scan_path(path).action is Action.BLOCK, encoding


def test_a_corrupt_pdf_is_a_problem_and_at_least_warns(scanner, tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF garbage")
    report = scanner.scan_path(path)
    assert report.action >= Action.WARN and report.problems
    assert report.problems[0].kind in ("corrupt", "unsupported", "encrypted")


def test_exact_copy_of_a_registered_file(tmp_path):
    from dlp.registry import Registry
    from dlp.scanner import Scanner

    blob = bytes(range(256)) * 100  # a file with no text at all, e.g. a CAD drawing
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_document("", blob, "drawing.dwg", secret_id="drawing")
    reg.commit()
    sc = Scanner(Registry(tmp_path / "reg"))
    assert sc.scan_bytes(blob, "copy.bin").findings[0].detector == "exact"
    assert not [f for f in sc.scan_bytes(blob + b"x", "other.bin").findings if f.detector == "exact"]


def test_an_item_no_registered_file_is_as_long_as_is_not_hashed_for_an_exact_copy(tmp_path, monkeypatch):
    """The exact-copy check reads an item whole through a keyed hash (25 ms for 40 MB): only
    when a registered file has its length. Lengths survive a merge of segments."""
    from dlp.registry import Registry
    from dlp.scanner import Scanner

    blob = bytes(range(256)) * 100
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_document("", blob, "drawing.dwg", secret_id="drawing")
    reg.commit()
    reg.add_document("", b"another drawing" * 10, "other.dwg", secret_id="other")
    reg.commit()
    reg = Registry(tmp_path / "reg")
    reg.compact()
    sc = Scanner(Registry(tmp_path / "reg"))
    hashed = []
    for name in ("digest", "digest_file"):
        real = getattr(sc.keyer, name)
        monkeypatch.setattr(sc.keyer, name, lambda data, *a, real=real, **k: hashed.append(1) or real(data, *a, **k))
    (tmp_path / "longer.bin").write_bytes(blob + b"x")
    (tmp_path / "copy.bin").write_bytes(blob)
    assert not sc.scan_path(tmp_path / "longer.bin").findings and not hashed
    assert sc.scan_path(tmp_path / "copy.bin").findings[0].detector == "exact" and hashed


def test_segments_without_file_lengths_still_find_exact_copies(tmp_path):
    """A store written before lengths were kept: any length may be a copy."""
    from dlp.registry import Registry
    from dlp.scanner import Scanner

    blob = bytes(range(256)) * 100
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_document("", blob, "drawing.dwg", secret_id="drawing")
    reg.commit()
    sc = Scanner(Registry(tmp_path / "reg"))
    for segment in sc.index.segments:
        segment.arrays.pop("exact_size", None)
    sc.index._exact_sizes = None
    assert sc.index.may_be_exact(len(blob) + 1)
    assert sc.scan_bytes(blob, "copy.bin").findings[0].detector == "exact"


def test_destination_reaches_the_policy(tmp_path):
    from dlp.registry import Registry
    from dlp.scanner import Scanner

    seen = []

    class Spy:
        source, excerpt, exposure = None, False, None

        def decide(self, findings, problems, destination):
            from dlp.rules import DefaultPolicy

            seen.append(destination)
            return DefaultPolicy().decide(findings, problems, destination)

    scanner_with(tmp_path, {"x": SECRET})
    sc = Scanner(Registry(tmp_path / "reg"), policy=Spy())
    sc.scan_bytes(b"hello", "m.txt", Destination(addresses=("a@partner.test",), channel="mail"))
    assert seen[0].addresses == ("a@partner.test",)


def test_unscannable_content_fails_closed_for_outbound_destinations(scanner, tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF garbage")
    assert scanner.scan_path(path).action is Action.WARN  # ad-hoc CLI scan
    assert scanner.scan_path(path, Destination(addresses=("x@partner.test",))).action is Action.QUARANTINE
    assert scanner.scan_path(path, Destination(channel="mail")).action is Action.QUARANTINE


@pytest.mark.parametrize("separator", [" ", "\n" + "-" * 70 + "\n", " \u200b "])
def test_windows_cover_every_token_once_and_overlap_in_tokens(monkeypatch, separator):
    """A long part is scanned in windows of tokens: together they hold exactly the part's tokens
    (with their offsets), and consecutive windows share OVERLAP_TOKENS tokens however many
    characters lie between them."""
    from dlp import scanner
    from dlp.text.normalise import tokenise

    monkeypatch.setattr(scanner, "WINDOW_TOKENS", 1000)
    monkeypatch.setattr(scanner, "OVERLAP_TOKENS", 100)
    monkeypatch.setattr(scanner, "CHUNK_CHARS", 3000)
    words = [f"w{i}x" if i % 7 else f"BlueFin{i}" for i in range(5000)]
    text = separator.join(words)
    whole = tokenise(text)
    windows = list(scanner._windows(text))
    assert len(windows) > 4
    seen = np.concatenate([windows[0].starts] + [w.starts[100:] for w in windows[1:]])
    assert np.array_equal(seen, whole.starts)
    for window in windows:
        assert [window.text_of(i) for i in (0, len(window) - 1)] == [text[window.starts[0]:window.ends[0]].lower(),
                                                                      text[window.starts[-1]:window.ends[-1]].lower()]
        assert np.array_equal(window.hashes, whole.hashes[np.searchsorted(whole.starts, window.starts)])
    for before, after in zip(windows, windows[1:]):
        assert np.array_equal(before.starts[-100:], after.starts[:100])
    for window in windows:  # halves (two glued words) point at their token and into the window's norm
        for token, offset in window.halves.tolist():
            assert window.nstarts[token] < offset < window.nends[token]


def test_a_scanning_process_keeps_blas_to_one_thread(tmp_path):
    """The rewrite tier's many small matrix products must not spread over every core: on a
    busy machine OpenBLAS's spinning threads made each one 300 times slower."""
    from threadpoolctl import threadpool_info

    from dlp.scanner import open_scanner

    registry_with(tmp_path, {"design": SECRET})
    open_scanner(tmp_path / "reg", environ={})
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_a_file_swapped_for_a_pipe_after_listing_is_unreadable_not_a_hang(tmp_path):
    """The folder was listed while the name was a file; by the time it is read, a named pipe
    with no writer stands there (or a link to /dev/zero): opening it to read waited forever and
    hung `dlp scan` (found attacking stop 36). What is opened is checked, not the name."""
    import threading

    from dlp.types import Item

    scanner = scanner_with(tmp_path, {"plan": prose(200, 1)})
    pipe = tmp_path / "zz.txt"
    os.mkfifo(pipe)
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    results = {}

    def scan(name):
        results[name] = scanner.detect(Item(locator=name, name=name, path=str(tmp_path / name)))

    threads = [threading.Thread(target=scan, args=(name,), daemon=True) for name in ("zz.txt", "zero.txt")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a scan still waits on the pipe or reads /dev/zero"
    for name in ("zz.txt", "zero.txt"):
        [problem] = results[name].problems
        assert problem.kind == "unreadable" and "not a regular file" in problem.detail, results[name]
