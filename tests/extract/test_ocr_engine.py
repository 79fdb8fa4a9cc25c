"""The real OCR engine (rapidocr, the `dlp[ocr]` extra) on pictures drawn with Pillow and a
TrueType font, and on an image-only PDF made with reportlab: from the command line and through
the scanner, in the containers a leak travels in, and against the tricks an insider would try.

OCR costs about a second per picture on a loaded machine, so the pictures are few and small.
"""

from __future__ import annotations

import io
import json
import os
import socket
import textwrap
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from dlp.extract import EXTRACTORS, Context, walk
from dlp.extract.ocr import Ocr, RapidOcrEngine
from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.types import Action, Destination, Item, Part

from helpers import registry_with

from . import builders as b

SPEC = (
    "The Halcyon mixer uses a counter rotating impeller driven at three hundred and forty revolutions per "
    "minute inside a jacketed stainless steel housing. Viscosity is held between twelve hundred and fifteen "
    "hundred centipoise by a closed loop heater that the operator sets from the main panel. The coating "
    "formulation must never be shipped above thirty degrees, because the binder starts to gel within two "
    "hours at that temperature and the pails swell. Every batch is sampled at the outlet valve and the "
    "sample is kept for ninety days in the cold room next to the laboratory. Suppliers of the silica "
    "additive are audited twice a year and the audit reports are filed with the quality manager. The "
    "second stage of the process adds the pigment paste slowly while the impeller runs at half speed, "
    "then the mixer is sealed and purged with nitrogen for ten minutes before the final blend."
)
EXCERPT = " ".join(SPEC.split()[:70])
UNRELATED = ("Thanks for the notes from Tuesday. Could you send the agenda for the offsite before Friday "
             "so that we can book the rooms and the bus from the station.")


