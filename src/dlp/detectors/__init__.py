"""Detectors: each turns the keyed token values of one part into findings.

A detector is built once per scanner from the registry's `Index` and must be cheap per
part: an index lookup per hash, never a loop over registered secrets. An expensive
detector checks `Scanned.deadline` and raises `DeadlineExceeded` when it is past; the
scanner turns that into a `timeout` problem, never into silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..text import Tokens
from ..types import Finding, Part


@dataclass(frozen=True)
class Scanned:
    """One part as detectors see it."""

    part: Part
    tokens: Tokens
    values: np.ndarray  # keyed token values, uint64
    deadline: float | None = None  # time.monotonic() after which expensive tiers stop (DeadlineExceeded)

    def span(self, first: int, last: int) -> dict:
        """Evidence for tokens first..last (inclusive): source offsets and page."""
        start, end = int(self.tokens.starts[first]), int(self.tokens.ends[last])
        out = {"start": start, "end": end}
        page = self.part.page_of(start)
        if page is not None:
            out["page"] = page
        return out


class Detector(Protocol):
    name: str

    def detect(self, scanned: Scanned) -> Sequence[Finding]: ...
