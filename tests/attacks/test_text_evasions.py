"""Text tricks on a verbatim excerpt of 25 and of 60 words: does it still block?

Every case is a plain UTF-8 text file: an unrelated paragraph, the disguised excerpt,
another paragraph. The default policy blocks a verbatim run of 20 words, so every
case that a reader sees as the secret's own words must block. The same disguise
applied to unrelated text must not match any secret (it may be reported as disguise).
"""

from __future__ import annotations

from typing import Callable

import pytest

from .conftest import action, hole, kinds
from .texts import NEAR_TOPIC, UNRELATED, excerpt

Disguise = Callable[[list[str]], str]


def each_word(change: Callable[[str], str], every: int = 1) -> Disguise:
    return lambda words: " ".join(change(w) if i % every == 0 else w for i, w in enumerate(words))


def inside(mark: str) -> Callable[[str], str]:
    """`mark` in the middle of a word."""
    return lambda w: w[: len(w) // 2] + mark + w[len(w) // 2 :] if len(w) > 1 else w


def letters(table: dict[str, str]) -> Callable[[str], str]:
    return lambda w: "".join(table.get(c, c) for c in w)


def hyphenate(every: int) -> Disguise:
    """Hard-wrapped text with a word broken by a hyphen at the end of a line."""
    def disguise(words: list[str]) -> str:
        out = []
        for i, w in enumerate(words):
            out.append(w[: len(w) // 2] + "-\n" + w[len(w) // 2 :] if i % every == 0 and len(w) > 3 else w)
        return " ".join(out)
    return disguise


def alternate_case(w: str) -> str:
    return "".join(c.upper() if i % 2 else c for i, c in enumerate(w))


CYRILLIC = dict(zip("aeopcxy", "аеорсхуі"))  # no i: see the separate case
ARMENIAN = dict(zip("ouhng", "օսհոց"))
CHEROKEE_CAPS = dict(zip("ABCDEHRSTVWLG", "ᎪᏴᏟᎠᎬᎻᏒᏚᎢᏙᏔᏞᏀ"))
ROMAN = dict(zip("cdilmvx", "ⅽⅾⅰⅼⅿⅴⅹ"))
SMALL_CAPS = dict(zip("abcdefghijklmnoprstuvwyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"))
FULLWIDTH = {chr(c): chr(c - 0x61 + 0xFF41) for c in range(0x61, 0x7B)}
MATH_BOLD = {chr(c): chr(c - 0x61 + 0x1D41A) for c in range(0x61, 0x7B)}
CIRCLED = {chr(c): chr(c - 0x61 + 0x24D0) for c in range(0x61, 0x7B)}
NEGATIVE_CIRCLED = {chr(c): chr(c - 0x61 + 0x1F150) for c in range(0x61, 0x7B)}
ACCENTS = dict(zip("aeiou", "áéíóú"))

# name -> (disguise, reason when it is a hole for both lengths, or None)
CASES: dict[str, tuple[Disguise, str | None]] = {
    "plain": (" ".join, None),
    "alternating case": (each_word(alternate_case), None),
    "punctuation between words": (" ... ".join, None),
    "dots instead of spaces": (".".join, None),
    "underscores instead of spaces": ("_".join, None),
    "one word per line": ("\n".join, None),
    "braille blank instead of spaces": ("\u2800".join, None),
    "zero-width joiner in every word": (each_word(inside("\u200d")), None),
    "word joiner in every word": (each_word(inside("\u2060")), None),
    "bidi marks between words": ("\u200f \u200e".join, None),
    "Cyrillic a e o p c x y": (each_word(letters(CYRILLIC)), None),
    "Armenian o u h n g": (each_word(letters(ARMENIAN)), None),
    "Cherokee capitals in upper case text": (lambda ws: " ".join(letters(CHEROKEE_CAPS)(w.upper()) for w in ws), None),
    "Roman numeral letters": (each_word(letters(ROMAN)), None),
    "fullwidth letters": (each_word(letters(FULLWIDTH)), None),
    "mathematical bold letters": (each_word(letters(MATH_BOLD)), None),
    "circled letters": (each_word(letters(CIRCLED)), None),
    "excerpt repeated five times": (lambda ws: " ".join(ws * 5), None),
    # holes
    "Cyrillic i (U+0456)": (each_word(lambda w: w.replace("i", "\u0456")),
                            "Cyrillic і folds to 'l', not 'i' (confusables keyed by the case fold of capital І, "
                            "whose skeleton is 'l'); also Greek ι and Latin ɩ"),
    "combining acute on every word": (each_word(lambda w: w[0] + "\u0301" + w[1:]),
                                      "combining marks stay inside tokens (per-character NFKC never composes "
                                      "or strips them)"),
    "combining strikethrough (U+0336)": (each_word(lambda w: "".join(c + "\u0336" for c in w)),
                                         "combining marks stay inside tokens"),
    "one dot below (U+0323) every 4th word": (each_word(lambda w: w[0] + "\u0323" + w[1:], every=4),
                                              "one combining mark in every 4th word breaks every shingle"),
    "accented vowel in every 4th word": (each_word(lambda w: w.replace("e", "é", 1).replace("a", "á", 1), every=4),
                                         "accents are not folded: 'gráde' is not 'grade'"),
    "Turkish dotted capital I in upper case": (lambda ws: " ".join(w.upper().replace("I", "İ") for w in ws),
                                               "İ case-folds to i + U+0307, a combining mark inside the token"),
    "Latin small capitals": (each_word(letters(SMALL_CAPS)),
                             "small capitals ᴀ ʙ ᴅ ᴇ ꜰ ɢ ʜ ᴊ ᴋ ʟ ᴍ ɴ ᴘ ᴛ are neither NFKC nor confusable-folded"),
    "negative circled letters": (each_word(letters(NEGATIVE_CIRCLED)),
                                 "🅐-🅩 (fancy-text generators) are symbols: the words vanish"),
    "letter-spaced words": (each_word(" ".join), "'c o a t i n g' is seven one-letter tokens"),
    "hyphenated line breaks every 4th word": (hyphenate(4), "'pig-\\nment' is two tokens; hard-wrapped PDFs and "
                                                            "mails do this"),
    "Hangul filler instead of spaces": ("\u3164".join, "U+3164 renders as a blank but is default-ignorable, so "
                                                       "the words are glued into one token"),
    "right-to-left override, letters stored reversed": (each_word(lambda w: "\u202e" + w[::-1] + "\u202c"), None),
    "one right-to-left override over the whole excerpt": (lambda words: "\u202e" + " ".join(words)[::-1], None),
    "superscript footnote marks on every 3rd word": (
        lambda ws: " ".join(w + "¹²³⁴⁵⁶⁷⁸⁹"[i % 9] if i % 3 == 0 else w for i, w in enumerate(ws)),
        "'process¹' is the token 'process1': digits glued to a word make a new word (splitting tokens at "
        "letter/digit changes on both sides would also match HX4471B to HX-4471-B)"),
    "citation marks [n] after every 3rd word": (
        lambda ws: " ".join(f"{w} [{i}]" if i % 3 == 0 else w for i, w in enumerate(ws)),
        "a number token every 3 words leaves no run of 10; the rewrite tier does not see it either"),
    "CamelCase, no spaces": (lambda ws: "".join(w[:1].upper() + w[1:] for w in ws),
                             "glued CamelCase words are one token"),
}
# cases that are a hole for one length only
PARTIAL: dict[tuple[str, int], str] = {}


def placed(disguised: str, filler: str = UNRELATED) -> str:
    return filler + "\n\n" + disguised + "\n\n" + filler


def _params():
    for name, (_, reason) in CASES.items():
        for n in (25, 60):
            why = reason or PARTIAL.get((name, n))
            yield pytest.param(name, n, id=f"{name}-{n}", marks=[hole(why)] if why else [])


@pytest.fixture(scope="module")
def reports(dlp, tmp_path_factory) -> dict[tuple[str, int], dict]:
    folder = tmp_path_factory.mktemp("text-evasions")
    paths = {}
    for i, (name, (disguise, _)) in enumerate(CASES.items()):
        for n in (25, 60):
            path = folder / f"case{i:02d}-{n}.txt"
            path.write_text(placed(disguise(excerpt(n))), encoding="utf-8")
            paths[(name, n)] = str(path)
            clean = folder / f"clean{i:02d}.txt"
            clean.write_text(placed(disguise(NEAR_TOPIC.split()), UNRELATED), encoding="utf-8")
            paths[(name, 0)] = str(clean)
    by_path = dlp.scan(folder)
    return {case: by_path[path] for case, path in paths.items()}


@pytest.mark.parametrize("name, n", list(_params()))
def test_a_disguised_excerpt_still_blocks(reports, name, n):
    report = reports[(name, n)]
    assert "document" in kinds(report, "halcyon") and action(report) == "block", report["findings"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_same_disguise_on_unrelated_text_matches_no_secret(reports, name):
    report = reports[(name, 0)]
    matched = [f for f in report["findings"] if f["kind"] != "obfuscation"]
    assert not matched and action(report) in ("allow", "warn")
