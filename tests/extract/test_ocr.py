"""OCR plumbing with an injected engine: which images and pages are read, where their text
goes, what is skipped, refused or cached, and what a scan without OCR reports.

The real engine reads real pictures in test_ocr_engine.py; here an engine that "reads" a
scripted text (and logs each read to a file, so reads in forked workers count too) keeps
these tests fast.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from dlp.errors import ConfigError, ExtractionError
from dlp.extract import EXTRACTORS, Context, Limits, walk
from dlp.extract.images import ImageExtractor, image_kind, is_media
from dlp.extract.ocr import (
    DET_AREA, DET_LONGEST, OVERLAP, Line, Ocr, OcrSettings, arrange, assemble, content_box, join_boxes, ocr_location,
    ocr_summary, prepare, tiles, _slopes, _turn_back, _turner,
)
from dlp.destinations import parse_policy
from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.types import Action, Destination, Item, Part, Problem

from helpers import registry_with, words

from . import builders as b

SECRET = " ".join(words(600, seed=16))
EXCERPT = " ".join(SECRET.split()[100:180])  # 80 words


@dataclass
class ScriptedEngine:
    """Reads `text` off any picture, ten words a line, and logs every read to `log`."""

    text: str
    log: Path
    name: str = "scripted"
    delay: float = 0.0

    def read(self, image) -> list[Line]:
        with open(self.log, "a") as handle:
            handle.write(f"{image.size[0]}x{image.size[1]}\n")
        time.sleep(self.delay)
        chunks = self.text.split()
        lines = [" ".join(chunks[i:i + 10]) for i in range(0, len(chunks), 10)]
        return [Line(text, (10, 10 + 30 * k, 600, 34 + 30 * k), 0.99) for k, text in enumerate(lines)]

    def reads(self) -> int:
        return len(self.log.read_text().splitlines()) if self.log.exists() else 0


@pytest.fixture
def engine(tmp_path):
    return ScriptedEngine(EXCERPT, tmp_path / "reads.log")


@pytest.fixture(scope="module")
def registry_root(tmp_path_factory) -> Path:
    """One registry for the module (building one costs seconds); each test opens its own scanner."""
    tmp = tmp_path_factory.mktemp("ocr-registry")
    registry_with(tmp, {"design": SECRET})
    return tmp / "reg"


def scanner_with(root: Path, ocr: Ocr) -> Scanner:
    return Scanner(Registry(root), ocr=ocr)


def png(width=320, height=120, colour=(255, 255, 255), mode="RGB") -> bytes:
    image = Image.new(mode, (width, height), colour)
    for x in range(10, min(width, 60)):
        image.putpixel((x, height // 2), (0, 0, 0) if mode == "RGB" else 0)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def extract(data: bytes, name: str, ocr: Ocr, limits: Limits = Limits(), isolation="fork") -> list:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context(limits, isolation=isolation, ocr=ocr)))


def parts(outputs) -> list[Part]:
    return [o for o in outputs if isinstance(o, Part)]


def problems(outputs) -> list[Problem]:
    return [o for o in outputs if isinstance(o, Problem)]


def mail(body: str, attachments: dict[str, bytes]) -> bytes:
    return b.mail(body, attachments).as_bytes()


def not_installed() -> None:
    raise ExtractionError("not_read", "OCR not installed (pip install 'dlp[ocr]'): no module 'rapidocr'")


# -- recognising images -------------------------------------------------------------------

IMAGES = {
    "png": ("PNG", {}), "jpeg": ("JPEG", {}), "gif": ("GIF", {}), "tiff": ("TIFF", {}),
    "bmp": ("BMP", {}), "webp": ("WEBP", {"lossless": True}),
}


@pytest.mark.parametrize("kind", IMAGES)
def test_every_raster_format_is_recognised_by_content(kind):
    out = io.BytesIO()
    fmt, options = IMAGES[kind]
    Image.new("RGB", (200, 100), "white").save(out, fmt, **options)
    assert image_kind(out.getvalue()[:64]) == kind
    assert ImageExtractor().sniff(out.getvalue()[:8192], Item("x", "x", data=out.getvalue()))


@pytest.mark.parametrize("head", [b"BMP file", b"RIFF\0\0\0\0WAVEfmt ", b"GIF88a", b"\x89PNG"])
def test_look_alikes_are_not_images(head):
    assert image_kind(head) is None


@pytest.mark.parametrize("name, media", [
    ("word/media/image1.png", True), ("ppt/media/image4.jpeg", True), ("xl/media/image2.emf", True),
    ("Pictures/10000000000001.png", True), ("word/document.xml", False), ("word/media/x/y.png", False),
    ("ppt/slides/media/image1.png", False), ("Thumbnails/thumbnail.png", False),
])
def test_office_media_names(name, media):
    assert is_media(name) is media


# -- where the text goes, and the evidence ---------------------------------------------------


def test_an_image_becomes_an_ocr_part_with_line_boxes(engine):
    outputs = extract(png(), "shot.png", Ocr(load=lambda: engine))
    (part,) = parts(outputs)
    assert not problems(outputs)
    assert part.locator == "shot.png!/ocr" and part.format == "ocr" and part.text.split() == EXCERPT.split()
    meta = part.meta["ocr"]
    assert meta["engine"] == "scripted" and meta["unit"] == "px" and "page" not in meta
    for start, end, *box in meta["lines"]:
        assert part.text[start:end] in EXCERPT and len(box) == 4


def test_evidence_has_offsets_and_the_box_of_the_matched_lines(engine, tmp_path, registry_root):
    scanner = scanner_with(registry_root, Ocr(load=lambda: engine))
    report = scanner.scan_bytes(png(), "shot.png")
    assert report.action == Action.BLOCK
    (finding,) = report.findings
    assert finding.locator == "shot.png!/ocr"
    run = finding.evidence.to_dict()["runs"][0]
    assert run["bbox_unit"] == "px" and run["bbox"][0] == 10 and run["bbox"][2] == 600
    assert run["bbox"][1] <= 40 and run["bbox"][3] >= 34 + 30 * 7 - 30  # the eight lines of the excerpt
    assert report.meta["ocr"] == {"engine": "scripted", "read": 1, "cached": 0, "skipped": {}, "lines": 8,
                                  "seconds": report.meta["ocr"]["seconds"]}


@given(st.lists(st.tuples(st.text("abc XY", min_size=1, max_size=12), st.integers(0, 500), st.integers(0, 500)),
                min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_assembled_spans_point_at_each_line(rows):
    lines = [Line(text, (x, y, x + 40, y + 20), 0.9) for text, x, y in rows]
    text, spans = assemble(lines)
    assert [text[s:e] for s, e in spans] == [line.text for line in lines]
    assert all(e <= s2 for (_, e), (s2, _) in zip(spans, spans[1:]))


def test_ocr_location_unions_the_lines_a_span_touches():
    meta = {"page": 3, "unit": "pt", "lines": ((0, 10, 5, 5, 100, 20), (11, 30, 5, 25, 200, 40), (31, 50, 5, 45, 90, 60))}
    assert ocr_location(meta, 4, 15) == {"page": 3, "bbox": [5, 5, 200, 40], "bbox_unit": "pt"}
    assert ocr_location(meta, 31, 35) == {"page": 3, "bbox": [5, 45, 90, 60], "bbox_unit": "pt"}
    assert ocr_location({"lines": ()}, 0, 5) == {}


def test_the_summary_counts_reads_cache_hits_and_skips():
    metas = [{"engine": "e", "lines": ((0, 1, 0, 0, 1, 1),) * 3, "seconds": 1.25, "cached": False},
             {"engine": "e", "lines": ((0, 1, 0, 0, 1, 1),), "seconds": 9.0, "cached": True},
             {"skipped": "small", "size": [1, 1]}, {"skipped": "small", "size": [2, 2]}, {"skipped": "blank", "size": [0, 0]}]
    assert ocr_summary(metas) == {"engine": "e", "read": 1, "cached": 1, "skipped": {"small": 2, "blank": 1},
                                  "lines": 4, "seconds": 1.25}
    assert ocr_summary([{"skipped": "small", "size": [1, 1]}]) == {"read": 0, "cached": 0, "skipped": {"small": 1},
                                                                  "lines": 0, "seconds": 0.0}


# -- reading order ----------------------------------------------------------------------------


def box(text, x0, y0, x1, y1):
    return Line(text, (x0, y0, x1, y1), 0.9)


LAYOUTS = {
    "one column": (
        [box("c", 10, 70, 300, 90), box("a", 10, 10, 300, 30), box("b", 10, 40, 280, 60)], "a\nb\nc"),
    "two columns with aligned rows, under a header": (
        [box("head", 10, 0, 600, 20),
         box("L1", 10, 60, 280, 80), box("R1", 330, 60, 600, 80),
         box("L2", 10, 90, 280, 110), box("R2", 330, 90, 600, 110),
         box("L3", 10, 120, 280, 140), box("R3", 330, 120, 600, 140)],
        "head\nL1\nL2\nL3\nR1\nR2\nR3"),
    "pieces of one row": (
        [box("right", 200, 10, 300, 30), box("left", 10, 11, 150, 31)], "left right"),
    "paragraphs": (
        [box("p2", 10, 100, 300, 120), box("p1a", 10, 10, 300, 30), box("p1b", 10, 35, 300, 55)], "p1a\np1b\np2"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reading_order(layout):
    lines, expected = LAYOUTS[layout]
    assert assemble(arrange(lines))[0] == expected


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 3000), st.integers(5, 400), st.integers(8, 60)),
                max_size=40))
@settings(max_examples=80, deadline=None)
def test_arrange_keeps_every_line_once(boxes):
    lines = [Line(str(i), (x, y, x + w, y + h), 0.9) for i, (x, y, w, h) in enumerate(boxes)]
    assert sorted(arrange(lines), key=lambda line: int(line.text)) == lines


def spans_of(layout: list[tuple[int, int, int, int]], axis: int) -> list[tuple[int, int]]:
    return sorted({(tile[axis], tile[axis + 2]) for tile in layout})


@given(st.integers(1, 6000), st.integers(1, 6000))
@settings(max_examples=300, deadline=None)
def test_tiles_cover_the_picture_within_their_area_and_overlap(width, height):
    layout = tiles(width, height)
    columns, rows = spans_of(layout, 0), spans_of(layout, 1)
    assert len(layout) == len(columns) * len(rows)  # a grid
    for side, length in ((columns, width), (rows, height)):
        assert side[0][0] == 0 and side[-1][1] == length
        assert all(b0 - a1 <= -OVERLAP for (_, a1), (b0, _) in zip(side, side[1:])) or len(side) == 1
    for x0, y0, x1, y1 in layout:  # never larger than detection may see at once
        assert (x1 - x0) * (y1 - y0) <= DET_AREA
        assert max(x1 - x0, y1 - y0) <= DET_LONGEST


TILINGS = {  # (width, height): tiles
    "an A4 page at 150 dpi, margins cut": ((996, 1440), 2),       # not 4 (a column of 960 and a sliver)
    "a whole A4 page at 150 dpi": ((1241, 1754), 3),
    "a screenshot": ((1100, 700), 1),
    "a full HD screen": ((1920, 1080), 3),
    "a long receipt": ((600, 5000), 4),
}


@pytest.mark.parametrize("case", TILINGS)
def test_tiles_of_ordinary_pictures(case):
    (width, height), count = TILINGS[case]
    layout = tiles(width, height)
    assert len(layout) == count
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in layout) < 1.35 * width * height  # overlap costs little


def page_with(*marks: tuple[tuple[int, int, int, int], int], size=(1000, 1400), paper: int = 255,
              noise: float = 0.0) -> Image.Image:
    page = Image.new("L", size, paper)
    for box, grey in marks:
        page.paste(grey, box)
    if noise:
        import numpy as np

        grain = np.random.default_rng(3).normal(0, noise, (size[1], size[0]))
        page = Image.fromarray(np.clip(np.asarray(page, dtype=np.float64) + grain, 0, 255).astype(np.uint8), "L")
    return page.convert("RGB")


TEXT = tuple(((150, y, 850, y + 14), 20) for y in range(140, 1200, 27))  # 40 "lines": 150..850 x 140..1207


CONTENT = {  # picture: the box of what it shows (MARGIN_KEPT = 32 pixels of margin kept), or None: all of it
    "a page of text": (lambda: page_with(*TEXT), (116, 108, 884, 1240)),
    "the same page, a grainy scan": (lambda: page_with(*TEXT, noise=10), (116, 108, 884, 1240)),
    "light text in a far corner, a black logo elsewhere": (
        lambda: page_with(((400, 500, 600, 700), 0), ((900, 1350, 990, 1362), 215)), (368, 468, 1000, 1396)),
    "light text on a dark screen": (lambda: page_with(((300, 300, 500, 320), 230), paper=30), (268, 268, 532, 352)),
    "a photo (no flat background)": (lambda: Image.effect_noise((800, 600), 60).convert("RGB"), None),
    "a flat picture": (lambda: page_with(), None),
}


@pytest.mark.parametrize("case", CONTENT)
def test_content_box_cuts_blank_margins_only(case):
    make, expected = CONTENT[case]
    picture = make()
    assert content_box(picture) == (expected or (0, 0, *picture.size))


JOINS = {
    "a line cut by a seam": ([(10, 100, 1280, 124), (1120, 101, 2000, 125)], [(10, 100, 2000, 125)]),
    "one line seen by two tiles": ([(500, 1200, 900, 1224), (500, 1201, 900, 1225)], [(500, 1200, 900, 1225)]),
    "lines above each other": ([(10, 100, 500, 124), (10, 130, 500, 154)], [(10, 100, 500, 124), (10, 130, 500, 154)]),
    "two columns": ([(10, 100, 500, 124), (560, 100, 900, 124)], [(10, 100, 500, 124), (560, 100, 900, 124)]),
    "lines on their side": ([(10, 10, 34, 600), (40, 10, 64, 580)], [(10, 10, 34, 600), (40, 10, 64, 580)]),
}


@pytest.mark.parametrize("case", JOINS)
def test_join_boxes(case):
    boxes, expected = JOINS[case]
    assert sorted(join_boxes(boxes)) == sorted(expected)


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_boxes_read_on_a_turned_picture_map_back(angle):
    size = (300, 200)
    original = Image.new("L", size, 255)
    original.paste(0, (40, 30, 120, 60))
    turned = original.rotate(angle, expand=True)
    x0, y0, x1, y1 = turned.point(lambda v: 255 - v).getbbox()
    assert _turn_back(Line("t", (x0, y0, x1, y1), 1.0), angle, size).box == (40, 30, 120, 60)


# -- what prepare makes of hostile pictures ------------------------------------------------------


def dark_share(image) -> float:
    gray = image.convert("L")
    return gray.point(lambda v: 255 if v < 128 else 0).histogram()[255] / (gray.size[0] * gray.size[1])


@pytest.mark.parametrize("case", ["white on transparent", "black on transparent", "faint grey on white",
                                  "one level off white, with a black dot", "16-bit grey"])
def test_prepare_makes_hidden_text_dark_on_light(case):
    glyph = (20, 20, 120, 40)  # a 'text' block: 100 x 20 of 200 x 100 pixels
    if case == "white on transparent":
        picture = Image.new("RGBA", (200, 100), (255, 255, 255, 0))
        picture.paste((255, 255, 255, 255), glyph)
    elif case == "black on transparent":
        picture = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
        picture.paste((0, 0, 0, 255), glyph)
    elif case == "faint grey on white":
        picture = Image.new("RGB", (200, 100), (255, 255, 255))
        picture.paste((244, 244, 244), glyph)
    elif case == "one level off white, with a black dot":
        picture = Image.new("RGB", (200, 100), (255, 255, 255))
        picture.paste((254, 254, 254), glyph)
        picture.putpixel((199, 99), (0, 0, 0))
    else:
        picture = Image.new("I;16", (200, 100), 40000)
        picture.paste(39000, glyph)
    prepared = prepare(picture)
    assert prepared.mode == "RGB"
    if case == "white on transparent":  # light on dark is as legible as dark on light
        assert 0.05 < 1 - dark_share(prepared) < 0.2
    else:
        assert 0.05 < dark_share(prepared) < 0.2


def test_a_flat_picture_is_blank():
    assert prepare(Image.new("RGB", (300, 300), (200, 10, 10))) is None


# -- limits ----------------------------------------------------------------------------------------


def test_tiny_images_are_skipped_and_counted(engine, tmp_path, registry_root):
    spacer = io.BytesIO()
    Image.new("P", (1, 1)).save(spacer, "GIF")
    message = mail("see the logo", {"spacer.gif": spacer.getvalue(), "icon.png": png(32, 32)})
    scanner = scanner_with(registry_root, Ocr(load=lambda: engine))
    report = scanner.scan_bytes(message, "m.eml", Destination(channel="mail"))
    assert report.action == Action.ALLOW and not report.problems and engine.reads() == 0
    assert report.meta["ocr"]["skipped"] == {"small": 2}


def test_a_decompression_bomb_is_refused_from_its_header(engine):
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")  # 144 megapixels in a few kilobytes
    data = out.getvalue()
    assert len(data) < 100_000
    outputs = extract(data, "bomb.png", Ocr(load=lambda: engine))
    (problem,) = [o for o in outputs if isinstance(o, Problem)]
    assert problem.kind == "too_large" and "12000 x 12000" in problem.detail
    assert all(o.binary for o in outputs if not isinstance(o, Problem))  # only its printable runs are scanned
    assert engine.reads() == 0


def test_frames_beyond_the_page_limit_are_a_problem(engine):
    frames = [Image.new("RGB", (200, 100), (255, 255, 255 - i)) for i in range(5)]
    for i, frame in enumerate(frames):
        frame.putpixel((5, 5), (0, 0, 0))
        frame.putpixel((6 + i, 5), (0, 0, 0))
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    outputs = extract(out.getvalue(), "fax.tiff", Ocr(load=lambda: engine), Limits(max_ocr_pages=3))
    assert [p.locator for p in parts(outputs)] == [f"fax.tiff#page={n}!/ocr" for n in (1, 2, 3)]
    assert [p.meta["ocr"]["page"] for p in parts(outputs)] == [1, 2, 3]
    (problem,) = problems(outputs)
    assert problem.kind == "too_many" and problem.locator == "fax.tiff#page=4!/ocr"


def test_a_tiny_first_frame_does_not_hide_the_next(engine):
    first = Image.new("RGB", (1, 1), "white")
    second = Image.new("RGB", (300, 100), "white")
    second.putpixel((5, 5), (0, 0, 0))
    out = io.BytesIO()
    first.save(out, "TIFF", save_all=True, append_images=[second])
    outputs = extract(out.getvalue(), "pages.tiff", Ocr(load=lambda: engine))
    assert [p.meta["ocr"].get("skipped") for p in parts(outputs)] == ["small", None]
    assert EXCERPT in parts(outputs)[1].text.replace("\n", " ")


def test_repeated_frames_are_read_once(engine):
    frame = Image.new("RGB", (300, 100), "white")
    frame.putpixel((5, 5), (0, 0, 0))
    out = io.BytesIO()
    frame.save(out, "TIFF", save_all=True, append_images=[frame.copy(), frame.copy()])
    outputs = extract(out.getvalue(), "same.tiff", Ocr(load=lambda: engine))
    assert [p.meta["ocr"].get("skipped") for p in parts(outputs)] == [None, "duplicate", "duplicate"]
    assert engine.reads() == 1


def test_images_beyond_the_item_limit_are_a_problem(engine):
    archive = b.zip_of({f"shot{i}.png": png(300, 100 + i) for i in range(4)})
    outputs = extract(archive, "shots.zip", Ocr(load=lambda: engine), Limits(max_ocr_images=2))
    assert len([p for p in parts(outputs) if p.text and p.format == "ocr"]) == 2
    assert [p.kind for p in problems(outputs)] == ["too_many", "too_many"]
    assert engine.reads() == 2


def test_a_slow_read_is_killed_at_the_image_deadline(tmp_path):
    slow = ScriptedEngine(EXCERPT, tmp_path / "reads.log", delay=60)
    started = time.monotonic()
    outputs = extract(png(), "slow.png", Ocr(load=lambda: slow), Limits(ocr_seconds=1.0))
    assert time.monotonic() - started < 15
    (problem,) = problems(outputs)
    assert problem.kind == "timeout" and "worker killed" in problem.detail
    assert slow.reads() == 1  # it started, and was killed


def test_the_item_deadline_bounds_the_image_deadline(tmp_path):
    slow = ScriptedEngine(EXCERPT, tmp_path / "reads.log", delay=60)
    started = time.monotonic()
    outputs = extract(png(), "slow.png", Ocr(load=lambda: slow), Limits(ocr_seconds=60.0, timeout_seconds=1.0))
    assert time.monotonic() - started < 15 and problems(outputs)[0].kind == "timeout"


# -- once per distinct image ---------------------------------------------------------------------


def test_the_same_picture_in_many_items_is_read_once(engine, tmp_path, registry_root):
    logo = png(400, 120)
    scanner = scanner_with(registry_root, Ocr(load=lambda: engine))
    reports = [scanner.scan_bytes(mail(f"reply {i}", {"logo.png": logo}), f"m{i}.eml") for i in range(3)]
    reports.append(scanner.scan_bytes(b.zip_of({"a/logo.png": logo, "b/logo.png": logo}), "logos.zip"))
    assert engine.reads() == 1
    assert [r.action for r in reports] == [Action.BLOCK] * 4
    assert [r.meta["ocr"]["read"] for r in reports] == [1, 0, 0, 0]
    assert [r.meta["ocr"]["cached"] for r in reports] == [0, 1, 1, 2]


def test_the_cache_is_keyed(engine):
    assert Ocr(key=b"k" * 32).digest(b"x") != Ocr(key=b"j" * 32).digest(b"x")
    assert Ocr(key=b"k" * 32).digest(b"ab", b"c") != Ocr(key=b"k" * 32).digest(b"a", b"bc")


def test_the_cache_is_bounded(engine):
    ocr = Ocr(OcrSettings(cache_entries=2))
    for i in range(4):
        ocr.remember(bytes([i]), ())
    assert ocr.recall(b"\0") is None and ocr.recall(b"\3") == ()


# -- containers: office media, mail, archives --------------------------------------------------


def test_pictures_in_office_documents_are_read(engine):
    logo = png(400, 150)
    docx = b.docx_by_parts({"word/document.xml": b.run("see the figure")}, {"word/media/image1.png": logo})
    pptx = zipfile.ZipFile(io.BytesIO(b.pptx(["slide one"])))
    deck = b.zip_of({**{n: pptx.read(n) for n in pptx.namelist()}, "ppt/media/image4.png": logo})
    odt = zipfile.ZipFile(io.BytesIO(b.odt("body")))
    odf = b.zip_of({**{n: odt.read(n) for n in odt.namelist()}, "Pictures/1000.png": logo})
    for data, name, media in ((docx, "d.docx", "word/media/image1.png"), (deck, "deck.pptx", "ppt/media/image4.png"),
                              (odf, "o.odt", "Pictures/1000.png")):
        hits = [p for p in parts(extract(data, name, Ocr(load=lambda: engine))) if p.format == "ocr"]
        assert [p.locator for p in hits] == [f"{name}!/{media}!/ocr"]


def test_an_xlsx_picture_is_read(engine):
    xlsx = zipfile.ZipFile(io.BytesIO(b.xlsx(["a"], [["a"]])))
    data = b.zip_of({**{n: xlsx.read(n) for n in xlsx.namelist()}, "xl/media/image2.jpeg": _jpeg()})
    hits = [p for p in parts(extract(data, "s.xlsx", Ocr(load=lambda: engine))) if p.format == "ocr"]
    assert [p.locator for p in hits] == ["s.xlsx!/xl/media/image2.jpeg!/ocr"]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(png(400, 150))).save(out, "JPEG")
    return out.getvalue()


# -- without OCR: never silently clean ------------------------------------------------------------


@pytest.mark.parametrize("channel, expected", [("mail", Action.QUARANTINE), ("watch", Action.QUARANTINE),
                                               ("cli", Action.WARN)])
def test_without_the_engine_an_image_is_not_read(tmp_path, channel, expected, registry_root):
    scanner = scanner_with(registry_root, Ocr(load=not_installed))
    report = scanner.scan_bytes(mail("see attached", {"plan.png": png()}), "m.eml", Destination(channel=channel))
    (problem,) = report.problems
    assert problem.kind == "not_read" and problem.locator == "m.eml!/attachments/plan.png"
    assert problem.detail.startswith("image, OCR not installed (pip install 'dlp[ocr]')")
    assert report.action == expected


def test_a_missing_engine_module_is_not_installed(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import rapidocr -> ImportError
    (problem,) = extract(png(), "shot.png", Ocr())
    assert problem.kind == "not_read" and "OCR not installed" in problem.detail and "rapidocr" in problem.detail


def test_turned_off_says_so(engine):
    (problem,) = extract(png(), "shot.png", Ocr(OcrSettings(enabled=False, off_reason="--no-ocr"), load=lambda: engine))
    assert (problem.kind, problem.detail) == ("not_read", "image, OCR turned off (--no-ocr)")
    assert engine.reads() == 0


def test_turned_off_still_skips_tiny_images(engine):
    (part,) = extract(png(20, 20), "bullet.png", Ocr(OcrSettings(enabled=False), load=lambda: engine))
    assert part.meta["ocr"] == {"skipped": "small", "size": [20, 20]}


def test_a_damaged_image_is_corrupt(engine):
    (problem,) = extract(png()[:60], "cut.png", Ocr(load=lambda: engine))
    assert problem.kind == "corrupt"
    (problem,) = extract(b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "junk.png", Ocr(load=lambda: engine))
    assert problem.kind == "corrupt" and " at 0x" not in problem.detail  # the same detail in every report


def test_the_policy_key_turns_ocr_off(tmp_path):
    policy = parse_policy({"ocr": {"enabled": False}}, source="p.toml")
    assert policy.ocr is False and parse_policy({}).ocr is True
    with pytest.raises(ConfigError, match=r"p.toml: ocr.enabled: must be true or false"):
        parse_policy({"ocr": {"enabled": "no"}}, source="p.toml")
    with pytest.raises(ConfigError, match=r"ocr.languages: unknown key"):
        parse_policy({"ocr": {"languages": ["en"]}}, source="p.toml")


# -- scanned PDF pages -----------------------------------------------------------------------------


def pdf_pages(*pages: str | None, picture_on_text: tuple[float, float, float, float] | None = None) -> bytes:
    """A PDF whose pages carry text (a string), a drawn picture (None), a few words over a drawn
    frame ('+' and the words), or nothing (''); `picture_on_text` (x, y, w, h in points) puts a
    picture on each page of text as well."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    for page in pages:
        if page is None:
            c.drawImage(ImageReader(io.BytesIO(png(600, 200))), 50, 500, 300, 100)
        elif page.startswith("+"):
            c.rect(40, 400, 400, 300)
            c.drawString(50, 720, page[1:])
        elif page:
            text = c.beginText(40, 800)
            for i in range(0, len(page.split()), 12):
                text.textLine(" ".join(page.split()[i:i + 12]))
            c.drawText(text)
            if picture_on_text is not None:
                c.drawImage(ImageReader(io.BytesIO(png(600, 200))), *picture_on_text)
        c.showPage()
    c.save()
    return out.getvalue()


