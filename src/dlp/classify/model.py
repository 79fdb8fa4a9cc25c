"""Classifier model files: numpy arrays plus a JSON model card, never a pickle.

    models/<name>/
        model.npz    idf and one sparse weight vector per class (allow_pickle=False)
        card.json    versions, key check, data digests, sizes, cross-validated metrics,
                     and the sha256 of model.npz (checked before loading)

Weights are indexed by hashed feature buckets of *keyed* tokens: the files hold no
vocabulary, and a model only works with the registry key it was trained under.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .features import FEATURE_VERSION, N_FEATURES, hashed_counts, token_buckets, weigh

MODEL_FORMAT = "dlp.model/1"
DEFAULT_MODEL = "default"


@dataclass(frozen=True)
class ClassModel:
    name: str  # the tag or label this class stands for
    kind: str  # tag | label
    weights: np.ndarray  # dense float32, N_FEATURES
    intercept: float
    threshold: float


@dataclass(frozen=True)
class Prediction:
    cls: ClassModel
    probability: float
    contributions: np.ndarray  # per token of the part: weight of its unigram feature in the decision


class Model:
    def __init__(self, name: str, idf: np.ndarray, classes: list[ClassModel], card: dict[str, Any]) -> None:
        self.name = name
        self.idf = idf
        self.classes = classes
        self.card = card

    def predict(self, values: np.ndarray) -> list[Prediction]:
        """Probability per class for one part's keyed token values."""
        buckets, counts = hashed_counts(values)
        x = weigh(buckets, counts, self.idf)
        b = buckets.astype(np.int64)
        tok = token_buckets(values)
        out = []
        for c in self.classes:
            z = float(x @ c.weights[b]) + c.intercept
            p = 1.0 / (1.0 + np.exp(-z))
            out.append(Prediction(c, p, c.weights[tok] * self.idf[tok]))
        return out

    # -- files -------------------------------------------------------------------

    def save(self, folder: Path) -> dict[str, Any]:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        seen = np.flatnonzero(self.idf != self.card["idf_default"])
        arrays["idf_index"] = seen.astype(np.uint32)
        arrays["idf_value"] = self.idf[seen].astype(np.float32)
        arrays["intercept"] = np.array([c.intercept for c in self.classes], dtype=np.float64)
        arrays["threshold"] = np.array([c.threshold for c in self.classes], dtype=np.float64)
        for i, c in enumerate(self.classes):
            nz = np.flatnonzero(c.weights)
            arrays[f"coef_index_{i}"] = nz.astype(np.uint32)
            arrays[f"coef_value_{i}"] = c.weights[nz].astype(np.float32)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        data = buffer.getvalue()
        card = dict(self.card, format=MODEL_FORMAT, name=self.name, model_sha256=hashlib.sha256(data).hexdigest(),
                    model_bytes=len(data), classes_list=[c.name for c in self.classes])
        tmp = folder / ".model.npz.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / "model.npz")
        tmp = folder / ".card.json.tmp"
        tmp.write_text(json.dumps(card, indent=1, sort_keys=True))
        os.replace(tmp, folder / "card.json")
        return card

    @classmethod
    def load(cls, folder: Path, key_check: str) -> "Model":
        card_path, npz_path = folder / "card.json", folder / "model.npz"
        try:
            card = json.loads(card_path.read_text())
            data = npz_path.read_bytes()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"model {folder}: cannot read card.json/model.npz ({exc}); train it again with `dlp train`") from None
        fix = f"train it again with `dlp train --model {folder.name}` or remove {folder}"
        if card.get("format") != MODEL_FORMAT or card.get("feature_version") != FEATURE_VERSION:
            raise ConfigError(f"model {folder}: format {card.get('format')!r}/{card.get('feature_version')!r} is not "
                              f"{MODEL_FORMAT!r}/{FEATURE_VERSION!r}; {fix}")
        if card.get("key_check") != key_check:
            raise ConfigError(f"model {folder} was trained under another registry key; {fix}")
        if hashlib.sha256(data).hexdigest() != card.get("model_sha256"):
            raise ConfigError(f"model {folder}: model.npz fails its checksum; {fix}")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            a = {k: npz[k] for k in npz.files}
        idf = np.full(N_FEATURES, card["idf_default"], dtype=np.float32)
        idf[a["idf_index"].astype(np.int64)] = a["idf_value"]
        classes = []
        for i, meta in enumerate(card["classes"]):
            w = np.zeros(N_FEATURES, dtype=np.float32)
            w[a[f"coef_index_{i}"].astype(np.int64)] = a[f"coef_value_{i}"]
            classes.append(ClassModel(meta["name"], meta["kind"], w, float(a["intercept"][i]), float(a["threshold"][i])))
        return cls(card.get("name", folder.name), idf, classes, card)


def load_models(folder: Path | None, key_check: str) -> list[Model]:
    """Every model under `folder` (one sub-directory each); none when the folder does not exist."""
    if folder is None or not Path(folder).is_dir():
        return []
    return [Model.load(sub, key_check) for sub in sorted(Path(folder).iterdir()) if (sub / "card.json").is_file()]