def font(size: int) -> ImageFont.FreeTypeFont:
    import reportlab

    return ImageFont.truetype(os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf"), size)


def screenshot(text: str, *, size: int = 16, width: int = 640, ink=(20, 20, 20, 255), paper=(255, 255, 255, 255),
               mode: str = "RGB") -> Image.Image:
    lines = textwrap.wrap(text, int(width / (size * 0.56)))
    image = Image.new(mode, (width + 20, 16 + int(size * 1.45) * len(lines)), paper if mode == "RGBA" else paper[:3])
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((10, 8 + int(size * 1.45) * i), line, font=font(size), fill=ink if mode == "RGBA" else ink[:3])
    return image


def encoded(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="module")
def engine():
    return RapidOcrEngine.load()  # the test extra installs dlp[ocr]: a missing engine fails here


@pytest.fixture(scope="module")
def registry_root(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ocr-engine")
    registry_with(tmp, {"mixer": SPEC})
    return tmp / "reg"


@pytest.fixture
def scanner(registry_root, engine):
    """A scanner of its own (its own image cache) on the module's registry and engine."""
    return Scanner(Registry(registry_root), ocr=Ocr(load=lambda: engine))


def test_a_screenshot_of_an_excerpt_is_blocked_from_the_command_line(tmp_path, registry_root):
    from dlp.frontends.cli import Env, main

    shot = tmp_path / "shot.png"
    shot.write_bytes(encoded(screenshot(EXCERPT)))
    out = io.StringIO()
    status = main(["--registry", str(registry_root), "scan", str(shot), "--no-record", "--format", "json"],
                  Env(stdout=out, stderr=io.StringIO()))
    (file,) = json.loads(out.getvalue())["files"]
    assert status == 1 and file["action"] == "block" and not file["problems"]
    (finding,) = file["findings"]
    assert finding["locator"] == f"{shot}!/ocr" and finding["matched_words"] >= 60
    run = finding["evidence"]["runs"][0]
    width, height = Image.open(shot).size
    x0, y0, x1, y1 = run["bbox"]
    assert run["bbox_unit"] == "px" and 0 <= x0 < 30 and y0 < 40 and width / 2 < x1 <= width and y1 <= height
    assert file["meta"]["ocr"]["engine"].startswith("rapidocr ") and file["meta"]["ocr"]["read"] == 1


def test_the_same_screenshot_travels_in_a_docx_a_mail_and_a_zip_and_is_read_once(scanner):
    shot = encoded(screenshot(EXCERPT, size=15), "JPEG")
    docx = b.docx_by_parts({"word/document.xml": b.run("Figure 1 below.")}, {"word/media/image1.jpeg": shot})
    mail = b.mail("see attached", {"figure.jpg": shot}).as_bytes()
    reports = [scanner.scan_bytes(docx, "memo.docx", Destination(channel="mail")),
               scanner.scan_bytes(mail, "m.eml", Destination(channel="mail")),
               scanner.scan_bytes(b.zip_of({"figures/f1.jpg": shot}), "f.zip", Destination(channel="mail"))]
    assert [r.action for r in reports] == [Action.BLOCK] * 3
    assert [r.findings[0].locator for r in reports] == [
        "memo.docx!/word/media/image1.jpeg!/ocr", "m.eml!/attachments/figure.jpg!/ocr", "f.zip!/figures/f1.jpg!/ocr"]
    assert [(r.meta["ocr"]["read"], r.meta["ocr"]["cached"]) for r in reports] == [(1, 0), (0, 1), (0, 1)]


def test_an_image_only_pdf_page_is_blocked_on_its_page(scanner, tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = screenshot(EXCERPT, size=22, width=1000)  # 22 px text at 150 dpi: 10.5 pt
    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.drawString(72, 800, UNRELATED[:80])
    c.showPage()
    c.drawImage(ImageReader(picture), 50, 500, picture.width * 72 / 150, picture.height * 72 / 150)
    c.showPage()
    c.save()
    report = scanner.scan_path(path)
    assert report.action == Action.BLOCK
    (finding,) = report.findings
    run = finding.evidence.to_dict()["runs"][0]
    assert finding.locator == f"{path}#page=2!/ocr" and run["page"] == 2 and run["bbox_unit"] == "pt"
    x0, y0, x1, y1 = run["bbox"]  # points from the top left corner of the page
    assert 40 < x0 < 70 and 842 - 500 - picture.height * 72 / 150 - 10 < y0 and y1 < 842 - 500 + 10


def test_a_screenshot_pasted_into_a_page_of_text_is_blocked(scanner):
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = screenshot(EXCERPT, size=16)
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    text = c.beginText(72, 800)
    for line in textwrap.wrap(UNRELATED + " " + UNRELATED, 90):
        text.textLine(line)
    c.drawText(text)
    # shrunk to half its size: 8-pixel text at the 150 dpi a page is rendered at, 16 at its own
    c.drawImage(ImageReader(picture), 72, 400, picture.width * 0.36, picture.height * 0.36)
    c.showPage()
    c.save()
    report = scanner.scan_bytes(out.getvalue(), "report.pdf", Destination(channel="mail"))
    assert report.action == Action.BLOCK
    assert report.findings[0].locator == "report.pdf#page=1!/ocr"


ATTACKS = {
    "white text on a transparent background": lambda: screenshot(
        EXCERPT[:260], ink=(255, 255, 255, 255), paper=(255, 255, 255, 0), mode="RGBA"),
    "text one shade off the background": lambda: screenshot(EXCERPT[:260], ink=(246, 246, 246, 255)),
    "upside down": lambda: screenshot(EXCERPT[:260]).rotate(180),
    "on its side": lambda: screenshot(EXCERPT[:260]).rotate(270, expand=True),
    "small text on a large screen": lambda: large_canvas(screenshot(EXCERPT[:260], size=13)),
    "light text in the margin of a page, a dark logo elsewhere": lambda: margin_note(
        screenshot(EXCERPT[:260], size=14, ink=(200, 200, 200, 255))),
    "a page scanned 2 degrees askew": lambda: askew(2),
    "a page scanned 4 degrees askew the other way": lambda: askew(-4),
    "a page scanned 8 degrees askew": lambda: askew(8),
    **{f"a page turned {degrees} degrees": (lambda degrees=degrees: askew(degrees))
       for degrees in (30, -40, 50, 120, 200, 300)},
}


def askew(degrees: float) -> Image.Image:
    """Full-width lines of 10-pt text at 150 dpi, turned: the box around a slanting line holds
    pieces of the lines above and below it (read as nothing from 1.5 degrees before levelling)."""
    page = screenshot(EXCERPT, size=21, width=1240).convert("RGB")
    return page.rotate(degrees, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))


def large_canvas(picture: Image.Image) -> Image.Image:
    """A 2560 x 1440 screenshot at 100% scale: shrunk whole for detection, its 13-pixel text would be lost."""
    canvas = Image.new("RGB", (2560, 1440), "white")
    canvas.paste(picture, (1400, 900))
    return canvas


def margin_note(picture: Image.Image) -> Image.Image:
    """An A4 page at 150 dpi, blank but for a black logo in the middle and the note at its foot:
    detection skips blank margins, and must not take the note for one (the logo keeps the page
    from having its contrast stretched)."""
    page = Image.new("RGB", (1241, 1754), "white")
    page.paste((0, 0, 0), (500, 600, 800, 900))
    page.paste(picture, (0, 1754 - picture.height))
    return page


@pytest.mark.parametrize("attack", ATTACKS)
def test_hidden_and_turned_text_is_still_read(scanner, attack):
    report = scanner.scan_bytes(encoded(ATTACKS[attack]()), "x.png", Destination(channel="mail"))
    assert report.action == Action.BLOCK, [f.matched_words for f in report.findings]


def test_two_columns_close_together_are_read_column_by_column(scanner):
    """Two columns 30 pixels apart (a fifth of an inch at 150 dpi) are read one after the other,
    not line by line across, which would break every run of the secret's words."""
    size, gap, width = 21, 30, 1241
    column = (width - 200 - gap) // 2
    left = textwrap.wrap(SPEC, int(column / (size * 0.6)))
    right = textwrap.wrap((UNRELATED + " ") * 8, int(column / (size * 0.6)))
    page = Image.new("RGB", (width, 200 + int(size * 1.35) * len(left)), "white")
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(left):
        draw.text((100, 100 + int(size * 1.35) * i), line, font=font(size), fill="black")
        if i < len(right):
            draw.text((100 + column + gap, 100 + int(size * 1.35) * i), right[i], font=font(size), fill="black")
    report = scanner.scan_bytes(encoded(page), "columns.png", Destination(channel="mail"))
    assert report.action == Action.BLOCK, [f.matched_words for f in report.findings]


def test_unrelated_text_is_allowed_and_nothing_is_fetched(registry_root, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("OCR tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    engine = RapidOcrEngine.load()  # models load from the wheel, in this process
    outputs = list(walk(Item("note.png", "note.png", data=encoded(screenshot(UNRELATED))), EXTRACTORS,
                        Context(isolation=None, ocr=Ocr(load=lambda: engine))))
    (part,) = [o for o in outputs if isinstance(o, Part)]
    assert "agenda for the offsite" in " ".join(part.text.split())
    scanner = Scanner(Registry(registry_root), ocr=Ocr(load=lambda: engine))
    assert scanner.scan_part(part) == []


def test_the_watch_daemon_quarantines_a_screenshot_of_a_secret(tmp_path, registry_root):
    """The daemon with a real observer on real folders: the screenshot is held, the note released."""
    import threading
    import time

    from dlp.frontends.watch.daemon import Daemon, DecisionLog
    from dlp.frontends.watch.scans import ScannerSpec
    from dlp.frontends.watch.settings import Outbox, WatchSettings

    outbox, release, quarantine = tmp_path / "outbox", tmp_path / "release", tmp_path / "quarantine"
    outbox.mkdir()
    settings = WatchSettings(outboxes=(Outbox(outbox, release, quarantine, country="CN"),), settle=0.2, rescan=5.0)
    daemon = Daemon(settings, ScannerSpec.of(str(registry_root)), log=DecisionLog(io.StringIO()))
    thread = threading.Thread(target=daemon.run, name="watch-daemon", daemon=True)
    thread.start()
    try:
        assert daemon.ready.wait(60)
        (outbox / "figure.png").write_bytes(encoded(screenshot(EXCERPT)))
        (outbox / "note.txt").write_text(UNRELATED)
        deadline = time.monotonic() + 60
        while not ((quarantine / "figure.png.dlp.json").exists() and (release / "note.txt").exists()):
            assert time.monotonic() < deadline, "the daemon did not place both files within 60 s"
            time.sleep(0.05)
    finally:
        daemon.stop()
        thread.join(30)
    sidecar = json.loads((quarantine / "figure.png.dlp.json").read_text())
    assert sidecar["report"]["action"] == "block"
    assert sidecar["report"]["findings"][0]["locator"].endswith("figure.png!/ocr")
    assert sidecar["report"]["meta"]["ocr"]["read"] == 1
