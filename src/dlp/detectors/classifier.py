"""Look-alike documents: trained classifiers over hashed features of the part's keyed tokens.

A finding names the model and class (a tag or label of registered secrets), its
probability, and the words of the *scanned* text that pushed the decision most (the
sender's own words; the model itself holds no words). Too short parts are skipped:
a classifier says little about a one-line note.
"""

from __future__ import annotations

import numpy as np

from ..classify.model import Model
from ..evidence import ClassifierEvidence, WordWeight
from ..types import Finding
from . import Scanned

MIN_TOKENS = 30
TOP_WORDS = 8


class ClassifierDetector:
    name = "classifier"

    def __init__(self, model: Model, min_tokens: int = MIN_TOKENS) -> None:
        self.model = model
        self.min_tokens = min_tokens

    def detect(self, scanned: Scanned) -> list[Finding]:
        if len(scanned.values) < self.min_tokens:
            return []
        out = []
        for pred in self.model.predict(scanned.values):
            if pred.probability < pred.cls.threshold:
                if pred.probability >= pred.cls.threshold / 2:  # near misses only: the rest is noise
                    scanned.discard(self.name, f"{self.model.name}:{pred.cls.name}", "below the threshold",
                                    probability=round(float(pred.probability), 4), threshold=pred.cls.threshold)
                continue
            out.append(Finding(
                secret=f"{self.model.name}:{pred.cls.name}", version=1, label=pred.cls.name, kind="classifier",
                score=pred.probability, matched_words=int(len(scanned.values)), coverage=0.0,
                locator=scanned.part.locator, tags=(pred.cls.name,) if pred.cls.kind == "tag" else (),
                density=1.0, detector=self.name,
                evidence=ClassifierEvidence(self.model.name, pred.cls.name, round(pred.probability, 4),
                                            pred.cls.threshold, _top_words(scanned, pred.contributions)),
            ))
        return out


def _top_words(scanned: Scanned, contributions: np.ndarray) -> tuple[WordWeight, ...]:
    """The scanned part's words with the largest positive weights, once each, with a position."""
    order = np.argsort(-contributions, kind="stable")
    seen, out = set(), []
    for i in order.tolist():
        if contributions[i] <= 0 or len(out) >= TOP_WORDS:
            break
        value = int(scanned.values[i])
        if value in seen:
            continue
        seen.add(value)
        span = scanned.span(i, i)
        out.append(WordWeight(**span, word=scanned.part.text[span["start"]:span["end"]],
                              weight=round(float(contributions[i]), 4)))
    return tuple(out)
