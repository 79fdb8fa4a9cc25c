"""Hidden parts and odd encodings of real files: PDF (reportlab), DOCX (python-docx), HTML,
mail (email), zip, images (Pillow). Does a verbatim excerpt of 25 or 60 words still block?

Each case is a file a hostile insider could send whose recipient reads the excerpt
without any tool beyond the usual ones (a PDF viewer, Word, a browser's "view source",
a mail client's "show original", `unzip -l`, an image viewer's properties). Every case
is scanned once, by one `dlp scan` over the folder.
"""

from __future__ import annotations

import base64
import codecs
import io
import random
import zipfile
from email import encoders
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Callable

import docx
import pytest
from docx.opc.packuri import PackURI
from docx.opc.part import Part as DocxPart
from docx.oxml import parse_xml
from PIL import Image, PngImagePlugin
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from .conftest import action, hole, kinds
from .texts import UNRELATED, excerpt

# -- PDF -----------------------------------------------------------------------------------------


def _lines(text: str, width: int = 80) -> list[str]:
    out, line = [], ""
    for w in text.split():
        if line and len(line) + len(w) + 1 > width:
            out.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return out + [line]


def _pdf(draw: Callable[[canvas.Canvas, float], None], text: str, *, title: str = "") -> bytes:
    """A one-page PDF: the unrelated paragraph on top, then `draw(c, y)` places the excerpt."""
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.setFont("Helvetica", 10)
    y = 800.0
    for line in _lines(UNRELATED):
        c.drawString(50, y, line)
        y -= 14
    if title:
        c.setTitle(title)
        c.setSubject(title)
        c.setKeywords(title)
    draw(c, y - 14)
    c.showPage()
    c.save()
    return out.getvalue()


def pdf_plain(text: str) -> bytes:
    def draw(c, y):
        for line in _lines(text):
            c.drawString(50, y, line)
            y -= 14
    return _pdf(draw, text)


def pdf_white(text: str) -> bytes:
    def draw(c, y):
        c.setFillColorRGB(1, 1, 1)
        for line in _lines(text):
            c.drawString(50, y, line)
            y -= 14
    return _pdf(draw, text)


def pdf_lines_out_of_order(text: str) -> bytes:
    def draw(c, y):
        lines = list(enumerate(_lines(text)))
        random.Random(5).shuffle(lines)
        for i, line in lines:
            c.drawString(50, y - 14 * i, line)
    return _pdf(draw, text)


def _glyphs_in_order(c, y, text, order: Callable[[list], list], unit: str) -> None:
    """Draw each character (or word) at its place on the line, in the drawing order `order` gives."""
    for line in _lines(text):
        pieces, x = [], 50.0
        for piece in (list(line) if unit == "char" else [w + " " for w in line.split(" ")]):
            pieces.append((x, piece.rstrip(" ") if unit == "word" else piece))
            x += stringWidth(piece, "Helvetica", 10)
        for x, piece in order(pieces):
            c.drawString(x, y, piece)
        y -= 14


def pdf_chars_drawn_backwards(text: str) -> bytes:
    return _pdf(lambda c, y: _glyphs_in_order(c, y, text, lambda p: p[::-1], "char"), text)


def pdf_words_drawn_shuffled(text: str) -> bytes:
    return _pdf(lambda c, y: _glyphs_in_order(c, y, text, lambda p: random.Random(3).sample(p, len(p)), "word"), text)


def pdf_tiny_white_junk(text: str) -> bytes:
    """Between the words, a white 0.5 pt 'zq': the page looks untouched."""
    def draw(c, y):
        for line in _lines(text):
            x = 50.0
            for w in line.split():
                c.setFont("Helvetica", 10)
                c.setFillColorRGB(0, 0, 0)
                c.drawString(x, y, w)
                x += stringWidth(w, "Helvetica", 10)
                c.setFont("Helvetica", 0.5)
                c.setFillColorRGB(1, 1, 1)
                c.drawString(x + 0.5, y, "zq")
                x += stringWidth(" ", "Helvetica", 10)
            y -= 14
    return _pdf(draw, text)


def pdf_metadata(text: str) -> bytes:
    return _pdf(lambda c, y: None, text, title=text)


