"""Classifier tier: train from registered features, save arrays + card, predict, refuse weak models."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from dlp.classify.features import hashed_counts
from dlp.classify.model import Model
from dlp.classify.train import Sample, TrainingRefused, train
from dlp.errors import ConfigError, UsageError
from dlp.frontends.cli import Env, main
from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.text import tokenise

from helpers import words

TOPIC, OTHER = 400, 401  # two pseudo-languages: different lexicons


def doc(seed: int, lexicon: int) -> str:
    return " ".join(words(250, seed, vocabulary=lexicon))


def registry(tmp: Path, positives: int, lexicon: int = TOPIC) -> Registry:
    reg = Registry(tmp / "reg", create=True)
    for i in range(positives):
        text = doc(i, lexicon)
        reg.add_document(text, text.encode(), f"p{i}.txt", secret_id=f"p{i}", tags=["alpha"])
    reg.commit()
    return Registry(tmp / "reg")


def negatives(reg: Registry, n: int, lexicon: int = OTHER, start: int = 1000) -> list[Sample]:
    out = []
    for i in range(start, start + n):
        text = doc(i, lexicon)
        out.append(Sample(f"n{i}", *hashed_counts(reg.keyer.tokens(tokenise(text))), reg.keyer.digest(text.encode())))
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cls")
    reg = registry(tmp, 12)
    model = train(reg, negatives(reg, 25), "test")
    card = model.save(tmp / "models" / "test")
    return tmp, reg, card


def test_training_reports_cross_validated_metrics_in_the_card(trained):
    tmp, reg, card = trained
    (cls,) = card["classes"]
    assert cls["name"] == "alpha" and cls["kind"] == "tag" and cls["positives"] == 12 and cls["negatives"] == 25
    assert cls["cv_recall"] >= 0.7 and cls["cv_precision"] > 0.5
    on_disk = json.loads((tmp / "models" / "test" / "card.json").read_text())
    assert on_disk["key_check"] == reg.key_check and on_disk["feature_version"]
    assert on_disk["data"]["positive_digest"] and on_disk["model_sha256"]


def test_the_model_file_is_plain_arrays(trained):
    tmp, _, _ = trained
    with np.load(tmp / "models" / "test" / "model.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_scanning_flags_look_alikes_with_the_scanned_words(trained):
    tmp, reg, _ = trained
    model = Model.load(tmp / "models" / "test", reg.key_check)
    scanner = Scanner(reg, models=[model])
    text = doc(5000, TOPIC)
    found = [f for f in scanner.scan_text(text) if f.kind == "classifier"]
    assert len(found) == 1
    f = found[0]
    assert f.label == "alpha" and f.evidence.probability >= 0.5
    top = [w.to_dict() for w in f.evidence.top_words]
    assert top and all(text[w["start"]:w["end"]] == w["word"] for w in top)
    assert not [f for f in scanner.scan_text(doc(6000, OTHER)) if f.kind == "classifier"]
    assert not [f for f in scanner.scan_text("too short to judge") if f.kind == "classifier"]


def test_a_model_under_another_key_or_tampered_is_refused(trained, tmp_path):
    tmp, reg, _ = trained
    with pytest.raises(ConfigError, match="another registry key"):
        Model.load(tmp / "models" / "test", "0" * 32)
    copy = tmp_path / "m"
    copy.mkdir()
    (copy / "card.json").write_bytes((tmp / "models" / "test" / "card.json").read_bytes())
    data = bytearray((tmp / "models" / "test" / "model.npz").read_bytes())
    data[-10] ^= 1
    (copy / "model.npz").write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="checksum"):
        Model.load(copy, reg.key_check)


@pytest.mark.parametrize("positives,n_negatives,message", [
    (3, 25, "no tag or shared label has 10"),
    (12, 5, "at least 20"),
])
def test_too_little_data_says_what_to_add(tmp_path, positives, n_negatives, message):
    reg = registry(tmp_path, positives)
    with pytest.raises(UsageError, match=message):
        train(reg, negatives(reg, n_negatives), "x")


def test_a_model_that_cannot_recall_is_refused(tmp_path):
    reg = registry(tmp_path, 10, lexicon=TOPIC)
    same = negatives(reg, 40, lexicon=TOPIC, start=100)  # negatives indistinguishable from positives
    with pytest.raises(TrainingRefused, match="held-out recall"):
        train(reg, same, "x")


def test_dlp_train_and_scan_through_the_cli(tmp_path):
    reg = registry(tmp_path, 12)
    neg = tmp_path / "neg"
    neg.mkdir()
    for i in range(25):
        (neg / f"n{i}.txt").write_text(doc(2000 + i, OTHER))
    probe = tmp_path / "probe.txt"
    probe.write_text(doc(7000, TOPIC))
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdout=out, stderr=err, environ={})
    code = main(["--registry", str(reg.root), "train", "--negatives", str(neg), "--model", "alpha"], env)
    assert code == 0, err.getvalue()
    assert "recall" in out.getvalue() and (tmp_path / "models" / "alpha" / "card.json").is_file()
    out = io.StringIO()
    env = Env(stdout=out, stderr=err, environ={})
    code = main(["--registry", str(reg.root), "scan", "--format", "json", str(probe)], env)
    report = json.loads(out.getvalue())
    kinds = [f["kind"] for f in report["files"][0]["findings"]]
    assert "classifier" in kinds and report["files"][0]["action"] == "warn" and code == 0
    err = io.StringIO()
    code = main(["--registry", str(reg.root), "train", "--model", "bad/name"], Env(stdout=io.StringIO(), stderr=err, environ={}))
    assert code == 2 and "--model" in err.getvalue()
