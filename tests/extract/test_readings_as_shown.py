"""Second readings as a reader is shown the text (extract/shown.py, css.py,
pdfvisible.py, office.py's WordText, text.py's HtmlText): junk hidden between the words
of a registered excerpt cannot split it in both readings, ordinary documents get no
second reading, and the second reading keeps only the stretches around hidden text."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp.extract import EXTRACTORS, Context, walk
from dlp.extract.css import conceals, declarations
from dlp.extract.shown import REACH, around
from dlp.extract.text import html_to_text
from dlp.types import Action, Destination, Item, Part

from helpers import prose, scanner_with, words

from . import builders as b

SECRET = " ".join(words(400, seed=43))
EXCERPT = SECRET.split()[150:175]  # 25 words
FAR = prose(300, 8)  # ordinary text far from the junk
MAIL = Destination(channel="mail")


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return scanner_with(tmp_path_factory.mktemp("shown"), {"plan": SECRET})


def extract(data: bytes, name: str) -> list:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context()))


def readings(outputs) -> dict[str, str]:
    return {o.locator: o.text for o in outputs if isinstance(o, Part) and o.meta.get("reading") == "visible"}


def interleave(junk) -> list[tuple[str, bool]]:
    """(piece, hidden) for the excerpt with a junk piece after every third word."""
    pieces = []
    for i, w in enumerate(EXCERPT):
        pieces.append((w + " ", False))
        if i % 3 == 0:
            pieces.append((junk(i), True))
    return pieces


# --- DOCX ------------------------------------------------------------------------------

def docx_with(run_properties: str, styles: str = "", wrap: tuple[str, str] = ("", "")) -> bytes:
    runs = "".join(
        f"{wrap[0]}<w:r><w:rPr>{run_properties}</w:rPr><w:{'delText' if 'del' in wrap[0] else 't'} "
        f'xml:space="preserve">{piece}</w:{"delText" if "del" in wrap[0] else "t"}></w:r>{wrap[1]}'
        if hidden else f'<w:r><w:t xml:space="preserve">{piece}</w:t></w:r>'
        for piece, hidden in interleave(lambda i: f"zq{i}x "))
    extra = {"word/styles.xml": f'<?xml version="1.0"?><w:styles xmlns:w="{b.W}">{styles}</w:styles>'} if styles else {}
    return b.docx_by_parts({"word/document.xml": f"<w:p><w:r><w:t>{FAR}</w:t></w:r></w:p><w:p>{runs}</w:p>"
                                                 f"<w:p><w:r><w:t>{FAR}</w:t></w:r></w:p>"}, extra)


HIDDEN_STYLE = ('<w:style w:type="character" w:styleId="Secret"><w:rPr><w:vanish/></w:rPr></w:style>'
                '<w:style w:type="character" w:styleId="Secret2"><w:basedOn w:val="Secret"/></w:style>')
DOCX_JUNK = {
    "w:vanish": ("<w:vanish/>", "", ("", "")),
    "a hidden character style": ('<w:rStyle w:val="Secret"/>', HIDDEN_STYLE, ("", "")),
    "a style based on a hidden one": ('<w:rStyle w:val="Secret2"/>', HIDDEN_STYLE, ("", "")),
    "tracked deletions": ("", "", ('<w:del w:id="1" w:author="x">', "</w:del>")),
    "white text": ('<w:color w:val="FFFFFF"/>', "", ("", "")),
    "1.5 pt text": ('<w:sz w:val="3"/>', "", ("", "")),
}


@pytest.mark.parametrize("name", list(DOCX_JUNK))
def test_docx_junk_between_words_cannot_split_the_excerpt(scanner, name):
    data = docx_with(*DOCX_JUNK[name])
    shown = readings(extract(data, "d.docx"))
    assert list(shown) == ["d.docx!/word/document.xml#visible"]
    assert " ".join(EXCERPT) in " ".join(shown["d.docx!/word/document.xml#visible"].split())
    assert FAR[900:1100] not in shown["d.docx!/word/document.xml#visible"]  # only the stretch around the junk
    report = scanner.scan_bytes(data, "d.docx", MAIL)
    assert report.action == Action.BLOCK and {f.locator for f in report.findings} == {"d.docx!/word/document.xml#visible"}


DOCX_SHOWN = {
    "vanish switched off": '<w:vanish w:val="0"/>',
    "white text on a shaded run": '<w:color w:val="FFFFFF"/><w:shd w:val="clear" w:fill="1F3864"/>',
    "white text highlighted": '<w:color w:val="FFFFFF"/><w:highlight w:val="black"/>',
    "small but readable (6 pt)": '<w:sz w:val="12"/>',
}


@pytest.mark.parametrize("name", list(DOCX_SHOWN))
def test_docx_text_a_reader_sees_makes_no_second_reading(name):
    assert readings(extract(docx_with(DOCX_SHOWN[name]), "d.docx")) == {}


def test_docx_white_text_in_a_shaded_cell_or_a_text_box_is_shown():
    cell = ('<w:tbl><w:tr><w:tc><w:tcPr><w:shd w:val="clear" w:fill="000000"/></w:tcPr><w:p><w:r><w:t>a b</w:t></w:r>'
            '<w:r><w:rPr><w:color w:val="FFFFFF"/></w:rPr><w:t>white</w:t></w:r><w:r><w:t>c d</w:t></w:r></w:p>'
            "</w:tc></w:tr></w:tbl>")
    box = ('<w:p><w:r><w:t>a b</w:t></w:r><w:r><w:txbxContent><w:p><w:r><w:rPr><w:color w:val="FFFFFF"/></w:rPr>'
           "<w:t>white</w:t></w:r></w:p></w:txbxContent></w:r><w:r><w:t>c d</w:t></w:r></w:p>")
    for body in (cell, box):
        assert readings(extract(b.docx_by_parts({"word/document.xml": body}), "d.docx")) == {}


def test_docx_a_hidden_paragraph_before_all_text_splits_nothing():
    body = f'<w:p><w:r><w:rPr><w:vanish/></w:rPr><w:t>hidden</w:t></w:r></w:p><w:p><w:r><w:t>{FAR}</w:t></w:r></w:p>'
    assert readings(extract(b.docx_by_parts({"word/document.xml": body}), "d.docx")) == {}


def test_a_registered_document_with_hidden_text_registers_its_text_once(tmp_path):
    from dlp.extract.documents import read_document

    path = tmp_path / "d.docx"
    path.write_bytes(docx_with("<w:vanish/>"))
    text, _, problems = read_document(path)
    assert " ".join(text.split()).count(f"{EXCERPT[1]} {EXCERPT[2]}") == 1  # not once more from the #visible reading
    assert not problems


# --- HTML ------------------------------------------------------------------------------

def html_with(junk, head: str = "") -> bytes:
    return (f"<html><head>{head}</head><body><p>{FAR}</p><p>"
            + "".join(piece if not hidden else junk(piece) for piece, hidden in interleave(lambda i: i))
            + f"</p><p>{FAR}</p></body></html>").encode()


HTML_JUNK = {
    "display:none": (lambda i: f'<span style="display:none">zq{i}x</span>', ""),
    "visibility:hidden": (lambda i: f'<span style="visibility: hidden">zq{i}x</span>', ""),
    "font-size:0": (lambda i: f'<span style="font-size:0">zq{i}x</span>', ""),
    "font-size:1px": (lambda i: f'<span style="font-size: 1px">zq{i}x</span>', ""),
    "opacity:0": (lambda i: f'<span style="opacity:0">zq{i}x</span>', ""),
    "transparent colour": (lambda i: f'<span style="color:transparent">zq{i}x</span>', ""),
    "off-screen": (lambda i: f'<span style="position:absolute;left:-9999px">zq{i}x</span>', ""),
    "zero box": (lambda i: f'<span style="width:0;height:0;overflow:hidden;display:inline-block">zq{i}x</span>', ""),
    "the hidden attribute": (lambda i: f"<span hidden>zq{i}x</span>", ""),
    "a class rule": (lambda i: f'<span class="n">zq{i}x</span>', "<style>.n { display: none }</style>"),
    "an id rule": (lambda i: f'<span id="j{i}">zq{i}x</span>',
                   "<style>" + "".join(f"#j{i}{{visibility:hidden}}" for i in range(0, 30, 3)) + "</style>"),
    "comments": (lambda i: f"<!--zq{i}x-->", ""),
}


@pytest.mark.parametrize("name", list(HTML_JUNK))
def test_html_junk_between_words_cannot_split_the_excerpt(scanner, name):
    junk, head = HTML_JUNK[name]
    data = html_with(junk, head)
    shown = readings(extract(data, "p.html"))
    assert list(shown) == ["p.html#visible"]
    assert " ".join(EXCERPT) in " ".join(shown["p.html#visible"].split())
    assert FAR[900:1100] not in shown["p.html#visible"]
    assert scanner.scan_bytes(data, "p.html", MAIL).action == Action.BLOCK


BIDI = {
    "bdo dir=rtl": '<bdo dir="rtl">{}</bdo>',
    "bidi-override, direction rtl": '<span style="unicode-bidi:bidi-override; direction:rtl">{}</span>',
    "bidi-override under an rtl parent": '<div dir="rtl"><span style="unicode-bidi: bidi-override">{}</span></div>',
    "isolate-override by a class": '<span class="r">{}</span>',
}


@pytest.mark.parametrize("name", list(BIDI))
def test_html_text_stored_reversed_is_read_in_the_order_shown(scanner, name):
    head = "<style>.r{unicode-bidi:isolate-override;direction:rtl}</style>"
    data = f"<html><head>{head}</head><body><p>{FAR}</p>{BIDI[name].format(' '.join(EXCERPT)[::-1])}</body></html>"
    shown = readings(extract(data.encode(), "p.html"))
    assert " ".join(EXCERPT) in " ".join(shown["p.html#visible"].split())
    assert scanner.scan_bytes(data.encode(), "p.html", MAIL).action == Action.BLOCK


def test_html_rtl_without_override_is_not_reversed():
    data = f'<html><body><p dir="rtl">{" ".join(EXCERPT)}</p></body></html>'.encode()
    assert readings(extract(data, "p.html")) == {}


ORDINARY_HTML = {
    "a page with a hidden menu at the top": f'<div style="display:none">menu</div><p>{FAR}</p>',
    "a comment in the head": f"<!-- analytics --><p>{FAR}</p>",
    "a page ending with a hidden dialog": f'<p>{FAR}</p><div hidden>dialog text</div>',
    "a script and a style": f"<style>p {{color: red}}</style><p>{FAR}</p><script>var a = 1;</script>",
}


@pytest.mark.parametrize("name", list(ORDINARY_HTML))
def test_ordinary_html_gets_no_second_reading(name):
    data = f"<html><head></head><body>{ORDINARY_HTML[name]}</body></html>".encode()
    assert readings(extract(data, "p.html")) == {}


def test_data_attributes_that_hold_words_are_read():
    data = f'<html><body><div data-notes="{" ".join(EXCERPT)}" data-id="x7" class="a b">hi</div></body></html>'
    text = next(o.text for o in extract(data.encode(), "p.html") if isinstance(o, Part))
    assert " ".join(EXCERPT) in text and "x7" not in text


@pytest.mark.parametrize("style, hidden", [
    ("display: none", True), ("DISPLAY:NONE !important", True), ("display:block", False),
    ("opacity: 0.0", True), ("opacity:0.5", False), ("font-size: 0.05em", True), ("font-size: .8em", False),
    ("font-size:12px", False), ("left:-10000px;position:absolute", True), ("left:-20px", False),
    ("clip: rect(0 0 0 0)", True), ("color: rgba(0,0,0,0)", True), ("color: rgba(0,0,0,0.8)", False),
    ("transform: scale(0)", True), ("max-height:0;overflow:hidden", True), ("height:0", False),
])
def test_css_declarations_that_conceal(style, hidden):
    assert conceals(declarations(style)) is hidden


# --- PDF -------------------------------------------------------------------------------

def pdf_with(draw_junk, fill_page: tuple[float, float, float] | None = None) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    if fill_page:
        c.setFillColorRGB(*fill_page)
        c.rect(0, 0, A4[0], A4[1], fill=1, stroke=0)
    y = 800
    c.setFont("Helvetica", 9)
    c.setFillColorRGB(1, 1, 1) if fill_page else c.setFillColorRGB(0, 0, 0)
    for start in range(0, 400, 12):
        c.drawString(40, y, " ".join(FAR.split()[start % 300:start % 300 + 12]))
        y -= 12
    x = 40.0
    for piece, hidden in interleave(lambda i: f"zq{i}x"):
        if hidden:
            c.saveState()
            draw_junk(c, x, y, piece)
            c.restoreState()
        else:
            c.setFont("Helvetica", 9)
            c.drawString(x, y, piece)
            x += stringWidth(piece, "Helvetica", 9)
            if x > 500:
                x, y = 40.0, y - 12
    c.showPage()
    c.save()
    return out.getvalue()


def _invisible(c, x, y, piece):
    text = c.beginText(x, y)
    text.setFont("Helvetica", 9)
    text.setTextRenderMode(3)
    text.textOut(piece)
    c.drawText(text)


def _scaled(c, x, y, piece):
    c.translate(x, y)
    c.scale(0.05, 0.05)
    c.setFont("Helvetica", 9)
    c.drawString(0, 0, piece)


def _white(c, x, y, piece):
    c.setFillColorRGB(1, 1, 1)
    c.setFont("Helvetica", 9)
    c.drawString(x, y, piece)


def _off_page(c, x, y, piece):
    c.setFont("Helvetica", 9)
    c.drawString(x, y + 2000, piece)


def _in_a_scaled_form(c, x, y, piece):
    name = f"f{abs(hash(piece))}"
    c.beginForm(name)
    c.setFont("Helvetica", 9)
    c.drawString(0, 0, piece)
    c.endForm()
    c.translate(x, y)
    c.scale(0.04, 0.04)
    c.doForm(name)


PDF_JUNK = {"render mode 3": _invisible, "scaled to 0.45 pt": _scaled, "white on white": _white,
            "off the page": _off_page, "tiny inside a form XObject": _in_a_scaled_form}


@pytest.mark.parametrize("name", list(PDF_JUNK))
def test_pdf_junk_between_words_cannot_split_the_excerpt(scanner, name):
    data = pdf_with(PDF_JUNK[name])
    shown = readings(extract(data, "d.pdf"))
    assert list(shown) == ["d.pdf#visible"]
    assert " ".join(EXCERPT) in " ".join(shown["d.pdf#visible"].split())
    assert scanner.scan_bytes(data, "d.pdf", MAIL).action == Action.BLOCK


def test_pdf_white_text_on_a_dark_page_is_shown():
    data = pdf_with(lambda c, x, y, piece: None, fill_page=(0.1, 0.1, 0.3))
    assert readings(extract(data, "d.pdf")) == {}


def test_pdf_an_ocr_layer_under_a_scan_is_not_read_twice():
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    text = c.beginText(40, 800)
    text.setTextRenderMode(3)
    for line in range(30):
        text.textLine(FAR[line * 40:(line + 1) * 40])
    c.drawText(text)
    c.showPage()
    c.save()
    outputs = extract(out.getvalue(), "scan.pdf")
    assert readings(outputs) == {} and FAR[:40] in next(o.text for o in outputs if isinstance(o, Part))


# --- the stretches ---------------------------------------------------------------------

def test_around_keeps_the_stretches_near_cuts_between_text():
    text = "a " * 2000
    assert around(text, [0]) is None and around(text, [len(text)]) is None
    one = around(text, [2000])
    assert one is not None and 2 * REACH - 70 <= len(one) <= 2 * REACH + 130
    two = around(text, [1000, 1100])
    assert two.count("\n\n") == 0  # near cuts share one stretch
    apart = around(text, [500, 3500])
    assert apart.count("\n\n") == 1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=8), st.integers(0, 10_000))
def test_every_cut_between_text_lies_inside_a_kept_stretch(cuts, seed):
    text = prose(500, seed)[:3000]
    kept = around(text, cuts)
    inside = [cut for cut in cuts if len(text) - len(text.lstrip()) < cut < len(text.rstrip())]
    if not inside:
        assert kept is None
        return
    for cut in inside:  # the words on both sides of every cut are kept
        left, right = text[max(0, cut - 40):cut].split()[-1:], text[cut:cut + 40].split()[:1]
        assert all(word in kept for word in left + right)


# --- right-to-left overrides in any text -----------------------------------------------

@pytest.mark.parametrize("stored, shown", [
    ("\u202edrow\u202c next", "word next"),
    ("a \u202eowt eno\u202c b", "a one two b"),
    ("\u202eline one\nline two", "eno enil\nline two"),  # an override ends with its paragraph
])
def test_visual_order_reverses_override_runs(stored, shown):
    from dlp.extract.shown import visual_order

    assert " ".join(visual_order(f"before {stored} after").split()) == " ".join(f"before {shown} after".split())


def test_a_text_file_with_overrides_is_read_in_visual_order_too(scanner):
    stored = " ".join("\u202e" + w[::-1] + "\u202c" for w in EXCERPT)
    data = f"{FAR}\n{stored}\n{FAR}".encode()
    outputs = extract(data, "n.txt")
    visual = {o.locator: o.text for o in outputs if isinstance(o, Part) and o.meta.get("reading") == "visual"}
    assert " ".join(EXCERPT) in " ".join(visual["n.txt#visual"].split())
    assert scanner.scan_bytes(data, "n.txt", MAIL).action == Action.BLOCK
    assert "n.txt#visual" not in {o.locator for o in extract(FAR.encode(), "n.txt") if isinstance(o, Part)}


# --- hostile structure stays linear --------------------------------------------------------

def test_stray_end_tags_deep_overrides_and_brace_less_sheets_stay_cheap():
    from dlp.extract.css import StyleRules
    from dlp.extract.text import parse_html

    parsed = parse_html("<p>a b</p>" + "<span>" * 50_000 + "</i>" * 50_000 + "<p>c d</p>")  # was quadratic
    assert "c d" in parsed.text()
    parsed = parse_html('<bdo dir="rtl">xy ' * 50_000)  # only 16 nested overrides are honoured
    assert parsed.visible() is not None
    rules = StyleRules()
    rules.add("a" * 500_000 + "{display:none} .x{display:none}")  # was quadratic in the selector's length
    assert rules.rules[".x"] == ["display:none"]


@pytest.mark.parametrize("markup, text", [
    ("<p>reto-<br>\noling</p>", "\nreto-\n oling\n"),  # one line break, as a browser shows it
    ("<p>reto-<br>\r\n<b>oling</b></p>", "\nreto-\n  oling\n"),
    ("<p>a<br>\n<br>\nb</p>", "\na\n\n\n\nb\n"),  # elsewhere a blank line stays one: a sentence ends there
    ("<pre>reto-<br>\noling</pre>", "reto-\n\noling"),  # in <pre> the source's line breaks show
])
def test_the_line_break_after_a_br_after_a_hyphen_shows_as_blanks(markup, text):
    assert html_to_text(markup) == text
