"""Document fingerprints: planted excerpts are found wherever they are, unrelated text never blocks."""

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dlp.detectors.documents import BLOCK_WORDS
from dlp.fingerprint.shingles import GUARANTEE_WORDS, W
from dlp.rules import DefaultPolicy
from dlp.types import Action, Destination

from attacks import texts as attack
from helpers import prose, scanner_with, words

SECRET = " ".join(words(1500, seed=7))
BLOCK_GUARANTEE = BLOCK_WORDS + 2 * W - 2  # 25 words


def _scanner(tmp_path_factory):
    return scanner_with(tmp_path_factory.mktemp("docs"), {"plan": SECRET, "other": " ".join(words(800, seed=99))})


_cached = {}


def scanner(tmp_path_factory):
    if "s" not in _cached:
        _cached["s"] = _scanner(tmp_path_factory)
    return _cached["s"]


def verdict(findings):
    return DefaultPolicy().decide(findings, (), Destination()).action


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=st.integers(BLOCK_GUARANTEE, 120), start=st.integers(0, 1300), host_seed=st.integers(1000, 10**6),
       host_words=st.integers(0, 3000), where=st.floats(0, 1))
def test_a_planted_excerpt_of_the_threshold_always_blocks(tmp_path_factory, length, start, host_seed, host_words, where):
    excerpt = " ".join(SECRET.split()[start : start + length])
    host = prose(host_words, host_seed).split()
    at = int(where * len(host))
    text = " ".join(host[:at] + [excerpt] + host[at:])
    findings = [f for f in scanner(tmp_path_factory).scan_text(text) if f.secret == "plan"]
    assert findings, "excerpt not found"
    assert verdict(findings) is Action.BLOCK
    f = findings[0]
    assert f.matched_words >= length - 2 * W + 2
    assert 0 < f.coverage <= 1 and 0 < f.density <= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=st.integers(GUARANTEE_WORDS, BLOCK_GUARANTEE - 1), start=st.integers(0, 1400), host_seed=st.integers(1000, 10**6))
def test_shorter_shared_runs_are_still_hit(tmp_path_factory, length, start, host_seed):
    excerpt = SECRET.split()[start : start + length]
    text = " ".join(prose(300, host_seed).split() + excerpt + prose(300, host_seed + 1).split())
    from dlp.fingerprint import shingles

    sc = scanner(tmp_path_factory)
    from dlp.text import tokenise

    values = sc.keyer.tokens(tokenise(text))
    qpos, owner, _ = sc.detectors[0].lookup(shingles(values))
    assert len(qpos) >= 1  # the winnowing guarantee: at least one fingerprint hit


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(10**6, 10**7), n=st.integers(0, 5000))
def test_unrelated_text_never_blocks(tmp_path_factory, seed, n):
    findings = scanner(tmp_path_factory).scan_text(prose(n, seed))
    assert verdict(findings) is Action.ALLOW, [f.to_dict() for f in findings]


def test_light_edits_of_a_long_passage_still_block(tmp_path):
    sc = scanner_with(tmp_path, {"plan": SECRET})
    passage = SECRET.split()[200:300]
    for i in range(0, len(passage), 12):  # change one word in every twelve
        passage[i] = "changed"
    findings = sc.scan_text(prose(200, 5) + " " + " ".join(passage) + " " + prose(200, 6))
    assert verdict(findings) is Action.BLOCK


def test_boilerplate_shared_by_many_secrets_is_not_evidence(tmp_path):
    footer = ("Confidential property of Example Coatings. Unauthorised disclosure, copying or distribution "
              "of this document is prohibited and may be unlawful. If you received it in error destroy it.")
    docs = {f"doc{i}": prose(400, i) + " " + footer for i in range(5)}
    sc = scanner_with(tmp_path, docs)
    assert sc.scan_text("Thanks for the meeting today. " + footer) == []
    assert verdict(sc.scan_text(" ".join(docs["doc1"].split()[:60]))) is Action.BLOCK


