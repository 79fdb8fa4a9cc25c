"""What is registered, as metadata: secrets, their versions, public content. Never content.

The catalogue is the human side of the registry: ids, labels, classifications, owners,
tags, and for each version the keyed digest of its file, its size in words and its file
name. It is stored as one JSON file per generation beside the segments' arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from .errors import UsageError

KINDS = ("document", "terms", "records")
CLASSIFICATIONS = ("public", "internal", "confidential", "secret")
DEFAULT_CLASSIFICATION = "confidential"


@dataclass
class Version:
    version: int
    digest: str  # keyed digest of the registered file's bytes
    tokens: int
    registered: float
    source: str  # file name only
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "tokens": self.tokens,
                "registered": self.registered, "source": self.source, **self.extra}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Version":
        base = {k: d[k] for k in ("version", "digest", "tokens", "registered", "source")}
        return cls(**base, extra={k: v for k, v in d.items() if k not in base})


@dataclass
class Secret:
    id: str
    kind: str
    label: str = ""
    classification: str = DEFAULT_CLASSIFICATION
    owner: str = ""
    tags: tuple[str, ...] = ()
    versions: list[Version] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # min_distinct, min_fields, columns
    origin: dict[str, Any] = field(default_factory=dict)  # a mirrored folder: folder, path, size, mtime_ns

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def version(self, number: int) -> Version:
        for v in self.versions:
            if v.version == number:
                return v
        raise UsageError(f"{self.id} has no version {number}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "classification": self.classification,
                "owner": self.owner, "tags": list(self.tags), "settings": dict(self.settings),
                "versions": [v.to_dict() for v in self.versions], **({"origin": self.origin} if self.origin else {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Secret":
        return cls(d["id"], d["kind"], d.get("label", ""), d.get("classification", DEFAULT_CLASSIFICATION),
                   d.get("owner", ""), tuple(d.get("tags", ())), [Version.from_dict(v) for v in d["versions"]],
                   dict(d.get("settings", {})), dict(d.get("origin", {})))

    def relabel(self, label: str = "", classification: str | None = None, owner: str = "",
                tags: Sequence[str] = ()) -> bool:
        """Metadata given explicitly replaces the old; True when anything changed."""
        before = (self.label, self.classification, self.owner, self.tags)
        self.label = label or self.label
        self.classification = classification or self.classification
        self.owner = owner or self.owner
        self.tags = tuple(tags) or self.tags
        return before != (self.label, self.classification, self.owner, self.tags)
