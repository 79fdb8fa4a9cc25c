"""Values that flow through a scan: item -> part -> finding -> file report -> report.

All are frozen dataclasses with an explicit `to_dict()`; nothing here holds the
plaintext of a registered secret.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping


class Action(enum.IntEnum):
    """What happens to an item, ordered from least to most severe."""

    ALLOW = 0
    WARN = 1
    QUARANTINE = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Action":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown action {text!r} (allow, warn, quarantine, block)") from None


# Problem kinds a report may carry. Every part that could not be read fully is one.
PROBLEM_KINDS = (
    "encrypted", "corrupt", "unsupported", "too_large", "too_deep", "ratio",
    "too_many", "timeout", "unreadable", "truncated", "binary",
    "not_read",  # content dlp chose or was unable to read (an image without OCR)
)


@dataclass(frozen=True)
class Item:
    """Something to extract: a file on disk or bytes from a container.

    `locator` names it through its containers, e.g. ``mail.eml!/attachments/plan.zip!/q3.docx``.
    Exactly one of `path` and `data` is set.
    """

    locator: str
    name: str
    path: str | None = None
    data: bytes | None = None
    depth: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        with open(self.path, "rb") as handle:
            return handle.read()

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        import os

        assert self.path is not None
        return os.path.getsize(self.path)


@dataclass(frozen=True)
class Part:
    """Text extracted from one item (or one section of it).

    `pages` holds the character offset at which each page starts (PDFs), empty otherwise.
    `meta` carries format facts such as mail headers; `binary` marks printable strings
    pulled from content of unknown format.
    """

    locator: str
    text: str
    format: str
    pages: tuple[int, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    binary: bool = False

    def page_of(self, offset: int) -> int | None:
        """1-based page number of a character offset, or None for unpaged parts."""
        if not self.pages:
            return None
        import bisect

        return bisect.bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Problem:
    """A part that could not be read (fully), with the reason."""

    locator: str
    kind: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"locator": self.locator, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class Finding:
    """Evidence that a registered secret is present in a part.

    `evidence` holds positions in the scanned part (character offsets, pages, token
    counts, matcher names) and never any text of the secret.
    """

    secret: str
    version: int
    label: str
    kind: str  # document | terms | records | rewrite | classifier
    score: float
    matched_words: int
    coverage: float
    locator: str
    classification: str = ""
    tags: tuple[str, ...] = ()
    density: float = 0.0
    detector: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "secret": self.secret,
            "version": self.version,
            "label": self.label,
            "kind": self.kind,
            "detector": self.detector,
            "classification": self.classification,
            "tags": list(self.tags),
            "score": round(self.score, 4),
            "matched_words": self.matched_words,
            "coverage": round(self.coverage, 4),
            "density": round(self.density, 4),
            "locator": self.locator,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True)
class Destination:
    """Where scanned content is going: recipient addresses, a country code, and/or the share
    (watched folder) it was dropped on."""

    addresses: tuple[str, ...] = ()
    country: str | None = None
    channel: str = "cli"  # cli | watch | mail | cluster
    share: str | None = None
    sender: str | None = None

    @property
    def is_unknown(self) -> bool:
        return not self.addresses and self.country is None and self.share is None


@dataclass(frozen=True)
class Decision:
    """The action for one item and the rule that chose it."""

    action: Action
    rule: str
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action.label, "rule": self.rule, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class FileReport:
    """The verdict for one scanned item (a file, a mail, standard input)."""

    path: str
    action: Action
    findings: tuple[Finding, ...] = ()
    problems: tuple[Problem, ...] = ()
    bytes: int = 0
    seconds: float = 0.0
    decision: Decision | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "action": self.action.label,
            "findings": [f.to_dict() for f in self.findings],
            "problems": [p.to_dict() for p in self.problems],
            "bytes": self.bytes,
            "seconds": round(self.seconds, 4),
        }
        if self.decision is not None:
            out["decision"] = self.decision.to_dict()
        if self.meta:
            out["meta"] = dict(self.meta)
        return out


REPORT_SCHEMA = "dlp.report/1"


@dataclass(frozen=True)
class Report:
    files: tuple[FileReport, ...]
    seconds: float = 0.0

    def actions(self) -> dict[str, int]:
        counts = {a.label: 0 for a in Action}
        for f in self.files:
            counts[f.action.label] += 1
        return counts

    @property
    def worst(self) -> Action:
        return max((f.action for f in self.files), default=Action.ALLOW)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "files": [f.to_dict() for f in self.files],
            "summary": {
                "files": len(self.files),
                "bytes": sum(f.bytes for f in self.files),
                "seconds": round(self.seconds, 4),
                "actions": self.actions(),
                "problems": sum(len(f.problems) for f in self.files),
            },
        }
