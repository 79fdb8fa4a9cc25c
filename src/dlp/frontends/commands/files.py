"""Turning command-line paths into the files to read."""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import UsageError
from ...extract import expand_path
from ...types import Item, escape_path


def expand(paths: list[str], *, allow_stdin: bool = False) -> list[Path]:
    """Files named on the command line, directories expanded recursively in a stable order.

    A path that does not exist is a usage error, raised before any work starts.
    Hidden files and directories inside a directory are skipped.
    """
    out: list[Path] = []
    for raw in paths:
        if raw == "-" and allow_stdin:
            out.append(Path("-"))
            continue
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"no such file or directory: {raw}")
        if path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(Path(folder) / n for n in sorted(names) if not n.startswith("."))
        else:
            out.append(path)
    return out


def scan_items(paths: list[str]) -> list[Item]:
    """What `dlp scan` reads: files, Maildirs as single items, "-" for standard input.

    Paths are checked before any work starts. A named path that is neither a regular
    file nor a folder (a socket, a device) is still an item: reading it fails and the
    report says so, rather than skipping it silently. So is a folder that cannot be
    listed (`expand_path` marks it ``meta["unreadable"]``).
    """
    items: list[Item] = []
    for raw in paths:
        if raw == "-":
            items.append(Item(locator="<stdin>", name="<stdin>"))
            continue
        if not os.path.lexists(raw):
            raise UsageError(f"no such file or directory: {raw}")
        found = expand_path(raw)
        if not found and not os.path.isdir(raw):
            found = [Item(locator=escape_path(raw), name=escape_path(os.path.basename(raw)), path=raw)]
        items.extend(found)
    return items