# -- DOCX ----------------------------------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _document() -> docx.Document:
    d = docx.Document()
    d.add_paragraph(UNRELATED)
    return d


def _saved(d) -> bytes:
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def _with_members(data: bytes, change: Callable[[str, bytes], bytes], extra: dict[str, bytes] = {}) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            z.writestr(info.filename, change(info.filename, source.read(info)))
        for name, member in extra.items():
            z.writestr(name, member)
    return out.getvalue()


def docx_plain(text: str) -> bytes:
    d = _document()
    d.add_paragraph(text)
    return _saved(d)


def docx_hidden_run(text: str) -> bytes:
    d = _document()
    d.add_paragraph().add_run(text).font.hidden = True
    return _saved(d)


def docx_hidden_junk_runs(text: str) -> bytes:
    """A hidden run of junk after every third word: Word shows the excerpt untouched."""
    d = _document()
    paragraph = d.add_paragraph()
    for i, w in enumerate(text.split()):
        paragraph.add_run(w + " ")
        if i % 3 == 0:
            paragraph.add_run(f"zq{i}x ").font.hidden = True
    return _saved(d)


def docx_core_properties(text: str) -> bytes:
    d = _document()
    d.core_properties.comments = "PLACEHOLDER"  # python-docx caps properties at 255 characters; Word does not
    return _with_members(_saved(d), lambda name, b: b.replace(b"PLACEHOLDER", text.encode())
                         if name == "docProps/core.xml" else b)


def docx_alt_chunk(text: str) -> bytes:
    """An altChunk: Word imports the HTML part and shows it as part of the body."""
    d = _document()
    html = f"<html><body><p>{text}</p></body></html>".encode()
    part = DocxPart(PackURI("/word/afchunk1.htm"), "text/html", html, d.part.package)
    rid = d.part.relate_to(part, f"{R_NS}/aFChunk")
    d.element.body.append(parse_xml(f'<w:altChunk xmlns:w="{W_NS}" xmlns:r="{R_NS}" r:id="{rid}"/>'))
    return _saved(d)


def docx_picture_alt_text(text: str) -> bytes:
    d = _document()
    image = io.BytesIO()
    Image.new("RGB", (8, 8), (90, 90, 90)).save(image, "PNG")
    image.seek(0)
    d.add_picture(image)
    for props in d.element.body.iter("{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"):
        props.set("descr", text)
    return _saved(d)


def docx_custom_xml(text: str) -> bytes:
    return _with_members(docx_plain(""), lambda name, b: b,
                         {"customXml/item9.xml": f"<notes><note>{text}</note></notes>".encode()})


def docx_unlisted_member(text: str) -> bytes:
    return _with_members(docx_plain(""), lambda name, b: b, {"word/media/readme.txt": text.encode()})


# -- HTML ----------------------------------------------------------------------------------------


def _html(body: str) -> bytes:
    return f"<html><head><title>notes</title></head><body><p>{UNRELATED}</p>{body}</body></html>".encode()


def html_entities(text: str) -> bytes:
    return _html("<p>" + "".join(f"&#{ord(c)};" for c in text) + "</p>")


def html_tags_inside_words(text: str) -> bytes:
    return _html("<p>" + " ".join(w[:2] + "<b></b>" + w[2:] for w in text.split()) + "</p>")


def html_hidden_junk(text: str) -> bytes:
    return _html("<p>" + " ".join(f'{w}<span style="display:none">zq{i}x</span>' if i % 3 == 0 else w
                                  for i, w in enumerate(text.split())) + "</p>")


def html_bidi_override(text: str) -> bytes:
    return _html(f'<p><span style="unicode-bidi:bidi-override;direction:rtl">{text[::-1]}</span></p>')


def html_comment(text: str) -> bytes:
    return _html(f"<!-- {text} -->")


def html_script(text: str) -> bytes:
    return _html(f"<script>var notes = '{text}';</script>")


def html_style(text: str) -> bytes:
    return _html(f"<style>/* {text} */</style>")


def html_attributes(text: str) -> bytes:
    return _html(f'<img src="x.png" alt="{text}" title="{text}">')


