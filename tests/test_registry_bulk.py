"""Bulk registration: batches, worker processes and segments written mid-edit change nothing registered."""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest

from dlp import parallel, registry as registry_module
from dlp import segments as seg
from dlp.errors import WorkerDied
from dlp.registry import NewDocument, Registry, editing

from helpers import prose

QUOTE = prose(40, 999)  # a passage quoted in many documents: boilerplate


@functools.cache
def _made() -> tuple[NewDocument, ...]:
    docs = []
    for i in range(40):
        text = prose(150 + 7 * i, i)
        if i % 3 == 0:
            text = text + " " + QUOTE
        docs.append(NewDocument(text, text.encode(), f"d{i}.txt", f"d{i}"))
    near = docs[5].text + " " + prose(10, 500)  # nearly doc 5: one family
    docs.append(NewDocument(near, near.encode(), "near.txt", "near"))
    docs.append(NewDocument(docs[7].text, docs[7].raw, "again.txt", "d7"))  # unchanged
    changed = docs[8].text + " revised"
    docs.append(NewDocument(changed, changed.encode(), "d8b.txt", "d8"))  # a second version
    return tuple(docs)


def _documents() -> list[NewDocument]:
    return list(_made())


def _register(root, key, monkeypatch, *, workers: int, flush: int):
    monkeypatch.setattr(registry_module, "POOL_CHARS", 0)
    monkeypatch.setattr(registry_module, "BATCH_CHARS", 3000)  # several batches of a few documents
    monkeypatch.setattr(registry_module, "FLUSH_BYTES", flush)
    with editing(root, key) as reg:
        results = reg.add_documents(_documents(), label="L", workers=workers)
        boilerplate = reg.new_boilerplate()
        reg.commit()
    return results, boilerplate, Registry(root, key)


def _records(reg: Registry) -> dict:
    """Every live registered version, as stored, by (secret, version)."""
    out = {}
    for name in reg._segments:
        segment = reg.store.segment(name, reg.keyer)
        keep = np.ones(len(segment.owners), dtype=bool)
        for local in reg._dead.get(name, ()):
            keep[local] = False
        for r in seg.decode(dict(segment.meta), dict(segment.arrays), keep):
            rw = r.rewrite
            out[r.key] = (r.family, r.tokens, r.exact, r.fp_hash.tolist(), r.fp_pos.tolist(), r.all_sh32.tolist(),
                          r.cl_bucket.tolist(), r.cl_count.tolist(), rw.vectors.ptr.tolist(), rw.vectors.cols.tolist(),
                          rw.vectors.weights.tolist(), rw.signatures.tolist(), sorted(zip(rw.pair_hashes.tolist(),
                                                                                          rw.pair_rows.tolist())),
                          rw.lemmas.tolist())
    return out


@pytest.mark.parametrize("workers, flush", [(2, 1 << 30), (1, 150_000), (2, 150_000)],
                         ids=["two-workers", "segments-mid-edit", "both"])
def test_bulk_registration_stores_what_one_process_one_segment_stores(tmp_path, monkeypatch, workers, flush):
    key = tmp_path / "k.key"
    plain = _register(tmp_path / "plain", key, monkeypatch, workers=1, flush=1 << 30)
    other = _register(tmp_path / "other", key, monkeypatch, workers=workers, flush=flush)
    assert other[0] == plain[0]  # statuses, versions, near-duplicates
    assert other[1] == plain[1] and plain[1]  # the boilerplate report, and there is one
    assert any(r.near_duplicate == "d5" for r in plain[0])
    assert [r.status for r in plain[0][-2:]] == ["unchanged", "version"]
    if flush < 1 << 30:
        assert len(other[2]._segments) > 1
    assert _records(other[2]) == _records(plain[2])
    assert other[2].index.statistics()["fingerprints"] == plain[2].index.statistics()["fingerprints"]


def _read(path):
    """What `dlp register` reads a file with, for these tests: plain text (and a corrupt marker)."""
    from dlp.types import Problem

    raw = path.read_bytes()
    if raw.startswith(b"%CORRUPT"):
        return "", raw, [Problem(str(path), "corrupt", "made so by the test")]
    return raw.decode(), raw, []


