"""Everything a reader can see is read (issue 14, hole 3): a registered 60-word excerpt
hidden in each place of a DOCX, XLSX, PPTX, ODT or HTML file made by real libraries is
blocked through the real scanner; what dlp knowingly skips is a `not_read` problem."""

from __future__ import annotations

import io
import re
import struct
import zipfile

import pytest

from dlp.types import Action, Destination

from helpers import prose, scanner_with, words

SECRET = " ".join(words(500, seed=31))
EXCERPT = " ".join(SECRET.split()[200:260])  # 60 words
MAIL = Destination(channel="mail")


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return scanner_with(tmp_path_factory.mktemp("hidden"), {"plan": SECRET})


def rezip(data: bytes, replace: dict[str, bytes | str] | None = None, add: dict[str, bytes | str] | None = None,
          edit: dict[str, tuple[str, str]] | None = None) -> bytes:
    """A copy of a zip package with members replaced, added, or edited (one substitution each)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info)
            if replace and info.filename in replace:
                body = replace[info.filename]
            if edit and info.filename in edit:
                old, new = edit[info.filename]
                text = body.decode("utf-8")
                assert old in text, (info.filename, old)
                body = text.replace(old, new, 1)
            target.writestr(info.filename, body)
        for name, body in (add or {}).items():
            target.writestr(name, body)
    return out.getvalue()


# --- DOCX (python-docx, then the parts Word writes that python-docx cannot) ---------


def docx_base(build=None) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(prose(40, 1))
    if build:
        build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_alt_chunk(kind: str) -> bytes:
    chunk = {
        "html": ("afchunk.htm", f"<html><body><p>{EXCERPT}</p></body></html>", "application/xhtml+xml"),
        "rtf": ("afchunk.rtf", "{\\rtf1\\ansi " + EXCERPT + "\\par}", "application/rtf"),
        "txt": ("afchunk.txt", EXCERPT, "text/plain"),
    }[kind]
    name, body, ctype = chunk
    rel = ('<Relationship Id="rIdChunk1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" '
           f'Target="{name}"/></Relationships>')
    return rezip(docx_base(), add={f"word/{name}": body}, edit={
        "word/document.xml": ("<w:sectPr", '<w:altChunk r:id="rIdChunk1"/><w:sectPr'),
        "word/_rels/document.xml.rels": ("</Relationships>", rel),
        "[Content_Types].xml": ("</Types>", f'<Override PartName="/word/{name}" ContentType="{ctype}"/></Types>'),
    })


def docx_custom_property() -> bytes:
    custom = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
              'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
              '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Review notes">'
              f"<vt:lpwstr>{EXCERPT}</vt:lpwstr></property></Properties>")
    return rezip(docx_base(), add={"docProps/custom.xml": custom})


def docx_second_section_first_page_header(document) -> None:
    from docx.enum.section import WD_SECTION

    section = document.add_section(WD_SECTION.NEW_PAGE)
    section.different_first_page_header_footer = True
    section.header.is_linked_to_previous = False
    section.first_page_header.is_linked_to_previous = False
    section.first_page_header.paragraphs[0].text = EXCERPT


def docx_even_footer(document) -> None:
    document.settings.odd_and_even_pages_header_footer = True
    document.sections[0].even_page_footer.paragraphs[0].text = EXCERPT


def docx_hidden_run(document) -> None:
    run = document.add_paragraph().add_run(EXCERPT)
    run.font.hidden = True


def docx_comment(document) -> None:
    paragraph = document.add_paragraph("reviewed")
    document.add_comment(paragraph.runs, text=EXCERPT, author="R", initials="R")


def docx_picture_alt_text() -> bytes:
    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(image, "PNG")

    def build(document):
        document.add_picture(io.BytesIO(image.getvalue()))
        document.inline_shapes[0]._inline.docPr.set("descr", EXCERPT)

    return docx_base(build)


def docx_chart() -> bytes:
    c = "http://schemas.openxmlformats.org/drawingml/2006/chart"
    points = "".join(f'<c:pt idx="{i}"><c:v>{w}</c:v></c:pt>' for i, w in enumerate(EXCERPT.split()))
    chart = (f'<?xml version="1.0" encoding="UTF-8"?><c:chartSpace xmlns:c="{c}"><c:chart><c:plotArea><c:barChart>'
             f"<c:ser><c:cat><c:strRef><c:strCache>{points}</c:strCache></c:strRef></c:cat></c:ser>"
             "</c:barChart></c:plotArea></c:chart></c:chartSpace>")
    return rezip(docx_base(), add={"word/charts/chart1.xml": chart})


def docx_smartart() -> bytes:
    dgm = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    data = (f'<?xml version="1.0" encoding="UTF-8"?><dgm:dataModel xmlns:dgm="{dgm}" xmlns:a="{a}"><dgm:ptLst>'
            f'<dgm:pt modelId="1"><dgm:t><a:p><a:r><a:t>{EXCERPT}</a:t></a:r></a:p></dgm:t></dgm:pt>'
            "</dgm:ptLst></dgm:dataModel>")
    return rezip(docx_base(), add={"word/diagrams/data1.xml": data})


def docx_custom_xml() -> bytes:
    return rezip(docx_base(), add={"customXml/item9.xml": f'<?xml version="1.0"?><notes><n>{EXCERPT}</n></notes>'})


def ole10_native(name: str, payload: bytes) -> bytes:
    """An OLE packager object (what Word embeds for a dropped file), as an OLE compound file."""
    native = name.encode() + b"\0" + b"C:\\" + name.encode() + b"\0" + b"\0\0\0\0"
    temp = b"C:\\tmp\\" + name.encode() + b"\0"
    native += struct.pack("<I", len(temp)) + temp + struct.pack("<I", len(payload)) + payload
    body = struct.pack("<IH", len(native) + 2, 2) + native
    return make_ole({"\x01Ole10Native": body, "\x01CompObj": b"\x01\x00\xfe\xff" + b"\0" * 24})


def make_ole(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (version 3, 512-byte sectors) holding `streams`, each
    padded with NULs to a multiple of 4096 bytes so that none lives in the mini stream."""
    sector = 512
    names = list(streams)
    datas = [streams[n] + b"\0" * (4096 - len(streams[n]) % 4096) for n in names]
    data_sectors = [len(d) // sector for d in datas]
    dir_entries = 1 + len(names)
    dir_sectors = (dir_entries * 128 + sector - 1) // sector
    total = sum(data_sectors) + dir_sectors
    fat_sectors = 1
    while fat_sectors * 128 < total + fat_sectors:
        fat_sectors += 1
    fat = []
    starts = []
    position = fat_sectors
    for count in data_sectors:
        starts.append(position)
        fat.extend(list(range(position + 1, position + count)) + [0xFFFFFFFE])
        position += count
    dir_start = position
    fat.extend(list(range(dir_start + 1, dir_start + dir_sectors)) + [0xFFFFFFFE])
    fat = [0xFFFFFFFD] * fat_sectors + fat
    fat += [0xFFFFFFFF] * (fat_sectors * 128 - len(fat))

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF) -> bytes:
        encoded = name.encode("utf-16-le") + b"\0\0"
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", 0xFFFFFFFF, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IIH", start, size, 0) + b"\0\0")

    entries = [entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)]
    for index, (name, data) in enumerate(zip(names, datas), start=1):
        right = index + 1 if index < len(names) else 0xFFFFFFFF
        entries.append(entry(name, 2, starts[index - 1], len(data), right=right))  # >= 4096: not in the mini stream
    directory = b"".join(entries).ljust(dir_sectors * sector, b"\0")
    difat = list(range(fat_sectors)) + [0xFFFFFFFF] * (109 - fat_sectors)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, fat_sectors, dir_start, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<109I", *difat))
    body = struct.pack(f"<{len(fat)}I", *fat) + b"".join(datas) + directory
    return header + body


