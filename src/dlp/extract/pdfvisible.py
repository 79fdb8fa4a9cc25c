"""What a PDF page shows: the text objects nobody sees, and the page's text without them.

A PDF's text is read whole, invisible text included, since it leaves with the file.
But invisible junk drawn between the words (white or sub-point glyphs, render mode
3) is read into those words and breaks the run of a registered excerpt the viewer
shows whole. So a page with such text is read a second time, as a viewer shows it,
and both readings are scanned: the junk cannot break the run in both.

A text object is concealed when it is drawn in render mode 3 (invisible) or 7 (clip
only), at an effective size under 2 pt (font size times the scale of its matrix and of
the forms it sits in), with a fully transparent colour, entirely outside the page's
crop box, or in white on white (white text on a dark shape is shown: the page is
rendered at 36 dpi and what lies just above and below the text is checked). The screening walks the page
objects once; only pages with concealed text pay for the character-by-character
second reading. pdfminer, which reads the PDFs PDFium cannot open, gets the same
rules from its text state (`MinerConverter`).
"""

from __future__ import annotations

import ctypes
import math
from typing import Iterator

from .shown import around

_INVISIBLE_MODES = frozenset({3, 7})
_STROKE_ONLY_MODES = frozenset({1, 5})
_MIN_SIZE = 2.0  # points: a glyph smaller than this is a speck, not something to read
_WHITE = 250  # each of r, g, b at least this much is white
_ON_WHITE = 245  # median grey behind a white text at least this much: nothing dark behind it
_SCALE = 0.5  # of the rendering that tells white on white from white on a dark shape (36 dpi)
_MAX_OBJECTS = 200_000  # page objects screened on one page (a hostile page stops here)
_MAX_FORM_DEPTH = 8
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def concealed_objects(page) -> tuple[set[int], bool]:
    """Addresses of the page's text objects that nobody sees (see the module's rules),
    and whether that is all of them (a scan's OCR layer: nothing to read twice).

    This runs for every page of every PDF, so the loop is kept lean: out-parameters are
    made once, and a top-level object's matrix needs no composing."""
    api = _api()
    crop = _crop_box(page)
    left, bottom, right, top = crop if crop is not None else (-math.inf, -math.inf, math.inf, math.inf)
    found: set[int] = set()
    white: list[tuple[int, tuple[float, float, float, float]]] = []
    total = 0
    size, own = api.size, api.matrix
    r, g, b, a = api.rgba
    size_out, own_out = ctypes.byref(size), ctypes.byref(own)
    rgba_out = tuple(ctypes.byref(c) for c in api.rgba)
    render_mode, get_matrix, font_size = api.render_mode, api.get_matrix, api.font_size
    fill_colour, stroke_colour = api.fill_colour, api.stroke_colour
    for handle, matrix in _text_objects(api, ctypes.cast(page.raw, ctypes.c_void_p).value):
        total += 1
        mode = render_mode(handle)
        if mode in _INVISIBLE_MODES:
            found.add(handle)
            continue
        if get_matrix(handle, own_out):
            placed = (own.a, own.b, own.c, own.d, own.e, own.f)
            if matrix is not _IDENTITY:
                placed = _compose(placed, matrix)
        else:
            placed = matrix
        if font_size(handle, size_out) and size.value * math.sqrt(abs(placed[0] * placed[3] - placed[1] * placed[2])) < _MIN_SIZE:
            found.add(handle)
            continue
        box = None
        if not (left <= placed[4] <= right and bottom <= placed[5] <= top):
            box = _bounds(api, handle, matrix)  # starts outside the page: is any of it on the page?
            if box is not None and crop is not None and _outside(box, crop):
                found.add(handle)
                continue
        if not (stroke_colour if mode in _STROKE_ONLY_MODES else fill_colour)(handle, *rgba_out):
            continue
        if a.value == 0:
            found.add(handle)
        elif r.value >= _WHITE and g.value >= _WHITE and b.value >= _WHITE:
            box = box or _bounds(api, handle, matrix)
            if box is not None:
                white.append((handle, box))
    if white:
        found.update(_on_white(page, crop, white))
    return found, bool(found) and len(found) == total