def _on_disk(folder, docs) -> list:
    folder.mkdir()
    paths = []
    for i, d in enumerate(docs):  # the same file name twice would be one file: numbered
        paths.append(folder / f"{i:03d}-{d.source}")
        paths[-1].write_bytes(d.raw)
    return paths


@pytest.mark.parametrize("workers, flush", [(1, 1 << 30), (2, 1 << 30), (2, 150_000)],
                         ids=["one-process", "two-workers", "segments-mid-edit"])
def test_files_read_where_they_are_fingerprinted_store_what_add_documents_stores(tmp_path, monkeypatch, workers,
                                                                                 flush):
    """`add_files` (each file read in the worker that fingerprints it) gives the statuses, versions,
    near-duplicates, boilerplate and stored records of `add_documents` with the texts in hand."""
    key = tmp_path / "k.key"
    plain = _register(tmp_path / "plain", key, monkeypatch, workers=1, flush=1 << 30)
    docs = _documents()
    paths = _on_disk(tmp_path / "files", docs)
    monkeypatch.setattr(parallel, "FEW_FILES", 0)
    monkeypatch.setattr(registry_module, "FLUSH_BYTES", flush)
    with editing(tmp_path / "read", key) as reg:
        results = reg.add_files(paths, [d.secret_id for d in docs], _read, label="L", workers=workers)
        boilerplate = reg.new_boilerplate()
        reg.commit()
    assert [(r.secret, r.version, r.status, r.tokens, r.near_duplicate) for r in results] == \
        [(r.secret, r.version, r.status, r.tokens, r.near_duplicate) for r in plain[0]]
    assert [r.source for r in results] == [p.name for p in paths]
    assert boilerplate == plain[1] and boilerplate
    assert _records(Registry(tmp_path / "read", key)) == _records(plain[2])


@pytest.mark.parametrize("workers", [1, 2])
def test_files_that_cannot_be_read_or_are_empty_refuse_the_whole_registration(tmp_path, monkeypatch, workers):
    """Every unreadable or empty file is named, once all were read, and nothing is kept: the
    documents before them were fingerprinted, but the edit is never committed."""
    from dlp.errors import FilesRefused

    docs = _documents()[:30]
    paths = _on_disk(tmp_path / "files", docs)
    paths[4].write_bytes(b"")
    paths[17].write_bytes(b"%CORRUPT not what it claims")
    monkeypatch.setattr(parallel, "FEW_FILES", 0)
    monkeypatch.setattr(registry_module, "BATCH_CHARS", 3000)
    root = tmp_path / "reg"
    with editing(root) as reg:
        reg.add_documents(_documents()[30:32])
        reg.commit()
    with pytest.raises(FilesRefused) as refused:
        with editing(root) as reg:
            reg.add_files(paths, [d.secret_id for d in docs], _read, workers=workers)
            reg.commit()  # never reached
    assert [(p, [x.kind for x in problems]) for p, problems in refused.value.files] == \
        [(paths[4], []), (paths[17], ["corrupt"])]
    again = Registry(root)
    assert again.generation == 1 and set(again.secrets) == {d.secret_id for d in _documents()[30:32]}


def test_a_document_removed_after_its_segment_was_written_is_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_module, "FLUSH_BYTES", 20_000)
    with editing(tmp_path / "reg") as reg:
        reg.add_documents(_documents()[:10])
        reg.settle()
        assert reg._flushed  # written, not published
        reg.remove("d1")
        reg.commit()
    again = Registry(tmp_path / "reg")
    assert "d1" not in again.secrets and "d2" in again.secrets
    live = {key for key in _records(again)}
    assert ("d1", 1) not in live and ("d2", 1) in live


def test_a_crash_after_segments_were_written_leaves_the_old_generation(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_module, "FLUSH_BYTES", 20_000)
    root = tmp_path / "reg"
    with editing(root) as reg:
        reg.add_documents(_documents()[:2])
        reg.commit()
    before = sorted(p.name for p in root.iterdir())
    with pytest.raises(RuntimeError):
        with editing(root) as reg:
            reg.add_documents(_documents()[2:12])
            reg.settle()
            assert reg._flushed
            raise RuntimeError("killed before commit")
    assert Registry(root).generation == 1 and set(Registry(root).secrets) == {"d0", "d1"}
    orphans = sorted(set(p.name for p in root.iterdir()) - set(before))
    assert orphans and all(name.startswith("seg-") for name in orphans)
    with editing(root) as reg:  # the next commit clears them
        reg.add_documents(_documents()[2:3])
        reg.commit()
    assert not [name for name in orphans if (root / name).exists()]
    assert set(Registry(root).secrets) == {"d0", "d1", "d2"}