def docx_packaged_file() -> bytes:
    return rezip(docx_base(), add={"word/embeddings/oleObject1.bin": ole10_native("notes.txt", EXCERPT.encode())})


def with_core_property(data: bytes, element: str = "dc:subject") -> bytes:
    """The excerpt as a core property (python-docx and python-pptx refuse values over 255
    characters; Word and PowerPoint do not)."""
    return rezip(data, edit={"docProps/core.xml": ("</cp:coreProperties>", f"<{element}>{EXCERPT}</{element}></cp:coreProperties>")})


# --- XLSX (openpyxl) ------------------------------------------------------------------


def xlsx(build) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active["A1"] = "quarterly figures"
    build(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_formula(book) -> None:
    book.active["B2"] = f'=IF(A1="","","{EXCERPT}")'


def xlsx_comment(book) -> None:
    from openpyxl.comments import Comment

    book.active["C3"].comment = Comment(EXCERPT, "Reviewer")


def xlsx_hidden_sheet(book) -> None:
    sheet = book.create_sheet("Scratch")
    sheet.sheet_state = "veryHidden"
    for row, chunk in enumerate(re.findall(r"(?:\S+\s*){1,20}", EXCERPT), start=1):
        sheet.cell(row=1, column=row, value=chunk.strip())


def xlsx_validation(book) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    validation = DataValidation(type="whole", prompt=EXCERPT[:250], promptTitle="Note", error=EXCERPT[250:], showInputMessage=True)
    book.active.add_data_validation(validation)
    validation.add("D4")


def xlsx_header_footer(book) -> None:
    book.active.oddHeader.center.text = EXCERPT[:240]
    book.active.oddFooter.left.text = EXCERPT[240:]


def xlsx_properties(book) -> None:
    book.properties.description = EXCERPT  # openpyxl has no length limit


def xlsx_threaded_comment() -> bytes:
    threaded = ('<?xml version="1.0" encoding="UTF-8"?><ThreadedComments '
                'xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
                f'<threadedComment ref="A1" id="{{1}}"><text>{EXCERPT}</text></threadedComment></ThreadedComments>')
    return rezip(xlsx(lambda book: None), add={"xl/threadedComments/threadedComment1.xml": threaded})


# --- PPTX (python-pptx) ---------------------------------------------------------------


def pptx(build) -> bytes:
    import pptx as python_pptx
    from pptx.util import Inches

    deck = python_pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Quarterly review"
    build(deck, slide, Inches)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def _move_text_box(slide, target, inches) -> None:
    """A text box made on a slide, moved onto a master or layout (whose python-pptx shape
    collections cannot add one): it then shows on every slide built on it."""
    box = slide.shapes.add_textbox(inches(1), inches(1), inches(4), inches(1))
    box.text_frame.text = EXCERPT
    target.shapes._spTree.append(box._element)


def pptx_master_shape(deck, slide, inches) -> None:
    _move_text_box(slide, deck.slide_master, inches)


def pptx_layout_shape(deck, slide, inches) -> None:
    _move_text_box(slide, deck.slide_layouts[5], inches)


def pptx_alt_text(deck, slide, inches) -> None:
    box = slide.shapes.add_textbox(inches(1), inches(2), inches(2), inches(1))
    box._element.nvSpPr.cNvPr.set("descr", EXCERPT)


def pptx_hidden_slide(deck, slide, inches) -> None:
    hidden = deck.slides.add_slide(deck.slide_layouts[6])
    hidden.shapes.add_textbox(inches(1), inches(1), inches(4), inches(1)).text_frame.text = EXCERPT
    hidden._element.set("show", "0")


def pptx_notes(deck, slide, inches) -> None:
    slide.notes_slide.notes_text_frame.text = EXCERPT


def pptx_chart(deck, slide, inches) -> None:
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE

    data = CategoryChartData()
    data.categories = EXCERPT.split()
    data.add_series("Volume", range(60))
    slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, inches(1), inches(1), inches(6), inches(4), data)