def test_only_pages_with_more_than_their_text_layer_are_read(engine):
    data = pdf_pages(" ".join(words(60, seed=3)), None, "Figure 2", "", "+Figure 3")
    outputs = extract(data, "scan.pdf", Ocr(load=lambda: engine))
    ocr_parts = sorted((p for p in parts(outputs) if p.format == "ocr"), key=lambda p: p.locator)
    assert [p.locator for p in ocr_parts] == [f"scan.pdf#page={n}!/ocr" for n in (2, 3, 4, 5)]
    # a picture; a few words alone (the text layer has them); nothing; a few words over a drawing
    assert [p.meta["ocr"].get("skipped") for p in ocr_parts] == [None, "text only", "blank", None]
    assert ocr_parts[0].meta["ocr"]["page"] == 2 and ocr_parts[0].meta["ocr"]["unit"] == "pt"
    assert ocr_parts[0].meta["ocr"]["size"] == [595, 842]
    assert engine.reads() == 2


def test_a_scanned_page_without_ocr_is_not_read_but_a_blank_one_is_fine(engine):
    data = pdf_pages(" ".join(words(60, seed=3)), None, "", None, "Figure 2", "+Figure 3")
    outputs = extract(data, "scan.pdf", Ocr(OcrSettings(enabled=False, off_reason="--no-ocr"), load=lambda: engine))
    (problem,) = problems(outputs)
    assert problem.kind == "not_read" and problem.locator == "scan.pdf"
    assert problem.detail == "pages 2, 4, 6 with pictures or without a text layer, OCR turned off (--no-ocr)"


