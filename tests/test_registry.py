"""The registry keeps no plaintext, versions secrets, and needs its own key."""

from __future__ import annotations

import pytest

from dlp.errors import KeyMissing, UsageError
from dlp.registry import Registry, default_key_path, editing

from helpers import prose, words

DISTINCTIVE = ["zanthoxylum", "perfluorohexane", "Halcyon", "bob@acme.test", "HX-4471-B", "Acme Widgets"]


def test_nothing_in_the_store_reveals_registered_text(tmp_path):
    text = " ".join(words(300, 1)) + " zanthoxylum perfluorohexane Halcyon"
    with editing(tmp_path / "reg") as reg:
        reg.add_document(text, text.encode(), "f.txt", secret_id="f")
        reg.add_terms("codes", ["Project Halcyon", "HX-4471-B"])
        reg.add_records("people", "company,email\nAcme Widgets,bob@acme.test\n")
        reg.commit()
    blobs = b"".join(p.read_bytes() for p in (tmp_path / "reg").rglob("*") if p.is_file())
    for word in DISTINCTIVE + [w for w in words(300, 1) if len(w) >= 7]:
        for form in {word, word.lower()}:
            assert form.encode() not in blobs, form


def test_the_same_text_under_two_keys_shares_no_stored_value(tmp_path):
    text = " ".join(words(400, 2))
    stored = []
    for name in ("a", "b"):
        with editing(tmp_path / name) as reg:
            reg.add_document(text, text.encode(), "f.txt", secret_id="f")
            reg.commit()
        index = Registry(tmp_path / name).index
        stored.append({int(h) for segment in index.segments for h in segment.get("doc_hash")})
    assert stored[0] and not stored[0] & stored[1]


def test_key_lives_outside_the_store_with_owner_only_permissions(tmp_path):
    with editing(tmp_path / "reg") as reg:
        reg.commit()
    key = default_key_path(tmp_path / "reg")
    assert key.parent == tmp_path and key.stat().st_mode & 0o777 == 0o600
    assert not list((tmp_path / "reg").rglob("*.key"))


def test_missing_and_foreign_keys_are_refused(tmp_path):
    with editing(tmp_path / "reg") as reg:
        reg.commit()
    default_key_path(tmp_path / "reg").rename(tmp_path / "moved.key")
    with pytest.raises(KeyMissing, match="not found"):
        Registry(tmp_path / "reg")
    (tmp_path / "other.key").write_text("ab" * 32)
    with pytest.raises(KeyMissing, match="does not belong"):
        Registry(tmp_path / "reg", tmp_path / "other.key")
    assert Registry(tmp_path / "reg", tmp_path / "moved.key").generation == 1


def test_versions_and_removal_survive_a_reload(tmp_path):
    v1 = " ".join(words(200, 3))
    with editing(tmp_path / "reg") as reg:
        reg.add_document(v1, v1.encode(), "a.txt", secret_id="a", label="A", classification="secret", tags=["x"])
        reg.add_document(v1 + " more", (v1 + " more").encode(), "a.txt", secret_id="a")
        reg.add_document(v1[:500], v1[:500].encode(), "b.txt", secret_id="b")
        reg.commit()
    reg = Registry(tmp_path / "reg")
    a = reg.secrets["a"]
    assert [v.version for v in a.versions] == [1, 2] and a.label == "A" and a.tags == ("x",)
    with editing(tmp_path / "reg") as reg:
        reg.remove("b")
        with pytest.raises(UsageError):
            reg.remove("b")
        reg.commit()
    assert list(Registry(tmp_path / "reg").secrets) == ["a"]


def test_kinds_cannot_be_mixed_under_one_id(tmp_path):
    with editing(tmp_path / "reg") as reg:
        reg.add_terms("x", ["alpha beta"])
        with pytest.raises(UsageError, match="already a terms secret"):
            reg.add_document("text", b"text", "x.txt", secret_id="x")


def test_same_content_with_new_metadata_is_updated_not_ignored(tmp_path):
    reg = Registry(tmp_path / "reg", create=True)
    text = prose(300, seed=5)
    assert reg.add_document(text, text.encode(), "a.txt", secret_id="a").status == "new"
    assert reg.secrets["a"].classification == "confidential"
    again = reg.add_document(text, text.encode(), "a.txt", secret_id="a", label="Plan A", classification="secret")
    assert (again.status, again.version) == ("updated", 1)
    assert reg.add_document(text, text.encode(), "a.txt", secret_id="a").status == "unchanged"
    reg.add_records("crm", "name,email\nAda,ada@example.com\n", min_fields=2)
    assert reg.add_records("crm", "name,email\nAda,ada@example.com\n", min_fields=2,
                           classification="secret").status == "updated"
    reg.commit()
    reopened = Registry(tmp_path / "reg")
    assert (reopened.secrets["a"].label, reopened.secrets["a"].classification) == ("Plan A", "secret")
    assert reopened.secrets["crm"].classification == "secret"


def test_the_tokenisers_word_table_comes_from_the_registry(tmp_path, monkeypatch):
    """Glued letters are cut with an English word table; a scanning process takes it from the
    registry's lexicon segment (memory-mapped) instead of parsing the word list again."""
    from dlp.index import Index
    from dlp.text import normalise_words, spacing

    reg = Registry(tmp_path / "reg", create=True)
    reg.add_document(prose(300, seed=4), b"doc", "doc.txt", secret_id="doc")
    reg.commit()
    parsed_hashes, parsed_costs = spacing._parsed()
    monkeypatch.setattr(spacing, "_PROVIDED", [])
    monkeypatch.setattr(spacing, "_parsed", lambda: pytest.fail("the word list was parsed again"))
    spacing.word_lengths.cache_clear()
    Index.open(tmp_path / "reg")
    hashes, costs = spacing._table()
    assert hashes.tolist() == parsed_hashes.tolist() and costs.tolist() == parsed_costs.tolist()
    assert normalise_words("THEBATCHPROCESSOFCOOLINGTHEALLOYMUSTRUNSLOWLY")[:4] == ["the", "batch", "process", "of"]
    spacing.word_lengths.cache_clear()


def test_a_word_table_of_another_version_is_not_used(monkeypatch):
    from dlp.text import spacing

    monkeypatch.setattr(spacing, "_PROVIDED", [])
    spacing.provide({"spacing_version": "another"}, {"sp_hash": [], "sp_cost": []})
    assert spacing._PROVIDED == []
