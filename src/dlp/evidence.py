"""What a finding shows, kind by kind: positions and counts, never the text of a secret.

Each finding kind has its own frozen evidence class with an explicit serialiser
(`to_dict`) and reader (`evidence_from_dict`); modules that use evidence read typed
fields, not string keys. Positions are character offsets in the *scanned* part (`Span`),
with the PDF page and, for text read from an image, the bounding box of the lines; on the
registered side only word ranges, term line numbers, record rows and sentence numbers.

The JSON shape is the report's (`dlp.report/1`): unchanged by these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

_BASE = ("start", "end", "page", "bbox", "bbox_unit")


@dataclass(frozen=True, kw_only=True)
class Span:
    """Where in the scanned part: character offsets, and the page (PDF) or line boxes (OCR)."""

    start: int
    end: int
    page: int | None = None
    bbox: tuple | None = None  # text read by OCR: the box around the lines it comes from ...
    bbox_unit: str | None = None  # ... in "px" of the image or "pt" from the top left of the PDF page

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.page is not None:
            out["page"] = self.page
        if self.bbox is not None:
            out["bbox"] = [list(b) if isinstance(b, (list, tuple)) else b for b in self.bbox]
            out["bbox_unit"] = self.bbox_unit or "px"
        for f in fields(self):
            if f.name not in _BASE:
                value = getattr(self, f.name)
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        names = {f.name for f in fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        return cls(**values)


@dataclass(frozen=True, kw_only=True)
class Run(Span):
    """A verbatim run: its length in words and the word range it covers in the secret."""

    words: int
    secret_words: tuple[int, int]
    hits: int


@dataclass(frozen=True, kw_only=True)
class TermMatch(Span):
    term: int  # line number in the registered term file, never the term


@dataclass(frozen=True, kw_only=True)
class RowMatch(Span):
    row: int  # row number in the registered CSV
    fields: tuple[str, ...]  # names of the matched columns


@dataclass(frozen=True, kw_only=True)
class SentencePair(Span):
    secret_sentence: int
    cosine: float
    dice: float
    shared_lemmas: int


@dataclass(frozen=True, kw_only=True)
class WordWeight(Span):
    """A word of the *scanned* text that pushed a classifier's decision (the sender's own words)."""

    word: str
    weight: float


class Evidence:
    """Base of the evidence classes: a serialiser, the first span, and an excerpt of the scanned item."""

    excerpt: str | None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "excerpt" and value is None:
                continue
            if f.name == "rewrite" and value is None:
                continue
            key = "class" if f.name == "class_" else f.name
            if isinstance(value, tuple):
                value = [v.to_dict() if hasattr(v, "to_dict") else v for v in value]
            elif hasattr(value, "to_dict"):
                value = value.to_dict()
            out[key] = value
        return out

    def spans(self) -> tuple[Span, ...]:
        return ()

    def first_start(self) -> int | None:
        spans = self.spans()
        return min((s.start for s in spans), default=None)

    def with_excerpt(self, excerpt: str) -> "Evidence":
        return replace(self, excerpt=excerpt)  # type: ignore[type-var]


@dataclass(frozen=True)
class RewriteSummary:
    """A rewrite of the same secret in the same part, folded into the fingerprint finding."""

    score: float
    pair_count: int
    pairs: tuple[SentencePair, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "pair_count": self.pair_count, "pairs": [p.to_dict() for p in self.pairs]}


@dataclass(frozen=True)
class DocumentEvidence(Evidence):
    longest_run_words: int
    runs: tuple[Run, ...]
    run_count: int
    part_words: int
    secret_words: int
    rewrite: RewriteSummary | None = None
    excerpt: str | None = None

    def spans(self) -> tuple[Span, ...]:
        return self.runs


@dataclass(frozen=True)
class ExactEvidence(Evidence):
    bytes: int
    excerpt: str | None = None


@dataclass(frozen=True)
class TermsEvidence(Evidence):
    distinct_terms: int
    occurrences: int
    min_distinct: int
    matches: tuple[TermMatch, ...]
    excerpt: str | None = None

    def spans(self) -> tuple[Span, ...]:
        return self.matches


@dataclass(frozen=True)
class RecordsEvidence(Evidence):
    rows: int
    fields: int
    min_fields: int
    matches: tuple[RowMatch, ...]
    excerpt: str | None = None

    def spans(self) -> tuple[Span, ...]:
        return self.matches


@dataclass(frozen=True)
class RewriteEvidence(Evidence):
    pairs: tuple[SentencePair, ...]
    pair_count: int
    passages: int
    similarity: float
    secret_sentences: int
    analysed_sentences: int
    excerpt: str | None = None

    def spans(self) -> tuple[Span, ...]:
        return self.pairs


@dataclass(frozen=True)
class ClassifierEvidence(Evidence):
    model: str
    class_: str
    probability: float
    threshold: float
    top_words: tuple[WordWeight, ...]
    excerpt: str | None = None

    def spans(self) -> tuple[Span, ...]:
        return self.top_words


@dataclass(frozen=True)
class ObfuscationEvidence(Evidence):
    disguised_words: int
    part_words: int
    matches: tuple[Span, ...]
    excerpt: str | None = None

    def spans(self) -> tuple[Span, ...]:
        return self.matches


@dataclass(frozen=True)
class OtherEvidence(Evidence):
    """Evidence of a plugin detector, as it gave it (a mapping of positions and counts)."""

    values: Mapping[str, Any]
    excerpt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.values)
        if self.excerpt is not None:
            out["excerpt"] = self.excerpt
        return out

    def spans(self) -> tuple[Span, ...]:
        items = self.values.get("matches") or self.values.get("runs") or ()
        spans = [Span(start=int(i["start"]), end=int(i["end"])) for i in items if "start" in i and "end" in i]
        if not spans and "start" in self.values and "end" in self.values:
            spans = [Span(start=int(self.values["start"]), end=int(self.values["end"]))]
        return tuple(spans)


def evidence_from_dict(kind: str, detector: str, d: Mapping[str, Any]) -> Evidence:
    """The typed evidence of a finding read back from a report or a journal."""
    d = dict(d)
    excerpt = d.pop("excerpt", None)
    try:
        if kind == "document" and detector == "exact":
            return ExactEvidence(int(d["bytes"]), excerpt)
        if kind == "document":
            rewrite = d.get("rewrite")
            return DocumentEvidence(int(d["longest_run_words"]), tuple(Run.from_dict(r) for r in d["runs"]),
                                    int(d["run_count"]), int(d["part_words"]), int(d["secret_words"]),
                                    RewriteSummary(rewrite["score"], rewrite["pair_count"],
                                                   tuple(SentencePair.from_dict(p) for p in rewrite["pairs"]))
                                    if rewrite else None, excerpt)
        if kind == "terms":
            return TermsEvidence(int(d["distinct_terms"]), int(d["occurrences"]), int(d["min_distinct"]),
                                 tuple(TermMatch.from_dict(m) for m in d["matches"]), excerpt)
        if kind == "records":
            return RecordsEvidence(int(d["rows"]), int(d["fields"]), int(d["min_fields"]),
                                   tuple(RowMatch.from_dict(m) for m in d["matches"]), excerpt)
        if kind == "rewrite":
            return RewriteEvidence(tuple(SentencePair.from_dict(p) for p in d["pairs"]), int(d["pair_count"]),
                                   int(d["passages"]), float(d["similarity"]), int(d["secret_sentences"]),
                                   int(d["analysed_sentences"]), excerpt)
        if kind == "classifier":
            return ClassifierEvidence(d["model"], d["class"], float(d["probability"]), float(d["threshold"]),
                                      tuple(WordWeight.from_dict(w) for w in d["top_words"]), excerpt)
        if kind == "obfuscation":
            return ObfuscationEvidence(int(d["disguised_words"]), int(d["part_words"]),
                                       tuple(Span.from_dict(m) for m in d["matches"]), excerpt)
    except (KeyError, TypeError, ValueError):
        pass  # an older or foreign shape: kept as it was
    return OtherEvidence(d, excerpt)
