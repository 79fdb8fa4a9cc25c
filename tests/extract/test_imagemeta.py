"""Pictures (extract/imagemeta.py): the text they carry beside their pixels is a part
(``!/metadata``), bytes after their end a child item read by content
(``!/trailing``); pictures made by Pillow, the segments Pillow cannot write by hand."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image, PngImagePlugin

from dlp.extract import EXTRACTORS, Context, walk
from dlp.extract.base import Limits
from dlp.types import Item, Part, Problem

from helpers import prose

MARK = "ZEBRA-PLUTONIUM-7731"
TEXT = f"{prose(12, 7)} {MARK}"


def extract(data: bytes, name: str = "pic", limits: Limits = Limits()) -> list[Part | Problem]:
    return list(walk(Item(locator=name, name=name, data=data), EXTRACTORS, Context(limits)))


def parts(outputs) -> dict[str, str]:
    return {o.locator: o.text for o in outputs if isinstance(o, Part)}


def picture(kind: str, **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 12), (30, 120, 200)).save(out, kind, **options)
    return out.getvalue()


def png_info(**chunks) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for how, value in chunks.items():
        if how == "itxt":
            info.add_itxt("Description", value, lang="en", tkey="Beschreibung")
        elif how == "itxt_compressed":
            info.add_itxt("Description", value, zip=True)
        else:
            info.add_text("Comment", value, zip=how == "ztxt")
    return info


def exif(**tags) -> bytes:
    data = Image.new("RGB", (1, 1)).getexif()
    for tag, value in tags.items():
        data[int(tag[1:], 16)] = value
    return data.tobytes()


def segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def with_segment(jpeg: bytes, marker: int, body: bytes) -> bytes:
    """A JPEG with one more segment right after SOI."""
    return jpeg[:2] + segment(marker, body) + jpeg[2:]


XMP = (f'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       f'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:description>{TEXT}</dc:description>'
       f'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode()


def iptc_caption(text: str) -> bytes:
    record = b"\x1c\x02\x78" + struct.pack(">H", len(text.encode())) + text.encode()
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record + b"\0" * (len(record) & 1)
    return b"Photoshop 3.0\0" + resource


def gif_with_xmp(xmp: bytes) -> bytes:
    """XMP the way Adobe writes it into a GIF: raw bytes after the application id, then a
    "magic trailer" (0x01, 0xFF down to 0x01, 0x00, 0x00) that brings a sub-block reader
    that lands anywhere in it to the block's end."""
    gif = picture("GIF")
    trailer = b"\x01" + bytes(range(255, 0, -1)) + b"\x00\x00"  # 258 bytes
    return gif[:-1] + b"\x21\xff\x0bXMP DataXMP" + xmp + trailer + gif[-1:]


def gif_with_extension(label: int, payload: bytes) -> bytes:
    gif = picture("GIF")
    blocks = b"".join(bytes([len(payload[i:i + 255])]) + payload[i:i + 255] for i in range(0, len(payload), 255))
    return gif[:-1] + b"\x21" + bytes([label]) + blocks + b"\x00" + gif[-1:]


METADATA = {
    # name: (picture bytes, file name)
    "png tEXt": (lambda: picture("PNG", pnginfo=png_info(text=TEXT)), "p.png"),
    "png zTXt": (lambda: picture("PNG", pnginfo=png_info(ztxt=TEXT)), "p.png"),
    "png iTXt": (lambda: picture("PNG", pnginfo=png_info(itxt=TEXT)), "p.png"),
    "png iTXt compressed": (lambda: picture("PNG", pnginfo=png_info(itxt_compressed=TEXT)), "p.png"),
    "png eXIf": (lambda: picture("PNG", exif=exif(x010E=TEXT)), "p.png"),
    "jpeg COM": (lambda: picture("JPEG", comment=TEXT.encode()), "p.jpg"),
    "jpeg EXIF ImageDescription": (lambda: picture("JPEG", exif=exif(x010E=TEXT)), "p.jpg"),
    "jpeg EXIF Artist": (lambda: picture("JPEG", exif=exif(x013B=TEXT)), "p.jpg"),
    "jpeg EXIF XPComment (UTF-16)": (lambda: picture("JPEG", exif=exif(x9C9C=TEXT.encode("utf-16-le"))), "p.jpg"),
    "jpeg XMP": (lambda: with_segment(picture("JPEG"), 0xE1, b"http://ns.adobe.com/xap/1.0/\0" + XMP), "p.jpg"),
    "jpeg IPTC caption": (lambda: with_segment(picture("JPEG"), 0xED, iptc_caption(TEXT)), "p.jpg"),
    "jpeg APP15 of a tool's own": (lambda: with_segment(picture("JPEG"), 0xEF, b"notes\0" + TEXT.encode()), "p.jpg"),
    "gif comment": (lambda: picture("GIF", comment=TEXT.encode()), "p.gif"),
    "gif plain text extension": (lambda: gif_with_extension(0x01, b"\0" * 12 + TEXT.encode()), "p.gif"),
    "gif XMP (raw, with its magic trailer)": (lambda: gif_with_xmp(XMP), "p.gif"),
    "gif application extension of a tool's own": (lambda: gif_with_extension(0xFF, b"NOTES1.0abc" + TEXT.encode()), "p.gif"),
    "tiff ImageDescription": (lambda: picture("TIFF", description=TEXT), "p.tif"),
    "webp EXIF": (lambda: picture("WEBP", exif=exif(x010E=TEXT)), "p.webp"),
}