def test_public_content_is_not_evidence(tmp_path):
    from dlp.registry import Registry
    from dlp.scanner import Scanner

    public = prose(200, 42)
    reg = Registry(tmp_path / "reg", create=True)
    reg.add_document(prose(300, 1) + " " + public, b"x", "s.txt", secret_id="s")
    reg.add_public(public, public.encode(), "site.txt")
    reg.commit()
    sc = Scanner(Registry(tmp_path / "reg"))
    assert sc.scan_text(public) == []
    assert verdict(sc.scan_text(prose(300, 1))) is Action.BLOCK


def test_findings_name_the_best_version_and_never_the_text(tmp_path):
    from dlp.registry import Registry
    from dlp.scanner import Scanner

    v1 = " ".join(words(400, 1))
    v2 = v1 + " " + " ".join(words(200, 2))
    reg = Registry(tmp_path / "reg", create=True)
    assert reg.add_document(v1, v1.encode(), "a.txt", secret_id="a").status == "new"
    assert reg.add_document(v2, v2.encode(), "a.txt", secret_id="a").status == "version"
    assert reg.add_document(v2, v2.encode(), "a.txt", secret_id="a").status == "unchanged"
    reg.commit()
    sc = Scanner(Registry(tmp_path / "reg"))
    tail = " ".join(v2.split()[450:550])
    (finding,) = sc.scan_text(tail)
    assert (finding.secret, finding.version) == ("a", 2)
    assert not any(w in str(finding.to_dict()) for w in tail.split() if len(w) > 6)


def test_a_short_overlap_repeated_does_not_add_up_to_an_excerpt(tmp_path_factory):
    """A 14-word overlap (a warn) quoted in every mail of a long thread, or a 40 MB file of
    repeated mail bodies, stays 14 words: what counts is distinct words of the secret."""
    short = " ".join(SECRET.split()[400:414])
    thread = " ".join(f"{prose(120, 500 + i)} {short}" for i in range(6))
    [finding] = [f for f in scanner(tmp_path_factory).scan_text(thread) if f.secret == "plan"]
    assert finding.matched_words == 14 and verdict([finding]) is not Action.BLOCK
    once = [f for f in scanner(tmp_path_factory).scan_text(f"{prose(120, 499)} {short}") if f.secret == "plan"]
    assert once[0].score == finding.score  # six copies weigh what one does


IDIOM = 'with warnings.catch_warnings():\n        warnings.simplefilter("ignore", category=DeprecationWarning)\n'


def _module(seed: int, idioms: int) -> str:
    """A Python module of its own (names and literals from `seed`) that uses one common idiom `idioms` times."""
    names = words(400, seed)
    out = []
    for i in range(0, 400, 8):
        a, b, c, d, e, f, g, h = names[i : i + 8]
        out.append(f"def {a}_{b}({c}, {d}=None):\n    {e} = {c}.{f}({d})\n    return {g}({e}, '{h}')\n")
        if i // 8 < idioms:
            out.append(f"def {h}_{a}():\n    {IDIOM}    import {b}\n")
    return "\n".join(out)


