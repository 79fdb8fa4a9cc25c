"""Which names in an outbox are still being written, and how a taken name gets a suffix."""

from __future__ import annotations

import fnmatch
import os

# Names that writers use while a file is incomplete; the file is picked up once renamed.
# Any path component starting with "." is ignored as well (dotfiles, .~lock.*#, .dlp-work).
TEMPORARY_NAMES = ("*.part", "*.partial", "*.tmp", "*.temp", "*.crdownload", "*.download", "~$*", "*~")


def is_temporary(rel: str, patterns: tuple[str, ...] = TEMPORARY_NAMES) -> bool:
    """True when the relative path is a dotfile, lies in a dot folder, or matches a temporary pattern."""
    parts = rel.split(os.sep)
    if any(part.startswith(".") for part in parts):
        return True
    name = parts[-1]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def with_suffix(rel: str, n: int) -> str:
    """`rel` with collision number `n` before its extensions: ``a/plan.tar.gz`` -> ``a/plan~2.tar.gz``.

    n == 0 is the name itself.
    """
    if n == 0:
        return rel
    folder, name = os.path.split(rel)
    stem, dot, extensions = name.partition(".")
    if not stem:  # a name like ".x" never reaches here (dotfiles are ignored), but stay total
        stem, dot, extensions = name, "", ""
    return os.path.join(folder, f"{stem}~{n}{dot}{extensions}")
