"""One exception tree for dlp.

The core raises these; only the edges translate them (exit statuses in the CLI,
SMTP replies in the milter, file dispositions in the watch daemon).
"""

from __future__ import annotations


class DlpError(Exception):
    """Base of every error dlp raises on purpose."""


class UsageError(DlpError):
    """The caller asked for something impossible (bad path, bad option)."""


class InvalidValue(UsageError, ValueError):
    """A value given by a user or a file is not one of those allowed (an unknown action name).

    Also a ValueError, so code that parses values and catches ValueError keeps working.
    """


class FilesRefused(UsageError):
    """Files a registration could not read, or empty ones: nothing of that registration is kept.
    `files`: (path, the problems met reading it; none for an empty file)."""

    def __init__(self, files: list) -> None:
        self.files = files
        super().__init__(f"{len(files)} of the files could not be registered (unreadable or empty): "
                         f"nothing registered")


class ConfigError(DlpError):
    """A configuration or policy file is invalid; the message names file and key."""


class StoreError(DlpError):
    """The registry store cannot be used."""


class StoreMissing(StoreError):
    """No registry exists at the given location."""


class StoreCorrupt(StoreError):
    """The registry's files fail their checksums or cannot be parsed."""


class StoreVersionMismatch(StoreError):
    """The store was written by another store format or normaliser version."""


class KeyMissing(StoreError):
    """The registry key file is absent or unreadable."""


class AuditError(DlpError):
    """The audit trail cannot be used: it cannot be written, its last entry does not verify,
    or an alarm stands in the way. Anything that needs the trail stops before changing state."""


class AuditFieldError(AuditError, ValueError):
    """An audit entry was given a field it may not carry (a reserved name, a value that is not JSON)."""


class ExtractionError(DlpError):
    """A part could not be read. `kind` is one of the problem kinds of the report."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class DeadlineExceeded(DlpError):
    """An expensive detection tier ran out of the item's time; the item is reported, not cleared.
    `findings`: what the tier had found before it stopped (kept: they are evidence all the same)."""

    def __init__(self, message: str, findings: tuple = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


class WorkerDied(DlpError):
    """A worker process of a batch command ended without an answer (killed, out of memory)."""