@pytest.mark.parametrize("size, read", [((300, 100), True), ((60, 20), False)])
def test_a_large_picture_on_a_page_with_text_is_read(engine, size, read):
    data = pdf_pages(" ".join(words(60, seed=3)), picture_on_text=(100, 300, *size))
    outputs = extract(data, "report.pdf", Ocr(load=lambda: engine))
    ocr_parts = [p for p in parts(outputs) if p.format == "ocr"]
    assert [p.locator for p in ocr_parts] == (["report.pdf#page=1!/ocr"] if read else [])
    if read:  # only the picture's region is rendered, at the picture's own resolution (600 px in 300 pt: 144 dpi
        # is below the 150 dpi default, so 150); the boxes are placed on the page
        x0, y0, x1, y1 = ocr_location(ocr_parts[0].meta["ocr"], 0, 10)["bbox"]
        assert 100 <= x0 < 110 and 842 - 400 <= y0 < 842 - 390
        assert engine.reads() == 1


def test_scanned_pages_beyond_the_limit_are_a_problem(engine):
    outputs = extract(pdf_pages(None, None, None), "scan.pdf", Ocr(load=lambda: engine), Limits(max_ocr_pages=2))
    assert len([p for p in parts(outputs) if p.format == "ocr"]) == 2
    (problem,) = problems(outputs)
    assert problem.kind == "too_many" and "not page 3" in problem.detail