def html_broken_at_br(newline: str) -> Callable[[str], bytes]:
    """Hard-wrapped with <br>, the source's own line break after each, a word hyphenated at every
    4th line end (``reto-<br>⏎oling``: a browser shows one line break there, the source has two)."""
    def build(text: str) -> bytes:
        words = text.split()
        lines = [" ".join(words[i : i + 4]) for i in range(0, len(words), 4)]
        out = []
        for line in lines:
            head, _, last = line.rpartition(" ")
            out.append(f"{head} {last[: len(last) // 2]}-<br>{newline}{last[len(last) // 2 :]}" if len(last) > 3
                       else f"{line}<br>{newline}")
        return _html("<p>" + " ".join(out) + "</p>")
    return build


# -- mail ----------------------------------------------------------------------------------------


def _message() -> EmailMessage:
    m = EmailMessage()
    m["From"] = "ann@corp.example"
    m["To"] = "bob@rival.example"
    m["Subject"] = "notes"
    return m


def mail_subject(text: str) -> bytes:
    m = _message()
    m.replace_header("Subject", " ".join(text.split()))
    m.set_content(UNRELATED)
    return m.as_bytes()


def mail_utf7_part(text: str) -> bytes:
    m = MIMEMultipart()
    part = MIMEText("", "plain")
    encoded = "+" + base64.b64encode(text.encode("utf-16-be")).decode().rstrip("=") + "-"  # every letter encoded
    part.set_payload((UNREL_LINE + encoded).encode())
    part.replace_header("Content-Type", 'text/plain; charset="utf-7"')
    m.attach(part)
    return m.as_bytes()


UNREL_LINE = UNRELATED + "\n"


def mail_attached_message(text: str) -> bytes:
    inner = _message()
    inner.set_content(text)
    m = _message()
    m.set_content(UNRELATED)
    m.add_attachment(inner)
    return m.as_bytes()


def mail_uuencoded(text: str) -> bytes:
    m = MIMEMultipart()
    m.attach(MIMEText(UNRELATED))
    part = MIMEBase("application", "octet-stream")
    part.set_payload(codecs.encode(text.encode(), "uu"))
    part["Content-Transfer-Encoding"] = "x-uuencode"
    part.add_header("Content-Disposition", "attachment", filename="notes.txt")
    m.attach(part)
    return m.as_bytes()


def mail_custom_header(text: str) -> bytes:
    m = _message()
    m["X-Notes"] = " ".join(text.split())
    m.set_content(UNRELATED)
    return m.as_bytes()


def mail_html_comment(text: str) -> bytes:
    m = _message()
    m.set_content(UNRELATED)
    m.add_alternative(f"<html><body><p>{UNRELATED}</p><!-- {text} --></body></html>", subtype="html")
    return m.as_bytes()


def mail_attachment_name(text: str) -> bytes:
    m = _message()
    m.set_content(UNRELATED)
    m.add_attachment(b"\x00", maintype="application", subtype="octet-stream", filename=" ".join(text.split()))
    return m.as_bytes()


def mail_preamble_and_epilogue(text: str) -> bytes:
    return ("From: ann@corp.example\nTo: bob@rival.example\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=XX\n\n"
            f"{text}\n--XX\nContent-Type: text/plain\n\n{UNRELATED}\n--XX--\n{text}\n").encode()


def mail_text_attachment_labelled_png(text: str) -> bytes:
    m = MIMEMultipart()
    m.attach(MIMEText(UNRELATED))
    part = MIMEBase("image", "png")
    part.set_payload(b"GIF89a\n" + text.encode())
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename="chart.png")
    m.attach(part)
    return m.as_bytes()


# -- archives, images, encodings ------------------------------------------------------------------


def _zip(build: Callable[[zipfile.ZipFile], None]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        build(z)
    return out.getvalue()


def zip_member(text: str) -> bytes:
    return _zip(lambda z: z.writestr("notes/readme.txt", UNREL_LINE + text))


def zip_archive_comment(text: str) -> bytes:
    def build(z):
        z.writestr("readme.txt", UNRELATED)
        z.comment = text.encode()
    return _zip(build)


def zip_member_comment(text: str) -> bytes:
    def build(z):
        info = zipfile.ZipInfo("readme.txt")
        info.comment = text.encode()
        z.writestr(info, UNRELATED)
    return _zip(build)


def zip_member_names(text: str) -> bytes:
    def build(z):
        z.writestr("readme.txt", UNRELATED)
        words = text.split()
        for i in range(0, len(words), 30):
            z.writestr(f"{i:03d} " + " ".join(words[i:i + 30]) + ".txt", b"")
    return _zip(build)


def _image(kind: str, **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 16), (200, 40, 40)).save(out, kind, **options)
    return out.getvalue()


