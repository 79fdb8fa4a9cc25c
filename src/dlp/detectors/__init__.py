"""Detectors: each turns the keyed token values of one part into findings.

A detector is built once per scanner from the registry's `Index` and must be cheap per
part: an index lookup per hash, never a loop over registered secrets. An expensive
detector checks `Scanned.deadline` and raises `DeadlineExceeded` when it is past; the
scanner turns that into a `timeout` problem, never into silence.

**Adding one** is one module with a class that has a `name`, a `detect(scanned)` and a
`from_index(index)` class method (returning None when the registry holds nothing for it),
plus a line in `BUILTIN`, cheap before expensive. A detector of a third party is an entry
point in the group ``dlp.detectors`` naming such a class; it runs after the built-in ones.

**Explaining** (`dlp scan --explain`): a detector that sets a candidate aside (a run too
short to count, boilerplate, a rewrite that did not align, a record with too few fields)
calls `scanned.discard(...)` with the secret's id, a reason and numbers: never text. The
report carries them in a debug section, so "why was this not found?" has an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from ..extract.ocr import ocr_location
from ..text import Tokens
from ..types import Finding, Part


@dataclass(frozen=True)
class Scanned:
    """One part as detectors see it."""

    part: Part
    tokens: Tokens
    values: np.ndarray  # keyed token values, uint64
    deadline: float | None = None  # time.monotonic() after which expensive tiers stop (DeadlineExceeded)
    explain: list | None = None  # when given, detectors add what they set aside (`discard`)

    def discard(self, detector: str, secret: str, reason: str, **numbers: Any) -> None:
        """Note a candidate set aside and why (ids and numbers only: never the text of either side)."""
        if self.explain is not None and len(self.explain) < MAX_EXPLAINED:
            self.explain.append({"part": self.part.locator, "detector": detector, "secret": secret,
                                 "reason": reason, **numbers})

    def span(self, first: int, last: int) -> dict:
        """Evidence for tokens first..last (inclusive): source offsets and page (for text read by
        OCR, the page and the box of the matched lines)."""
        start, end = int(self.tokens.starts[first]), int(self.tokens.ends[last])
        out = {"start": start, "end": end}
        page = self.part.page_of(start)
        if page is not None:
            out["page"] = page
        if "ocr" in self.part.meta:
            out.update(ocr_location(self.part.meta["ocr"], start, end))
        shift = self.part.meta.get("char_offset", 0)  # a chunk of a streamed file: offsets in the whole file
        if shift or "gaps" in self.part.meta:
            gaps = self.part.meta.get("gaps", ())
            out["start"], out["end"] = start + shift + _removed(gaps, start), end + shift + _removed(gaps, end - 1)
        return out


def _removed(gaps, position: int) -> int:
    """Characters a streamed chunk left out before `position` (see `extract.stream`)."""
    import bisect

    at = bisect.bisect_right([p for p, _ in gaps], position)
    return gaps[at - 1][1] if at else 0


class Detector(Protocol):
    name: str

    def detect(self, scanned: Scanned) -> Sequence[Finding]: ...


MAX_EXPLAINED = 200  # set-aside candidates kept per item: the debug section stays readable and bounded

# module:class of the built-in detectors, cheap before expensive
BUILTIN = (
    "dlp.detectors.documents:DocumentDetector",
    "dlp.detectors.phrases:PhraseDetector",
    "dlp.detectors.rewrite:RewriteDetector",
    "dlp.detectors.obfuscation:ObfuscationDetector",
)
ENTRY_POINTS = "dlp.detectors"


def build(index, plugins: bool = True) -> tuple[Detector, ...]:
    """The detectors over `index`: the built-in ones with data in the registry, then plugins."""
    import importlib
    from importlib.metadata import entry_points

    classes = []
    for spec in BUILTIN:
        module, _, name = spec.partition(":")
        classes.append(getattr(importlib.import_module(module), name))
    if plugins:
        for point in sorted(entry_points(group=ENTRY_POINTS), key=lambda p: p.name):
            try:
                classes.append(point.load())
            except Exception as exc:  # a broken plugin is a configuration error, said once, not a crash
                from ..errors import ConfigError

                raise ConfigError(f"detector plugin {point.name!r} ({point.value}) cannot be loaded: {exc}") from exc
    out = []
    for cls in classes:
        detector = cls.from_index(index)
        if detector is not None:
            out.append(detector)
    return tuple(out)
