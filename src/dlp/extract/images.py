"""Raster images (PNG, JPEG, TIFF, BMP, GIF, WebP), recognised by their magic bytes: the text
they carry beside their pixels and the bytes after their end (`imagemeta.image_outputs`), and
their pixels read by OCR (`ocr.read_image`). The media of office documents and pictures
decoded from a text (a ``data:`` URI, a base64 run) are handed to the walk as images too.

An image is never silently clean: without OCR (not installed, or turned off) an image large
enough to hold text is a `not_read` problem, which the policy decides like any other
unscannable content.
"""

from __future__ import annotations

import re
from typing import Iterable

from ..types import Item
from .base import Context, Output

IMAGE_MAGICS = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"BM", "bmp"),
    (b"RIFF", "webp"),
)

# Pictures inside office packages: DOCX, XLSX and PPTX media, OpenDocument pictures.
_MEDIA = re.compile(r"^(?:(?:word|xl|ppt)/media|Pictures)/[^/]+$")


def image_kind(head: bytes) -> str | None:
    """'png', 'jpeg', 'gif', 'tiff', 'bmp' or 'webp' from the first bytes, else None."""
    for magic, kind in IMAGE_MAGICS:
        if head.startswith(magic):
            if kind == "webp":
                return kind if head[8:12] == b"WEBP" else None
            if kind == "bmp":  # two letters of magic: also check the reserved zero bytes
                return kind if len(head) >= 26 and head[6:10] == b"\0\0\0\0" else None
            return kind
    return None


def is_media(name: str) -> bool:
    """Whether a member of an office package is one of its pictures (``word/media/image1.png``)."""
    return bool(_MEDIA.match(name))


class ImageExtractor:
    """Raster images: their text, read by OCR, one part per frame at ``image.png!/ocr``."""

    name = "image"

    def sniff(self, head: bytes, item: Item) -> bool:
        return image_kind(head) is not None

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        from .imagemeta import image_outputs
        from .ocr import read_image

        yield from image_outputs(item, ctx)  # text beside the pixels, bytes after the image's end
        yield from read_image(item, ctx)
