"""A batch of documents prepared in one pass gives exactly what one document at a time gives."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlp.classify.features import hashed_counts
from dlp.fingerprint import Keyer, shingles, winnow
from dlp.fingerprint.batch import pack, prepare, unpack
from dlp.fingerprint.lexicon import Lexicon
from dlp.fingerprint.rewrite import MAX_SENTENCE_TOKENS, rewrite_record
from dlp.text import tokenise

KEYER = Keyer(b"b" * 32)
WORDS = ["the", "of", "coating", "process", "pigment", "is", "was", "binder", "halcyon", "a", "x", "42",
         "2026", "ratio", "résumé", "Straße", "naïve", "東京", "данные", "q3", "HX-4471-B", "cure", "kiln"]
PUNCT = [" ", " ", " ", ", ", ". ", "! ", "? ", "\n", "\n\n", " - ", "3.5 ", " (", ") "]


def _lexicon() -> Lexicon:
    """A small keyed lexicon with stop words, common and rare lemmas (the real one takes seconds)."""
    words = ["the", "of", "is", "was", "a", "coating", "process", "pigment", "binder", "ratio", "cure", "kiln",
             "processes", "coated"]
    lemma_of = {"processes": "process", "coated": "coating", "was": "is"}
    weight = {"coating": 7.0, "pigment": 9.5, "binder": 4.0, "ratio": 2.0, "cure": 5.5, "kiln": 8.25,
              "process": 3.0}
    keys = np.array([KEYER.word(w) for w in words], dtype=np.uint64)
    lemmas = np.array([KEYER.word(lemma_of.get(w, w)) for w in words], dtype=np.uint64)
    weights = np.array([weight.get(lemma_of.get(w, w), 1.0) for w in words], dtype=np.float32)
    flags = np.array([1 if w in ("the", "of", "is", "was", "a") else 0 for w in words], dtype=np.uint8)
    order = np.argsort(keys)
    return Lexicon(keys[order], lemmas[order], weights[order], flags[order])


LEXICON = _lexicon()


def _one(text: str, lexicon: Lexicon):
    """The one-document path registration used before batching."""
    toks = tokenise(text)
    values = KEYER.tokens(toks)
    sh = shingles(values)
    picks = winnow(sh)
    return (len(values), sh[picks], picks.astype(np.uint32), (sh >> np.uint64(32)).astype(np.uint32),
            rewrite_record(toks, values, lexicon), *hashed_counts(values))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _check(texts: list[str], lexicon: Lexicon = LEXICON) -> None:
    batch = prepare([tokenise(t) for t in texts], KEYER, lexicon)
    assert len(batch) == len(texts)
    for text, got in zip(texts, batch):
        tokens, fp_hash, fp_pos, all_sh32, rw, buckets, counts = _one(text, lexicon)
        assert got.tokens == tokens
        for mine, theirs in ((got.fp_hash, fp_hash), (got.fp_pos, fp_pos), (got.all_sh32, all_sh32),
                             (got.cl_bucket, buckets), (got.cl_count, counts),
                             (got.rewrite.vectors.ptr, rw.vectors.ptr), (got.rewrite.vectors.cols, rw.vectors.cols),
                             (got.rewrite.vectors.weights, rw.vectors.weights),
                             (got.rewrite.signatures, rw.signatures), (got.rewrite.pair_hashes, rw.pair_hashes),
                             (got.rewrite.pair_rows, rw.pair_rows), (got.rewrite.lemmas, rw.lemmas)):
            assert _same(mine, theirs), (text[:80], mine, theirs)


documents = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(PUNCT)), max_size=200).map(
    lambda pairs: "".join(w + p for w, p in pairs))


@settings(max_examples=150, deadline=None)
@given(st.lists(documents, min_size=1, max_size=8))
def test_a_batch_equals_one_document_at_a_time(texts):
    _check(texts)


LONG_SENTENCE = " ".join(["pigment binder coating kiln cure"] * (MAX_SENTENCE_TOKENS // 2))


@pytest.mark.parametrize("texts", [
    [""],  # no text at all
    ["", "pigment binder", ""],  # documents shorter than a shingle, between empty ones
    ["coating. " * 3, "the the the the the the the the the the"],  # repeated shingles: ties in winnowing
    [LONG_SENTENCE, LONG_SENTENCE + ". kiln cure"],  # sentences cut into pieces, across documents
    ["A 2026 ratio of 42.", "東京 данные pigment kiln. Cure binder!", "HX-4471-B coating\n\npigment binder kiln"],
    ["one two three four five six seven eight nine ten eleven"] * 3,  # identical documents side by side
], ids=["empty", "short", "ties", "long-sentences", "scripts", "identical"])
def test_edge_cases_equal_one_document_at_a_time(texts):
    _check(texts)


def test_the_real_lexicon_too(tmp_path):
    lexicon = Lexicon.build(KEYER)
    _check(["The coating process was cured in the kiln at 1,200 degrees. The binder ratio is secret.",
            "Quarterly revenue of the Halcyon programme rose; pigments and binders were reformulated.", ""],
           lexicon)


def test_a_packed_batch_unpacks_to_the_same_documents():
    texts = ["", "pigment binder", LONG_SENTENCE, "A 2026 ratio of 42. 東京 kiln cure binder coating."]
    batch = prepare([tokenise(t) for t in texts], KEYER, LEXICON)
    again = unpack(pack(batch))
    assert len(again) == len(batch) and unpack(pack([])) == []
    for a, b in zip(batch, again):
        assert a.tokens == b.tokens and a.nbytes == b.nbytes
        for x, y in ((a.fp_hash, b.fp_hash), (a.fp_pos, b.fp_pos), (a.all_sh32, b.all_sh32),
                     (a.cl_bucket, b.cl_bucket), (a.cl_count, b.cl_count), (a.rewrite.lemmas, b.rewrite.lemmas),
                     (a.rewrite.vectors.ptr, b.rewrite.vectors.ptr), (a.rewrite.vectors.cols, b.rewrite.vectors.cols),
                     (a.rewrite.vectors.weights, b.rewrite.vectors.weights), (a.rewrite.signatures, b.rewrite.signatures),
                     (a.rewrite.pair_hashes, b.rewrite.pair_hashes), (a.rewrite.pair_rows, b.rewrite.pair_rows)):
            assert _same(x, y)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["coat", "ING", "12", "4471", "a1b2", "x9", "HTMLParser", "coatingProcess", "c o a t ",
                                 "coat-\n", "ing", "[12]", "BF [220]", "é", "日本", "٣", "1٣", " ", "\n", ". ", "-"]),
                max_size=60))
def test_digit_tokens_of_a_batch_are_those_the_scanner_sees(pieces):
    """Registration reads a token's first character only in ASCII text (a token is a run of
    letters or of digits); the scanner reads all of them: the same answer."""
    from dlp.fingerprint.batch import _digits_only

    toks = tokenise("".join(pieces))
    assert np.array_equal(_digits_only([toks], toks.lengths), toks.digits_only(np.arange(len(toks))))
