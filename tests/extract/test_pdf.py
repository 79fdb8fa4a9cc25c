"""PDF through PDFium: page text with page numbers and per-page character counts,
annotations, form fields (those no page shows included), embedded files; pdfminer
where PDFium cannot read a page's fonts or the file."""

from __future__ import annotations

import io
import zlib

import pytest

from dlp.extract import EXTRACTORS, Context, walk
from dlp.extract.base import Limits
from dlp.extract.pdf import read_pdf
from dlp.types import Action, Destination, Item, Part, Problem

from helpers import prose, scanner_with, words

SECRET = " ".join(words(500, seed=19))
EXCERPT = " ".join(SECRET.split()[100:160])


def extract(data: bytes, name: str = "f.pdf") -> list[Part | Problem]:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context()))


def reportlab_pdf(pages: list[str], image_page: bool = False) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    for text in pages:
        y = 780
        for start in range(0, len(text), 90):
            page.drawString(40, y, text[start:start + 90])
            y -= 14
        page.showPage()
    if image_page:
        from PIL import Image
        from reportlab.lib.utils import ImageReader

        page.drawImage(ImageReader(Image.new("RGB", (40, 40), "gray")), 100, 100, 200, 200)
        page.showPage()
    page.save()
    return out.getvalue()


def hand_pdf(objects: list[bytes]) -> bytes:
    """A PDF from numbered object bodies (object 1 is the catalog), with a correct xref."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data)
    return b"<< /Length %d /Filter /FlateDecode %s >>\nstream\n" % (len(packed), extra) + packed + b"\nendstream"


PAGE_TEXT = b"BT /F1 12 Tf 72 720 Td (Quarterly minutes) Tj ET"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_with_hidden_field_and_attachment_annotation(value: str = EXCERPT[:200]) -> bytes:
    return hand_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R /Annots [7 0 R] >>",
        FONT,
        stream(PAGE_TEXT),
        b"<< /FT /Tx /T (review) /V (" + value.encode() + b") >>",  # a field with no widget
        b"<< /Type /Annot /Subtype /FileAttachment /Rect [72 600 90 620] /Contents (see attached) /FS 8 0 R >>",
        b"<< /Type /Filespec /F (notes.txt) /UF (notes.txt) /EF << /F 9 0 R >> >>",
        stream(EXCERPT.encode(), b"/Type /EmbeddedFile"),
    ])


def test_pages_have_offsets_and_character_counts():
    data = reportlab_pdf([prose(60, 1), "second page " + prose(30, 2)], image_page=True)
    (part,) = [o for o in extract(data) if isinstance(o, Part) and o.locator == "f.pdf"]
    assert len(part.pages) == 3
    assert part.page_of(part.text.index("second page")) == 2
    chars = part.meta["page_chars"]
    assert len(chars) == 3 and chars[0] > 300 and chars[1] > 100 and chars[2] == 0  # page 3: a picture only


def test_field_no_page_shows_and_file_attachment_annotation():
    outputs = extract(pdf_with_hidden_field_and_attachment_annotation())
    parts = {o.locator: o.text for o in outputs if isinstance(o, Part)}
    assert "Quarterly minutes" in parts["f.pdf"]
    assert "see attached" in parts["f.pdf!/annotations"]
    assert EXCERPT[:200] in parts["f.pdf!/form"]
    assert parts["f.pdf!/attachments/notes.txt"] == EXCERPT
    assert not [o for o in outputs if isinstance(o, Problem)]


def test_embedded_file_in_the_name_tree():
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(reportlab_pdf(["cover"]))
    document.new_attachment("plan.txt").set_data(EXCERPT.encode())
    out = io.BytesIO()
    document.save(out)
    parts = {o.locator: o.text for o in extract(out.getvalue()) if isinstance(o, Part)}
    assert parts["f.pdf!/attachments/plan.txt"] == EXCERPT


def test_attachment_over_the_expansion_limit_is_a_problem():
    data = hand_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(big.txt) 5 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        stream(b""),
        b"<< /Type /Filespec /F (big.txt) /EF << /F 6 0 R >> >>",
        stream(b"\0" * (3 * 1024 * 1024), b"/Type /EmbeddedFile"),
    ])
    outputs = list(walk(Item(locator="f.pdf", name="f.pdf", data=data), EXTRACTORS,
                        Context(Limits(ratio_floor_bytes=1024 * 1024, max_ratio=50))))
    assert ("ratio", "f.pdf!/attachments/big.txt") in {(o.kind, o.locator) for o in outputs if isinstance(o, Problem)}


def test_pdfium_refuses_and_pdfminer_reads():
    """A cross-reference table pointing nowhere: PDFium gives up, pdfminer rebuilds it."""
    data = bytearray(reportlab_pdf([EXCERPT]))
    start = data.rindex(b"startxref")
    data[start:] = b"startxref\n999999\n%%EOF\n"
    outputs = read_pdf(Item(locator="f.pdf", name="f.pdf", data=bytes(data)), Limits())
    text = " ".join(o.text for o in outputs if isinstance(o, Part))
    assert EXCERPT.split()[0] in text


def _annotated(text: bytes) -> bytes:
    return hand_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R /Annots [6 0 R] >>",
        FONT,
        stream(PAGE_TEXT),
        b"<< /Type /Annot /Subtype /Text /Rect [72 600 90 620] /Contents (" + text + b") >>",
    ])


def _shown_field(text: bytes) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Application form")
    page.acroForm.textfield(name="notes", value=text.decode(), x=72, y=500, width=400, height=20, maxlen=2000)
    page.showPage()
    page.save()
    return out.getvalue()


PDF_PLACES = {
    "page": lambda: reportlab_pdf([prose(50, 3) + " " + EXCERPT + " " + prose(20, 4)]),
    "annotation": lambda: _annotated(EXCERPT.encode()),
    "shown form field": lambda: _shown_field(EXCERPT.encode()),
    "field no page shows": lambda: pdf_with_hidden_field_and_attachment_annotation(EXCERPT).replace(
        b"/EF << /F 9 0 R >>", b"/EF << >>"),  # the attachment emptied: only the field can block
    "attachment annotation": pdf_with_hidden_field_and_attachment_annotation,
}


@pytest.fixture(scope="module")
def scanner(tmp_path_factory):
    return scanner_with(tmp_path_factory.mktemp("pdf"), {"plan": SECRET})


@pytest.mark.parametrize("where", PDF_PLACES)
def test_excerpt_in_a_pdf_is_blocked(scanner, where):
    report = scanner.scan_bytes(PDF_PLACES[where](), "f.pdf", Destination(channel="mail"))
    assert report.action is Action.BLOCK, [p.to_dict() for p in report.problems]


def test_encrypted_pdf_is_encrypted():
    import pypdfium2  # noqa: F401
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, encrypt=pdfencrypt.StandardEncryption("user-secret", ownerPassword="owner-secret", canModify=0))
    page.drawString(72, 720, EXCERPT[:80])
    page.showPage()
    page.save()
    assert [(o.kind, o.locator) for o in extract(out.getvalue()) if isinstance(o, Problem)] == [("encrypted", "f.pdf")]


@pytest.mark.corpus
def test_page_pdfium_cannot_decode_is_read_by_pdfminer(corpora):
    path = corpora / "document_fixtures/pdfminer-samples/nonfree/kampo.pdf"
    (part,) = [o for o in extract(path.read_bytes(), "kampo.pdf") if isinstance(o, Part) and o.locator == "kampo.pdf"]
    assert part.meta["page_chars"][0] > 1000  # PDFium alone: 28 characters