# --- ODT (by hand: the parts LibreOffice writes) ---------------------------------------


def odt(content_body: str = "<text:p>minutes</text:p>", meta: str = "") -> bytes:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
          'xmlns:form="urn:oasis:names:tc:opendocument:xmlns:form:1.0" '
          'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:dc="http://purl.org/dc/elements/1.1/"')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("META-INF/manifest.xml", "<manifest/>")
        archive.writestr("content.xml", f"<office:document-content {ns}><office:body><office:text>"
                         f"{content_body}</office:text></office:body></office:document-content>")
        archive.writestr("meta.xml", f"<office:document-meta {ns}><office:meta>"
                         f"<meta:generator>LibreOffice/7.4</meta:generator>{meta}</office:meta></office:document-meta>")
    return out.getvalue()


# --- HTML --------------------------------------------------------------------------

PAGE = "<!DOCTYPE html><html><head><title>Offsite</title>{head}</head><body><p>{intro}</p>{body}</body></html>"


def page(head: str = "", body: str = "") -> bytes:
    return PAGE.format(head=head, body=body, intro=prose(30, 5)).encode()


PLACES = {
    # DOCX
    "docx altChunk html": (lambda: docx_alt_chunk("html"), "a.docx"),
    "docx altChunk rtf": (lambda: docx_alt_chunk("rtf"), "a.docx"),
    "docx altChunk text": (lambda: docx_alt_chunk("txt"), "a.docx"),
    "docx core properties": (lambda: with_core_property(docx_base(), "cp:keywords"), "a.docx"),
    "docx custom property": (docx_custom_property, "a.docx"),
    "docx first-page header, section 2": (lambda: docx_base(docx_second_section_first_page_header), "a.docx"),
    "docx even-page footer": (lambda: docx_base(docx_even_footer), "a.docx"),
    "docx hidden text": (lambda: docx_base(docx_hidden_run), "a.docx"),
    "docx comment": (lambda: docx_base(docx_comment), "a.docx"),
    "docx picture alt text": (docx_picture_alt_text, "a.docx"),
    "docx chart": (docx_chart, "a.docx"),
    "docx SmartArt": (docx_smartart, "a.docx"),
    "docx custom XML": (docx_custom_xml, "a.docx"),
    "docx packaged file (OLE)": (docx_packaged_file, "a.docx"),
    # XLSX
    "xlsx formula string": (lambda: xlsx(xlsx_formula), "b.xlsx"),
    "xlsx cell comment": (lambda: xlsx(xlsx_comment), "b.xlsx"),
    "xlsx threaded comment": (xlsx_threaded_comment, "b.xlsx"),
    "xlsx very hidden sheet": (lambda: xlsx(xlsx_hidden_sheet), "b.xlsx"),
    "xlsx validation prompt": (lambda: xlsx(xlsx_validation), "b.xlsx"),
    "xlsx header and footer": (lambda: xlsx(xlsx_header_footer), "b.xlsx"),
    "xlsx properties": (lambda: xlsx(xlsx_properties), "b.xlsx"),
    # PPTX
    "pptx slide master shape": (lambda: pptx(pptx_master_shape), "c.pptx"),
    "pptx slide layout shape": (lambda: pptx(pptx_layout_shape), "c.pptx"),
    "pptx alt text": (lambda: pptx(pptx_alt_text), "c.pptx"),
    "pptx hidden slide": (lambda: pptx(pptx_hidden_slide), "c.pptx"),
    "pptx notes": (lambda: pptx(pptx_notes), "c.pptx"),
    "pptx chart categories": (lambda: pptx(pptx_chart), "c.pptx"),
    "pptx properties": (lambda: with_core_property(pptx(lambda deck, slide, inches: None)), "c.pptx"),
    # ODT
    "odt user-defined metadata": (lambda: odt(meta=f'<meta:user-defined meta:name="Notes">{EXCERPT}</meta:user-defined>'), "d.odt"),
    "odt description": (lambda: odt(meta=f"<dc:description>{EXCERPT}</dc:description>"), "d.odt"),
    "odt form control value": (lambda: odt(f'<office:forms><form:form><form:text form:name="t" '
                                           f'form:current-value="{EXCERPT}"/></form:form></office:forms>'), "d.odt"),
    "odt hidden paragraph": (lambda: odt(f'<text:hidden-paragraph text:is-hidden="true">{EXCERPT}</text:hidden-paragraph>'), "d.odt"),
    "odt table formula string": (lambda: odt('<table:table><table:table-row><table:table-cell '
                                             f'table:formula="of:=IF(FALSE();&quot;{EXCERPT}&quot;;1)">'
                                             "<text:p>1</text:p></table:table-cell></table:table-row></table:table>"), "d.odt"),
    # RTF
    "rtf comment": (lambda: ("{\\rtf1\\ansi Minutes {\\*\\atnid R}{\\*\\annotation " + EXCERPT + "}\\par}").encode(), "g.rtf"),
    "rtf document comments": (lambda: ("{\\rtf1\\ansi{\\info{\\title Minutes}{\\doccomm " + EXCERPT + "}}Minutes\\par}").encode(), "g.rtf"),
    "rtf text box": (lambda: ("{\\rtf1\\ansi Minutes{\\shp{\\*\\shpinst{\\shptxt " + EXCERPT + "}}}\\par}").encode(), "g.rtf"),
    # HTML
    "html comment": (lambda: page(body=f"<!-- {EXCERPT} -->"), "e.html"),
    "html alt": (lambda: page(body=f'<img src="x.png" alt="{EXCERPT}">'), "e.html"),
    "html title attribute": (lambda: page(body=f'<span title="{EXCERPT}">?</span>'), "e.html"),
    "html input value": (lambda: page(body=f'<input type="hidden" value="{EXCERPT}">'), "e.html"),
    "html meta description": (lambda: page(head=f'<meta name="description" content="{EXCERPT}">'), "e.html"),
    "html script": (lambda: page(body=f'<script>var notes = "{EXCERPT}";</script>'), "e.html"),
    "html style": (lambda: page(head=f"<style>/* {EXCERPT} */ p {{ color: red }}</style>"), "e.html"),
    "html iframe srcdoc": (lambda: page(body=f'<iframe srcdoc="&lt;p&gt;{EXCERPT}&lt;/p&gt;"></iframe>'), "e.html"),
    "html CDATA": (lambda: page(body=f"<svg><![CDATA[{EXCERPT}]]></svg>"), "e.html"),
    "html data URI (base64)": (lambda: page(body='<a href="data:text/plain;base64,'
                                              + __import__("base64").b64encode(EXCERPT.encode()).decode() + '">notes</a>'), "e.html"),
    "html data URI posing as a picture": (lambda: page(body='<img src="data:image/png;base64,'
                                                     + __import__("base64").b64encode(EXCERPT.encode()).decode() + '">'), "e.html"),
    "html data URI (percent-encoded)": (lambda: page(body='<object data="data:text/plain,'
                                                     + EXCERPT.replace(" ", "%20") + '"></object>'), "e.html"),
    "docx field instruction": (lambda: rezip(docx_base(), edit={"word/document.xml": (
        "<w:sectPr", f'<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> QUOTE "{EXCERPT}" '
        '</w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p><w:sectPr')}), "a.docx"),
    "xlsx number format literal": (lambda: rezip(xlsx(lambda book: None), edit={"xl/styles.xml": (
        "<fonts", f'<numFmts count="1"><numFmt numFmtId="200" formatCode=\'0;;;&quot;{EXCERPT}&quot;\'/></numFmts><fonts')}),
        "b.xlsx"),
    "txt starting with an unclosed comment": (lambda: f"<!-- draft\n{EXCERPT}\n".encode(), "f.txt"),
    "txt starting with a style element": (lambda: f"<style>p {{}}</style>\n{EXCERPT}\n".encode(), "f.txt"),
    "txt starting with an unclosed script": (lambda: f"<html><script>\n{EXCERPT}\n".encode(), "f.txt"),
    "txt starting with a tag": (lambda: f"<b>Notes</b>\n{EXCERPT}\n".encode(), "f.txt"),
    "txt behind TIFF magic": (lambda: b"II*\x00" + EXCERPT.encode(), "f.txt"),
    "txt behind gzip magic": (lambda: b"\x1f\x8b" + EXCERPT.encode(), "f.txt"),
}