def _die(piece: int) -> int:
    if piece == 3:
        os._exit(9)  # a worker killed mid-batch
    return piece


def test_a_worker_that_dies_fails_the_command():
    with pytest.raises(WorkerDied):
        list(parallel.ordered_map(_die, list(range(8)), workers=2))


def test_pieces_come_back_in_order_with_state():
    got = list(parallel.ordered_map(_scaled, list(range(200)), workers=2, state={"factor": 3}))
    assert got == [3 * i for i in range(200)]


def _scaled(piece: int) -> int:
    return piece * parallel.state("factor")


@pytest.mark.parametrize("sizes, budget, most, expected", [
    ([], 10, 5, []),
    ([3, 3, 3, 3], 6, 5, [range(0, 2), range(2, 4)]),
    ([20, 1, 1], 6, 5, [range(0, 1), range(1, 3)]),  # an oversized item is a chunk of its own
    ([1] * 7, 100, 3, [range(0, 3), range(3, 6), range(6, 7)]),
])
def test_chunks(sizes, budget, most, expected):
    assert parallel.chunks(sizes, budget, most) == expected


def test_a_segment_that_fails_to_build_in_the_background_fails_the_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_module, "FLUSH_BYTES", 20_000)

    def broken(records, lexicon, ready=None):
        ready({"owner_tokens": np.zeros(3, dtype=np.uint32)})  # a part already handed to the writer
        raise OSError("disk full")

    with editing(tmp_path / "reg") as reg:
        reg.add_documents(_documents()[:1])
        reg.commit()
    monkeypatch.setattr(seg, "build", broken)
    with pytest.raises(OSError, match="disk full"):
        with editing(tmp_path / "reg") as reg:
            reg.add_documents(_documents()[1:10])
            reg.commit()
    assert set(Registry(tmp_path / "reg").secrets) == {"d0"}  # nothing half-registered
    assert not list((tmp_path / "reg").glob(".staging-*"))  # what was written of it is gone


@pytest.mark.parametrize("small_first", [True, False], ids=["quoted-one-first", "quoting-one-first"])
def test_a_document_quoting_a_shorter_one_is_its_family_in_one_edit_as_in_two(tmp_path, small_first):
    """A mail that quotes an earlier, shorter mail of its thread nearly equals it (the shorter one
    is contained: `NEAR_DUPLICATE`). Registered in two edits the two are one family; in one
    `dlp register DIR`, the pending documents' bottom-k sketch did not see it (the longer one's
    smallest fingerprints come from its own text), so the store, its boilerplate counts and
    what a scan reports differed with how the files were registered (attack5, found on Enron
    mails). Pending documents are now compared by every fingerprint (`PendingFingerprints`)."""
    short = prose(60, 1)
    long = prose(600, 2) + "\n\n> " + short
    docs = [NewDocument(t, t.encode(), f"{name}.txt", name) for name, t in (("short", short), ("long", long))]
    if not small_first:
        docs.reverse()
    key = tmp_path / "k.key"
    with editing(tmp_path / "bulk", key) as reg:
        together = reg.add_documents(docs)
        reg.commit()
    apart = []
    for doc in docs:
        with editing(tmp_path / "apart", key) as reg:
            apart += reg.add_documents([doc])
            reg.commit()
    assert [r.near_duplicate for r in together] == [r.near_duplicate for r in apart]
    assert _records(Registry(tmp_path / "bulk", key)) == _records(Registry(tmp_path / "apart", key))


@pytest.fixture(params=[True, False], ids=["c", "python"])
def pending_map(request, monkeypatch):
    """`PendingFingerprints`, with the C speedups and without."""
    from dlp import speedups
    from dlp.registry import PendingFingerprints

    if request.param and speedups.native is None:
        pytest.skip("the C speedups are not built here")
    if not request.param:
        monkeypatch.setattr(speedups, "native", None)
    return PendingFingerprints


