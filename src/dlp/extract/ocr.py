"""OCR: the text of images, and of PDF pages that have no text layer.

Who hands what to this module:

- `images.ImageExtractor` gives it every raster image (PNG, JPEG, TIFF, BMP, GIF, WebP), wherever
  the walk finds one: a file, a mail attachment, an archive member, the media of an office
  document (`read_image`);
- `pdf.PdfExtractor` gives it each PDF once its text is read; the pages whose text layer has
  (almost) no words but that draw something, and the large pictures on pages with text, are
  rendered with PDFium and read (`read_scanned_pages`).

The text of each image, frame or page is a part of its own: ``photo.png!/ocr``,
``fax.tiff#page=2!/ocr``, ``scan.pdf#page=3!/ocr``. Its `meta["ocr"]` names the engine and keeps
the box of every recognised line with the line's character offsets in the part, so a finding
can name the page and the rectangle it was read from (`ocr_location`); the scanner sums these
up in the report (`ocr_summary`).

Cost and hostile input:

- the engine (rapidocr with the ONNX models bundled in its wheel: the `dlp[ocr]` extra; nothing
  is ever downloaded) runs in the killable worker of `isolate.py`, under its memory cap, for at
  most `Limits.ocr_seconds` per image or page and never past the item's own deadline;
- the pixel count is checked before anything is decoded (`too_large`: decompression bombs);
  frames per image and pages per PDF are capped (`max_ocr_pages`), and so is the number of
  images read per scanned item (`max_ocr_images`);
- tiny images (icons, bullets, spacer GIFs) are skipped by size, and counted;
- an image is read once per scan: results are kept under a keyed digest of its bytes, so the
  logo in every mail of a thread costs one read;
- without the engine, or with OCR turned off, an image that could hold text is a `not_read`
  problem: the policy treats it as unscannable, never as clean.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import statistics
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .base import Budget, Context, Limits, Output, read_bytes
from .isolate import run_isolated

NOT_INSTALLED = "OCR not installed (pip install 'dlp[ocr]')"
MIN_SCORE = 0.5  # recognised lines less certain than this are noise (textures, photos)


@dataclass(frozen=True)
class OcrSettings:
    """How OCR is used (bounds against hostile input are in `Limits`)."""

    enabled: bool = True
    off_reason: str = "turned off"  # for the problem detail: "--no-ocr", "policy ocr.enabled = false"
    pdf_dpi: int = 150              # PDF pages are rendered at this resolution
    page_min_words: int = 20        # a PDF page whose text layer has fewer words is read by OCR
    min_side: int = 8               # an image narrower or lower than this holds no legible text,
    min_pixels: int = 4096          # nor one of fewer pixels (64 x 64 icons, bullets, spacer GIFs)
    cache_entries: int = 1024       # images remembered per scanner


@dataclass(frozen=True)
class Line:
    """One recognised line: its text, its box (x0, y0, x1, y1) and the engine's confidence."""

    text: str
    box: tuple[int, int, int, int]
    score: float
    order: int | None = None  # its place in reading order, when the engine already knows it (`arrange`)


@dataclass(frozen=True)
class Frame:
    """What OCR made of one image, one frame of an image, or one rendered PDF page.

    `lines` are in reading order; boxes are in pixels of the image (`unit` "px") or in PDF
    points from the page's top left corner ("pt"). `skipped` says why nothing was read
    ("small", "blank", "duplicate"); `problem` is a (kind, detail) that goes with it.
    """

    page: int | None
    size: tuple[int, int]
    lines: tuple[Line, ...] = ()
    unit: str = "px"
    skipped: str = ""
    problem: tuple[str, str] | None = None
    seconds: float = 0.0


class Engine(Protocol):
    """An OCR engine: `read` returns the lines of an RGB Pillow image, in any order."""

    name: str

    def read(self, image: Any) -> list[Line]: ...


# -- the service a scanner shares between its items --------------------------------------