@pytest.mark.parametrize("place", PLACES)
def test_excerpt_hidden_in_place_is_blocked(scanner, place):
    build, name = PLACES[place]
    report = scanner.scan_bytes(build(), name, MAIL)
    assert report.action is Action.BLOCK, (place, [p.to_dict() for p in report.problems])
    assert any(f.secret == "plan" and f.score >= 1.0 for f in report.findings)


CLEAN = {
    "docx": (lambda: docx_base(), "a.docx"),
    "docx with a picture": (lambda: rezip(docx_picture_alt_text(), edit={"word/document.xml": (EXCERPT, "logo")}), "a.docx"),
    "xlsx": (lambda: xlsx(lambda book: None), "b.xlsx"),
    "pptx": (lambda: pptx(lambda deck, slide, inches: None), "c.pptx"),
    "odt": (lambda: odt(), "d.odt"),
}


@pytest.mark.parametrize("kind", CLEAN)
def test_ordinary_documents_have_no_problem(scanner, kind):
    build, name = CLEAN[kind]
    report = scanner.scan_bytes(build(), name, MAIL)
    assert report.action is Action.ALLOW and report.problems == ()


def test_master_placeholder_prompts_are_not_text():
    """Every deck's masters say "Click to edit Master title style": reading it would make
    every registered deck match every other deck."""
    from dlp.extract import EXTRACTORS, Context, walk
    from dlp.types import Item, Part

    data = pptx(lambda deck, slide, inches: None)
    texts = "".join(o.text for o in walk(Item(locator="c.pptx", name="c.pptx", data=data), EXTRACTORS, Context())
                    if isinstance(o, Part))
    assert "Click to edit" not in texts and "Quarterly review" in texts


