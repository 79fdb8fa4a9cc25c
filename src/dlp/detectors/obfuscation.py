"""Hidden words: invisible characters inside words and lookalike letters, as a finding of their own.

The normaliser sees through both (`text.normalise`, `text.confusables`), so a registered
excerpt is found however it was disguised. But someone who puts a zero-width space in
every third word, or writes Latin words with Cyrillic letters, is hiding something, and a
reviewer should hear of it even when no registered secret is behind it. A part where at
least `MIN_TOKENS` words and `MIN_SHARE` of all words were disguised gets a finding of kind
``obfuscation`` (default policy: warn; a policy rule can escalate it). Its evidence holds
counts and the offsets of the first disguised words, never their text.
"""

from __future__ import annotations

import math

from ..evidence import ObfuscationEvidence, Span
from ..types import Finding
from . import Scanned

MIN_TOKENS = 5
MIN_SHARE = 0.02
MAX_EVIDENCE = 10


class ObfuscationDetector:
    name = "normaliser"

    @classmethod
    def from_index(cls, index) -> "ObfuscationDetector":
        return cls()

    def detect(self, scanned: Scanned) -> list[Finding]:
        tampered = scanned.tokens.tampered
        total = len(scanned.values)
        if len(tampered) < MIN_TOKENS or len(tampered) < MIN_SHARE * total:
            if len(tampered):
                scanned.discard(self.name, "obfuscation", "too few disguised words", words=int(len(tampered)),
                                needed=max(MIN_TOKENS, math.ceil(MIN_SHARE * total)))
            return []
        share = len(tampered) / max(1, total)
        spans = tuple(Span(**scanned.span(int(i), int(i))) for i in tampered[:MAX_EVIDENCE].tolist())
        return [Finding(
            secret="obfuscation", version=1, label="Words disguised with invisible or lookalike characters",
            kind="obfuscation", score=min(1.0, share * 10), matched_words=int(len(tampered)), coverage=0.0,
            locator=scanned.part.locator, density=min(1.0, share), detector=self.name,
            evidence=ObfuscationEvidence(int(len(tampered)), int(total), spans),
        )]