def _fingerprint_sets(seed: int) -> list[np.ndarray]:
    """30 documents' distinct fingerprints, random (so they share nothing unless told to)."""
    rng = np.random.default_rng(seed)
    return [np.unique(rng.integers(1, 2**64 - 1, rng.integers(1, 3000), dtype=np.uint64)) for _ in range(30)]


def test_pending_fingerprints_count_what_each_document_shares(pending_map):
    """The multimap behind the comparison of new documents, with the C speedups and without:
    every fingerprint a document shares is counted, whatever else holds it, and it grows."""
    docs = _fingerprint_sets(4)
    docs[7] = np.unique(np.concatenate([docs[3][:500], docs[7]]))  # shares with earlier ones
    docs[9] = docs[3].copy()
    index = pending_map()
    for i, fps in enumerate(docs):
        index.add(fps, i)
    for fps in (docs[3], docs[7], docs[29][:10], np.zeros(0, dtype=np.uint64)):
        expected = {i: int(np.isin(fps, d).sum()) for i, d in enumerate(docs) if np.isin(fps, d).any()}
        documents, counts = (a.tolist() for a in index.shared(fps))
        assert dict(zip(documents, counts)) == expected and documents == sorted(documents)


def test_pending_fingerprints_count_then_add_in_one_walk(pending_map):
    """`shared(fps, then_add=i)` (one walk over the map in C) counts what `shared(fps)` counts,
    before the document is in, and leaves the map as `add(fps, i)` would, growing it as needed."""
    docs = _fingerprint_sets(5)
    for i in (7, 12, 20):  # some share with earlier ones, one is a copy
        docs[i] = np.unique(np.concatenate([docs[i - 4][: 400 * (i % 3 + 1)], docs[i]]))
    docs[25] = docs[2].copy()
    walked, apart = pending_map(), pending_map()
    def shared(index, fps, **then):
        return tuple(a.tolist() for a in index.shared(fps, **then))

    for i, fps in enumerate(docs):
        got = shared(walked, fps, then_add=i)
        expected = shared(apart, fps)
        apart.add(fps, i)
        assert got == expected
        assert bool(got[0]) == (i in (7, 12, 20, 25))  # random 64-bit values share nothing else
    assert walked.sizes[: len(docs)].tolist() == apart.sizes[: len(docs)].tolist() == [len(d) for d in docs]
    for fps in (docs[3], docs[25], docs[29][:10], np.zeros(0, dtype=np.uint64)):
        assert shared(walked, fps) == shared(apart, fps)
        assert bool(shared(walked, fps)[0]) == bool(len(fps))  # each held by itself at least


def test_the_boilerplate_report_names_what_a_brute_force_count_names(tmp_path):
    """`new_boilerplate` (one vectorised pass) against counting by hand: per document, the
    fingerprints held by `boilerplate_docs` or more families, and every other secret sharing one."""
    from dlp.registry import BOILERPLATE_REPORT

    quotes = [prose(30, 700 + k) for k in range(4)]
    docs = []
    for i in range(24):  # quotes shared by overlapping groups of documents, some by too few
        text = prose(60 + i, 300 + i) + "".join(" " + q for k, q in enumerate(quotes) if i % (k + 2) == 0)
        docs.append(NewDocument(text, text.encode(), f"s{i}.txt", f"s{i}"))
    with editing(tmp_path / "reg") as reg:
        reg.add_documents(docs)
        got = reg.new_boilerplate()
        needed = int(reg.settings["boilerplate_docs"])
        added = [r for r in reg._added if r is not None]
    holders: dict[int, set] = {}
    for r in added:
        for f in r.fps.tolist():
            holders.setdefault(f, set()).add(r.family)
    name = {r.family: r.secret for r in reversed(added)}
    expected = {}
    for r in added:
        common = [f for f in r.fps.tolist() if len(holders[f]) >= needed]
        if len(common) >= BOILERPLATE_REPORT:
            others = {name[fam] for f in common for fam in holders[f] if fam != r.family}
            expected[r.secret] = (len(common), tuple(sorted(others)))
    assert got == expected and len(expected) >= 6