def test_a_code_idiom_repeated_on_both_sides_is_one_passage_and_no_evidence(tmp_path):
    """Five copies of ``with warnings.catch_warnings(): ...`` in a registered module and four in an
    unrelated one made twenty 9-word runs that added up to a block: a passage counts once."""
    sc = scanner_with(tmp_path, {"mod": _module(1, 5)})
    assert [f for f in sc.scan_text(_module(2, 4)) if f.kind == "document"] == []
    copy = _module(1, 5).replace("    ", "\t")  # the registered module itself, reformatted
    assert verdict(sc.scan_text(copy)) is Action.BLOCK


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(0, 20), count=st.integers(12, 60), per_line=st.sampled_from([1, 5, 16]))
def test_counting_numbers_are_no_evidence(tmp_path_factory, first, count, per_line):
    """Doctest output and comments of tests count (``0 1 2 ... 24``, ``[[1., 2.], [3., 4.]]``): a run
    of numbers below 100 shared with a registered module is no finding; four-digit figures are."""
    numbers = list(range(100))
    registered = prose(200, 5) + "\n" + " ".join(map(str, numbers)) + "\n" + prose(200, 6)
    sc = _cached.setdefault("counting", scanner_with(tmp_path_factory.mktemp("counting"), {"grid": registered}))
    shown = numbers[first : first + count]
    lines = [", ".join(f"[{n}.]" if per_line == 5 else str(n) for n in shown[i : i + per_line])
             for i in range(0, len(shown), per_line)]
    assert sc.scan_text(prose(80, 7) + "\n" + "\n".join(lines) + "\n" + prose(80, 8)) == []


def test_a_table_of_figures_is_still_evidence(tmp_path):
    figures = " ".join(str(1000 + 37 * i) for i in range(40))
    sc = scanner_with(tmp_path, {"prices": prose(200, 5) + "\n" + figures + "\n" + prose(200, 6)})
    assert verdict(sc.scan_text(prose(80, 7) + "\n" + figures + "\n" + prose(80, 8))) is Action.BLOCK


def _with_and_without_c(sc, text):
    """(secret, matched words, score) of each finding of `text`, with the C speedups and without."""
    from dlp import speedups

    with_c = [(f.secret, f.matched_words, f.score) for f in sc.scan_text(text)]
    saved, speedups.native = speedups.native, None
    try:
        return with_c, [(f.secret, f.matched_words, f.score) for f in sc.scan_text(text)]
    finally:
        speedups.native = saved


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1400), every=st.integers(1, 4), number=st.integers(1, 999), host_seed=st.integers(1000, 10**6))
def test_numbers_glued_to_words_are_seen_through_with_and_without_the_c_speedups(tmp_path_factory, start, every,
                                                                                  number, host_seed):
    """The marks whose removal joins registered words are found by a C pass or by NumPy: the
    same marks, so the same findings either way."""
    excerpt = SECRET.split()[start : start + 40]
    glued = " ".join(f"{w}{number + i}" if i % every == 0 else w for i, w in enumerate(excerpt))
    text = prose(120, host_seed) + " " + glued + " " + prose(120, host_seed + 1)
    with_c, without = _with_and_without_c(scanner(tmp_path_factory), text)
    assert with_c == without
    assert any(secret == "plan" for secret, _, _ in with_c)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1400), where=st.lists(st.integers(1, 38), min_size=1, max_size=3), number=st.integers(1, 999),
       host_seed=st.integers(1000, 10**6))
def test_a_few_glued_numbers_leave_the_excerpt_one_run(tmp_path_factory, start, where, number, host_seed):
    """A glued number stops the run as written where it stands: the text around it is read
    again without it (the run's fingerprints stop right there), so a 40-word excerpt with a
    few such numbers is one run of 40 words, not runs of what lies between them."""
    excerpt = SECRET.split()[start : start + 40]
    glued = " ".join(f"{w}{number}" if i in where else w for i, w in enumerate(excerpt))
    text = prose(120, host_seed) + " " + glued + " " + prose(120, host_seed + 1)
    found = [f for f in scanner(tmp_path_factory).scan_text(text) if f.secret == "plan"]
    assert found and abs(found[0].matched_words - 40) <= 1, [(f.matched_words, f.evidence) for f in found]


def _read_again(monkeypatch) -> list[tuple[int, int]]:
    """(the part's tokens, the tokens read) of every other reading the fingerprint tier makes from
    now on."""
    from dlp.detectors.documents import DocumentDetector

    again = []
    real = DocumentDetector._detect

    def detect(self, scanned, total=None):
        if total is not None:
            again.append((total, len(scanned.values)))
        return real(self, scanned, total)

    monkeypatch.setattr(DocumentDetector, "_detect", detect)
    return again