def test_application_properties_are_not_text():
    """Template name, application and counts are the same in every document of a template."""
    from dlp.extract import EXTRACTORS, Context, walk
    from dlp.types import Item, Part

    parts = {o.locator: o.text for o in walk(Item(locator="a.docx", name="a.docx", data=with_core_property(docx_base())),
                                             EXTRACTORS, Context()) if isinstance(o, Part)}
    assert "a.docx!/docProps/app.xml" not in parts
    assert EXCERPT in parts["a.docx!/docProps/core.xml"]


def test_vba_project_is_not_read_and_says_so(scanner):
    data = rezip(docx_base(), add={"word/vbaProject.bin": make_ole({"VBA/dir": b"\x01" * 64})})
    report = scanner.scan_bytes(data, "m.docm", MAIL)
    assert [(p.kind, p.locator) for p in report.problems] == [("not_read", "m.docm!/word/vbaProject.bin")]
    assert report.action is Action.QUARANTINE


def test_ole_object_of_unknown_type_is_not_read(scanner):
    data = rezip(docx_base(), add={"word/embeddings/oleObject1.bin": make_ole({"Contents2": b"\x07" * 64})})
    report = scanner.scan_bytes(data, "o.docx", MAIL)
    assert "not_read" in {p.kind for p in report.problems}
    assert report.action is Action.QUARANTINE


def test_packaged_file_is_a_child_with_its_own_name(scanner):
    report = scanner.scan_bytes(docx_packaged_file(), "a.docx", MAIL)
    assert {f.locator for f in report.findings} == {"a.docx!/word/embeddings/oleObject1.bin!/notes.txt"}


def test_a_data_uri_the_run_search_also_finds_is_read_once():
    """A long base64 ``data:`` URI is a base64 run of the page's text as well: its bytes are
    read once (the run, found first), not reported twice under two locators."""
    import base64

    from dlp.extract import EXTRACTORS, Context, walk
    from dlp.types import Item, Part

    payload = base64.b64encode(EXCERPT.encode()).decode()
    data = page(head=f"<style>body {{ background: url(data:text/plain;base64,{payload}) }}</style>")
    children = {o.locator.split("!/")[1] for o in walk(Item(locator="e.html", name="e.html", data=data), EXTRACTORS,
                                                        Context())
                if isinstance(o, Part) and "!/" in o.locator and EXCERPT in o.text}
    assert len(children) == 1, children