def test_a_scanned_pdf_is_found_on_its_page(engine, tmp_path, registry_root):
    scanner = scanner_with(registry_root, Ocr(load=lambda: engine))
    report = scanner.scan_bytes(pdf_pages(" ".join(words(40, seed=5)), None), "scan.pdf")
    assert report.action == Action.BLOCK
    (finding,) = report.findings
    run = finding.evidence.to_dict()["runs"][0]
    assert finding.locator == "scan.pdf#page=2!/ocr" and run["page"] == 2 and run["bbox_unit"] == "pt"
    # the scripted boxes are in pixels at 150 dpi: 600 px is 288 pt
    assert run["bbox"][2] == round(600 * 72 / 150)


# -- real-world files ---------------------------------------------------------------------------


@pytest.mark.corpus
def test_a_sample_of_corpus_images_and_pdfs_goes_through_real_ocr_without_escape(corpora):
    """Every eighth image or PDF of ../shared/corpora (damaged, odd and hostile files among them),
    one OCR read each with the real engine: parts and problems only, within the time limits;
    the OCR worker's own memory stays under its cap (its RSS counts the pages it shares with
    this process)."""
    import resource

    from dlp.extract import expand_path

    shared = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    files = sorted(p for p in corpora.rglob("*") if p.is_file() and p.suffix.lower() in
                   {".pdf", ".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp"})[::8]
    assert len(files) > 20
    ocr = Ocr()
    read = 0
    for path in files:
        started = time.monotonic()
        outputs = [o for item in expand_path(str(path))
                   for o in walk(item, EXTRACTORS, Context(Limits(timeout_seconds=30, max_ocr_images=1), ocr=ocr))]
        assert time.monotonic() - started < 40
        assert all(isinstance(o, (Part, Problem)) for o in outputs)
        read += sum(1 for o in outputs if isinstance(o, Part) and o.format == "ocr" and o.text)
    assert read > 5
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 < 1024 + shared


