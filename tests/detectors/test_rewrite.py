"""Rewrite tier: paraphrased passages are found, on-topic and unrelated text is not, nothing leaks."""

from __future__ import annotations

import csv
import json

import pytest

from dlp.detectors.rewrite import RewriteDetector, RewriteSettings
from dlp.registry import Registry
from dlp.scanner import Scanner
from dlp.text import tokenise
from dlp.types import Action, Destination
from dlp.rules import DefaultPolicy

SECRET = (
    "The Hydra turbine programme replaces the ceramic compressor blades with a titanium aluminide alloy. "
    "Each blade is forged at nine hundred degrees and then machined to a tolerance of four microns. "
    "The coating is applied by electron beam vapour deposition in a vacuum chamber near Grenoble. "
    "Field trials showed the new blades survive twice as many thermal cycles as the ceramic ones. "
    "Suppliers are paid through a consortium so that competitors cannot trace the alloy purchases. "
    "The first engines with these blades will be delivered to the airline customer in the spring."
)
PARAPHRASE = (
    "In the Hydra programme, the turbine's ceramic compressor blades are being replaced by blades of titanium aluminide alloy. "
    "Every blade gets forged at 900 degrees and is then machined to a four micron tolerance. "
    "A coating is deposited with electron beam vapour deposition inside a vacuum chamber close to Grenoble. "
    "In field trials the new blades survived twice the thermal cycles of the ceramic blades. "
    "We pay the suppliers via a consortium, so competitors can't trace purchases of the alloy."
)
ON_TOPIC = (
    "Turbine blades are usually made from nickel superalloys. Engineers care about creep, fatigue and "
    "the temperature of the gas stream. Many manufacturers test new materials for years before delivery. "
    "Ceramic matrix composites are another option that the industry has discussed for a long time."
)
UNRELATED = (
    "Please find attached the minutes of Tuesday's meeting. The budget review moved to next week because "
    "the finance team is travelling. Let me know whether the new room works for everyone. Lunch is provided."
)

GARDEN = (
    "The rhododendron beds along the north wall need acidic compost every autumn. Prune the wisteria "
    "twice a year, once in summer and once in winter. The greenhouse tomatoes are watered by a drip "
    "irrigation system fed from the rainwater cistern."
)


@pytest.fixture(scope="module")
def scanner(tmp_path_factory) -> Scanner:
    root = tmp_path_factory.mktemp("rw") / "reg"
    reg = Registry(root, create=True)
    reg.add_document(SECRET, SECRET.encode(), "hydra.txt", secret_id="hydra", label="Hydra")
    reg.add_document(GARDEN, GARDEN.encode(), "garden.txt", secret_id="garden")
    reg.commit()
    return Scanner(Registry(root))


def rewrites(scanner: Scanner, text: str):
    return [f for f in scanner.scan_text(text) if f.kind == "rewrite"]


def test_a_paraphrase_is_found_with_sentence_pairs_as_evidence(scanner):
    found = rewrites(scanner, "Hello team,\n\n" + PARAPHRASE + "\n\nRegards, Bob")
    assert [f.secret for f in found] == ["hydra"]
    f = found[0]
    assert f.detector == "rewrite" and 0 < f.score <= 1
    pairs = [p.to_dict() for p in f.evidence.pairs]
    assert len(pairs) >= 3
    text = "Hello team,\n\n" + PARAPHRASE
    for p in pairs:
        assert 0 <= p["start"] < p["end"] <= len(text) + 20
        assert isinstance(p["secret_sentence"], int) and 0 <= p["secret_sentence"] < 6
        assert 0 < p["cosine"] <= 1.0001 and 0 < p["dice"] <= 1
    assert {p["secret_sentence"] for p in pairs} <= set(range(6))
    assert DefaultPolicy().decide(found, (), Destination()).action is Action.WARN


@pytest.mark.parametrize("text", [ON_TOPIC, UNRELATED, "turbine " * 50, ""])
def test_on_topic_or_unrelated_text_is_not_a_rewrite(scanner, text):
    assert rewrites(scanner, text) == []


def test_evidence_holds_no_secret_words(scanner):
    found = rewrites(scanner, PARAPHRASE)
    dumped = json.dumps([f.to_dict() for f in found]).lower()
    for word in ("aluminide", "grenoble", "consortium", "hydra turbine"):
        assert word not in dumped