def shown_text(textpage, count: int, concealed: set[int]) -> str:
    """The page's text, in PDFium's reading order, without the characters of concealed
    objects, around the places where they sat between shown text (`shown.around`; ""
    when there are none). Where dropped characters stood between two words, a space
    keeps them apart."""
    api = _api()
    handle = ctypes.cast(textpage.raw, ctypes.c_void_p).value
    text_object, unicode = api.text_object, api.unicode
    whole = textpage.get_text_range()  # one call for every character, when it has one unit per index
    if len(whole) != count:
        whole = None
    out: list[str] = []
    cuts: list[int] = []
    last_kept = -1
    dropped = False
    for index in range(count):
        address = text_object(handle, index)
        if address in concealed:
            if not dropped:
                cuts.append(len(out))
            dropped = True
            continue
        if whole is not None:
            char = whole[index]
        else:
            code = unicode(handle, index)
            char = chr(code) if 0 < code < 0x110000 else " "  # one character a piece: `cuts` are offsets
        if dropped and out and last_kept >= 0 and address and not out[-1].isspace() and not char.isspace():
            if _gap(api, handle, last_kept, index):
                out.append(" ")
        dropped = False
        out.append(char)
        last_kept = index
    text = "".join(out)  # a character a piece (\r\n and surrogate pairs are two), so cuts are offsets
    seen = around(text, cuts)
    if seen is None:
        return ""
    seen = seen.encode("utf-16-le", errors="surrogatepass").decode("utf-16-le", errors="replace")
    return seen.replace("\r\n", "\n").replace("\r", "\n")


def _gap(api, textpage: int, before: int, after: int) -> bool:
    """Whether two characters stand apart (a space's width, about) on their line."""
    boxes = []
    for index in (before, after):
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        if not api.char_box(textpage, index, ctypes.byref(left), ctypes.byref(right), ctypes.byref(bottom),
                            ctypes.byref(top)):
            return True
        boxes.append((left.value, right.value, bottom.value, top.value))
    (_, right_a, bottom_a, top_a), (left_b, _, bottom_b, top_b) = boxes
    height = max(top_a - bottom_a, top_b - bottom_b, 0.1)
    return abs(left_b - right_a) > 0.15 * height or abs(bottom_b - bottom_a) > height


class _Api:
    """The PDFium functions the screening calls for every object and character, with
    handles as plain integers: no pointer object built and cast per call."""

    def __init__(self) -> None:
        import pypdfium2.raw as raw

        handle, integer, floats = ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)
        uints, doubles = ctypes.POINTER(ctypes.c_uint), ctypes.POINTER(ctypes.c_double)

        def bind(function, restype, *argtypes):
            return ctypes.CFUNCTYPE(restype, *argtypes)(ctypes.cast(function, ctypes.c_void_p).value)

        self.count_objects = bind(raw.FPDFPage_CountObjects, integer, handle)
        self.get_object = bind(raw.FPDFPage_GetObject, handle, handle, integer)
        self.count_form_objects = bind(raw.FPDFFormObj_CountObjects, integer, handle)
        self.get_form_object = bind(raw.FPDFFormObj_GetObject, handle, handle, ctypes.c_ulong)
        self.object_type = bind(raw.FPDFPageObj_GetType, integer, handle)
        self.render_mode = bind(raw.FPDFTextObj_GetTextRenderMode, integer, handle)
        self.get_matrix = bind(raw.FPDFPageObj_GetMatrix, integer, handle, ctypes.POINTER(raw.FS_MATRIX))
        self.font_size = bind(raw.FPDFTextObj_GetFontSize, integer, handle, floats)
        self.fill_colour = bind(raw.FPDFPageObj_GetFillColor, integer, handle, uints, uints, uints, uints)
        self.stroke_colour = bind(raw.FPDFPageObj_GetStrokeColor, integer, handle, uints, uints, uints, uints)
        self.bounds = bind(raw.FPDFPageObj_GetBounds, integer, handle, floats, floats, floats, floats)
        self.text_object = bind(raw.FPDFText_GetTextObject, handle, handle, integer)
        self.unicode = bind(raw.FPDFText_GetUnicode, ctypes.c_uint, handle, integer)
        self.char_box = bind(raw.FPDFText_GetCharBox, integer, handle, integer, doubles, doubles, doubles, doubles)
        self.text, self.form = raw.FPDF_PAGEOBJ_TEXT, raw.FPDF_PAGEOBJ_FORM
        self.size, self.matrix, self.form_matrix = ctypes.c_float(), raw.FS_MATRIX(), raw.FS_MATRIX()
        self.rgba = tuple(ctypes.c_uint() for _ in range(4))


