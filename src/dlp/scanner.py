"""The scanner: items in, file reports out. The one place that wires a scan together.

Front ends (CLI, watch daemon, milter, Dask runner) all call `Scanner.scan_item`,
`scan_path` or `scan_bytes`; none of them knows about detectors or extractors.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .detectors import Detector, Scanned
from .detectors.documents import DocumentDetector, Owner
from .classify.model import Model, load_models
from .detectors.classifier import ClassifierDetector
from .detectors.phrases import PhraseDetector, PhraseOwner
from .detectors.rewrite import RewriteDetector, RewriteSettings
from .fingerprint.rewrite import REWRITE_VERSION, SentenceVectors
from .extract import EXTRACTORS, Context, Extractor, Limits, walk
from .extract.ocr import Ocr, OcrSettings, ocr_summary
from .registry import Registry
from .text import tokenise
from .types import Destination, FileReport, Finding, Item, Part, Problem
from .verdict import DefaultPolicy, Policy

DEFAULT_REGISTRY = "fingerprints"
DEFAULT_MODELS = "models"  # beside the registry directory
DEFAULT_STATE = "state"    # beside the registry directory


class Scanner:
    def __init__(
        self,
        registry: Registry,
        *,
        policy: Policy | None = None,
        limits: Limits = Limits(),
        extractors: tuple[Extractor, ...] = EXTRACTORS,
        extra_detectors: Sequence[Detector] = (),
        models: Sequence[Model] = (),
        excerpt_chars: int = 0,
        ocr: Ocr | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.registry = registry
        self.ocr = ocr if ocr is not None else Ocr()  # one engine and image cache for every item
        self.keyer = registry.keyer
        self.policy = policy or DefaultPolicy()
        self.limits = limits
        self.extractors = extractors
        self.clock = clock
        self.excerpt_chars = excerpt_chars  # > 0 only when the policy asks for excerpts of scanned items
        # cheap before expensive: fingerprints and phrases, the rewrite tier, then classifiers
        self.detectors: tuple[Detector, ...] = (*_core_detectors(registry), *extra_detectors,
                                                *(ClassifierDetector(m) for m in models))
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
        read_by_ocr: list = []
        if not problems:
            for out in walk(item, self.extractors, Context(self.limits, ocr=self.ocr)):
                if isinstance(out, Problem):
                    problems.append(out)
                    continue
                if out.meta and "headers" in out.meta and "headers" not in meta:
                    meta["headers"] = out.meta["headers"]
                if out.meta and "ocr" in out.meta:
                    read_by_ocr.append(out.meta["ocr"])
                if out.binary:
                    problems.append(Problem(out.locator, "binary", "format not recognised; printable strings scanned"))
                findings.extend(self.scan_part(out))
        if read_by_ocr:
            meta["ocr"] = ocr_summary(read_by_ocr)
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
        out = _fold_rewrites(out)
        if self.excerpt_chars > 0:
            out = [_with_excerpt(f, part.text, self.excerpt_chars) for f in out]
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


def _with_excerpt(finding: Finding, text: str, chars: int) -> Finding:
    """A short excerpt of the scanned item where the finding starts (never of the registered secret
    itself: this is what was about to leave). Only when the policy enables it."""
    spans = finding.evidence.get("runs") or finding.evidence.get("matches") or ()
    start = min((int(s["start"]) for s in spans if "start" in s), default=None)
    if start is None:
        return finding
    excerpt = " ".join(text[start:start + chars].split())
    return replace(finding, evidence={**finding.evidence, "excerpt": excerpt})


def _fold_rewrites(findings: list[Finding]) -> list[Finding]:
    """A rewrite of a secret the fingerprints already found in the part is not a second finding:
    its summary joins the fingerprint finding's evidence (kept, not dropped)."""
    documents = {f.secret: i for i, f in enumerate(findings) if f.kind == "document"}
    if not documents or not any(f.kind == "rewrite" for f in findings):
        return findings
    out = list(findings)
    folded = []
    for i, f in enumerate(findings):
        if f.kind == "rewrite" and f.secret in documents:
            j = documents[f.secret]
            summary = {"score": round(f.score, 4), "pair_count": f.evidence.get("pair_count"),
                       "pairs": sorted(f.evidence.get("pairs", []), key=lambda p: -p["cosine"])[:5]}
            out[j] = replace(out[j], evidence={**out[j].evidence, "rewrite": summary})
            folded.append(i)
    return [f for i, f in enumerate(out) if i not in folded]


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
    rewrite = rewrite_detector(registry)
    if rewrite is not None:
        detectors.append(rewrite)
    return tuple(detectors)


