"""The scanner: items in, file reports out. The one place that wires a scan together.

Front ends (CLI, watch daemon, milter, Dask runner) all call `Scanner.scan_item`,
`scan_path` or `scan_bytes`; none of them knows about detectors or extractors.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from .detectors import Detector, Scanned
from .detectors.documents import DocumentDetector, Owner
from .detectors.phrases import PhraseDetector, PhraseOwner
from .extract import EXTRACTORS, Context, Extractor, Limits, walk
from .registry import Registry
from .text import tokenise
from .types import Destination, FileReport, Finding, Item, Part, Problem
from .verdict import DefaultPolicy, Policy

DEFAULT_REGISTRY = "fingerprints"


class Scanner:
    def __init__(
        self,
        registry: Registry,
        *,
        policy: Policy | None = None,
        limits: Limits = Limits(),
        extractors: tuple[Extractor, ...] = EXTRACTORS,
        extra_detectors: Sequence[Detector] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.registry = registry
        self.keyer = registry.keyer
        self.policy = policy or DefaultPolicy()
        self.limits = limits
        self.extractors = extractors
        self.clock = clock
        self.detectors: tuple[Detector, ...] = (*_core_detectors(registry), *extra_detectors)
        self._digests = {
            v.digest: (s, v) for s in registry.secrets.values() if s.kind == "document" for v in s.versions
        }

    # -- entry points ------------------------------------------------------------

    def scan_path(self, path: str | os.PathLike, destination: Destination = Destination()) -> FileReport:
        path = os.fspath(path)
        return self.scan_item(Item(locator=path, name=os.path.basename(path), path=path), destination)

    def scan_bytes(self, data: bytes, name: str, destination: Destination = Destination()) -> FileReport:
        return self.scan_item(Item(locator=name, name=name, data=data), destination)

    def scan_item(self, item: Item, destination: Destination = Destination()) -> FileReport:
        started = self.clock()
        findings: list[Finding] = []
        problems: list[Problem] = []
        size = 0
        try:
            size = item.size
            exact = self._exact(item, size)
            if exact is not None:
                findings.append(exact)
        except OSError as exc:
            problems.append(Problem(item.locator, "unreadable", exc.strerror or str(exc)))
        meta: dict = {}
        if not problems:
            for out in walk(item, self.extractors, Context(self.limits)):
                if isinstance(out, Problem):
                    problems.append(out)
                    continue
                if out.meta and "headers" in out.meta and "headers" not in meta:
                    meta["headers"] = out.meta["headers"]
                if out.binary:
                    problems.append(Problem(out.locator, "binary", "format not recognised; printable strings scanned"))
                findings.extend(self.scan_part(out))
        decision = self.policy.decide(findings, problems, destination)
        return FileReport(
            path=item.locator, action=decision.action, findings=tuple(findings), problems=tuple(problems),
            bytes=size, seconds=self.clock() - started, decision=decision, meta=meta,
        )

    def scan_part(self, part: Part) -> list[Finding]:
        tokens = tokenise(part.text)
        if len(tokens) == 0:
            return []
        scanned = Scanned(part, tokens, self.keyer.tokens(tokens))
        out: list[Finding] = []
        for detector in self.detectors:
            out.extend(detector.detect(scanned))
        return out

    def scan_text(self, text: str, locator: str = "<text>") -> list[Finding]:
        return self.scan_part(Part(locator, text, "text"))

    # -- internals ---------------------------------------------------------------

    def _exact(self, item: Item, size: int) -> Finding | None:
        """A byte-identical copy of a registered file (also catches files without text)."""
        if not self._digests or size > self.limits.max_item_bytes:
            return None
        match = self._digests.get(self.keyer.digest(item.read()))
        if match is None:
            return None
        secret, version = match
        return Finding(secret=secret.id, version=version.version, label=secret.label, kind="document",
                       score=1.0, matched_words=version.tokens, coverage=1.0, density=1.0,
                       locator=item.locator, classification=secret.classification, tags=secret.tags,
                       detector="exact", evidence={"bytes": size})


def _core_detectors(registry: Registry) -> tuple[Detector, ...]:
    snap = registry.snapshot
    a, m = snap.arrays, snap.manifest
    by_id = registry.secrets
    owners = []
    for sid, ver in m.get("owners", []):
        s = by_id[sid]
        v = s.versions[ver - 1]
        owners.append(Owner(sid, ver, s.label, s.classification, s.tags, v.tokens))
    detectors: list[Detector] = []
    if len(a.get("idx_hash", ())):
        detectors.append(DocumentDetector(a["idx_hash"], a["idx_owner"], a["idx_pos"], owners))
    phrase_owners = []
    for sid, ver in m.get("phrase_owners", []):
        s = by_id[sid]
        minimum = s.settings.get("min_distinct" if s.kind == "terms" else "min_fields", 1)
        phrase_owners.append(PhraseOwner(sid, ver, s.kind, s.label, s.classification, s.tags, int(minimum),
                                         tuple(s.settings.get("columns", ()))))
    if len(a.get("ph_row", ())):
        detectors.append(PhraseDetector(a["ph_values"], a["ph_offset"], a["ph_row"], a["ph_col"],
                                        a["ph_owner"], phrase_owners))
    return tuple(detectors)


def registry_location(registry: str | os.PathLike | None, environ=os.environ) -> Path:
    return Path(registry or environ.get("DLP_REGISTRY") or DEFAULT_REGISTRY)


def key_location(key_file: str | os.PathLike | None, environ=os.environ) -> Path | None:
    chosen = key_file or environ.get("DLP_KEY_FILE")
    return Path(chosen) if chosen else None


def open_scanner(registry: str | os.PathLike | None = None, key_file: str | os.PathLike | None = None,
                 policy_file: str | os.PathLike | None = None, *, limits: Limits | None = None,
                 environ=os.environ) -> Scanner:
    """The composition root for every front end."""
    reg = Registry(registry_location(registry, environ), key_location(key_file, environ))
    policy = None
    if policy_file:
        from .policy import load_policy  # the destination-policy module, when installed

        policy = load_policy(Path(policy_file))
    return Scanner(reg, policy=policy, limits=limits or Limits())