# -- front ends ----------------------------------------------------------------------------------


def test_scan_no_ocr_from_the_command_line(tmp_path, registry_root):
    import json

    from dlp.frontends.cli import Env, main

    (tmp_path / "shot.png").write_bytes(png())
    out = io.StringIO()
    status = main(["--registry", str(registry_root), "scan", str(tmp_path / "shot.png"), "--no-ocr",
                   "--no-record", "--format", "json", "--to", "x@partner.example"], Env(stdout=out, stderr=io.StringIO()))
    (file,) = json.loads(out.getvalue())["files"]
    assert status == 1 and file["action"] == "quarantine"
    assert file["problems"] == [{"locator": str(tmp_path / "shot.png"), "kind": "not_read",
                                 "detail": "image, OCR turned off (--no-ocr, or ocr = false in the settings)"}]


def test_the_policy_file_turns_ocr_off_for_every_front_end(tmp_path, registry_root):
    from dlp.scanner import open_scanner

    policy = tmp_path / "policy.toml"
    policy.write_text("[ocr]\nenabled = false\n")
    report = open_scanner(registry_root, policy_file=policy).scan_bytes(png(), "shot.png", Destination(channel="mail"))
    assert [(p.kind, p.detail) for p in report.problems] == [
        ("not_read", "image, OCR turned off (ocr.enabled = false in policy.toml)")]
    assert report.action == Action.QUARANTINE  # the built-in [unscannable] mail action


