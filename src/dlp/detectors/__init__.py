"""Detectors: each turns the keyed token values of one part into findings.

A detector is built once per scanner from the registry and must be cheap per part:
an index lookup per hash, never a loop over registered secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

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
        return out


class Detector(Protocol):
    name: str

    def detect(self, scanned: Scanned) -> Sequence[Finding]: ...
