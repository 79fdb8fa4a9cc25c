"""Typed record fields: every way a person or an export writes a value gives the registered hash."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp.fingerprint import Keyer
from dlp.fingerprint import fields
from dlp.text import tokenise

KEYER = Keyer(b"k" * 32)
MONTHS = fields.month_values(KEYER)


def registered(kind: str, value: str) -> set[int]:
    return set(fields.typed_column(kind, [value], KEYER).hashes[0])


def found(kind: str, text: str, **kw) -> set[int]:
    toks = tokenise(text)
    return set(fields.candidates(toks, KEYER.tokens(toks), KEYER, {kind}, MONTHS, **kw).hashes.tolist())


@pytest.mark.parametrize("written, forms", [
    ("+46 8 555 123 45", ["0046855512345", "0855512345", "460855512345"]),
    ("+46 (0)8 555 123 45", ["00460855512345", "0046855512345", "0855512345", "46855512345"]),
    ("0046 8 555 123 45", ["0855512345", "460855512345", "46855512345"]),
    ("+1 (212) 555-0199", ["0012125550199", "02125550199", "102125550199", "2125550199"]),
    ("+353 1 555 0199", ["0035315550199", "015550199", "353015550199"]),
    ("+39 06 1234 5678", ["00390612345678", "0039612345678", "0612345678", "39612345678"]),
    ("08-555 123 45", []),  # no country code: its other forms are unknown
    ("+46 12 34", []),  # too short to stand on its own
    ("ext. 12345", []),
])
def test_phone_forms(written, forms):
    assert fields.phone_forms(written) == forms


@pytest.mark.parametrize("scanned", ["+46 8 555 123 45", "+46-8-555-12345", "0046 8 555 123 45",
                                     "+46 (0)8 555 123 45", "08-555 123 45", "(08) 555 123 45",
                                     "+46 \u0668 \u0665\u0665\u0665 \u0661\u0662\u0663 \u0664\u0665"])
def test_a_phone_is_found_in_every_form(scanned):
    assert registered("phone", "+46 8 555 123 45") & found("phone", f"call {scanned} today")


@pytest.mark.parametrize("scanned", ["+46 8 555 123 46", "0046 8 555 123 46", "08-555 123 46", "+47 8 555 123 45"])
def test_another_number_is_not_found(scanned):
    assert not registered("phone", "+46 8 555 123 45") & found("phone", f"call {scanned} today")


@pytest.mark.parametrize("written", ["1984-03-07", "19840307", "March 7th, 1984", "7th March 1984", "7 March 1984",
                                     "Mar 7 1984", "07.03.1984"])
def test_parse_dates(written):
    assert 19840307 in fields.parse_dates(written)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31)))
def test_a_day_is_found_in_every_written_form(day):
    month = day.strftime("%B")
    suffix = "th" if 11 <= day.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
    forms = [day.isoformat(), day.strftime("%Y%m%d"), f"{month} {day.day}{suffix}, {day.year}",
             f"{day.day}{suffix} {month} {day.year}", f"{day.day} {month[:3]} {day.year}"]
    want = registered("date", day.isoformat())
    for form in forms:
        assert want & found("date", f"born {form} in"), form


def test_an_ordinal_suffix_is_read_past_only_when_glued_to_a_number():
    want = registered("date", "1984-03-07")
    assert want & found("date", "March 7th, 1984")
    assert not want & found("date", "March 7 th, 1984")  # "th" as a word of its own is not a suffix
    assert not want & found("date", "born 19840308 and 1984030")


@pytest.mark.parametrize("scanned", ["Zoë Çelik-Müller", "Celik-Muller, Zoe", "ZOE CELIK MULLER", "Zoë\tÇelik-Müller",
                                     "Zoë Çelik\u2010Müller"])
def test_hyphenated_names_match(scanned):
    assert registered("name", "Zoë Çelik-Müller") & found("name", f"Dear {scanned}, thanks")


@pytest.mark.parametrize("scanned", ["Siobhán O'Neill", "Siobhan O\u2019Neill", "O'Neill, Siobhán", "Siobhán\tO'Neill"])
def test_names_with_an_apostrophe_match(scanned):
    assert registered("name", "Siobhán O'Neill") & found("name", f"Dear {scanned}, thanks")


def test_a_three_word_name_is_also_its_first_and_last_word():
    hashes = registered("name", "Greta Marie Lindqvist")
    assert len(hashes) == 2
    assert hashes & found("name", "from Greta Lindqvist today")
    assert hashes & found("name", "from Lindqvist, Greta today")
    assert not hashes & found("name", "from Greta Marie today")  # first and middle: another person, maybe
    assert not hashes & found("name", "from Marie Lindqvist today")


def test_names_in_separate_cells_of_a_row_match():
    assert registered("name", "Björn Ågren") & found("name", "first\tlast\nBjörn\tÅgren\t1984-03-07")


def test_gaps_that_do_not_link_name_words():
    hashes = registered("name", "Björn Ågren")
    for text in ("Björn; Ågren", "Björn / Ågren", "Björn\n\nÅgren", "Björn — Ågren"):
        assert not hashes & found("name", text), text


def test_month_values_end_with_the_ordinal_suffixes():
    assert len(MONTHS) == 28 and MONTHS[24:].tolist() == [KEYER.word(w) for w in ("st", "nd", "rd", "th")]


def test_compact_days_are_real_days_only():
    toks = tokenise("19840230 20241301 18991231 22000101 19840307")
    first, last, ymd = fields._compact_days(toks)
    assert ymd.tolist() == [19840307] and first.tolist() == last.tolist() == [4]
    assert np.all(fields._numbers(toks, 8, exactly=True) >= 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["ab1", "c2", "-", "44", " ", "(0)", "20", "7946", "/", "x", "0958", "EMP", "\n"]),
                min_size=1, max_size=80))
def test_joined_candidates_are_the_same_hashed_a_block_at_a_time(pieces):
    """Joined (phone, id) candidates are hashed a block of start tokens at a time so that one long
    chain of short tokens cannot take gigabytes: the blocks change nothing found."""
    toks = tokenise("".join(pieces))
    values = KEYER.tokens(toks)
    whole = fields.candidates(toks, values, KEYER, {"phone"}, MONTHS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fields, "JOINED_BLOCK", 3)
        blocks = fields.candidates(toks, values, KEYER, {"phone"}, MONTHS)
    assert sorted(zip(whole.hashes.tolist(), whole.first.tolist(), whole.last.tolist())) == \
        sorted(zip(blocks.hashes.tolist(), blocks.first.tolist(), blocks.last.tolist()))
