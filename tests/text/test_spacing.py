import pytest
from hypothesis import given, settings, strategies as st

from dlp.text import normalise_words
from dlp.text.spacing import glued_forms, is_word

# (a registered term, its form written without spaces, or None when it gets none)
GLUED = [
    ("Project Halcyon", "projecthalcyon"),
    ("Bluefin resin", "bluefinresin"),
    ("Déjà Vu Blue", "dejavublue"),
    ("Project Halcyon 7", None),  # words of letters only: glued digits would merge numbers
    ("ZX-12-7B", None),  # (zx127b would be the part ZX-127-B)
    ("HX-4471-B", None),
    ("FR 118", None),
    ("Halcyon", None),  # one word
    ("Blue Bell", None),  # bluebell is a flower: a glued form that is an English word is no evidence
    ("sun flower", None),
    ("the process of cooling the batch", None),  # long enough to be cut into its words again
]


@pytest.mark.parametrize("term, glued", GLUED, ids=[g[0] for g in GLUED])
def test_a_term_of_several_words_has_a_glued_form(term, glued):
    assert glued_forms([term]) == [glued]


def test_glued_forms_of_many_terms_are_found_in_one_go():
    terms = [t for t, _ in GLUED]
    assert glued_forms(terms) == [g for _, g in GLUED]


def test_english_words_are_known_and_code_names_are_not():
    assert is_word("bluebell") and is_word("process") and not is_word("projecthalcyon") and not is_word("two words")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="bcdfghjklmnpqrstvwxz", min_size=3, max_size=6), min_size=2, max_size=3))
def test_the_glued_form_is_how_the_tokeniser_reads_the_term_glued(words):
    """Registration and scanning read a glued term alike, in any case and with a hashtag."""
    (form,) = glued_forms([" ".join(words)])
    if form is not None:
        written = "".join(words)
        assert normalise_words(written.upper()) == normalise_words("#" + written) == [form]
