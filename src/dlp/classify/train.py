"""Training: one logistic-regression class per tag (or shared label) of registered secrets.

Positives are the hashed features the registry computed when each document was
registered (latest version of each secret: older versions are near-copies that would
leak across folds). Negatives are the user's benign documents plus registered public
content. Cross-validation on held-out documents measures precision and recall; a
class whose held-out recall is under `MIN_RECALL` (Forcepoint's bar) is refused.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..arrays import distinct
from .. import __version__
from ..errors import DlpError, UsageError
from .features import FEATURE_VERSION, N_FEATURES, matrix
from .model import ClassModel, Model

MIN_POSITIVES = 10
MIN_NEGATIVES = 20
MIN_RECALL = 0.70
FOLDS = 5
C = 10.0


class TrainingRefused(DlpError):
    """The model would miss too much: held-out recall under the bar."""


@dataclass(frozen=True)
class Sample:
    name: str  # secret id or a negative's file name, for the card's digests only
    buckets: np.ndarray
    counts: np.ndarray
    digest: str = ""


@dataclass
class Training:
    positives: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)  # (kind, name) -> samples
    negatives: list[Sample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # secrets without features, with the reason


def collect(registry, negatives: Sequence[Sample]) -> Training:
    """Classes and their documents from the registry, plus the given negatives and public content."""
    t = Training(negatives=list(negatives))
    by_label: dict[str, list[Sample]] = {}
    for s in registry.secrets.values():
        if s.kind != "document":
            continue
        feats = registry.features.get((s.id, s.latest.version))
        if feats is None:
            t.skipped.append(f"{s.id}: registered before classifier features existed; register it again")
            continue
        sample = Sample(s.id, feats[0], feats[1], s.latest.digest)
        for tag in s.tags:
            t.positives.setdefault(("tag", tag), []).append(sample)
        if s.label:
            by_label.setdefault(s.label, []).append(sample)
    for label, samples in by_label.items():
        if len(samples) >= 2 and ("tag", label) not in t.positives:
            t.positives[("label", label)] = samples
    for p in registry.public:
        feats = registry.features.get((f"public:{p['digest']}", 0))
        if feats is not None:
            t.negatives.append(Sample(p.get("source", "public"), feats[0], feats[1], p["digest"]))
    return t


def train(registry, negatives: Sequence[Sample], name: str, *, seed: int = 0,
          min_recall: float = MIN_RECALL, clock=time.perf_counter) -> Model:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    started = clock()
    data = collect(registry, negatives)
    classes = {k: v for k, v in data.positives.items() if len(v) >= MIN_POSITIVES}
    if not classes:
        sizes = ", ".join(f"{kind} {n!r}: {len(v)}" for (kind, n), v in sorted(data.positives.items())) or "none"
        raise UsageError(f"no tag or shared label has {MIN_POSITIVES} registered documents (found {sizes}); "
                         f"register more documents with `dlp register --tag NAME`")
    if len(data.negatives) < MIN_NEGATIVES:
        raise UsageError(f"{len(data.negatives)} negative documents; give at least {MIN_NEGATIVES} benign or public "
                         f"documents with --negatives PATH (or register public content with `dlp register --public`)")
    # idf over every training document, positives counted once
    everyone: dict[str, Sample] = {}
    for samples in classes.values():
        for s in samples:
            everyone[s.name] = s
    pool = list(everyone.values()) + data.negatives
    df = np.zeros(N_FEATURES, dtype=np.float64)
    for s in pool:
        df[s.buckets.astype(np.int64)] += 1
    n = len(pool)
    idf_default = float(np.log((1 + n) / 1.0) + 1)
    idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)

    out_classes, metrics = [], []
    for (kind, cname), samples in sorted(classes.items()):
        ids = {s.name for s in samples}
        neg = [s for s in pool if s.name not in ids]
        rows = [(s.buckets, s.counts) for s in samples] + [(s.buckets, s.counts) for s in neg]
        x = matrix(rows, idf)
        used = distinct(x.indices)  # fit over the buckets that occur: same model, a fraction of the work
        x = x[:, used]
        y = np.array([1] * len(samples) + [0] * len(neg))
        folds = min(FOLDS, len(samples), len(neg))
        proba = np.zeros(len(y))
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
            m = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
            m.fit(x[tr], y[tr])
            proba[te] = m.predict_proba(x[te])[:, 1]
        threshold = 0.5
        pred = proba >= threshold
        tp = int((pred & (y == 1)).sum())
        fp = int((pred & (y == 0)).sum())
        recall = tp / max(1, int(y.sum()))
        precision = tp / max(1, tp + fp)
        metric = {"name": cname, "kind": kind, "positives": len(samples), "negatives": len(neg), "folds": folds,
                  "cv_precision": round(precision, 4), "cv_recall": round(recall, 4),
                  "cv_false_positive_rate": round(fp / max(1, len(neg)), 4), "threshold": threshold}
        if recall < min_recall:
            raise TrainingRefused(
                f"{kind} {cname!r}: held-out recall {recall:.0%} is under {min_recall:.0%} "
                f"({len(samples)} positives, {len(neg)} negatives, {folds}-fold cross-validation); "
                f"register more documents of this {kind}, or give negatives that look less like them")
        final = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(x, y)
        w = np.zeros(N_FEATURES, dtype=np.float32)
        w[used] = final.coef_[0]
        out_classes.append(ClassModel(cname, kind, w, float(final.intercept_[0]), threshold))
        metrics.append(metric)
    import sklearn

    card: dict[str, Any] = {
        "dlp_version": __version__, "sklearn_version": sklearn.__version__, "feature_version": FEATURE_VERSION,
        "key_check": registry.keyer.check_value, "registry_generation": registry.generation,
        "trained": time.time(), "seed": seed, "min_recall": min_recall, "learner": f"LogisticRegression(C={C}, balanced)",
        "idf_default": idf_default, "classes": metrics,
        "data": {"positives": len(everyone), "negatives": len(data.negatives),
                 "positive_digest": _digest(s.digest for s in everyone.values()),
                 "negative_digest": _digest(s.digest for s in data.negatives), "skipped": data.skipped},
        "seconds": round(clock() - started, 3),
    }
    return Model(name, idf, out_classes, card)


def _digest(digests) -> str:
    """One digest over the (keyed) digests of the training documents, order-free."""
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()
