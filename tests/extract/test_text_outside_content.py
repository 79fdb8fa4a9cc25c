"""Text a container keeps outside its members' content: archive member names and
comments (``!/names``), every mail header and the MIME preamble and epilogue, a PDF's
document information and XMP packet (``!/properties``)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from email.message import EmailMessage

import pytest

from dlp.extract import EXTRACTORS, Context, walk
from dlp.types import Item, Part, Problem

from helpers import prose

MARK = "ZEBRA-PLUTONIUM-7731"
TEXT = f"{prose(10, 2)} {MARK}"


def extract(data: bytes, name: str) -> list[Part | Problem]:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context()))


def parts(outputs) -> dict[str, str]:
    return {o.locator: o.text for o in outputs if isinstance(o, Part)}


# --- archives --------------------------------------------------------------------------

def zip_with(build) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        build(archive)
    return out.getvalue()


def _member_comment(archive):
    info = zipfile.ZipInfo("a.txt")
    info.comment = TEXT.encode()
    archive.writestr(info, "x")


def _archive_comment_cp437(archive):
    archive.writestr("a.txt", "x")
    archive.comment = TEXT.encode("cp437") + " ÄÖÜ".encode("cp437")


def _folder_name(archive):
    archive.writestr(f"{TEXT}/", "")
    archive.writestr("a.txt", "x")


ZIPS = {
    "a member name": lambda z: z.writestr(f"docs/{TEXT}.txt", "x"),
    "a folder name": _folder_name,
    "a member comment": _member_comment,
    "the archive comment, cp437": _archive_comment_cp437,
}


@pytest.mark.parametrize("name", list(ZIPS))
def test_zip_names_and_comments_are_a_part(name):
    assert MARK in parts(extract(zip_with(ZIPS[name]), "p.zip"))["p.zip!/names"]


def test_tar_names_link_targets_and_pax_comments_are_a_part():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        member = tarfile.TarInfo("a.txt")
        member.size = 1
        member.pax_headers = {"comment": TEXT}
        archive.addfile(member, io.BytesIO(b"x"))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, f"../{MARK}"
        archive.addfile(link)
    names = parts(extract(out.getvalue(), "p.tar"))["p.tar!/names"]
    assert TEXT in names and f"link -> ../{MARK}" in names


def test_office_packages_list_only_names_someone_chose_and_their_comments():
    import docx

    document = docx.Document()
    document.add_paragraph("hello")
    document.add_picture(io.BytesIO(_png()))
    out = io.BytesIO()
    document.save(out)
    assert "p.docx!/names" not in parts(extract(out.getvalue(), "p.docx"))  # word/media/image1.png and the like

    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    again = io.BytesIO()
    with zipfile.ZipFile(again, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(f"word/media/{TEXT}.png", _png())
        target.comment = b"reviewed"
    names = parts(extract(again.getvalue(), "p.docx"))["p.docx!/names"]
    assert MARK in names and "reviewed" in names and "image1" not in names


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "PNG")
    return out.getvalue()


# --- mail ------------------------------------------------------------------------------

def mail(**headers) -> EmailMessage:
    message = EmailMessage()
    message["From"] = '"Ann Example" <ann@corp.example>'
    message["To"] = "bob@rival.example"
    message["Subject"] = "notes"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("hello")
    return message


def _attachment(filename: str, description: str = "") -> bytes:
    message = mail()
    message.add_attachment(b"\0", maintype="application", subtype="octet-stream", filename=filename)
    if description:
        message.get_payload()[1]["Content-Description"] = description
        message.get_payload()[1]["X-Part-Note"] = description
    return message.as_bytes()


MAILS = {
    "an X- header": lambda: mail(X_Notes=TEXT).as_bytes(),
    "an RFC 2047 encoded X- header": lambda: mail(X_Notes=f"Ünïcode {TEXT}").as_bytes(),
    "Keywords and Comments": lambda: mail(Keywords=TEXT, Comments="x").as_bytes(),
    "a display name": lambda: mail(Reply_To=f'"{TEXT}" <x@corp.example>').as_bytes(),
    "an attachment name (RFC 2231)": lambda: _attachment(f"{TEXT} é.bin"),
    "a part's Content-Description and X- header": lambda: _attachment("a.bin", TEXT),
    "a Content-Type parameter": lambda: mail().as_bytes().replace(
        b'charset="utf-8"', f'charset="utf-8"; x-note="{TEXT}"'.encode()),
}


@pytest.mark.parametrize("name", list(MAILS))
def test_every_header_is_scanned_text(name):
    assert MARK in parts(extract(MAILS[name](), "m.eml"))["m.eml!/headers"]


def test_addresses_stay_out_of_the_headers_text_and_names_come_after_values():
    text = parts(extract(mail(X_A="one two three", X_B="four five six").as_bytes(), "m.eml"))["m.eml!/headers"]
    assert "@" not in text and "Ann Example" in text
    assert "one two three\nfour five six\n" in text  # no header name between two values


def test_preamble_and_epilogue_are_parts():
    raw = ("From: a@corp.example\nTo: b@rival.example\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=XX\n\n"
           f"before {TEXT}\n--XX\nContent-Type: text/plain\n\nbody\n--XX--\nafter {TEXT}\n").encode()
    found = parts(extract(raw, "m.eml"))
    assert f"before {TEXT}" in found["m.eml!/preamble"] and f"after {TEXT}" in found["m.eml!/epilogue"]
    assert "XX" not in found["m.eml!/headers"]  # the boundary is not text


# --- PDF -------------------------------------------------------------------------------

def test_pdf_information_and_xmp_are_the_properties_part():
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.setTitle(f"title {TEXT}")
    c.setKeywords("alpha beta")
    c.drawString(40, 800, "page text")
    c.showPage()
    c.save()
    pdf = out.getvalue()
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>xmp {MARK}'
           f"</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>").encode()
    found = parts(extract(_with_metadata(pdf, xmp, custom=f"custom {MARK}"), "d.pdf"))
    properties = found["d.pdf!/properties"]
    assert f"title {TEXT}" in properties and f"xmp {MARK}" in properties and f"custom {MARK}" in properties
    assert properties.rstrip().endswith("Title Author Subject Keywords Creator Producer Notes")


def _with_metadata(pdf: bytes, xmp: bytes, custom: str) -> bytes:
    """`pdf` with an incremental update: a custom Info key and an XMP stream in the catalog."""
    import re

    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    catalog = int(re.search(rb"/Root (\d+) 0 R", pdf).group(1))
    info = int(re.search(rb"/Info (\d+) 0 R", pdf).group(1))
    body = re.search(rb"%d 0 obj\s*<<(.*?)>>\s*endobj" % catalog, pdf, re.S).group(1)
    info_body = re.search(rb"%d 0 obj\s*<<(.*?)>>\s*endobj" % info, pdf, re.S).group(1)
    start = re.findall(rb"startxref\s+(\d+)", pdf)[-1]
    objects = {
        size: b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(xmp) + xmp + b"\nendstream",
        catalog: b"<<" + body + b" /Metadata %d 0 R >>" % size,
        info: b"<<" + info_body + b" /Notes (" + custom.encode() + b") >>",
    }
    update, offsets = b"\n", {}
    for number, content in objects.items():
        offsets[number] = len(pdf) + len(update)
        update += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(pdf) + len(update)
    update += b"xref\n"
    for number in sorted(offsets):
        update += b"%d 1\n%010d 00000 n \n" % (number, offsets[number])
    update += (b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n"
               % (size + 1, catalog, info, start, xref))
    return pdf + update
