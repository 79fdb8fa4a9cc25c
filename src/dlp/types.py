"""Values that flow through a scan: item -> part -> finding -> file report -> report.

All are frozen dataclasses with an explicit `to_dict()`; nothing here holds the
plaintext of a registered secret.
"""

from __future__ import annotations

import enum
import errno
import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, Mapping

from .errors import InvalidValue


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
            raise InvalidValue(f"unknown action {text!r} (allow, warn, quarantine, block)") from None


# Problem kinds a report may carry. Every part that could not be read fully is one.
PROBLEM_KINDS = (
    "encrypted", "corrupt", "unsupported", "too_large", "too_deep", "ratio",
    "too_many", "timeout", "unreadable", "truncated", "binary",
    "doubtful_encoding",  # text whose encoding could not be told for sure; printable runs scanned too
    "not_read",           # a part an extractor knows it skipped (a VBA project, an unknown OLE object, an image without OCR)
    "scan_failed",        # a part a detector (or the tokeniser) failed on, by a bug: not (fully) checked
)


# Characters that would let a file name forge or hide text in a report line, a log or a terminal:
# bidirectional controls (C0 and C1 controls are caught by their category).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


_UNWRITABLE = re.compile("[\ud800-\udfff\x00-\x1f\x7f-\x9f" + "".join(sorted(_BIDI_CONTROLS)) + "]")


def writable(text: str) -> str:
    """`text` (an address, a country, a sender from a command line or the wire) as text every
    writer takes and no report line or log can be forged with: each lone surrogate (a byte
    that is no UTF-8, as command lines and the milter decode them) becomes ``\\xNN``, and each
    control and bidirectional control ``\\xNN`` or ``\\uNNNN``; the rest is unchanged, and so
    is text that is writable already (so writing it twice changes nothing). An address with a
    0xFF byte in it ended `dlp scan` with an internal error and let a blocked message through a
    fail-open milter: SQLite could not store it (found attacking stop 36)."""
    if _UNWRITABLE.search(text) is None:
        return text
    return _UNWRITABLE.sub(_escaped_character, text)


def _escaped_character(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # (a byte, as surrogateescape decodes it)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_path(name: str | bytes) -> str:
    """A file name (or path) as text that JSON, SQLite and terminals take, reversibly.

    Linux names are bytes. Python hands out undecodable bytes as lone surrogates, which no
    UTF-8 writer accepts: a report, an incident or an audit entry would fail on them. Here
    each byte that is not part of valid UTF-8, and each control or bidirectional-control
    character (a newline could forge a report line), becomes ``\\xNN``; a backslash becomes
    ``\\\\``. Every other name, the ordinary case, comes back unchanged.
    `unescape_path` gives back the exact name.
    """
    if isinstance(name, str):
        try:
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that no file system produced; keep it visible
            raw = name.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(name)
    text = raw.decode("utf-8", "surrogateescape")
    if text.isprintable() and "\\" not in text and not any(ch in _BIDI_CONTROLS for ch in text):
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def unescape_path(text: str) -> str:
    """The file-system name (a str as `os` functions take it) back from `escape_path`."""
    if "\\" not in text:
        return text
    raw = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        raw += text[position:match.start()].encode("utf-8", "surrogateescape")
        token = match.group(1)
        raw += b"\\" if token == "\\" else bytes([int(token[1:], 16)])
        position = match.end()
    raw += text[position:].encode("utf-8", "surrogateescape")
    return bytes(raw).decode("utf-8", "surrogateescape")


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """`path` opened to read if it is a regular file (a link to one is followed): a named pipe, a
    device or a socket is an OSError ("not a regular file (named pipe): not read"), not a read
    that waits for a writer or never ends. Checked on the file opened, not on its name, which
    may change between the two."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"not a regular file ({file_kind(mode)}): not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_kind(mode: int) -> str:
    """What a file that is not a regular one is, from its `st_mode`."""
    import stat

    for test, kind in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISDIR, "folder"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "unknown type"


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
        with self.open() as handle:
            return handle.read()

    def open(self) -> BinaryIO:
        """The item's file, opened to read (`open_regular`): one swapped for a named pipe after
        the folder was listed hung `dlp scan` (found attacking stop 36)."""
        assert self.path is not None
        return open_regular(self.path)

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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Problem":
        return cls(d["locator"], d["kind"], d.get("detail", ""))


@dataclass(frozen=True)
class Finding:
    """Evidence that a registered secret is present in a part.

    `evidence` (typed, per kind: `dlp.evidence`) holds positions in the scanned part
    (character offsets, pages, token counts) and never any text of the secret. `digest`
    is the finding's one identity: incidents, allow entries and exposure all use it.
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
    evidence: Any = None  # an `evidence.Evidence`; a mapping is read into one

    def __post_init__(self) -> None:
        from .evidence import Evidence, evidence_from_dict

        if not isinstance(self.evidence, Evidence):
            object.__setattr__(self, "evidence", evidence_from_dict(self.kind, self.detector, self.evidence or {}))

    @property
    def digest(self) -> str:
        """What matched, not where it sits in the scanned item (see `finding_identity`)."""
        return finding_identity(self.to_dict())

    @classmethod
    def from_dict(cls, f: Mapping[str, Any]) -> "Finding":
        return cls(secret=f["secret"], version=int(f["version"]), label=f.get("label", ""), kind=f["kind"],
                   score=float(f.get("score", 0.0)), matched_words=int(f.get("matched_words", 0)),
                   coverage=float(f.get("coverage", 0.0)), locator=f.get("locator", ""),
                   classification=f.get("classification", ""), tags=tuple(f.get("tags", ())),
                   density=float(f.get("density", 0.0)), detector=f.get("detector", ""),
                   evidence=dict(f.get("evidence", {})))

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
            "evidence": self.evidence.to_dict(),
        }