class Ocr:
    """Settings, the engine (loaded once, on first use) and the digest cache of one scanner.

    Safe to share between threads. `load` builds the engine (raising ExtractionError
    ``not_read`` when it is not installed); `key` keys the cache digests (random by default).
    """

    def __init__(self, settings: OcrSettings = OcrSettings(), *,
                 load: Callable[[], Engine] | None = None, key: bytes | None = None) -> None:
        self.settings = settings
        self._load = load or RapidOcrEngine.load
        self._key = key if key is not None else os.urandom(32)
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._failure: ExtractionError | None = None
        self._cache: OrderedDict[bytes, tuple[Frame, ...]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def engine(self) -> Engine:
        """The engine, loaded once; ExtractionError ``not_read`` (with the reason) when there is none."""
        if not self.settings.enabled:
            raise ExtractionError("not_read", f"OCR turned off ({self.settings.off_reason})")
        with self._lock:
            if self._engine is None and self._failure is None:
                try:
                    self._engine = self._load()
                except ExtractionError as exc:
                    self._failure = exc
                except Exception as exc:  # a broken install: say so instead of failing every image
                    self._failure = ExtractionError("not_read", f"OCR engine cannot start: {type(exc).__name__}: {exc}"[:300])
            if self._failure is not None:
                raise self._failure
            assert self._engine is not None
            return self._engine

    def digest(self, *fields: bytes) -> bytes:
        h = hashlib.blake2b(key=self._key, digest_size=20)
        for value in fields:
            h.update(len(value).to_bytes(8, "little") + value)
        return h.digest()

    def recall(self, key: bytes) -> tuple[Frame, ...] | None:
        with self._lock:
            frames = self._cache.get(key)
            if frames is not None:
                self._cache.move_to_end(key)
            return frames

    def remember(self, key: bytes, frames: Sequence[Frame]) -> None:
        with self._lock:
            self._cache[key] = tuple(frames)
            while len(self._cache) > self.settings.cache_entries:
                self._cache.popitem(last=False)


# -- images -------------------------------------------------------------------------------


def read_image(item: Item, ctx: Context) -> Iterator[Output]:
    """Parts (one per frame) and problems for one raster image."""
    ocr: Ocr | None = ctx.ocr
    settings = ocr.settings if ocr is not None else OcrSettings(enabled=False)
    data = read_bytes(item, ctx)
    width, height, animated = _probe(data)
    if width * height > ctx.limits.max_image_pixels:
        raise ExtractionError("too_large", f"image of {width} x {height} pixels exceeds {ctx.limits.max_image_pixels}")
    if not animated and _tiny(width, height, settings):
        yield _skipped(f"{item.locator}!/ocr", "small", (width, height))
        return
    try:
        if ocr is None:
            raise ExtractionError("not_read", "OCR turned off")
        engine = ocr.engine()
    except ExtractionError as exc:
        yield Problem(item.locator, "not_read", f"image, {exc.detail}")
        return
    key = ocr.digest(b"image", data)
    frames = ocr.recall(key)
    cached = frames is not None
    if frames is None:
        frames = tuple(_isolated(ctx, partial(_read_image_frames, engine, settings), item, "image"))
        ocr.remember(key, frames)
    paged = len(frames) > 1
    for frame in frames:
        where = f"{item.locator}#page={frame.page}!/ocr" if paged else f"{item.locator}!/ocr"
        yield from _outputs(where, frame if paged else replace(frame, page=None), engine.name, cached)


def _probe(data: bytes) -> tuple[int, int, bool]:
    """Width, height and whether there are more frames, from the header alone (nothing decoded)."""
    try:
        from PIL import Image
    except ImportError:
        raise ExtractionError("not_read", f"image, {NOT_INSTALLED}") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            animated = bool(getattr(image, "is_animated", False)) or getattr(image, "n_frames", 1) > 1
    except Image.DecompressionBombError as exc:
        raise ExtractionError("too_large", str(exc)[:300]) from None
    except Exception as exc:  # truncated, damaged or lying headers
        said = _OBJECT_AT.sub("the data", str(exc))  # Pillow names its BytesIO by address: not for a report
        raise ExtractionError("corrupt", f"image cannot be decoded: {type(exc).__name__}: {said}"[:300]) from None
    return width, height, animated


_OBJECT_AT = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def _tiny(width: int, height: int, settings: OcrSettings) -> bool:
    return min(width, height) < settings.min_side or width * height < settings.min_pixels


def _read_image_frames(engine: Engine, settings: OcrSettings, item: Item, limits: Limits) -> list[Frame]:
    """Every frame of an image, read (runs in the worker)."""
    from PIL import Image, ImageOps

    frames: list[Frame] = []
    seen: dict[bytes, int] = {}
    with Image.open(io.BytesIO(item.read())) as image:
        for index in range(limits.max_ocr_pages + 1):
            try:
                image.seek(index)
            except EOFError:
                break
            if index == limits.max_ocr_pages:
                frames.append(Frame(index + 1, image.size, problem=(
                    "too_many", f"more than {limits.max_ocr_pages} frames; the rest are not read")))
                break
            started = time.perf_counter()
            width, height = image.size
            if width * height > limits.max_image_pixels:
                frames.append(Frame(index + 1, image.size, problem=(
                    "too_large", f"frame of {width} x {height} pixels exceeds {limits.max_image_pixels}")))
                continue
            if _tiny(width, height, settings):
                frames.append(Frame(index + 1, image.size, skipped="small"))
                continue
            picture = ImageOps.exif_transpose(image.copy()) if index == 0 else image.copy()
            fingerprint = hashlib.blake2b(picture.tobytes(), digest_size=16).digest()
            if fingerprint in seen:  # animations repeat frames: read each distinct picture once
                frames.append(Frame(index + 1, image.size, skipped="duplicate"))
                continue
            seen[fingerprint] = index
            frames.append(_recognise(engine, picture, index + 1, started))
    return frames


def _recognise(engine: Engine, picture: Any, page: int | None, started: float,
               scale: float = 1.0, unit: str = "px", size: tuple[int, int] | None = None) -> Frame:
    """One picture read: prepared for the engine, lines in reading order, boxes in `unit`."""
    size = size or picture.size
    prepared = prepare(picture)
    if prepared is None:
        return Frame(page, size, unit=unit, skipped="blank", seconds=time.perf_counter() - started)
    lines = _upright(engine, prepared)
    if scale != 1.0:
        lines = [Line(line.text, tuple(round(v / scale) for v in line.box), line.score) for line in lines]  # type: ignore[misc]
    return Frame(page, size, tuple(lines), unit, seconds=time.perf_counter() - started)


def _upright(engine: Engine, picture: Any) -> list[Line]:
    """The lines of a picture in reading order. A picture lying on its side or upside down (most
    boxes stand on end, or the reading is poor) is read turned as well; the better reading is
    put in order as it reads, then its boxes are mapped back onto the picture as given. A poor
    reading may also be mirrored text (a picture flipped, to be read in a mirror or flipped back
    by whoever receives it): the mirror image is read too, upright and upside down."""
    from PIL import ImageOps

    read = engine.read(picture)
    best, view = _kept(read), (0, False)
    turns = _turns_to_try(read)
    # On its side, lines come back in the wrong order even when each reads well (the engine
    # turns lines that stand on end): the better turned reading wins unless it is far worse.
    # Upside down or mirrored, the other reading must be clearly better.
    bar = 0.5 * _quality(best) if len(turns) == 2 else 1.2 * _quality(best)
    views = [(angle, False) for angle in turns] + ([(0, True), (180, True)] if turns == (180,) else [])
    for angle, mirrored in views:
        seen = ImageOps.mirror(picture) if mirrored else picture
        candidate = _kept(engine.read(seen.rotate(angle, expand=True) if angle else seen))
        if _quality(candidate) > bar:
            best, view, bar = candidate, (angle, mirrored), _quality(candidate)
    ordered = arrange(best)
    angle, mirrored = view
    if angle:
        ordered = [_turn_back(line, angle, picture.size) for line in ordered]
    if mirrored:
        width = picture.size[0]
        ordered = [Line(line.text, (width - line.box[2], line.box[1], width - line.box[0], line.box[3]), line.score)
                   for line in ordered]
    return ordered


def _kept(lines: Sequence[Line]) -> list[Line]:
    return [line for line in lines if line.score >= MIN_SCORE and line.text.strip()]


def _turns_to_try(lines: Sequence[Line]) -> tuple[int, ...]:
    if len(lines) < 3:
        return ()
    standing = sum(1 for line in lines if (line.box[3] - line.box[1]) > 1.5 * (line.box[2] - line.box[0]))
    if 2 * standing > len(lines):
        return (90, 270)
    if sum(line.score for line in lines) / len(lines) < 0.8:
        return (180,)
    return ()


def _quality(lines: Sequence[Line]) -> float:
    return sum(len(line.text.strip()) * line.score for line in lines if line.score >= MIN_SCORE)


def _turn_back(line: Line, angle: int, size: tuple[int, int]) -> Line:
    """A box read on the picture turned `angle` degrees counter-clockwise, on the original."""
    width, height = size
    x0, y0, x1, y1 = line.box
    if angle == 180:
        box = (width - x1, height - y1, width - x0, height - y0)
    elif angle == 90:  # turned (u, v) came from (width - v, u)
        box = (width - y1, x0, width - y0, x1)
    else:  # 270: (u, v) came from (v, height - u)
        box = (y0, height - x1, y1, height - x0)
    return Line(line.text, box, line.score)


def prepare(picture: Any) -> Any | None:
    """An RGB image the engine reads well, or None when the picture is one flat colour.

    - Transparency is laid on white; if that leaves nothing to see but the alpha channel has
      shapes (white text on a transparent background), it is laid on black instead.
    - 16-bit and floating-point pictures are scaled to 8 bits.
    - Low contrast is stretched: text one grey level off its background is as legible to a
      recipient with an image editor as black on white, so it must be to the scanner too.
    """
    from PIL import Image, ImageOps

    if picture.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        picture = _to_8bit(picture)
    if picture.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        alpha = rgba.getchannel("A")
        on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        low, high = on_white.convert("L").getextrema()
        a_low, a_high = alpha.getextrema()
        if high - low < 16 and a_high - a_low >= 16:
            on_black = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
            picture = on_black
        else:
            picture = on_white
    rgb = picture.convert("RGB")
    gray = rgb.convert("L")
    low, high = gray.getextrema()
    if low == high:
        return None
    histogram = gray.histogram()
    total = sum(histogram)
    p01, p99 = _percentile(histogram, total * 0.01), _percentile(histogram, total * 0.99)
    if p99 - p01 < 64:  # faint text, or text that is 1% of the picture on a flat background
        rgb = ImageOps.equalize(gray).convert("RGB")
    return rgb


def _percentile(histogram: Sequence[int], rank: float) -> int:
    seen = 0
    for level, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return level
    return len(histogram) - 1


def _to_8bit(picture: Any) -> Any:
    import numpy as np
    from PIL import Image

    values = np.asarray(picture, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = np.zeros(values.shape, np.uint8) if high <= low else ((values - low) * (255.0 / (high - low))).astype(np.uint8)
    return Image.fromarray(scaled, "L")


# -- scanned PDF pages --------------------------------------------------------------------


_WORD = re.compile(r"\w{2,}")
_UNMAPPED = re.compile(r"\(cid:\d+\)|\ufffd")  # glyphs a font gives no character for


def read_scanned_pages(item: Item, outputs: Sequence[Output], ctx: Context) -> Iterator[Output]:
    """OCR parts for the pages of a PDF that show more than their text layer holds: pages with
    fewer than `page_min_words` words that draw something (a scan, text turned into outlines),
    and pages whose pictures cover a good part of them (a screenshot pasted into a report).

    `outputs` are what the PDF extractor produced; its main part (at the document's own
    locator, with page offsets) says how many words each page has.
    """
    main = next((o for o in outputs if isinstance(o, Part) and o.locator == item.locator and o.pages), None)
    if main is None:
        return
    ocr: Ocr | None = ctx.ocr
    settings = ocr.settings if ocr is not None else OcrSettings(enabled=False)
    bounds = (*main.pages, len(main.text))
    words = tuple(len(_WORD.findall(_UNMAPPED.sub(" ", main.text[bounds[n - 1]:bounds[n]])))
                  for n in range(1, len(main.pages) + 1))
    try:
        plan = _isolated(ctx, partial(_survey, words, settings), item, "PDF", count=False)
    except ExtractionError as exc:
        if exc.kind == "timeout":
            raise
        plan = [(n, _WHOLE_PAGE) for n, count in enumerate(words, 1) if count < settings.page_min_words]  # PDFium cannot look: read the bare pages
    to_read = [(n, view) for n, view in plan if isinstance(view, tuple)]
    try:
        if ocr is None:
            raise ExtractionError("not_read", "OCR turned off")
        engine = ocr.engine()
    except ExtractionError as exc:
        if to_read:
            yield Problem(item.locator, "not_read", f"{_page_list([n for n, _ in to_read])} with pictures or without "
                                                    f"a text layer, {exc.detail}")
        return
    for number, view in plan:  # pages without a text layer that OCR need not read, counted
        if isinstance(view, str):
            yield _skipped(f"{item.locator}#page={number}!/ocr", view, (0, 0))
    document = ocr.digest(b"pdf", read_bytes(item, ctx))
    limit = ctx.limits.max_ocr_pages
    for i, (number, view) in enumerate(to_read[:limit]):
        where = f"{item.locator}#page={number}!/ocr"
        key = ocr.digest(b"page", document, repr((number, view, settings.pdf_dpi)).encode())
        frames = ocr.recall(key)
        cached = frames is not None
        if frames is None:
            if ctx.budget.seconds_left() <= 0 or ctx.budget.ocr_images >= ctx.limits.max_ocr_images:
                kind = "timeout" if ctx.budget.seconds_left() <= 0 else "too_many"
                yield Problem(item.locator, kind, f"{_page_list([n for n, _ in to_read[i:]])} not read by OCR: "
                              + ("the item's time is up" if kind == "timeout" else
                                 f"more than {ctx.limits.max_ocr_images} images read in this item"))
                return
            try:
                frames = tuple(_isolated(ctx, partial(_read_pdf_page, engine, settings, number, view),
                                         item, f"page {number}"))
            except ExtractionError as exc:  # this page only: the next one may read
                yield Problem(where, exc.kind, exc.detail)
                continue
            ocr.remember(key, frames)
        for frame in frames:
            yield from _outputs(where, frame, engine.name, cached)
    if len(to_read) > limit:
        yield Problem(item.locator, "too_many", f"{len(to_read)} pages to read by OCR; read the first {limit}, "
                                                f"not {_page_list([n for n, _ in to_read[limit:]])}")


_TEXT_OBJECT, _IMAGE_OBJECT = 1, 3  # FPDF_PAGEOBJ_*: the others are paths, shadings and forms
_WHOLE_PAGE = (0.0, 0.0, 0.0, 0.0, 0)  # a view: (left, bottom, right, top) cut off in points, and dpi (0: default)
PICTURE_SHARE = 0.015  # pictures covering this share of a page with text are read (1.2 x 1.2 in on A4;
                       # a header logo is smaller, a 60-word screenshot at 6 pt larger)
MAX_DPI = 300         # a picture is rendered at its own resolution up to this


def _survey(words: tuple[int, ...], settings: OcrSettings, item: Item, limits: Limits) -> list[tuple[int, Any]]:
    """For every page, what OCR should look at (runs in the worker): the whole page (a tuple
    view) when it has fewer than `page_min_words` words and draws something, or draws text
    that gave no words (fonts without a character map); the region of its pictures (a tuple
    view) when they cover `PICTURE_SHARE` of a page with text; "blank" or "text only" for a
    page without words that need not be read. Pages with text and no large picture are left out."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(item.path if item.path is not None else item.data)
    plan: list[tuple[int, Any]] = []
    try:
        for number, count in enumerate(words, 1):
            page = document[number - 1]
            width, height = page.get_size()
            objects = list(page.get_objects(max_depth=3))
            kinds = {obj.type for obj in objects}
            if count < settings.page_min_words:
                if kinds - {_TEXT_OBJECT} or (_TEXT_OBJECT in kinds and count == 0):
                    plan.append((number, _WHOLE_PAGE))
                else:
                    plan.append((number, "text only" if kinds else "blank"))
            else:
                view = _picture_view(objects, width, height, settings)
                if view is not None:
                    plan.append((number, view))
            page.close()
    finally:
        document.close()
    return plan


def _picture_view(objects: list, width: float, height: float, settings: OcrSettings) -> tuple | None:
    """The region around the large pictures of a page, at their own resolution (up to MAX_DPI)."""
    boxes, dpi = [], settings.pdf_dpi
    for obj in objects:
        if obj.type != _IMAGE_OBJECT:
            continue
        if getattr(obj, "level", 0) > 0:
            return _WHOLE_PAGE  # inside a form: its bounds are not in page space; read the page
        left, bottom, right, top = obj.get_bounds()
        left, bottom, right, top = max(0.0, left), max(0.0, bottom), min(width, right), min(height, top)
        if right <= left or top <= bottom:
            continue
        boxes.append((left, bottom, right, top))
        try:
            pixels_wide = obj.get_px_size()[0]
            dpi = max(dpi, min(MAX_DPI, round(pixels_wide / ((right - left) / 72))))
        except Exception:
            pass
    if not boxes or sum((r - l) * (t - b) for l, b, r, t in boxes) < PICTURE_SHARE * width * height:
        return None
    left, bottom = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, top = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return (round(left, 1), round(bottom, 1), round(width - right, 1), round(height - top, 1), dpi)


def _read_pdf_page(engine: Engine, settings: OcrSettings, number: int, view: tuple, item: Item,
                   limits: Limits) -> list[Frame]:
    """One page, or the region of it in `view`, rendered with PDFium and read (runs in the
    worker). Boxes are in points from the page's top left corner."""
    import pypdfium2 as pdfium

    started = time.perf_counter()
    cut_left, cut_bottom, cut_right, cut_top, dpi = view
    document = pdfium.PdfDocument(item.path if item.path is not None else item.data)
    try:
        page = document[number - 1]
        width, height = page.get_size()
        shown_w, shown_h = width - cut_left - cut_right, height - cut_bottom - cut_top
        scale = (dpi or settings.pdf_dpi) / 72
        problem = None
        if shown_w * shown_h * scale * scale > limits.max_image_pixels:
            scale = math.sqrt(limits.max_image_pixels / max(1.0, shown_w * shown_h))
            if scale * 72 < settings.pdf_dpi / 2:
                problem = ("too_large", f"page of {width / 72:.0f} x {height / 72:.0f} in rendered at {scale * 72:.0f} dpi "
                                        f"(pixel limit {limits.max_image_pixels}); small text may be lost")
        picture = page.render(scale=scale, crop=(cut_left, cut_bottom, cut_right, cut_top), grayscale=True).to_pil()
        page.close()
    finally:
        document.close()
    frame = _recognise(engine, picture, number, started, scale=scale, unit="pt", size=(round(width), round(height)))
    if cut_left or cut_top:
        frame = replace(frame, lines=tuple(Line(line.text, (line.box[0] + round(cut_left), line.box[1] + round(cut_top),
                                                            line.box[2] + round(cut_left), line.box[3] + round(cut_top)),
                                                line.score) for line in frame.lines))
    return [replace(frame, problem=problem)]


def _page_list(numbers: Sequence[int]) -> str:
    """'page 3', 'pages 1-4, 7'."""
    ranges: list[list[int]] = []
    for n in numbers:
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)
    return f"page{'s' if len(numbers) > 1 else ''} {text}"


# -- shared by both -----------------------------------------------------------------------


def _isolated(ctx: Context, function: Callable[[Item, Limits], list], item: Item, what: str, *, count: bool = True) -> list:
    """`function(item, limits)` in the killable worker, for at most `ocr_seconds` and never past the
    item's deadline. Counts against the item's `max_ocr_images` unless `count` is false."""
    ctx.budget.check_time()
    if count:
        if ctx.budget.ocr_images >= ctx.limits.max_ocr_images:
            raise ExtractionError("too_many", f"more than {ctx.limits.max_ocr_images} images to read in this item; "
                                              f"this {what} is not read")
        ctx.budget.ocr_images += 1
    seconds = min(ctx.limits.ocr_seconds, ctx.budget.seconds_left())
    limits = replace(ctx.limits, timeout_seconds=seconds)
    bounded = Context(limits, Budget(limits, ctx.budget.clock), ctx.isolation, ctx.ocr)
    try:
        return run_isolated(function, item, bounded)
    except ExtractionError as exc:
        if exc.kind == "timeout":
            raise ExtractionError("timeout", f"OCR of this {what} still busy after {seconds:.3g} s; worker killed") from None
        raise


def _skipped(where: str, why: str, size: tuple[int, int]) -> Part:
    return Part(where, "", "ocr", meta={"ocr": {"skipped": why, "size": list(size)}})


def _outputs(where: str, frame: Frame, engine: str, cached: bool) -> Iterator[Output]:
    if frame.problem is not None:
        yield Problem(where, *frame.problem)
    if frame.skipped:
        yield _skipped(where, frame.skipped, frame.size)
        return
    if frame.problem is not None and not frame.lines:
        return
    text, spans = assemble(frame.lines)
    meta: dict[str, Any] = {
        "engine": engine, "size": list(frame.size), "unit": frame.unit, "cached": cached,
        "seconds": round(frame.seconds, 3),
        "lines": tuple((start, end, *line.box) for (start, end), line in zip(spans, frame.lines)),
    }
    if frame.page is not None:
        meta["page"] = frame.page
    yield Part(where, text, "ocr", meta={"ocr": meta})


def assemble(lines: Sequence[Line]) -> tuple[str, list[tuple[int, int]]]:
    """The text of lines in reading order (a space between pieces of one row, a newline between
    rows) and each line's (start, end) in it."""
    chunks: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    previous: Line | None = None
    for line in lines:
        if previous is not None:
            chunks.append(" " if _same_row(previous, line) else "\n")
            offset += 1
        chunks.append(line.text)
        spans.append((offset, offset + len(line.text)))
        offset += len(line.text)
        previous = line
    return "".join(chunks), spans


def _same_row(a: Line, b: Line) -> bool:
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    return b.box[0] >= a.box[2] - 2 and overlap > 0.5 * min(a.box[3] - a.box[1], b.box[3] - b.box[1])


# -- reading order ------------------------------------------------------------------------


def arrange(lines: Sequence[Line]) -> list[Line]:
    """Lines in reading order, by recursive XY-cut: cut the page where a wide horizontal gap
    runs across it (paragraphs, a header over columns), else where a wide vertical gap runs down
    it (columns), and read each piece in turn; a piece with neither is read row by row, left to
    right. Gaps count as wide from about one line height, so the spaces between words and the
    leading between lines never cut."""
    if len(lines) <= 1:
        return list(lines)
    if all(line.order is not None for line in lines):  # put in order on the page levelled (`RapidOcrEngine`)
        return sorted(lines, key=lambda line: line.order)
    height = statistics.median(line.box[3] - line.box[1] for line in lines) or 1
    return _xy_cut(list(lines), height)


def _xy_cut(lines: list[Line], height: float) -> list[Line]:
    if len(lines) <= 1:
        return lines
    for axis, gap in ((1, 0.8 * height), (0, 1.2 * height)):
        pieces = _split(lines, axis, gap)
        if len(pieces) > 1:
            return [line for piece in pieces for line in _xy_cut(piece, height)]
    return _rows(lines)


def _split(lines: list[Line], axis: int, gap: float) -> list[list[Line]]:
    """Groups of lines separated along `axis` (0: x, 1: y) by an empty band wider than `gap`."""
    ordered = sorted(lines, key=lambda line: line.box[axis])
    groups: list[list[Line]] = [[ordered[0]]]
    end = ordered[0].box[axis + 2]
    for line in ordered[1:]:
        if line.box[axis] - end > gap:
            groups.append([line])
        else:
            groups[-1].append(line)
        end = max(end, line.box[axis + 2])
    return groups


def _rows(lines: list[Line]) -> list[Line]:
    """Top to bottom by rows of lines that share most of their height, each row left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda line: (line.box[1] + line.box[3], line.box[0])):
        row = rows[-1] if rows else None
        if row is not None:
            top, bottom = min(x.box[1] for x in row), max(x.box[3] for x in row)
            overlap = min(bottom, line.box[3]) - max(top, line.box[1])
            if overlap > 0.5 * min(bottom - top, line.box[3] - line.box[1]):
                row.append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda line: line.box[0])]


# -- evidence and the report --------------------------------------------------------------


def ocr_location(meta: Mapping[str, Any], start: int, end: int) -> dict[str, Any]:
    """Where characters start..end of an OCR part were read: the page (PDF pages, frames) and
    the box around the lines they come from."""
    out: dict[str, Any] = {}
    if meta.get("page") is not None:
        out["page"] = meta["page"]
    boxes = [line[2:] for line in meta.get("lines", ()) if line[0] < end and line[1] > start]
    if boxes:
        out["bbox"] = [min(b[0] for b in boxes), min(b[1] for b in boxes),
                       max(b[2] for b in boxes), max(b[3] for b in boxes)]
        out["bbox_unit"] = meta.get("unit", "px")
    return out


def ocr_summary(metas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The report's account of OCR for one item: the engine, what was read, taken from the
    cache or skipped (and why), and the time spent."""
    out: dict[str, Any] = {"engine": next((m["engine"] for m in metas if "engine" in m), None),
                           "read": 0, "cached": 0, "skipped": {}, "lines": 0, "seconds": 0.0}
    for meta in metas:
        if meta.get("skipped"):
            out["skipped"][meta["skipped"]] = out["skipped"].get(meta["skipped"], 0) + 1
            continue
        out["cached" if meta.get("cached") else "read"] += 1
        out["lines"] += len(meta.get("lines", ()))
        if not meta.get("cached"):
            out["seconds"] += meta.get("seconds", 0.0)
    out["seconds"] = round(out["seconds"], 3)
    if out["engine"] is None:
        del out["engine"]
    return out


# -- the engine ---------------------------------------------------------------------------

SKEW_LINES = 3        # detected lines that must agree before a picture is taken as askew
SKEW_MIN, SKEW_MAX = 0.75, 89.0  # slant (median, degrees) that is levelled; lines standing on end are turned
DET_AREA = 960 * 960  # pixels detection sees at once: the worker adds 430 MB of address space
                      # reading an A4 page this way (710 MB at 1280 x 1280, 1.3 GB at 2048 x 2048)
DET_LONGEST = 1600    # a tile may be long and low, or tall and narrow, within that area
OVERLAP = 160         # pixels two detection tiles share: more than a line of text is high
DET_PIXELS = 4_000_000  # detection looks at larger pictures scaled down to this many pixels:
                        # 14-pixel text of a 4K screenshot stays legible, a photo costs 3 tiles
MARGIN_KEPT = 32      # pixels of blank margin left around what a picture shows, for detection


class RapidOcrEngine:
    """rapidocr with the detection and recognition models bundled in its wheel, on one
    onnxruntime thread. Nothing is downloaded: the model files are given by path, and images
    are handed over as decoded pictures, never as names (rapidocr fetches URLs)."""

    def __init__(self, models: Mapping[str, str], name: str, threads: int = 1) -> None:
        self.models = dict(models)
        self.name = name
        self.threads = threads
        self._ocr: Any = None

    @classmethod
    def load(cls, threads: int = 1) -> "RapidOcrEngine":
        """The engine with its models loaded; ExtractionError ``not_read`` when it is not installed."""
        try:
            import onnxruntime
            import rapidocr
        except ImportError as exc:
            raise ExtractionError("not_read", f"{NOT_INSTALLED}: no module {exc.name!r}") from None
        folder = os.path.join(os.path.dirname(rapidocr.__file__), "models")
        models = {}
        for task in ("det", "rec"):
            found = sorted(name for name in os.listdir(folder) if name.endswith(".onnx") and f"_{task}" in name) \
                if os.path.isdir(folder) else []
            if not found:
                raise ExtractionError("not_read", f"{NOT_INSTALLED}: rapidocr {rapidocr.__version__} has no bundled "
                                                  f"{task} model (dlp never downloads one)")
            models[task] = os.path.join(folder, found[-1])
        version = _version("rapidocr")
        stems = ", ".join(os.path.splitext(os.path.basename(models[t]))[0] for t in ("det", "rec"))
        engine = cls(models, f"rapidocr {version} ({stems}; onnxruntime {onnxruntime.__version__})", threads)
        engine.warm()
        return engine

    def warm(self) -> None:
        """Load the models now, in this process, so the forked workers inherit them instead of
        loading them for every image (rapidocr loads them on first use)."""
        ocr = self._engine()
        for loader in ("_load_det_model", "_load_rec_model"):
            getattr(ocr, loader, lambda: None)()

    def __getstate__(self) -> dict:  # a spawned worker loads its own copy
        return {**self.__dict__, "_ocr": None}

    def _engine(self) -> Any:
        if self._ocr is None:
            from rapidocr import RapidOCR

            self._ocr = RapidOCR(params={
                "Global.log_level": "error",
                "Global.text_score": 0.0,          # every line comes back; `read` keeps its scores
                "Global.use_cls": False,           # the 180-degree line classifier misreads upright text
                "Global.max_side_len": 1_000_000,  # sizes are chosen here (tiles), not by rapidocr
                "Global.min_side_len": 30,
                "Det.model_path": self.models["det"],
                "Det.limit_type": "max",
                "Det.limit_side_len": DET_LONGEST,
                "Rec.model_path": self.models["rec"],
                "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,  # 1.5x faster; the worker exits after
            })
        return self._ocr

    def read(self, image: Any, level: bool = True) -> list[Line]:
        """Lines of an RGB picture. Detection looks at what the picture shows, without its blank
        margins (a third of an A4 page), in overlapping tiles of at most `DET_AREA` pixels: a
        large picture is not shrunk whole (the 14-pixel text of a 4K screenshot would vanish).
        The pieces of a line cut by a seam are joined, and each line is recognised from the
        full picture, widest first: onnxruntime's arena then reuses the memory of the first
        line for the others (narrowest first, as rapidocr orders them, it grew past 1 GB on a
        screenshot of a mail). A picture whose detected lines slant is read levelled
        (`_levelled`); `level=False` reads it as given."""
        ocr = self._engine()
        width, height = image.size
        scale = min(1.0, math.sqrt(DET_PIXELS / (width * height)))
        seen = image if scale == 1.0 else image.resize((round(width * scale), round(height * scale)), 1)  # LANCZOS
        left, top, right, bottom = content_box(seen)
        boxes, slopes = [], []
        for x0, y0, x1, y1 in tiles(right - left, bottom - top):
            x0, y0, x1, y1 = x0 + left, y0 + top, x1 + left, y1 + top
            found = ocr(seen.crop((x0, y0, x1, y1)), use_det=True, use_cls=False, use_rec=False)
            quads = getattr(found, "boxes", None)
            boxes += [(round((bx0 + x0) / scale), round((by0 + y0) / scale),
                       round((bx1 + x0) / scale), round((by1 + y0) / scale))
                      for bx0, by0, bx1, by1 in _boxes(quads)]
            slopes += _slopes(quads)
        skew = statistics.median(slopes) if len(slopes) >= SKEW_LINES else 0.0
        if level and SKEW_MIN <= abs(skew) <= SKEW_MAX:
            return self._levelled(image, skew)
        lines = []
        for x0, y0, x1, y1 in sorted(join_boxes(boxes), key=lambda b: -(b[2] - b[0]) / max(1, b[3] - b[1])):
            pad = max(2, (y1 - y0) // 8)
            crop = image.crop((max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)))
            result = ocr(crop, use_det=False, use_cls=False, use_rec=True)
            texts, scores = getattr(result, "txts", None), getattr(result, "scores", None)
            # an unreadable line is kept, empty: its box still tells a picture lying on its side
            lines.append(Line(str(texts[0]), (x0, y0, x1, y1), float(scores[0])) if texts else Line("", (x0, y0, x1, y1), 0.0))
        return lines


    def _levelled(self, image: Any, skew: float) -> list[Line]:
        """The lines of a picture scanned askew, read on the picture turned level. Boxes around
        slanting lines hold pieces of the lines above and below them, and recognition reads
        little or nothing (none of a page of 10-pt text at 2 degrees). The lines are put in
        reading order on the levelled picture, where they stand apart, and their boxes are
        turned back onto the picture as given."""
        from PIL import Image

        levelled = image.rotate(skew, resample=Image.BICUBIC, expand=True, fillcolor=image.getpixel((0, 0)))
        ordered = arrange(self.read(levelled, level=False))
        turn = _turner(image.size, levelled.size, skew)
        return [Line(line.text, turn(line.box), line.score, order) for order, line in enumerate(ordered)]


def _slopes(quads: Any) -> list[float]:
    """The slant in degrees of each detected line much wider than high (clockwise positive)."""
    out = []
    for quad in quads if quads is not None else ():
        (x0, y0), (x1, y1), _, (x3, y3) = ((float(p[0]), float(p[1])) for p in quad[:4])
        if math.hypot(x1 - x0, y1 - y0) > 3 * math.hypot(x3 - x0, y3 - y0):
            out.append(math.degrees(math.atan2(y1 - y0, x1 - x0)))
    return out


def _turner(size: tuple[int, int], turned: tuple[int, int], angle: float) -> Callable:
    """Maps a box on a picture `turned` by `angle` degrees counter-clockwise (Pillow's `rotate`,
    expanded) to the box around it on the picture of `size` as given."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    cx, cy, tx, ty = size[0] / 2, size[1] / 2, turned[0] / 2, turned[1] / 2

    def turn(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        xs, ys = [], []
        for u, v in ((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3])):
            du, dv = u - tx, v - ty
            xs.append(cx + du * cos - dv * sin)
            ys.append(cy + du * sin + dv * cos)
        return (max(0, round(min(xs))), max(0, round(min(ys))), min(size[0], round(max(xs))), min(size[1], round(max(ys))))

    return turn


def content_box(picture: Any, keep: int = MARGIN_KEPT) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of what a picture shows: the blank margins around it cut off,
    `keep` pixels of them left. Margins are judged on 4 x 4 blocks (averaging takes out most of
    a scan's grain): a block is blank when it is within the noise of the background, the median
    block; the noise is measured (median deviation) and the bar never rises above 24 grey levels,
    so a picture without a flat background (a photo) is kept whole."""
    import numpy as np

    width, height = picture.size
    if height < 8 or width < 8:
        return (0, 0, width, height)
    blocks = np.asarray(picture.convert("L").reduce(4), dtype=np.float32)  # means of 4 x 4 blocks, the last partial
    deviation = np.abs(blocks - np.median(blocks))
    bar = min(24.0, max(4.0, 6 * 1.4826 * float(np.median(deviation))))
    shown = deviation > bar
    rows, columns = np.flatnonzero(shown.any(axis=1)), np.flatnonzero(shown.any(axis=0))
    if rows.size == 0:  # nothing stands out (prepare() has stretched faint pictures): read it all
        return (0, 0, width, height)
    return (max(0, int(columns[0]) * 4 - keep), max(0, int(rows[0]) * 4 - keep),
            min(width, (int(columns[-1]) + 1) * 4 + keep), min(height, (int(rows[-1]) + 1) * 4 + keep))


def tiles(width: int, height: int, area: int = DET_AREA, overlap: int = OVERLAP,
          longest: int = DET_LONGEST) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of overlapping tiles covering a width x height picture, each of at most
    `area` pixels and `longest` pixels a side, neighbours sharing at least `overlap` pixels (a
    line cut by one tile's edge is whole in the next): of the layouts that fit, the one that
    makes detection look at the fewest pixels (a text 1,035 pixels wide is one column of tiles,
    not a column 960 wide and a sliver that adds its overlap)."""
    best: tuple[int, list[tuple[int, int]], list[tuple[int, int]]] | None = None
    for columns in range(1, width + 1):
        tile_w = _tile_length(width, columns, overlap)
        if tile_w > longest or tile_w * 2 * overlap > area:
            continue
        if columns > 1 and tile_w <= 2 * overlap:
            break  # narrower tiles only add seams
        rows = 1
        while True:
            tile_h = _tile_length(height, rows, overlap)
            if tile_h <= longest and tile_w * tile_h <= area:
                break
            rows += 1
        cost = columns * tile_w * rows * tile_h
        if best is None or cost < best[0]:
            best = (cost, spans(width, columns, tile_w), spans(height, rows, tile_h))
    assert best is not None, (width, height)
    return [(x0, y0, x1, y1) for x0, x1 in best[1] for y0, y1 in best[2]]


def _tile_length(length: int, count: int, overlap: int) -> int:
    return length if count == 1 else min(length, math.ceil((length + (count - 1) * overlap) / count))


def spans(length: int, count: int, tile: int) -> list[tuple[int, int]]:
    """`count` spans `tile` long spread evenly over `length`: the first at 0, the last at the end."""
    if count == 1:
        return [(0, length)]
    starts = [round(i * (length - tile) / (count - 1)) for i in range(count)]
    return [(start, start + tile) for start in starts]


def _boxes(quads: Any) -> list[tuple[int, int, int, int]]:
    if quads is None:
        return []
    out = []
    for quad in quads:
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        out.append((round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))))
    return out


def join_boxes(boxes: Sequence[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes of one line joined: the pieces a tile seam cut, and the same line seen by two
    overlapping tiles. Two boxes join when they share most of their height and touch or overlap
    along the row; lines above each other, or a column gap apart, stay apart, and so do boxes
    standing on end (a picture on its side is turned and read again)."""
    standing = [b for b in boxes if b[3] - b[1] > b[2] - b[0]]  # text on its side: joined by nothing here
    merged = [list(b) for b in sorted((b for b in boxes if b[3] - b[1] <= b[2] - b[0]), key=lambda b: (b[1], b[0]))]
    changed = True
    while changed:
        changed = False
        out: list[list[int]] = []
        for box in merged:
            for other in out:
                height = min(box[3] - box[1], other[3] - other[1])
                overlap = min(box[3], other[3]) - max(box[1], other[1])
                gap = max(box[0], other[0]) - min(box[2], other[2])
                if overlap > 0.5 * height and gap <= 0.3 * max(box[3] - box[1], other[3] - other[1]):
                    other[:] = [min(box[0], other[0]), min(box[1], other[1]), max(box[2], other[2]), max(box[3], other[3])]
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return [tuple(b) for b in merged] + list(standing)  # type: ignore[misc]


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"
