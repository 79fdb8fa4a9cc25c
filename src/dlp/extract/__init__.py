"""Extractors, tried in this order; the first whose `sniff` accepts an item reads it.

Containers come before the formats they contain (office packages before plain zip,
mbox before single messages), and the catch-alls (text, then printable strings of
unknown binary content) come last. `expand_path` turns a path given on the command
line into the items to scan: a file, a Maildir folder as one item, or the files of
any other folder.
"""

from __future__ import annotations

import os

from ..types import Item
from .archives import (
    ArExtractor,
    CompressedExtractor,
    SevenZipExtractor,
    TarExtractor,
    UnsupportedArchiveExtractor,
    ZipExtractor,
)
from .base import Context, Extractor, Limits, walk
from .images import ImageExtractor
from .mail import MailExtractor, MaildirExtractor, MboxExtractor, is_maildir
from .office import OfficeExtractor, XmlExtractor
from .ole import OleExtractor
from .pdf import PdfExtractor
from .rtf import RtfExtractor
from .text import HtmlExtractor, StringsExtractor, TextExtractor

EXTRACTORS: tuple[Extractor, ...] = (
    MaildirExtractor(),
    PdfExtractor(),
    OfficeExtractor(),
    ZipExtractor(),
    OleExtractor(),
    SevenZipExtractor(),
    CompressedExtractor(),
    TarExtractor(),
    ArExtractor(),
    UnsupportedArchiveExtractor(),
    ImageExtractor(),
    RtfExtractor(),
    MboxExtractor(),
    MailExtractor(),
    HtmlExtractor(),
    XmlExtractor(),
    TextExtractor(),
    StringsExtractor(),
)


def expand_path(path: str) -> list[Item]:
    """The items to scan for one path: the file itself; a Maildir folder (cur/ and new/)
    as one item; for any other folder, its files and Maildirs, recursively, in name
    order. Symbolic links inside folders are not followed."""
    if os.path.isfile(path) or is_maildir(path):
        return [Item(locator=path, name=os.path.basename(path.rstrip(os.sep)) or path, path=path)]
    items: list[Item] = []
    if not os.path.isdir(path):
        return items
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in list(dirs):
            full = os.path.join(root, name)
            if os.path.islink(full):
                dirs.remove(name)
            elif is_maildir(full):
                dirs.remove(name)
                items.append(Item(locator=full, name=name, path=full))
        for name in sorted(files):
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                items.append(Item(locator=full, name=name, path=full))
    items.sort(key=lambda item: item.locator)
    return items


__all__ = ["Context", "Extractor", "Limits", "walk", "expand_path", "EXTRACTORS"]