def test_a_glued_number_where_no_run_stops_is_not_read_again(tmp_path_factory, monkeypatch):
    """Chance phrases of a registered document in mail, and numbers glued to words near them
    ("ext3", "page2"): the text is read again only where a run stops at such a number."""
    from dlp.detectors.documents import SECOND_READING_REACH

    words = SECRET.split()
    phrase = " ".join(words[100:110])  # ten words of the secret: a fingerprint found, a run that stops where they end
    far = prose(160, 99)  # (reads again around two marks further apart than this are two reads)
    text = f"see page2 and {phrase} then call ext3 tomorrow. {far} Or {phrase}4 next. {far} And {phrase} item5"
    again = _read_again(monkeypatch)
    scanner(tmp_path_factory).scan_text(text)
    read_again = [size for total, size in again]
    assert read_again and sum(read_again) <= 2 * SECOND_READING_REACH + 1  # at the "4" only: where the phrase's run stops


def test_where_a_run_of_the_reading_without_marks_stops_a_pair_or_a_tail_matters(tmp_path_factory, monkeypatch):
    """Flags glued before pairs (``🇬🇧TheBatch 🇬🇧IsHeld``): dropped with the marks, the reading
    without them has runs that stop at a pair that kept its flag (``gbisheld``). That reading
    comes first, and where its runs stop is where the pairs and tails gates look, whatever the
    key's fingerprints hold (with a few keys in twenty, neither gate found the pairs alone)."""
    from dlp.detectors.documents import DocumentDetector

    asked = []
    real = DocumentDetector._halves_that_matter

    def halves(self, scanned, marks, stops):
        asked.append((scanned.tokens.halves[:, 0].tolist(), stops.tolist()))
        return real(self, scanned, marks, stops)

    monkeypatch.setattr(DocumentDetector, "_halves_that_matter", halves)
    excerpt = SECRET.split()[40:66]
    text = prose(80, 7) + " " + " ".join("🇬🇧" + p for p in _pairs(excerpt, "camel")) + " " + prose(80, 8)
    found = [f for f in scanner(tmp_path_factory).scan_text(text) if f.secret == "plan"]
    assert found and found[0].matched_words >= 20
    assert any(set(centres) & set(stops) for centres, stops in asked), asked


def _pairs(words, style):
    """Each two words glued into one: ``TheBatch``, ``theBatch`` or ``THEBatch``."""
    first = {"camel": str.capitalize, "lower": str.lower, "capitals": str.upper}[style]
    return [first(words[i]) + (words[i + 1].capitalize() if i + 1 < len(words) else "") for i in range(0, len(words), 2)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1400), style=st.sampled_from(["camel", "lower", "capitals"]), every=st.integers(0, 4),
       host_seed=st.integers(1000, 10**6))
def test_words_glued_in_pairs_are_seen_through_with_and_without_the_c_speedups(tmp_path_factory, start, style, every,
                                                                                host_seed):
    """Every second blank left out (``TheBatch IsHeld ForTwenty``), a number glued to every few
    pairs or none: the pairs are read as their words around where a fingerprint of that
    reading is registered, found by a C pass or by NumPy, and the 40 words are one run."""
    excerpt = SECRET.split()[start : start + 40]
    pairs = [f"{p}{7 + i}" if every and i % every == 0 else p for i, p in enumerate(_pairs(excerpt, style))]
    text = prose(120, host_seed) + " " + " ".join(pairs) + " " + prose(120, host_seed + 1)
    with_c, without = _with_and_without_c(scanner(tmp_path_factory), text)
    assert with_c == without
    found = [words for secret, words, _ in with_c if secret == "plan"]
    assert found and abs(found[0] - 40) <= 1, with_c


