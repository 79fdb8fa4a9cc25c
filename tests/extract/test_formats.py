"""Every format family: a marker planted where a leak would hide comes out as text,
at the locator that names where it was."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import pytest

from dlp.extract import EXTRACTORS, Context, walk
from dlp.types import Item, Part, Problem

from . import builders as b

MARK = "ZEBRA-PLUTONIUM-7731"


def extract(data: bytes, name: str = "file") -> list[Part | Problem]:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context()))


def found(outputs, marker: str = MARK) -> list[Part]:
    return [o for o in outputs if isinstance(o, Part) and marker in o.text]


DOCX_STORIES = {
    "body": ({"word/document.xml": b.run(MARK)}, "doc.docx"),
    "table": ({"word/document.xml": f"<w:tbl><w:tr><w:tc>{b.run('a')}</w:tc><w:tc>{b.run(MARK)}</w:tc></w:tr></w:tbl>"}, "doc.docx"),
    "text box": ({"word/document.xml": "<w:p><w:r><mc:AlternateContent><mc:Choice><w:txbxContent>"
                  f"{b.run(MARK)}</w:txbxContent></mc:Choice><mc:Fallback>{b.run('dup')}</mc:Fallback>"
                  "</mc:AlternateContent></w:r></w:p>"}, "doc.docx"),
    "tracked insertion": ({"word/document.xml": f"<w:p><w:ins><w:r><w:t>{MARK}</w:t></w:r></w:ins></w:p>"}, "doc.docx"),
    "tracked deletion": ({"word/document.xml": f"<w:p><w:del><w:r><w:delText>{MARK}</w:delText></w:r></w:del></w:p>"}, "doc.docx"),
    "header": ({"word/document.xml": b.run("x"), "word/header1.xml": b.run(MARK)}, "doc.docx!/word/header1.xml"),
    "footer": ({"word/document.xml": b.run("x"), "word/footer2.xml": b.run(MARK)}, "doc.docx!/word/footer2.xml"),
    "footnote": ({"word/document.xml": b.run("x"), "word/footnotes.xml": b.run(MARK)}, "doc.docx!/word/footnotes.xml"),
    "endnote": ({"word/document.xml": b.run("x"), "word/endnotes.xml": b.run(MARK)}, "doc.docx!/word/endnotes.xml"),
    "comment": ({"word/document.xml": b.run("x"), "word/comments.xml": b.run(MARK)}, "doc.docx!/word/comments.xml"),
}


@pytest.mark.parametrize("story", DOCX_STORIES)
def test_docx_story(story):
    parts, locator = DOCX_STORIES[story]
    outputs = extract(b.docx_by_parts(parts), "doc.docx")
    hits = found(outputs)
    assert [p.locator for p in hits] == [locator]
    assert not [o for o in outputs if isinstance(o, Problem)]
    assert "dup" not in "".join(p.text for p in outputs if isinstance(p, Part))


def test_docx_made_by_python_docx():
    data = b.docx_with_python_docx("intro", header=MARK + "-h", table=MARK + "-t")
    texts = {p.locator: p.text for p in extract(data, "d.docx") if isinstance(p, Part)}
    assert MARK + "-t" in texts["d.docx"]
    assert any(MARK + "-h" in text for loc, text in texts.items() if "header" in loc)


def test_docx_embedded_workbook_is_a_child():
    inner = b.xlsx([MARK], [["@" + MARK]])
    data = b.docx_by_parts({"word/document.xml": b.run("x")}, extra={"word/embeddings/Sheet1.xlsx": inner})
    assert [p.locator for p in found(extract(data, "d.docx"))] == ["d.docx!/word/embeddings/Sheet1.xlsx!/xl/worksheets/sheet1.xml"]


def test_xlsx_cells_shared_inline_numbers_and_sheet_names():
    data = b.xlsx(["alpha", MARK], [["@alpha", "@" + MARK, 4111111111111111], ["inline " + MARK, 7]], sheet_name="Secret plan")
    parts = {p.locator: p for p in extract(data, "book.xlsx") if isinstance(p, Part)}
    sheet = parts["book.xlsx!/xl/worksheets/sheet1.xml"]
    assert sheet.text.splitlines() == [f"alpha\t{MARK}\t4111111111111111", f"inline {MARK}\t7"]
    assert sheet.meta["sheet"] == "Secret plan"
    assert "Secret plan" in parts["book.xlsx"].text


def test_pptx_slides_are_pages_and_notes_are_parts():
    parts = {p.locator: p for p in extract(b.pptx(["one", MARK], notes="note " + MARK), "deck.pptx") if isinstance(p, Part)}
    deck = parts["deck.pptx"]
    assert deck.page_of(deck.text.index(MARK)) == 2
    assert MARK in parts["deck.pptx!/ppt/notesSlides/notesSlide1.xml"].text


def test_odt_body_and_header():
    parts = {p.locator: p.text for p in extract(b.odt(MARK + "-b", header=MARK + "-h"), "n.odt") if isinstance(p, Part)}
    assert MARK + "-b" in parts["n.odt"]
    assert MARK + "-h" in parts["n.odt!/styles.xml"]


def test_odt_encrypted():
    assert [(o.kind, o.locator) for o in extract(b.odt("x", encrypted=True), "n.odt")] == [("encrypted", "n.odt")]


@pytest.mark.parametrize(
    "rtf, expected",
    [
        (rb"{\rtf1\ansi{\fonttbl{\f0 Arial;}}\f0 Hello " + MARK.encode() + rb"\par}", f"Hello {MARK}\n"),
        (rb"{\rtf1\ansi\ansicpg1252 caf\'e9 {\*\generator junk}ok}", "café ok"),
        (rb"{\rtf1\uc1 \u20320?\u22909? x}", "你好 x"),
        (rb"{\rtf1{\pict 89504e47}visible}", "visible"),
    ],
)
def test_rtf(rtf, expected):
    (part,) = extract(rtf, "a.rtf")
    assert part.format == "rtf" and part.text == expected


def test_xml_text_without_entity_expansion():
    data = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r><x>' + MARK.encode() + b"&b;</x></r>"
    outputs = extract(data, "a.xml")
    assert [o.kind for o in outputs if isinstance(o, Problem)] == ["ratio"]
    assert "aaaa" not in found(outputs)[0].text


@pytest.mark.parametrize(
    "name, pack",
    [
        ("a.txt.gz", gzip.compress),
        ("a.txt.bz2", bz2.compress),
        ("a.txt.xz", lzma.compress),
    ],
)
def test_single_stream_compressors(name, pack):
    hits = found(extract(pack(MARK.encode()), name))
    assert [p.locator for p in hits] == [f"{name}!/a.txt"]


@pytest.mark.parametrize("mode, name", [("w", "t.tar"), ("w:gz", "t.tgz"), ("w:bz2", "t.tar.bz2"), ("w:xz", "t.tar.xz")])
def test_tar_combinations(mode, name):
    data = b.tar_of({"q3/forecast.txt": MARK.encode()}, mode)
    (hit,) = found(extract(data, name))
    assert hit.locator.startswith(name + "!/") and hit.locator.endswith("q3/forecast.txt")


def test_zip64_and_cp437_names():
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open("big.txt", "w", force_zip64=True) as member:
            member.write(MARK.encode())
        info = zipfile.ZipInfo("caf\u00e9.txt")
        archive.writestr(info, MARK)
    locators = sorted(p.locator for p in found(extract(buffer.getvalue(), "z.zip")))
    assert locators == ["z.zip!/big.txt", "z.zip!/café.txt"]


def test_utf8_name_without_utf8_flag_is_recovered():
    data = bytearray(b.zip_of({"plan-\u00fc.txt": MARK.encode()}))
    # clear the UTF-8 flag in both headers: the raw name bytes stay UTF-8
    data[data.index(b"PK\x03\x04") + 7] &= ~0x08
    data[data.index(b"PK\x01\x02") + 9] &= ~0x08
    assert [p.locator for p in found(extract(bytes(data), "z.zip"))] == ["z.zip!/plan-\u00fc.txt"]


def test_pdf_text_annotation_and_form_field():
    data = b.pdf("page " + MARK, annotation="note " + MARK, field_value="field " + MARK)
    hits = {p.locator for p in found(extract(data, "f.pdf"))}
    assert hits == {"f.pdf", "f.pdf!/annotations", "f.pdf!/form"}


def test_pdf_page_offsets():
    (part,) = [p for p in extract(b.pdf(MARK), "f.pdf") if isinstance(p, Part) and p.locator == "f.pdf"]
    assert part.pages == (0,) and part.page_of(part.text.index(MARK)) == 1


def test_unknown_binary_keeps_printable_strings_marked_binary():
    data = b"\x00\x01\x02\x7f" * 50 + MARK.encode() + b"\x00\x03" + MARK.encode("utf-16-le") + b"\x00\x00\x05"
    (part,) = extract(data, "blob.bin")
    assert part.binary and part.text.count(MARK) == 2


def test_html_script_comes_after_the_visible_text():
    (part,) = extract(b"<html><body><p>" + MARK.encode() + b"</p><script>x()</script></body></html>", "p.html")
    assert part.text.index(MARK) < part.text.index("x()")