def png_text_chunk(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return _image("PNG", pnginfo=info)


def png_compressed_text_chunk(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text, zip=True)
    return _image("PNG", pnginfo=info)


def jpeg_comment(text: str) -> bytes:
    return _image("JPEG", comment=text.encode())


def jpeg_then_text(text: str) -> bytes:
    return _image("JPEG") + b"\n" + text.encode()


def jpeg_then_docx(text: str) -> bytes:
    """A JPEG with a DOCX appended: image viewers show the picture, unzip and Word read the document."""
    return _image("JPEG") + docx_plain(text)


def text_after_gif_magic(text: str) -> bytes:
    return b"GIF89a\n" + (UNREL_LINE + text).encode()


def text_utf16_without_bom(text: str) -> bytes:
    return (UNREL_LINE + text).encode("utf-16-le")


def text_utf32(text: str) -> bytes:
    return (UNREL_LINE + text).encode("utf-32")


def text_ebcdic(text: str) -> bytes:
    return (UNREL_LINE + text).encode("cp500")


def text_base64(text: str) -> bytes:
    return (UNREL_LINE + base64.encodebytes(text.encode()).decode()).encode()


def text_base64_glued_to_a_word(text: str) -> bytes:
    """One letter glued in front of a base64 line ("Attachment: x<base64>"): the run is read from
    the letter on, every group of four is shifted, and it decodes to noise. The reader drops
    the letter by hand."""
    return (UNREL_LINE + "Attachment: x" + base64.b64encode(text.encode()).decode() + "\n").encode()


def text_base64_wrapped_two_letters_glued(text: str) -> bytes:
    """MIME-wrapped base64 whose first line carries two extra letters in front."""
    encoded = base64.b64encode(text.encode()).decode()
    return (UNREL_LINE + "zz" + "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + "\n").encode()


# -- found while attacking the readings as shown, the metadata and the encodings -----------------


def docx_white_junk_runs(text: str) -> bytes:
    d = _document()
    paragraph = d.add_paragraph()
    for i, w in enumerate(text.split()):
        paragraph.add_run(w + " ")
        if i % 3 == 0:
            paragraph.add_run(f"zq{i}x ").font.color.rgb = docx.shared.RGBColor(0xFF, 0xFF, 0xFF)
    return _saved(d)


def docx_deleted_junk_runs(text: str) -> bytes:
    """Tracked deletions after every third word: Word's default view (Simple Markup) hides them."""
    body = "".join(f'<w:r><w:t xml:space="preserve">{w} </w:t></w:r>'
                   + (f'<w:del w:id="{i}" w:author="x"><w:r><w:delText>zq{i}x </w:delText></w:r></w:del>'
                      if i % 3 == 0 else "") for i, w in enumerate(text.split()))
    d = _document()
    d.add_paragraph("MARKER-PARAGRAPH")
    data = _saved(d)
    return _with_members(data, lambda name, b: b.replace(
        b"<w:r><w:t>MARKER-PARAGRAPH</w:t></w:r>", body.encode()) if name == "word/document.xml" else b)


def html_comment_junk(text: str) -> bytes:
    return _html("<p>" + " ".join(f"{w}<!--zq{i}x-->" if i % 3 == 0 else w for i, w in enumerate(text.split())) + "</p>")


def html_class_hidden_junk(text: str) -> bytes:
    page = _html("<p>" + " ".join(f'{w}<i class="x">zq{i}x</i>' if i % 3 == 0 else w
                                  for i, w in enumerate(text.split())) + "</p>")
    return page.replace(b"<title>", b"<style>.x{font-size:0}</style><title>")


def html_bdo(text: str) -> bytes:
    return _html(f'<p><bdo dir="rtl">{text[::-1]}</bdo></p>')


def html_data_attribute(text: str) -> bytes:
    return _html(f'<div data-notes="{text}">see notes</div>')


def _pdf_junk(text: str, junk: Callable) -> bytes:
    def draw(c, y):
        for line in _lines(text):
            x = 50.0
            for i, w in enumerate(line.split()):
                c.setFont("Helvetica", 10)
                c.drawString(x, y, w)
                x += stringWidth(w + " ", "Helvetica", 10)
                if i % 3 == 0:
                    c.saveState()
                    junk(c, x - stringWidth(" ", "Helvetica", 10), y)
                    c.restoreState()
            y -= 14
    return _pdf(draw, text)


def _invisible_text(c, x, y):
    t = c.beginText(x, y)
    t.setFont("Helvetica", 10)
    t.setTextRenderMode(3)
    t.textOut("zq")
    c.drawText(t)


def _scaled_text(c, x, y):
    c.translate(x, y)
    c.scale(0.04, 0.04)
    c.setFont("Helvetica", 10)
    c.drawString(0, 0, "zq")


def pdf_invisible_junk(text: str) -> bytes:
    return _pdf_junk(text, _invisible_text)


def pdf_scaled_junk(text: str) -> bytes:
    return _pdf_junk(text, _scaled_text)


def mail_split_across_headers(text: str) -> bytes:
    m = _message()
    words = text.split()
    for n, i in enumerate(range(0, len(words), 8)):
        m[f"X-Note-{n}"] = " ".join(words[i:i + 8])
    m.set_content(UNRELATED)
    return m.as_bytes()


def png_split_across_chunks(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    words = text.split()
    for n, i in enumerate(range(0, len(words), 8)):
        info.add_text(f"Part{n}", " ".join(words[i:i + 8]))
    return _image("PNG", pnginfo=info)


def png_split_mid_word(text: str) -> bytes:
    """Eight chunks cut at fixed character counts, through words: joined with a line
    break, every cut is two half-words."""
    info = PngImagePlugin.PngInfo()
    size = -(-len(text) // 8)
    for n, i in enumerate(range(0, len(text), size)):
        info.add_text(f"Part{n}", text[i:i + size])
    return _image("PNG", pnginfo=info)


def png_itxt(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Description", text, lang="en", zip=True)
    return _image("PNG", pnginfo=info)


def jpeg_exif_description(text: str) -> bytes:
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x010E] = text
    return _image("JPEG", exif=exif.tobytes())


def gif_comment(text: str) -> bytes:
    return _image("GIF", comment=text.encode())


def text_hex_dump(text: str) -> bytes:
    raw = text.encode()
    return (UNREL_LINE + "\n".join(" ".join(f"{b:02x}" for b in raw[i:i + 16]) for i in range(0, len(raw), 16))).encode()


def text_xxd_after_a_label(text: str) -> bytes:
    """An xxd dump (bytes in groups of two, a text column) whose first line follows a label on the
    same line ("Dump: 00000000: 5468 6520 ..."): its zero offset is not at a line start, and
    groups of two bytes are no hex-byte run."""
    return (UNREL_LINE + "Dump: " + _xxd(text.encode()) + "\n").encode()


def _xxd(raw: bytes, *, start: int = 0, group: int = 2) -> str:
    """Lines as xxd writes them: the offset, then the line's sixteen bytes in groups of `group`."""
    lines = []
    for i in range(0, len(raw), 16):
        chunk = raw[i:i + 16]
        lines.append(f"{i + start:08x}: " + " ".join(chunk[j:j + group].hex() for j in range(0, len(chunk), group)))
    return "\n".join(lines)


def text_xxd_from_offset_16(text: str) -> bytes:
    """`xxd -s 16`: a dump that does not start at offset zero (the offsets are the file's)."""
    return (UNREL_LINE + _xxd(text.encode(), start=16) + "\n").encode()


def text_xxd_groups_of_16(text: str) -> bytes:
    """`xxd -g16`: each line's sixteen bytes as one group of 32 hex digits."""
    return (UNREL_LINE + _xxd(text.encode(), group=16) + "\n").encode()


def text_percent_encoded(text: str) -> bytes:
    import urllib.parse

    return (UNREL_LINE + urllib.parse.quote(text)).encode()


def text_quoted_printable(text: str) -> bytes:
    import quopri

    return quopri.encodestring((UNREL_LINE + text).encode(), quotetabs=True)


def docx_base64_paragraph(text: str) -> bytes:
    return docx_plain(base64.b64encode(text.encode()).decode())


def tar_member_names(text: str) -> bytes:
    import tarfile

    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        words = text.split()
        for i in range(0, len(words), 30):  # long names: pax headers
            member = tarfile.TarInfo(f"{i:03d} " + " ".join(words[i:i + 30]) + ".txt")
            archive.addfile(member, io.BytesIO(b""))
    return out.getvalue()


# name -> (file name, builder, reason when it is a hole)
CASES: dict[str, tuple[str, Callable[[str], bytes], str | None]] = {
    "pdf text": ("doc.pdf", pdf_plain, None),
    "pdf white text": ("doc.pdf", pdf_white, None),
    "pdf lines drawn out of order": ("doc.pdf", pdf_lines_out_of_order, None),
    "docx paragraph": ("doc.docx", docx_plain, None),
    "docx hidden run": ("doc.docx", docx_hidden_run, None),
    "html character references": ("page.html", html_entities, None),
    "html empty tags inside words": ("page.html", html_tags_inside_words, None),
    "mail subject": ("mail.eml", mail_subject, None),
    "mail utf-7 part, every letter encoded": ("mail.eml", mail_utf7_part, None),
    "mail attached message": ("mail.eml", mail_attached_message, None),
    "mail uuencoded attachment": ("mail.eml", mail_uuencoded, None),
    "zip member": ("pack.zip", zip_member, None),
    "utf-16 without BOM": ("notes.txt", text_utf16_without_bom, None),
    "utf-32": ("notes.txt", text_utf32, None),
    "EBCDIC (cp500)": ("notes.txt", text_ebcdic, None),
    # holes
    "pdf characters drawn right to left": ("doc.pdf", pdf_chars_drawn_backwards, None),
    "pdf words drawn in shuffled order": ("doc.pdf", pdf_words_drawn_shuffled, None),
    "pdf tiny white junk between words": ("doc.pdf", pdf_tiny_white_junk, None),
    "pdf title, subject and keywords": ("doc.pdf", pdf_metadata, None),
    "docx hidden junk run after every 3rd word": ("doc.docx", docx_hidden_junk_runs, None),
    "docx core properties (comments)": ("doc.docx", docx_core_properties, None),
    "docx altChunk (imported HTML shown in the body)": ("doc.docx", docx_alt_chunk, None),
    "docx picture alt text": ("doc.docx", docx_picture_alt_text, None),
    "docx customXml part": ("doc.docx", docx_custom_xml, None),
    "docx member no story lists": ("doc.docx", docx_unlisted_member, None),
    "html display:none junk after every 3rd word": ("page.html", html_hidden_junk, None),
    "html bidi-override, text stored reversed": ("page.html", html_bidi_override, None),
    "html comment": ("page.html", html_comment, None),
    "html script": ("page.html", html_script, None),
    "html style": ("page.html", html_style, None),
    "html alt and title attributes": ("page.html", html_attributes, None),
    # found by helper-32: the source's line break after <br> came through as a second one
    "html hard-wrapped with <br> and LF, words hyphenated at line ends": ("page.html", html_broken_at_br("\n"), None),
    "html hard-wrapped with <br> and CRLF, words hyphenated at line ends": (
        "page.html", html_broken_at_br("\r\n"), None),
    "mail custom X- header": ("mail.eml", mail_custom_header, None),
    "mail HTML comment": ("mail.eml", mail_html_comment, None),
    "mail attachment file name (RFC 2231)": ("mail.eml", mail_attachment_name, None),
    "mail MIME preamble and epilogue": ("mail.eml", mail_preamble_and_epilogue, None),
    "mail text attachment labelled image/png": ("mail.eml", mail_text_attachment_labelled_png, None),
    "zip archive comment": ("pack.zip", zip_archive_comment, None),
    "zip member comment": ("pack.zip", zip_member_comment, None),
    "zip member names": ("pack.zip", zip_member_names, None),
    "png tEXt chunk": ("logo.png", png_text_chunk, None),
    "png zTXt chunk": ("logo.png", png_compressed_text_chunk, None),
    "jpeg comment": ("photo.jpg", jpeg_comment, None),
    "text appended to a jpeg": ("photo.jpg", jpeg_then_text, None),
    "docx appended to a jpeg (polyglot)": ("photo.jpg", jpeg_then_docx, None),
    "text file starting with GIF89a": ("notes.txt", text_after_gif_magic, None),
    "base64 in a text file": ("notes.txt", text_base64, None),
    # found while attacking this work (each was a hole until its commit)
    "docx white junk run after every 3rd word": ("doc.docx", docx_white_junk_runs, None),
    "docx tracked-deletion junk after every 3rd word": ("doc.docx", docx_deleted_junk_runs, None),
    "docx paragraph of base64": ("doc.docx", docx_base64_paragraph, None),
    "html comment junk after every 3rd word": ("page.html", html_comment_junk, None),
    "html junk hidden by a class rule": ("page.html", html_class_hidden_junk, None),
    "html bdo element, text stored reversed": ("page.html", html_bdo, None),
    "html data- attribute": ("page.html", html_data_attribute, None),
    "pdf render mode 3 junk between words": ("doc.pdf", pdf_invisible_junk, None),
    "pdf junk scaled to 0.4 pt between words": ("doc.pdf", pdf_scaled_junk, None),
    "mail split across X- headers": ("mail.eml", mail_split_across_headers, None),
    "png split across tEXt chunks": ("logo.png", png_split_across_chunks, None),
    "png split mid-word across 8 tEXt chunks": ("logo.png", png_split_mid_word, None),
    "png compressed iTXt": ("logo.png", png_itxt, None),
    "jpeg EXIF description": ("photo.jpg", jpeg_exif_description, None),
    "gif comment": ("anim.gif", gif_comment, None),
    "hex dump in a text file": ("notes.txt", text_hex_dump, None),
    "percent-encoded text": ("notes.txt", text_percent_encoded, None),
    "quoted-printable text file": ("notes.txt", text_quoted_printable, None),
    "tar member names": ("pack.tar", tar_member_names, None),
    # found attacking the encoded-run speedups (attack5): missed with DLP_SPEEDUPS=0 too
    # (a run that reads as noise is read again without the 1-3 characters its length has over a
    # multiple of four)
    "base64 with one letter glued in front": ("notes.txt", text_base64_glued_to_a_word, None),
    "xxd dump whose first line follows a label": ("notes.txt", text_xxd_after_a_label,
                                                  "xxd dumps are found only from a zero offset at a line start"),
    "xxd -s 16 dump (first offset not zero)": ("notes.txt", text_xxd_from_offset_16,
                                               "xxd dumps are found only from a zero offset at a line start"),
    "xxd -g16 dump (one group of 16 bytes a line)": ("notes.txt", text_xxd_groups_of_16,
                                                     "a dump line's groups are one to eight bytes"),
    "wrapped base64, two letters glued to its first line": ("notes.txt", text_base64_wrapped_two_letters_glued, None),
}


def _params():
    for name, (_, _, reason) in CASES.items():
        for n in (25, 60):
            yield pytest.param(name, n, id=f"{name}-{n}", marks=[hole(reason)] if reason else [])


@pytest.fixture(scope="module")
def reports(dlp, tmp_path_factory) -> dict[tuple[str, int], dict]:
    folder = tmp_path_factory.mktemp("file-evasions")
    paths = {}
    for i, (name, (filename, build, _)) in enumerate(CASES.items()):
        for n in (25, 60):
            path = folder / f"{i:02d}-{n}-{filename}"
            path.write_bytes(build(" ".join(excerpt(n))))
            paths[(name, n)] = str(path)
        clean = folder / f"{i:02d}-clean-{filename}"
        clean.write_bytes(build(UNRELATED))
        paths[(name, 0)] = str(clean)
    by_path = dlp.scan(folder)
    return {case: by_path[path] for case, path in paths.items()}


@pytest.mark.parametrize("name, n", list(_params()))
def test_an_excerpt_in_a_hidden_part_or_odd_encoding_still_blocks(reports, name, n):
    report = reports[(name, n)]
    assert "document" in kinds(report, "halcyon") and action(report) == "block", \
        (report["findings"], report["problems"])


@pytest.mark.parametrize("name", list(CASES))
def test_the_same_file_with_unrelated_text_matches_nothing(reports, name):
    report = reports[(name, 0)]
    assert report["findings"] == [] and action(report) in ("allow", "warn"), (report["findings"], report["problems"])