def finding_identity(f: Mapping[str, Any]) -> str:
    """The identity of what matched, not of where it sits in the scanned item: secret, version,
    kind, and the secret-side positions (word ranges, term lines, record rows). As detect-secrets
    does, a digest, so an allow entry holds no text. Works on a finding's `to_dict()` and on
    findings stored in incidents alike."""
    import hashlib
    import json

    evidence = f.get("evidence", {})
    identity: dict[str, Any] = {"secret": f["secret"], "version": f["version"], "kind": f["kind"]}
    if f["kind"] == "document":
        identity["ranges"] = sorted(tuple(run.get("secret_words", ())) for run in evidence.get("runs", ()))
        if not identity["ranges"]:  # a byte-identical copy
            identity["whole"] = f["matched_words"]
    elif f["kind"] == "terms":
        identity["terms"] = sorted({m["term"] for m in evidence.get("matches", ())})
    elif f["kind"] == "records":
        identity["rows"] = sorted({m["row"] for m in evidence.get("matches", ())})
    else:
        identity["words"] = f["matched_words"]
        identity["score"] = round(float(f["score"]), 2)
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Destination:
    """Where scanned content is going: recipient addresses, a country code, and/or the share
    (watched folder) it was dropped on."""

    addresses: tuple[str, ...] = ()
    country: str | None = None
    channel: str = "cli"  # cli | watch | mail | cluster
    share: str | None = None
    sender: str | None = None

    def __post_init__(self) -> None:  # (what a command line or the wire gave, as every writer takes it)
        object.__setattr__(self, "addresses", tuple(writable(a) for a in self.addresses))
        for name in ("country", "share", "sender"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, writable(getattr(self, name)))

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

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Decision":
        return cls(Action.parse(d["action"]), d.get("rule", ""), tuple(d.get("reasons", ())))


@dataclass(frozen=True)
class Detection:
    """What a scan found in one item, before anything is decided (see `dlp.decide`).

    Scanners, in whatever process or machine they run, return detections; the front end
    turns each into a `FileReport` through its one `Decider`. Nothing undecided can be
    written out as a verdict: a detection has no action."""

    path: str
    findings: tuple[Finding, ...] = ()
    problems: tuple[Problem, ...] = ()
    bytes: int = 0
    seconds: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def unscannable(cls, locator: str, detail: str, kind: str = "unreadable", size: int = 0) -> "Detection":
        """An item that was not scanned at all, and why (a problem the policy decides)."""
        return cls(path=locator, problems=(Problem(locator, kind, detail),), bytes=size)

    def with_problem(self, problem: Problem) -> "Detection":
        return replace(self, problems=(*self.problems, problem))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "findings": [f.to_dict() for f in self.findings],
                               "problems": [p.to_dict() for p in self.problems], "bytes": self.bytes,
                               "seconds": round(self.seconds, 4)}
        if self.meta:
            out["meta"] = dict(self.meta)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Detection":
        """A detection back from its `to_dict()` (workers send detections as JSON, never pickles)."""
        return cls(path=data["path"], findings=tuple(Finding.from_dict(f) for f in data.get("findings", ())),
                   problems=tuple(Problem.from_dict(p) for p in data.get("problems", ())),
                   bytes=int(data.get("bytes", 0)), seconds=float(data.get("seconds", 0.0)),
                   meta=dict(data.get("meta", {})))


@dataclass(frozen=True)
class FileReport:
    """The verdict for one scanned item (a file, a mail, standard input): a detection, decided."""

    path: str
    action: Action
    findings: tuple[Finding, ...] = ()
    problems: tuple[Problem, ...] = ()
    bytes: int = 0
    seconds: float = 0.0
    decision: Decision | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def detection(self) -> Detection:
        """What was found, without the decision (to decide it again, e.g. under another policy)."""
        return Detection(path=self.path, findings=self.findings, problems=self.problems, bytes=self.bytes,
                         seconds=self.seconds, meta=self.meta)

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileReport":
        """A report back from its `to_dict()` (journals and workers keep reports as JSON)."""
        return cls(path=data["path"], action=Action.parse(data["action"]),
                   findings=tuple(Finding.from_dict(f) for f in data.get("findings", ())),
                   problems=tuple(Problem.from_dict(p) for p in data.get("problems", ())),
                   bytes=int(data.get("bytes", 0)), seconds=float(data.get("seconds", 0.0)),
                   decision=Decision.from_dict(data["decision"]) if data.get("decision") else None,
                   meta=dict(data.get("meta", {})))


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