@pytest.mark.parametrize("name", list(METADATA))
def test_text_beside_the_pixels_is_the_metadata_part(name):
    build, filename = METADATA[name]
    outputs = extract(build(), filename)
    assert MARK in parts(outputs).get(f"{filename}!/metadata", ""), parts(outputs)
    assert not [o for o in outputs if isinstance(o, Problem)]


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(TEXT)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("q3.txt", TEXT)
    return out.getvalue()


TRAILING = {
    # name: (picture, what follows it, the locator the text is found at)
    "text after a PNG's IEND": ("PNG", lambda: TEXT.encode(), "p!/trailing"),
    "text after a JPEG's EOI": ("JPEG", lambda: b"\n" + TEXT.encode(), "p!/trailing"),
    "a zip after a GIF's trailer": ("GIF", zip_bytes, "p!/trailing!/q3.txt"),
    "a DOCX after a JPEG (polyglot)": ("JPEG", docx_bytes, "p!/trailing"),
    "text after a WebP's RIFF": ("WEBP", lambda: TEXT.encode(), "p!/trailing"),
    "text after a BMP's declared size": ("BMP", lambda: TEXT.encode(), "p!/trailing"),
}


@pytest.mark.parametrize("name", list(TRAILING))
def test_bytes_after_the_image_are_read_by_their_content(name):
    kind, tail, locator = TRAILING[name]
    found = parts(extract(picture(kind) + tail(), "p"))
    assert MARK in found.get(locator, ""), found


def test_a_progressive_jpeg_is_walked_past_its_scans():
    data = picture("JPEG", progressive=True, comment=b"first") + TEXT.encode()
    assert MARK in parts(extract(data, "p.jpg"))["p.jpg!/trailing"]


@pytest.mark.parametrize("padding", [b"\0" * 64, b"\n", b"\xff\xff\xff", b" \r\n"])
def test_padding_after_the_end_is_no_item(padding):
    assert list(parts(extract(picture("JPEG") + padding, "p.jpg"))) == ["p.jpg!/ocr"]  # the pixels' part alone


def test_an_ordinary_photo_makes_no_new_part():
    assert list(parts(extract(picture("JPEG"), "p.jpg"))) == ["p.jpg!/ocr"]
    assert list(parts(extract(picture("PNG"), "p.png"))) == ["p.png!/ocr"]


def test_a_ztxt_bomb_is_a_ratio_problem():
    png = picture("PNG")
    bomb = b"Comment\0\0" + zlib.compress(b"a" * (40 * 1024 * 1024), 9)
    chunk = struct.pack(">I", len(bomb)) + b"zTXt" + bomb + struct.pack(">I", zlib.crc32(b"zTXt" + bomb))
    data = png[:33] + chunk + png[33:]  # after IHDR
    outputs = extract(data, "p.png")
    # the metadata part says ratio; the pixels are not read either (Pillow refuses such a chunk)
    assert [(o.locator, o.kind) for o in outputs if isinstance(o, Problem)] == [("p.png!/metadata", "ratio"),
                                                                                 ("p.png", "corrupt")]


def test_a_damaged_ztxt_is_a_corrupt_problem_and_the_rest_is_read():
    png = picture("PNG", pnginfo=png_info(text=TEXT))
    body = b"Comment\0\0not zlib at all"
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body + b"\0\0\0\0"
    outputs = extract(png[:33] + chunk + png[33:], "p.png")
    # the metadata part and the pixels (a chunk with a bad checksum) are both damaged
    assert [(o.locator, o.kind) for o in outputs if isinstance(o, Problem)] == [("p.png!/metadata", "corrupt"),
                                                                                 ("p.png", "corrupt")]
    assert MARK in parts(outputs)["p.png!/metadata"]


@pytest.mark.parametrize("cut", [20, 40, 90, -12])
def test_a_truncated_picture_is_read_as_far_as_it_goes(cut):
    data = picture("PNG", pnginfo=png_info(text=TEXT))
    outputs = extract(data[:cut], "p.png")
    assert all(isinstance(o, (Part, Problem)) for o in outputs)


def test_an_exif_loop_of_offsets_ends():
    block = bytearray(b"II*\x00\x08\x00\x00\x00" + b"\x01\x00" + struct.pack("<HHII", 0x8769, 4, 1, 8) + struct.pack("<I", 8))
    data = with_segment(picture("JPEG"), 0xE1, b"Exif\0\0" + bytes(block))
    assert MARK not in str(parts(extract(data, "p.jpg")))  # and it returns


def test_a_picture_in_a_data_uri_is_read_for_its_metadata_and_its_pixels():
    import base64

    png = picture("PNG", pnginfo=png_info(text=TEXT))
    page = f'<html><body><p>hello</p><img src="data:image/png;base64,{base64.b64encode(png).decode()}"></body></html>'
    outputs = extract(page.encode(), "page.html")
    assert MARK in parts(outputs)["page.html!/data[1]!/metadata"]
    assert "page.html!/data[1]!/ocr" in parts(outputs)  # an icon: skipped as small, and said so
    assert not [o for o in outputs if isinstance(o, Part) and o.binary]


def test_tiff_entries_all_pointing_at_the_whole_file_are_read_once_over():
    n = 4096
    entries = b"".join(struct.pack("<HHII", 0x010E, 2, 10_000_000, 0) for _ in range(n))
    data = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", n) + entries + b"\0\0\0\0" + b"A" * 2_000_000
    outputs = extract(data, "p.tif")  # was 4,096 copies of the file, each guessed at by charset detection
    assert len(parts(outputs)["p.tif!/metadata"]) < 40_000_000