def test_glued_pairs_in_mail_are_read_again_only_near_a_registered_fingerprint(tmp_path_factory, monkeypatch):
    """``JavaScript``, ``McDonald``: most pairs in mail are no evasion, and the text around them
    is read again only where a fingerprint of the secret holds their words."""
    from dlp.detectors.documents import SECOND_READING_REACH

    far = prose(160, 98)
    glued = " ".join(_pairs(SECRET.split()[200:230], "camel"))
    text = f"Our JavaScript team met McDonald and the BlackBerry people. {far} {glued}. {far} Ask McNair."
    again = _read_again(monkeypatch)
    found = [f for f in scanner(tmp_path_factory).scan_text(text) if f.secret == "plan"]
    read_again = [size for total, size in again]
    assert found and abs(found[0].matched_words - 30) <= 1
    assert len(read_again) == 1 and read_again[0] <= 2 * SECOND_READING_REACH + 30  # around the pairs only


def test_a_secret_with_capitals_inside_words_is_found_through_glued_numbers(tmp_path):
    """The reading without glued numbers keeps a registered ``PowerPoint`` whole: only the
    reading for pairs reads it apart (attack 15: one reading for both lost such excerpts)."""
    secret = ("Our sales team keeps the PowerPoint decks for every partner in SharePoint and exports the "
              "figures to JavaScript dashboards that the McKinsey auditors read each quarter. " + prose(60, 3))
    sc = scanner_with(tmp_path, {"decks": secret})
    words = secret.split()[:40]
    glued = " ".join(f"{w}{i}" if i % 3 == 0 else w for i, w in enumerate(words))
    found = [f for f in sc.scan_text(prose(80, 4) + " " + glued + " " + prose(80, 5)) if f.secret == "decks"]
    assert found and abs(found[0].matched_words - 40) <= 1, [(f.matched_words, f.evidence) for f in found]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1400), every=st.integers(1, 4), stray=st.sampled_from(["ж", "日", "는", "에서", "λλ", "жш"]),
       where=st.sampled_from(["end", "start", "both", "inside"]), host_seed=st.integers(1000, 10**6))
def test_strays_glued_to_words_are_seen_through_with_and_without_the_c_speedups(tmp_path_factory, start, every, stray,
                                                                                where, host_seed):
    """A stray of another script glued to every few words (``heldж``, ``жheld``, or a particle
    as Korean glues to the words it borrows: ``held는``), or put inside them (``heжld``, ``he日ld``:
    one word, or three tokens): the words are read alone around where
    a fingerprint of that reading is registered, found by a C pass or by NumPy, and the 40
    words are one run."""
    excerpt = SECRET.split()[start : start + 40]
    glue = {"end": "{w}{s}", "start": "{s}{w}", "both": "{s}{w}{s}", "inside": "{a}{s}{b}"}[where]
    glued = " ".join(glue.format(w=w, s=stray, a=w[: len(w) // 2], b=w[len(w) // 2 :]) if i % every == 0 else w
                     for i, w in enumerate(excerpt))
    text = prose(120, host_seed) + " " + glued + " " + prose(120, host_seed + 1)
    with_c, without = _with_and_without_c(scanner(tmp_path_factory), text)
    assert with_c == without
    found = [words for secret, words, _ in with_c if secret == "plan"]
    assert found and abs(found[0] - 40) <= 1, with_c


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1400), every=st.integers(1, 4), mark=st.sampled_from(["4", "42", "日", "7日"]),
       where=st.sampled_from(["middle", "twice"]), host_seed=st.integers(1000, 10**6))