_API: list[_Api] = []


def _api() -> _Api:
    if not _API:
        _API.append(_Api())
    return _API[0]


def _text_objects(api: _Api, page: int) -> Iterator[tuple[int, tuple[float, ...]]]:
    """(text object, matrix of the forms around it) for every text object of the page,
    at most `_MAX_OBJECTS` objects visited and `_MAX_FORM_DEPTH` forms deep."""
    budget = [_MAX_OBJECTS]

    def objects(container: int, in_form: bool, matrix: tuple[float, ...], depth: int):
        count = api.count_form_objects(container) if in_form else api.count_objects(container)
        get = api.get_form_object if in_form else api.get_object
        text, form, object_type = api.text, api.form, api.object_type
        for index in range(min(count, budget[0])):
            handle = get(container, index)
            if not handle:
                continue
            kind = object_type(handle)
            if kind == text:
                yield handle, matrix
            elif kind == form and depth < _MAX_FORM_DEPTH:
                own = raw_matrix = api.form_matrix
                inner = matrix
                if api.get_matrix(handle, ctypes.byref(raw_matrix)):
                    inner = _compose((own.a, own.b, own.c, own.d, own.e, own.f), matrix)
                yield from objects(handle, True, inner, depth + 1)
        budget[0] -= count

    yield from objects(page, False, _IDENTITY, 0)


def _compose(first: tuple[float, ...], then: tuple[float, ...]) -> tuple[float, ...]:
    """The matrix of `first` followed by `then` (PDF row-vector convention)."""
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = then
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2, e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _determinant(matrix: tuple[float, ...]) -> float:
    return matrix[0] * matrix[3] - matrix[1] * matrix[2]


def _bounds(api: _Api, handle: int, matrix: tuple[float, ...]) -> tuple[float, float, float, float] | None:
    """The object's box in page space (left, bottom, right, top)."""
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    if not api.bounds(handle, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)):
        return None
    a, b, c, d, e, f = matrix
    xs, ys = [], []
    for x, y in ((left.value, bottom.value), (left.value, top.value), (right.value, bottom.value), (right.value, top.value)):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    return min(xs), min(ys), max(xs), max(ys)


def _crop_box(page) -> tuple[float, float, float, float] | None:
    try:
        left, bottom, right, top = page.get_cropbox()
    except Exception:
        return None
    return left, bottom, right, top


def _outside(box: tuple[float, ...], crop: tuple[float, ...]) -> bool:
    left, bottom, right, top = box
    return right <= crop[0] or left >= crop[2] or top <= crop[1] or bottom >= crop[3]


