"""Tables derived from installed word lists, kept between processes.

The English table of the rewrite tier and the word table of the tokeniser are computed
from `spacy-lookups-data` and spaCy's stop list: public English words, unkeyed. Building
them costs 1.6 s of JSON parsing and tokenising, paid by every command that creates a
registry (and by every test that does). The confusables table (`text.confusables`) is parsed
from Unicode's data in 20 ms, paid by every scan that meets non-ASCII text. They are the same for every registry on a
machine until the word lists or the code that reads them change, so they are kept in a
per-user cache folder, under a name that digests both: the versions of the data
packages, the normaliser's version and the source of the modules that compute them.
A change to any of these is a different file; nothing is ever read from a stale one.

Registries still store their own keyed copy (`fingerprint.lexicon`): the cache only
spares the parsing. A cache that cannot be read or written (a read-only home, a full
disk, a damaged file) costs the parsing again, never a wrong table.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

_SOURCES = ("english.py", "spacing.py", "normalise.py", "confusables.py", "code.py")


def cache_folder() -> Path | None:
    """Where derived tables are kept: $DLP_CACHE_DIR, else $XDG_CACHE_HOME/dlp, else ~/.cache/dlp
    (None when $DLP_CACHE_DIR is set empty: no cache)."""
    chosen = os.environ.get("DLP_CACHE_DIR")
    if chosen is not None:
        return Path(chosen) if chosen else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlp"


def cached_arrays(name: str, version: str, names: tuple[str, ...],
                  build: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """`build()` (arrays named `names`), or the arrays an earlier call of the same `version`, data and
    code kept in the cache folder."""
    folder = cache_folder()
    if folder is None:
        return build()
    path = folder / f"{name}-{_digest(version)}.npz"
    try:
        if not _private(path):  # a table someone else could have written is not read
            raise OSError(f"{path}: not the user's own, or writable by others")
        with np.load(path, allow_pickle=False) as stored:
            if set(stored.files) == set(names):
                return tuple(np.array(stored[n]) for n in names)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # absent, unreadable or damaged: built again
        pass
    arrays = build()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".npz", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **dict(zip(names, arrays)))
            os.replace(tmp, path)  # whole or not at all, whoever else writes it at the same time
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:  # a read-only or full cache folder: the table was built, that is enough
        pass
    return arrays


def _private(path: Path) -> bool:
    """Whether `path` and its folder belong to this user and nobody else may write them: the
    tables decide how text is tokenised, so one planted in a shared folder could blind dlp."""
    for where in (path, path.parent):
        st = os.stat(where)
        if st.st_uid != os.getuid() or st.st_mode & 0o022:
            return False
    return True


def _digest(version: str) -> str:
    h = hashlib.blake2b(version.encode(), digest_size=12)
    here = Path(__file__).parent
    for source in _SOURCES:  # the code that computes the tables: an edit is a different file
        h.update((here / source).read_bytes())
    return h.hexdigest()