def test_the_milter_scanner_honours_no_ocr(registry_root):
    from dlp.frontends.cli import Env, build_parser

    args = build_parser().parse_args(["--registry", str(registry_root), "milter", "--listen", "inet:8899@127.0.0.1",
                                      "--no-ocr"])
    assert not Env(environ={}).scanner(args).ocr.enabled
    args = build_parser().parse_args(["--registry", str(registry_root), "milter", "--listen", "inet:8899@127.0.0.1"])
    assert Env(environ={}).scanner(args).ocr.enabled


def test_watch_and_milter_take_no_ocr(tmp_path):
    from dlp.frontends.cli import build_parser
    from dlp.frontends.watch.command import settings_from_args
    from dlp.frontends.watch.settings import load_settings

    for folder in ("out", "rel", "q"):
        (tmp_path / folder).mkdir()
    args = build_parser().parse_args(["watch", str(tmp_path / "out"), "--release", str(tmp_path / "rel"),
                                      "--quarantine", str(tmp_path / "q"), "--no-ocr"])
    assert settings_from_args(args).ocr is False
    config = tmp_path / "watch.toml"
    config.write_text(f'ocr = false\n[[outbox]]\npath = "{tmp_path / "out"}"\nrelease = "{tmp_path / "rel"}"\n'
                      f'quarantine = "{tmp_path / "q"}"\n')
    assert load_settings(config).ocr is False
    config.write_text(config.read_text().replace("ocr = false", 'ocr = "no"'))
    with pytest.raises(ConfigError, match="ocr must be bool"):
        load_settings(config)
    assert build_parser().parse_args(["milter", "--listen", "inet:8899@127.0.0.1", "--no-ocr"]).no_ocr is True


