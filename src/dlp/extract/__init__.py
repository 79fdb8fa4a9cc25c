"""Extractors, tried in this order; the first whose `sniff` accepts an item reads it.

Containers come before the formats they contain (office packages before plain zip,
mbox before single messages), and the catch-alls (text, then printable strings of
unknown binary content) come last. Adding a reader is one module with a class that has a
`name`, a `sniff(head, item)` and an `extract(item, ctx)`, plus a line below; a reader of a
third party is an entry point in the group ``dlp.extractors`` naming such a class, tried
after the built-in format readers and before the catch-alls (`extractors()`). `expand_path` turns a path given on the command
line into the items to scan: a file, a Maildir folder as one item, or the files of
any other folder.
"""

from __future__ import annotations

import os
from functools import lru_cache

from ..types import Item, escape_path, file_kind
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


ENTRY_POINTS = "dlp.extractors"
_CATCH_ALLS = 4  # the HTML, XML and text readers and printable strings: a plugin's format comes before them


@lru_cache(maxsize=2)
def extractors(plugins: bool = True) -> tuple[Extractor, ...]:
    """The built-in readers with those of installed plugins (entry points ``dlp.extractors``,
    in name order) before the catch-alls. A plugin that cannot be loaded is a ConfigError."""
    if not plugins:
        return EXTRACTORS
    from importlib.metadata import entry_points

    added = []
    for point in sorted(entry_points(group=ENTRY_POINTS), key=lambda p: p.name):
        try:
            added.append(point.load()())
        except Exception as exc:  # a broken plugin is a configuration error, said once, not a crash
            from ..errors import ConfigError

            raise ConfigError(f"extractor plugin {point.name!r} ({point.value}) cannot be loaded: {exc}") from exc
    if not added:
        return EXTRACTORS
    return (*EXTRACTORS[:-_CATCH_ALLS], *added, *EXTRACTORS[-_CATCH_ALLS:])


def expand_path(path: str) -> list[Item]:
    """The items to scan for one path: the file itself; a Maildir folder (cur/ and new/)
    as one item; for any other folder, its files and Maildirs, recursively, in name
    order. Symbolic links inside folders are not followed.

    Locators are `escape_path` forms (any name, JSON-safe); `path` keeps the real name.
    A folder whose listing fails is an item too, marked ``meta["unreadable"]`` with the
    reason, so a front end reports it instead of scanning nothing in silence; so is an
    entry inside a folder that is not read (a symbolic link, a pipe, a socket, a device):
    whatever follows the link or reads the pipe later was never scanned.
    """
    if os.path.isfile(path) or is_maildir(path):
        return [_item(path, os.path.basename(path.rstrip(os.sep)) or path)]
    items: list[Item] = []
    if not os.path.isdir(path):
        return items

    def unreadable(error: OSError) -> None:
        folder = error.filename if isinstance(error.filename, str) else path
        items.append(_item(folder, os.path.basename(folder.rstrip(os.sep)) or folder,
                           unreadable=f"cannot list the folder: {error.strerror or error}"))

    for root, dirs, files in os.walk(path, onerror=unreadable):
        dirs.sort()
        for name in list(dirs):
            full = os.path.join(root, name)
            if os.path.islink(full):
                dirs.remove(name)
                items.append(_item(full, name, unreadable="symbolic link to a folder: not followed"))
            elif is_maildir(full):
                dirs.remove(name)
                items.append(_item(full, name))
        for name in sorted(files):
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                items.append(_item(full, name))
            else:
                items.append(_item(full, name, unreadable=f"not a regular file ({_kind(full)}): not read"))
    items.sort(key=lambda item: item.locator)
    return items


def _kind(path: str) -> str:
    try:
        return file_kind(os.lstat(path).st_mode)
    except OSError as exc:
        return exc.strerror or "gone"


def _item(path: str, name: str, **meta) -> Item:
    return Item(locator=escape_path(path), name=escape_path(name), path=path, meta=meta)


__all__ = ["Context", "Extractor", "Limits", "walk", "expand_path", "extractors", "EXTRACTORS"]