def test_marks_inside_words_are_seen_through_with_and_without_the_c_speedups(tmp_path_factory, start, every, mark,
                                                                             where, host_seed):
    """A number or a CJK character inside every few words (``pro4cess``, ``p7roce4ss``,
    ``pro日cess``) cuts each in pieces: the pieces are read joined around where a fingerprint of
    that reading is registered, found by a C pass or by NumPy, and the 40 words are one run."""
    excerpt = SECRET.split()[start : start + 40]

    def cut(w: str) -> str:
        if len(w) < 2 or (where == "twice" and len(w) < 3):
            return w
        if where == "middle":
            return w[: len(w) // 2] + mark + w[len(w) // 2 :]
        return w[0] + mark + w[1:-1] + mark + w[-1]

    text = prose(120, host_seed) + " " + " ".join(cut(w) if i % every == 0 else w for i, w in enumerate(excerpt)) \
        + " " + prose(120, host_seed + 1)
    with_c, without = _with_and_without_c(scanner(tmp_path_factory), text)
    assert with_c == without
    found = [words for secret, words, _ in with_c if secret == "plan"]
    assert found and abs(found[0] - 40) <= 1, with_c


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1400), every=st.integers(1, 8), cut=st.sampled_from(["-", ".", "'", "/", "🙂", "°"]),
       host_seed=st.integers(1000, 10**6))
