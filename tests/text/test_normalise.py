from hypothesis import given, settings, strategies as st

from dlp.text import normalise_words, tokenise


def test_nfkc_and_case_folding_make_variants_equal():
    assert normalise_words("ＨＥＬＬＯ Straße ﬁne") == normalise_words("hello STRASSE fine") == ["hello", "strasse", "fine"]
    from dlp.fingerprint import Keyer

    keyer = Keyer(b"k" * 32)
    assert keyer.tokens(tokenise("ＨＥＬＬＯ Straße")).tolist() == keyer.tokens(tokenise("hello strasse")).tolist()


def test_tokens_are_runs_of_letters_and_digits():
    assert normalise_words("HX-4471-B, rev.2 (draft)") == ["hx", "4471", "b", "rev", "2", "draft"]


def test_cjk_characters_are_single_tokens():
    assert normalise_words("東京タワー and 서울") == ["東", "京", "タ", "ワ", "ー", "and", "서울"]


def test_offsets_point_into_the_original_text():
    text = "Ａｌｐｈａ  ß-Beta\ufb01ne ok"
    toks = tokenise(text)
    pieces = [text[s:e] for s, e in zip(toks.starts.tolist(), toks.ends.tolist())]
    assert pieces == ["Ａｌｐｈａ", "ß", "Beta\ufb01ne", "ok"]


def test_long_texts_are_tokenised_in_slices_without_splitting_words(monkeypatch):
    from dlp.text import normalise as n

    monkeypatch.setattr(n, "CHUNK_CHARS", 1 << 12)
    text = ("word " * 30_000) + "Ünïcode tail"
    toks = tokenise(text)
    from dlp.fingerprint import Keyer

    keyed = Keyer(b"k" * 32).tokens(toks)  # unkeyed hashes differ between the ASCII and general paths
    assert len(toks) == 30_002 and len(set(keyed[:-2].tolist())) == 1
    assert text[toks.starts[-1]:toks.ends[-1]] == "tail"
    assert toks.text_of(30_000) == "unicode"  # accents are dropped


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_every_token_maps_back_to_source_characters(text):
    toks = tokenise(text)
    assert len(toks.starts) == len(toks.ends) == len(toks.hashes)
    for i in range(len(toks)):
        s, e = int(toks.starts[i]), int(toks.ends[i])
        assert 0 <= s < e <= len(text)
        assert toks.text_of(i) in normalise_words(text[s:e])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["alpha", "Beta", "GAMMA", "déjà", "vu", "42", "xy"]), max_size=30),
       st.sampled_from([" ", "  ", "\n", ", ", " - ", "\t"]))
def test_separators_do_not_change_token_hashes(tokens, sep):
    """(One-letter words are the exception: one space apart, three of them are a letter-spaced word.)"""
    assert tokenise(sep.join(tokens)).hashes.tolist() == tokenise(" ".join(tokens)).hashes.tolist()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300), st.text(alphabet="éßİ東", min_size=1, max_size=3))
def test_ascii_and_general_paths_give_the_same_tokens(text, wide):
    """The ASCII fast path and the general path must agree on tokens and offsets."""
    from dlp.fingerprint import Keyer

    keyer = Keyer(b"k" * 32)
    fast = tokenise(text)
    general = tokenise(text + " " + wide)  # a non-ASCII character forces the general path
    n = len(fast)
    assert general.starts[:n].tolist() == fast.starts.tolist()
    assert general.ends[:n].tolist() == fast.ends.tolist()
    assert keyer.tokens(general)[:n].tolist() == keyer.tokens(fast).tolist()


def test_very_long_tokens_hash_by_content():
    a, b = "x" * 5000 + "a", "x" * 5000 + "b"
    assert tokenise(a).hashes[0] != tokenise(b).hashes[0]
    assert tokenise(a).hashes[0] == tokenise(a.upper()).hashes[0]
