"""Reading a file whole, as registration and training need it: all its text, its bytes, its problems."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..types import Item, Part, Problem, open_regular
from .base import Context, Limits, walk


def read_document(path: Path, extractors=None, limits: Limits = Limits()) -> tuple[str, bytes, list[Problem]]:
    """All text of a file (every part joined), its bytes, and what could not be read.

    `binary` (printable strings of an unknown format) is a fact, not a failure, and is
    not returned as a problem. Second readings of a part as a viewer shows it
    (``#visible``) are left out: their text is already in the part.
    """
    if extractors is None:
        from . import extractors as installed

        extractors = installed()
    raw, problem = _read_file(Path(path), limits)
    if problem is not None:
        return "", b"", [problem]
    texts, problems = [], []
    for out in walk(Item(locator=str(path), name=Path(path).name, data=raw), extractors, Context(limits)):
        if isinstance(out, Part):
            if not out.meta.get("reading"):  # a second reading (as shown) would register its text twice
                texts.append(out.text)
        elif out.kind != "binary":
            problems.append(out)
    return "\n\n".join(texts), raw, problems


def _read_file(path: Path, limits: Limits) -> tuple[bytes, Problem | None]:
    """The bytes of a regular file (a symbolic link to one is followed). A named pipe, a device
    or a socket is not read (one would hang the command, holding the registry's lock, until
    someone wrote to it), nor a file larger than `limits.max_item_bytes`."""
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.max_item_bytes:
                return b"", Problem(str(path), "too_large", f"{size} bytes, more than the {limits.max_item_bytes} "
                                                           f"one item may have")
            raw = handle.read(limits.max_item_bytes + 1)  # (it may have grown since)
        if len(raw) > limits.max_item_bytes:
            return b"", Problem(str(path), "too_large", f"more than the {limits.max_item_bytes} bytes one item may have")
        return raw, None
    except OSError as exc:
        return b"", Problem(str(path), "unreadable", exc.strerror or str(exc))


READ_BATCH = 64  # files per task


def read_documents(paths: list[Path], *, workers: int = 1,
                   meanwhile: Callable[[], Any] | None = None) -> list[tuple[str, bytes, list[Problem]]]:
    """`read_document` of each path, in order; in `workers` processes when there are many
    (`meanwhile`: what this process does while they read; see `parallel.ordered_map`)."""
    from .. import parallel

    pieces = [paths[r.start : r.stop] for r in parallel.chunks((1 for _ in paths), READ_BATCH, READ_BATCH)]
    if len(paths) < parallel.FEW_FILES:
        workers = 1
    return [read for batch in parallel.ordered_map(_read_batch, pieces, workers=workers, meanwhile=meanwhile)
            for read in batch]


def _read_batch(paths: list[Path]) -> list[tuple[str, bytes, list[Problem]]]:
    return [read_document(p) for p in paths]