def _on_white(page, crop, white: list[tuple[int, tuple[float, float, float, float]]]) -> set[int]:
    """Which white text objects stand on white: the page rendered in grey at 36 dpi,
    the median of thin strips just above and below each object's box (what is behind
    the text, not the text itself nor black words drawn over it)."""
    import numpy

    found: set[int] = set()
    try:
        if page.get_rotation() or crop is None:
            return {address for address, _ in white}  # boxes do not map simply: count them concealed
        pixels = page.render(scale=_SCALE, grayscale=True).to_numpy()
    except Exception:
        return {address for address, _ in white}
    if pixels.ndim == 3:
        pixels = pixels[:, :, 0]
    height, width = pixels.shape[:2]
    for address, (left, bottom, right, top) in white:
        x0, x1 = max(0, int((left - crop[0]) * _SCALE)), min(width, int(math.ceil((right - crop[0]) * _SCALE)))
        y_top, y_bottom = int((crop[3] - top) * _SCALE), int(math.ceil((crop[3] - bottom) * _SCALE))
        strips = [pixels[max(0, y_top - 3):max(0, y_top - 1), x0:x1],
                  pixels[min(height, y_bottom + 1):min(height, y_bottom + 3), x0:x1]]
        behind = numpy.concatenate([strip.ravel() for strip in strips])
        if behind.size == 0 or float(numpy.median(behind)) >= _ON_WHITE:
            found.add(address)
    return found


# --- pdfminer -------------------------------------------------------------------------


def miner_converter(manager, out):
    """A pdfminer TextConverter that also writes the page as shown (to `shown`)."""
    from pdfminer.converter import TextConverter
    from pdfminer.layout import LAParams, LTChar, LTContainer, LTText, LTTextBox

    class MinerConverter(TextConverter):
        def __init__(self) -> None:
            super().__init__(manager, out, laparams=LAParams())
            self.shown: list[str] = []
            self.cuts: list[int] = []
            self._length = 0
            self._hidden_chars: set[int] = set()
            self._conceal = False

        def render_string(self, textstate, seq, ncs, graphicstate) -> None:
            mode = getattr(textstate, "render", 0)
            colour = graphicstate.scolor if mode in _STROKE_ONLY_MODES else graphicstate.ncolor
            self._conceal = mode in _INVISIBLE_MODES or _white(colour)
            super().render_string(textstate, seq, ncs, graphicstate)

        def render_char(self, matrix, font, fontsize, scaling, rise, cid, ncs, graphicstate) -> float:
            advance = super().render_char(matrix, font, fontsize, scaling, rise, cid, ncs, graphicstate)
            char = self.cur_item._objs[-1] if self.cur_item._objs else None
            if isinstance(char, LTChar) and (self._conceal or char.size < _MIN_SIZE):
                self._hidden_chars.add(id(char))
            return advance

        def receive_layout(self, ltpage) -> None:
            super().receive_layout(ltpage)

            def render(item) -> None:
                if isinstance(item, LTChar) and id(item) in self._hidden_chars:
                    if not self.cuts or self.cuts[-1] != self._length:
                        self.cuts.append(self._length)
                elif isinstance(item, LTContainer):
                    for child in item:
                        render(child)
                elif isinstance(item, LTText):
                    self._add(item.get_text())
                if isinstance(item, LTTextBox):
                    self._add("\n")

            render(ltpage)
            self._hidden_chars.clear()

        def _add(self, text: str) -> None:
            self.shown.append(text)
            self._length += len(text)

        def visible(self) -> str | None:
            """The pages read so far as shown, around concealed text (`shown.around`)."""
            return around("".join(self.shown), self.cuts) if self.cuts else None

    return MinerConverter()


def _white(colour) -> bool:
    """A pdfminer colour (grey, RGB or CMYK components in 0..1) that is white."""
    if isinstance(colour, (int, float)):
        return colour >= _WHITE / 255
    if isinstance(colour, (tuple, list)) and colour and all(isinstance(c, (int, float)) for c in colour):
        if len(colour) == 1:
            return colour[0] >= _WHITE / 255
        if len(colour) == 3:
            return min(colour) >= _WHITE / 255
        if len(colour) == 4:
            return max(colour) <= 1 - _WHITE / 255
    return False
