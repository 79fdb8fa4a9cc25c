"""Algorithmic-complexity attacks: text whose scan costs far more per MB than prose, or that
makes the scanner give up and pass.

Tokenising is not under the item's deadline (only the detectors are), so every costly
path of the tokeniser needs a budget of its own, and a budget that cuts work short must
say so. What was found (timings in the H-ATTACK3 report, `dlp scan` on a 510-document
registry; prose scans at ~0.1 s per MB):

- letter-spaced runs (``a b c d ...``) were split by the dictionary search without a
  budget: 3.4 s per MB, linear, past a 1 s item timeout, and no problem. Now a budget
  (`SEGMENT_BUDGET` letters per slice) and a `truncated` problem: 0.3 s per MB at 16 MB.
- glued runs past `GLUED_BUDGET` were left whole in silence: a glued excerpt after 64 K
  letters of glued junk was allowed without a problem. Now a `truncated` problem, and a
  single run larger than the budget no longer spends it.
- a right-to-left override on every short line tokenised each line on its own: 8.7 s
  and 350 MB of memory per MB. Now one pass: 1.1 s and ~100 MB per MB.

Timings are not asserted here (see `benchmarks/`); budgets and problem entries are.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from dlp.text.normalise import GLUED_BUDGET, SEGMENT_BUDGET, tokenise

from .conftest import action, kinds
from .texts import NEAR_TOPIC, UNRELATED, excerpt

RLO = "\u202e"
JUNK_WORDS = [w.strip(".,;") for w in (UNRELATED + NEAR_TOPIC).split() if w.strip(".,;").isalpha()]


def _spaced_letters(letters: int, seed: int = 1) -> str:
    """Lines of single letters one blank apart: every line is a letter-spaced run."""
    r = random.Random(seed)
    line = 400
    return "\n".join(" ".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(line))
                     for _ in range(letters // line + 1)) + "\n"


def _glued_junk(letters: int, seed: int = 2) -> str:
    """Tokens of a dozen unrelated words written without spaces."""
    r = random.Random(seed)
    out, count = [], 0
    while count < letters:
        token = "".join(r.sample(JUNK_WORDS, 12))
        out.append(token)
        count += len(token)
    return " ".join(out) + "\n"


# an excerpt without the code names (a term finding would make the verdict warn on its own)
PLAIN = excerpt(40, 120)

CASES = {
    # megabytes of letter-spaced junk: the search stops at its budget and says so
    "letter-spaced junk past the budget": _spaced_letters(3 * SEGMENT_BUDGET),
    # then a letter-spaced excerpt: found, or the item carries the problem
    "letter-spaced junk, then a letter-spaced excerpt": _spaced_letters(3 * SEGMENT_BUDGET)
        + "\n\n" + " ".join(" ".join(w) for w in PLAIN) + "\n",
    # glued junk past the budget, then a glued excerpt: once allowed in silence
    "glued junk, then a glued excerpt": _glued_junk(GLUED_BUDGET + 20_000) + "".join(PLAIN) + "\n",
    # one glued token larger than the whole budget used to stop the search for every token after it
    "one huge glued token, then a glued excerpt": "".join(JUNK_WORDS * 400).lower()[: GLUED_BUDGET + 10] + "\n"
        + UNRELATED + "".join(PLAIN) + "\n",
    # an override on every short line, then an excerpt written backwards under one
    "an override on every line, then a reversed excerpt": (RLO + "ab cd\n") * 20_000
        + RLO + " ".join(PLAIN)[::-1] + "\n",
}


@pytest.fixture(scope="module")
def reports(dlp, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("cost")
    for i, text in enumerate(CASES.values()):
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    by_path = dlp.scan(folder)
    return {name: by_path[str(folder / f"{i}.txt")] for i, name in enumerate(CASES)}


def problem_kinds(report: dict) -> set[str]:
    return {p["kind"] for p in report["problems"]}


def test_letter_spaced_junk_past_the_budget_is_reported(reports):
    report = reports["letter-spaced junk past the budget"]
    assert "truncated" in problem_kinds(report) and action(report) != "allow", report


@pytest.mark.parametrize("name", ["letter-spaced junk, then a letter-spaced excerpt",
                                  "glued junk, then a glued excerpt"])
def test_an_excerpt_behind_a_spent_budget_is_found_or_the_item_is_not_clean(reports, name):
    report = reports[name]
    assert "document" in kinds(report, "halcyon") or "truncated" in problem_kinds(report), report
    assert action(report) != "allow"


def test_one_run_larger_than_the_budget_does_not_spend_it(reports):
    report = reports["one huge glued token, then a glued excerpt"]
    assert "document" in kinds(report, "halcyon"), report  # (the dictionary splits a few words wrong: warn)
    assert "truncated" in problem_kinds(report)  # the huge token itself was not split, and says so


def test_an_override_on_every_line_still_reads_the_reversed_excerpt(reports):
    report = reports["an override on every line, then a reversed excerpt"]
    assert action(report) == "block" and "document" in kinds(report, "halcyon"), report


# -- the tokeniser's accounting -------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(JUNK_WORDS + ["a", "I", "c o a t", "p.r.o.c.e.s.s", "-\n", "\u00ad"]),
                max_size=200))
def test_ordinary_text_is_read_whole(words):
    """Text of words, short letter-spaced runs and broken words stays far inside the budgets."""
    assert tokenise(" ".join(words)).unsegmented == 0


@pytest.mark.parametrize("text, at_least", [
    (_spaced_letters(2 * SEGMENT_BUDGET), SEGMENT_BUDGET // 2),
    (_glued_junk(2 * GLUED_BUDGET), GLUED_BUDGET // 2),
    ("x" * (GLUED_BUDGET + 1), GLUED_BUDGET + 1),
])
def test_letters_past_a_budget_are_counted(text, at_least):
    assert tokenise(text).unsegmented >= at_least


def test_right_to_left_lines_read_as_one_pass_keep_their_spans():
    """The lines left open under an override, read as shown in one pass: each token lies on the
    span it was read from, and no word is joined across two spans (``ab-`` then ``cd``)."""
    text = "\u202egnitaoc ssecorp\nplain text here\n\u202eab-\n\u202ecd efg\n"
    toks = tokenise(text)
    shown = [(toks.text_of(i), int(toks.starts[i]), int(toks.ends[i])) for i in range(len(toks))][-5:]
    assert shown == [("process", 1, 16), ("coating", 1, 16), ("ba", 34, 37), ("gfe", 39, 45), ("dc", 39, 45)]


def test_marks_looked_up_a_block_at_a_time_find_the_same(dlp, monkeypatch):
    """The gap shingles of glued numbers are looked up a block of marks at a time, so that text
    made of marks (``a1b2c3...``: 4 MB took 730 MB more) stays small: the blocks change nothing."""
    from dlp.detectors import documents
    from dlp.scanner import open_scanner

    scanner = open_scanner(dlp.registry, ocr=False, environ={})
    text = "a1b2c3d4 " * 200 + " ".join(f"{w}{i}" for i, w in enumerate(excerpt(40, 120))) + " e5f6" * 200
    whole = [(f.secret, f.kind, f.matched_words) for f in scanner.scan_text(text)]
    monkeypatch.setattr(documents, "MARK_BLOCK", 7)
    assert [(f.secret, f.kind, f.matched_words) for f in scanner.scan_text(text)] == whole
    assert ("halcyon", "document", 40) in whole


def test_a_mail_of_many_short_sentences_with_a_registered_word_is_scanned(dlp, tmp_path):
    """20,000 one-lemma sentences ("Coating today.") make no rewrite pairs, and a batch of them
    once overran the C pass's room for sentences: the heap was corrupted and the scan aborted
    (any 2 MB of mail did it with a small registry). Then the excerpt after them still blocks."""
    path = tmp_path / "short.txt"
    path.write_text("Coating today.\n" * 20_000 + "\n" + " ".join(excerpt(30)) + "\n", encoding="utf-8")
    report = dlp.scan(path)[str(path)]
    assert action(report) == "block" and "document" in kinds(report, "halcyon")