def test_the_store_holds_no_lemma_or_word(scanner):
    root = scanner.index.root
    blob = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file()).lower()
    for word in (b"aluminide", b"grenoble", b"turbine", b"blade", b"consortium"):
        assert word not in blob
    assert scanner.index.manifest["rewrite"]
    assert sum(s.meta["counts"]["sentences"] for s in scanner.index.segments) >= 9


def test_parts_without_a_candidate_are_not_analysed(scanner):
    from dlp.detectors import Scanned
    from dlp.fingerprint.rewrite import Sentences
    from dlp.types import Part

    detector = next(d for d in scanner.detectors if isinstance(d, RewriteDetector))
    before = dict(detector.stats)
    scanner.scan_text(UNRELATED.replace("minutes", "agenda") + " " + ON_TOPIC)
    assert detector.stats["candidate_parts"] == before["candidate_parts"]
    assert detector.stats["aligned_tokens"] == before["aligned_tokens"]
    toks = tokenise(PARAPHRASE)
    scanned = Scanned(Part("x", PARAPHRASE, "text"), toks, scanner.keyer.tokens(toks))
    couples = detector.candidates(scanned, Sentences(toks))
    assert len(couples) == 1 and len(next(iter(couples.values()))) >= 3


def test_registries_without_rewrite_vectors_still_scan(tmp_path):
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_terms("words", ["alpha beta"])
    reg.commit()
    scanner = Scanner(Registry(tmp_path / "reg"))
    assert not any(isinstance(d, RewriteDetector) for d in scanner.detectors)
    assert scanner.scan_text("nothing here") == []


# -- the Clough & Stevenson corpus: the goal of the tier, end to end ----------------

MISLABELLED = {"g2pE_taskc.txt", "g4pD_taskb.txt"}


@pytest.mark.corpus
def test_clough_stevenson_goal(corpora, tmp_path):
    from dlp.frontends.commands.register import read_text

    root = corpora / "clough_stevenson_short_answers"
    files = root / "corpus-20090418"
    reg = Registry(tmp_path / "reg", create=True)
    for task in "abcde":
        text, raw, _ = read_text(files / f"orig_task{task}.txt")
        reg.add_document(text, raw, f"orig_task{task}.txt", secret_id=f"orig-task{task}")
    reg.commit()
    scanner = Scanner(Registry(tmp_path / "reg"))
    flagged: dict[str, list[bool]] = {}
    for row in csv.DictReader(open(root / "file_list.csv")):
        if row["Category"] == "orig" or row["File"] in MISLABELLED:
            continue
        report = scanner.scan_path(files / row["File"])
        assert all(f.secret == f"orig-task{row['Task']}" for f in report.findings), row["File"]
        flagged.setdefault(row["Category"], []).append(report.action >= Action.WARN)
    assert all(flagged["cut"]) and all(flagged["light"])
    assert sum(flagged["heavy"]) >= 17
    assert sum(flagged["non"]) <= 1


def test_settings_are_injectable(tmp_path):
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_document(SECRET, SECRET.encode(), "hydra.txt", secret_id="hydra")
    reg.commit()
    index = Registry(tmp_path / "reg").index
    strict = RewriteDetector(index, RewriteSettings(min_seeds=50, single_seed_cosine=2.0))
    loose = RewriteDetector(index)
    from dlp.detectors import Scanned
    from dlp.types import Part

    toks = tokenise(PARAPHRASE)
    scanned = Scanned(Part("x", PARAPHRASE, "text"), toks, index.keyer.tokens(toks))
    assert strict.detect(scanned) == []
    assert [f.secret for f in loose.detect(scanned)] == ["hydra"]


def test_registered_rows_kept_at_hand_give_the_same_findings(scanner, monkeypatch):
    """The rows of the documents aligned last are kept (at most OWNERS_CACHED): findings are the
    same the first time, again from the cache, and after the cache has let them go."""
    import dlp.detectors.rewrite as rewrite_module

    detector = next(d for d in scanner.detectors if d.name == "rewrite")
    text = "Hello team,\n\n" + PARAPHRASE + "\n\nRegards, Bob"
    first = [f.to_dict() for f in rewrites(scanner, text)]
    assert first and detector._rows_cached  # found, and its document's rows kept
    assert [f.to_dict() for f in rewrites(scanner, text)] == first
    monkeypatch.setattr(rewrite_module, "OWNERS_CACHED", 0)
    detector._rows_cached.clear()
    assert [f.to_dict() for f in rewrites(scanner, text)] == first
    assert not detector._rows_cached