def rewrite_detector(registry: Registry, settings: RewriteSettings = RewriteSettings()) -> RewriteDetector | None:
    """The rewrite tier over the registry's sentence vectors, or None when it has none."""
    a, m = registry.snapshot.arrays, registry.snapshot.manifest
    rw_owners = m.get("rw_owners", [])
    if not rw_owners or m.get("rewrite_version") != REWRITE_VERSION:
        return None
    owners = []
    for sid, ver in rw_owners:
        s = registry.secrets[sid]
        owners.append(Owner(sid, ver, s.label, s.classification, s.tags, s.versions[ver - 1].tokens))
    bounds = a["rw_owner_vocab"]
    vocab_owner = np.repeat(np.arange(len(rw_owners), dtype=np.int64), np.diff(bounds))
    order = np.argsort(a["rw_vocab"], kind="stable")
    vectors = SentenceVectors(a["rw_ptr"], a["rw_cols"], a["rw_weights"])
    return RewriteDetector(vectors, a["rw_owner_sent"], a["rw_vocab"][order], vocab_owner[order], owners,
                           registry.keyer, registry.analyser, settings,
                           boilerplate_docs=int(registry.settings["boilerplate_docs"]), public=registry.rewrite_public)


def registry_location(registry: str | os.PathLike | None, environ=os.environ) -> Path:
    return Path(registry or environ.get("DLP_REGISTRY") or DEFAULT_REGISTRY)


def key_location(key_file: str | os.PathLike | None, environ=os.environ) -> Path | None:
    chosen = key_file or environ.get("DLP_KEY_FILE")
    return Path(chosen) if chosen else None


def state_location(state: str | os.PathLike | None, registry_root: Path, environ=os.environ) -> Path:
    """Incidents, audit trail and exposure: --state, else $DLP_STATE, else `state/` beside the registry."""
    chosen = state or environ.get("DLP_STATE")
    return Path(chosen) if chosen else Path(registry_root).resolve().parent / DEFAULT_STATE


def models_location(models: str | os.PathLike | None, registry_root: Path, environ=os.environ) -> Path:
    """Trained classifiers: --models, else $DLP_MODELS, else `models/` beside the registry."""
    chosen = models or environ.get("DLP_MODELS")
    return Path(chosen) if chosen else Path(registry_root).resolve().parent / DEFAULT_MODELS


def open_scanner(registry: str | os.PathLike | None = None, key_file: str | os.PathLike | None = None,
                 policy_file: str | os.PathLike | None = None, *, limits: Limits | None = None,
                 models: str | os.PathLike | None = None, ocr: bool = True, environ=os.environ) -> Scanner:
    """The composition root for every front end. `ocr` False is `--no-ocr`; the policy's
    ``[ocr] enabled = false`` turns OCR off as well."""
    root = registry_location(registry, environ)
    reg = Registry(root, key_location(key_file, environ))
    trained = load_models(models_location(models, root, environ), reg.key_check)
    policy = None
    if policy_file:
        from .policy import load_policy

        policy = load_policy(Path(policy_file))
    excerpt = 200 if getattr(policy, "excerpt", False) else 0
    if not getattr(policy, "ocr", True):
        settings = OcrSettings(enabled=False, off_reason=f"ocr.enabled = false in {Path(policy_file).name}")
    elif not ocr:
        settings = OcrSettings(enabled=False, off_reason="--no-ocr")
    else:
        settings = OcrSettings()
    return Scanner(reg, policy=policy, limits=limits or Limits(), models=trained, excerpt_chars=excerpt,
                   ocr=Ocr(settings))