def test_words_cut_in_two_by_a_character_are_seen_through_with_and_without_the_c_speedups(tmp_path_factory, start,
                                                                                          every, cut, host_seed):
    """A hyphen, a full stop, an emoji in the middle of every few words (``mole-cular``): the
    two pieces are read as one word where such words come close together, found by a C pass
    or by NumPy, and the 40 words are one run."""
    excerpt = SECRET.split()[start : start + 40]
    text = prose(120, host_seed) + " " + " ".join(
        w[: len(w) // 2] + cut + w[len(w) // 2 :] if i % every == 0 and len(w) > 1 else w
        for i, w in enumerate(excerpt)) + " " + prose(120, host_seed + 1)
    with_c, without = _with_and_without_c(scanner(tmp_path_factory), text)
    assert with_c == without
    found = [words for secret, words, _ in with_c if secret == "plan"]
    assert found and abs(found[0] - 40) <= 1, with_c


def test_words_cut_by_numbers_in_mail_are_read_joined_only_near_a_registered_fingerprint(tmp_path_factory,
                                                                                         monkeypatch):
    """``w3c``, ``Win32IE``, hex colours (``f0f``): words with a number inside are no evasion in
    mail, and the text around them is read joined only where a fingerprint of the secret holds
    the joined word; where one does, the run is what the excerpt holds and its evidence ends
    where the last word does, its last piece included."""
    from dlp.detectors.documents import SECOND_READING_REACH

    far = prose(160, 96)
    words = SECRET.split()[300:330]
    cut = " ".join(w[: len(w) // 2] + "9" + w[len(w) // 2 :] if len(w) > 1 else w for w in words)
    text = f"See w3c and color f0f on Win32IE pages. {far} {cut}. {far} The e1f and a2b."
    again = _read_again(monkeypatch)
    found = [f for f in scanner(tmp_path_factory).scan_text(text) if f.secret == "plan"]
    read_again = [size for total, size in again]
    assert found and abs(found[0].matched_words - 30) <= 1
    assert len(read_again) == 1 and read_again[0] <= 2 * SECOND_READING_REACH + 3 * 30  # around the cut words only
    end = text.index(cut) + len(cut)  # (the run's last word is the excerpt's, cut or not)
    assert max(run.end for run in found[0].evidence.runs) == end, found[0].evidence.runs


def test_words_with_strays_glued_are_read_again_only_near_a_registered_fingerprint(tmp_path_factory, monkeypatch):
    """Korean text glues its particles to every word it borrows (``API를``, ``DLP에서``): such
    words are read alone only where a fingerprint of the secret holds them (read again whole,
    a Korean text with one in seven cost a third more to scan)."""
    from dlp.detectors.documents import SECOND_READING_REACH

    rng = random.Random(5)
    borrowed = prose(400, 97).split()
    korean = " ".join(f"{rng.choice(borrowed)}{rng.choice(['를', '는', '에서', '의'])}" if rng.random() < 0.3
                      else "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.randint(1, 3)))
                      for _ in range(2000))
    glued = " ".join(f"{w}는" for w in SECRET.split()[300:330])
    again = _read_again(monkeypatch)
    found = [f for f in scanner(tmp_path_factory).scan_text(f"{korean} {glued}. {korean}") if f.secret == "plan"]
    read_again = [size for total, size in again]
    assert found and abs(found[0].matched_words - 30) <= 1
    assert len(read_again) == 1 and read_again[0] <= 2 * SECOND_READING_REACH + 30  # around the excerpt only


@pytest.mark.parametrize("disguise", ["pairs and tails", "strays on both sides", "stray and digit"])
def test_mixed_glued_disguises_are_seen_through_with_and_without_the_c_speedups(tmp_path_factory, disguise):
    """Found attacking stop 36: a CamelCase pair and a word with a stray glued to it in turn (each
    gate read the other kind as written, and neither read again), strays on both sides of every
    word of sentences (``versa.ж жukж``), a digit and a stray glued to every word (``added.7ж``)."""
    excerpt = SECRET.split()[400:440]
    if disguise == "pairs and tails":  # (words 3k and 3k + 1 glued, word 3k + 2 with a stray)
        glued = " ".join(excerpt[i].capitalize() + excerpt[i + 1].capitalize() + " " + excerpt[i + 2] + "ж"
                         for i in range(0, 39, 3))
    elif disguise == "strays on both sides":
        glued = " ".join(f"ж{w}ж" for w in excerpt)
    else:
        glued = " ".join(f"{w}7ж" for w in excerpt)
    text = prose(120, 3) + " " + glued + " " + prose(120, 4)
    with_c, without = _with_and_without_c(scanner(tmp_path_factory), text)
    assert with_c == without
    found = [words for secret, words, _ in with_c if secret == "plan"]
    assert found and found[0] >= 34, (with_c, glued[:200])


def test_registered_words_the_word_list_lacks_are_read_whole_where_cut_words_come_close(tmp_path):
    """``lame llae``: a word of a registered document that the English word list lacks (a code
    word, a technical term) is read whole where words cut by blanks come close together (an
    evader cuts the English words between them too), as the registry's table of its rare words
    holds it."""
    secret = ("The methoxy groups of the polysiloxane resin react with the glycidyl ether before the "
              "aminosilane is added, and the micaceous pigment keeps its lamellae whole only when the "
              "zirconate catalyst and the titanate accelerator are weighed to a tenth of a gram. The "
              "siloxane network then cures with the silanol groups at five degrees, and the oxirane "
              "rings of the bisphenol epoxide open under the dibutyltin catalyst within eight hours.")
    sc = scanner_with(tmp_path, {"plan": secret, "other": " ".join(words(800, seed=99))})
    excerpt = secret.split()[2:62]
    cut = " ".join(w[: len(w) // 2] + " " + w[len(w) // 2:] if len(w) > 1 else w for w in excerpt)
    found = [f for f in sc.scan_text(prose(100, 1000) + " " + cut + " " + prose(100, 1001)) if f.secret == "plan"]
    # (40 to 48 of the 60 words in two runs, by the key: the runs still break where a guess does not
    # matter; without the registry's rare words, nothing at all was found)
    assert found and max(run.words for run in found[0].evidence.runs) >= BLOCK_WORDS, found
    assert verdict(found) is Action.BLOCK


def test_a_registered_rare_word_cut_at_a_disguised_token_is_no_crash(tmp_path):
    """``be s<ZWSP>et``: a short token that hid behind an invisible character between two words is
    a mark (read both ways), and "be set" is a registered rare word (beset) cut by a blank, beside
    other cut words: the pair was read as one word with a mark for its second piece, and the
    fingerprint tier failed on the part (a scan problem, a warn, where the excerpt should block:
    found by benchmarks/bench_evasion_goals.py, zero-width spaces in every 3rd word)."""
    secret = ("Under the new pricing rule, the smallest order of the coated pails will be lowered to 100 units from "
              "300. The discount on orders placed between one year and two years ahead will be set at 0.5 percentage "
              "point below the prevailing list price of the coating, the plant manager said. But the discount on "
              "orders with lead times of one year or less will remain the same, or 0.75 percentage point below the list.")
    beset = "The old refinery was beset by strikes and floods during the long winter, and its owners were beset by creditors."
    sc = scanner_with(tmp_path, {"pricing": secret, "beset": beset, "other": prose(300, 3)})
    text = ("I asked Kevin when the issue of altering B/L's, or ye\u200bars ahead will be s\u200bet at 0.5 perce\u200bntage "
            "point below t\u200bhe prevailing list price o\u200bf the coating, t\u200bhe plant manager said. B\u200but the "
            "discount o\u200bn orders with le\u200bad times of one year or less")
    report = sc.scan_bytes(text.encode(), "mail.txt")
    assert not report.problems, report.problems
    assert report.action is Action.BLOCK


def _in_mail(words: list[str]) -> bytes:
    """`words` between two paragraphs of mail."""
    return f"{attack.UNRELATED}\n\n{' '.join(words)}\n\n{attack.UNRELATED}".encode()


def _cut(words: list[str]) -> list[str]:
    """Each word cut in two by a blank."""
    return [w[: len(w) // 2] + " " + w[len(w) // 2 :] if len(w) > 1 else w for w in words]


def test_every_word_cut_by_a_blank_blocks_whatever_the_key(tmp_path):
    """25 words each cut in two by a blank, between two paragraphs of mail. The word list's guesses
    are read whole where a registered fingerprint lies in the windows after them; near the end of the
    excerpt those windows run into the mail around it, and whether one of them kept a fingerprint
    depended on the key: under this one (about one key in forty did it), the run stopped at such a
    guess and 19 words warned. Guesses where a run stops are read whole too (`_where_runs_stop`)."""
    (tmp_path / "reg.key").write_text("910dee107a7edadc17a100acd259cf7a5a450bc2a5f9d92db3e72c34ec9b6736\n")
    sc = scanner_with(tmp_path, {"halcyon": attack.SECRET})
    report = sc.scan_bytes(_in_mail(_cut(attack.excerpt(25))), "mail.txt")
    found = [f for f in report.findings if f.kind == "document"]
    assert [f.matched_words for f in found] == [25]
    assert verdict(found) is Action.BLOCK


RETOOLING = (
    "After two quarters of trials the Leeds plant has proposed a phased retooling schedule that would shift the "
    "coating line from solvent-based to water borne chemistry within eighteen months. Since the new resin cures "
    "more slowly, the ovens on lines two and three must be lengthened, and the night shift will run the pilot "
    "batches while the day shift keeps the existing orders moving through the plant."
)


@pytest.mark.xfail(strict=True, reason="helper-32: a word cut by a blank is read whole only in the readings where "
                   "every word cut by a character in reach (solvent-based) is read whole too, so the run breaks there "
                   "in every reading; and two-letter words cut into single letters (o f t he) read as letter-spaced "
                   "text (oft he), two common words (in to) are never a candidate")
@pytest.mark.parametrize("case", ["one cut beside a hyphenated compound", "every word cut, from word 12"])
def test_words_cut_by_a_blank_in_other_places_still_block(tmp_path, case):
    sc = scanner_with(tmp_path, {"halcyon": attack.SECRET, "retooling": RETOOLING})
    if case == "one cut beside a hyphenated compound":
        words = RETOOLING.split()[5:32]
        words[words.index("coating")] = "coa ting"
    else:
        words = _cut(attack.excerpt(25, 12))
    report = sc.scan_bytes(_in_mail(words), "mail.txt")
    assert verdict([f for f in report.findings if f.kind == "document"]) is Action.BLOCK