def test_the_cluster_shipment_carries_no_ocr(tmp_path, registry_root):
    from dlp.frontends.cluster.shipment import pack
    from dlp.scanner import open_scanner

    shipment = pack(open_scanner(registry_root, ocr=False))
    assert shipment.ocr is False
    assert shipment.open(tmp_path / "worker").ocr.enabled is False
    assert pack(open_scanner(registry_root)).digest != shipment.digest


@settings(max_examples=200, deadline=None)
@given(st.integers(200, 3000), st.integers(200, 3000), st.floats(-20, 20), st.data())
def test_a_box_read_on_the_levelled_picture_maps_back_around_the_same_place(width, height, angle, data):
    """A box on the picture as given, turned as Pillow turns the picture (counter-clockwise,
    expanded), then mapped back by `_turner`, surrounds the box it came from."""
    import math

    x0 = data.draw(st.integers(0, width - 20))
    y0 = data.draw(st.integers(0, height - 20))
    box = (x0, y0, data.draw(st.integers(x0 + 10, width)), data.draw(st.integers(y0 + 10, height)))
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    turned = (abs(width * cos) + abs(height * sin), abs(width * sin) + abs(height * cos))
    corners = [(x - width / 2, y - height / 2) for x in (box[0], box[2]) for y in (box[1], box[3])]
    us = [turned[0] / 2 + dx * cos + dy * sin for dx, dy in corners]
    vs = [turned[1] / 2 - dx * sin + dy * cos for dx, dy in corners]
    back = _turner((width, height), turned, angle)((min(us), min(vs), max(us), max(vs)))
    assert back[0] <= box[0] + 1 and back[1] <= box[1] + 1 and back[2] >= box[2] - 1 and back[3] >= box[3] - 1


def test_the_slant_of_detected_lines_is_measured_from_their_top_edges():
    wide_down = [[0, 0], [1000, 35], [999, 60], [-1, 25]]  # 2 degrees clockwise
    tall = [[0, 0], [20, 0], [20, 200], [0, 200]]  # a box standing on end says nothing
    assert [round(a, 1) for a in _slopes([wide_down, tall])] == [2.0]
