import os
import threading

import numpy as np
import pytest

from dlp.errors import StoreCorrupt, StoreMissing, StoreVersionMismatch
from dlp.store import KEEP, Store

VERSIONS = {"normaliser": "n/1", "shingles": "s/1"}


def test_round_trip_and_generations(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    with store.lock():
        store.write({"note": "first"}, {"a": np.arange(5, dtype=np.uint64)})
    with store.lock():
        g = store.write({"note": "second"}, {"a": np.arange(7, dtype=np.uint64)})
    snap = store.read()
    assert snap.generation == g == 2 and snap.manifest["note"] == "second"
    assert snap.arrays["a"].tolist() == list(range(7))


def test_old_generations_are_pruned(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    for i in range(KEEP + 3):
        with store.lock():
            store.write({}, {"a": np.arange(i, dtype=np.int64)})
    assert len(list((tmp_path / "s").glob("gen-*"))) == KEEP


def test_missing_corrupt_and_foreign_stores_are_refused(tmp_path):
    with pytest.raises(StoreMissing):
        Store(tmp_path / "none", versions=VERSIONS).read()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("hello")
    with pytest.raises(StoreCorrupt, match="not a dlp registry"):
        Store(tmp_path / "foreign", versions=VERSIONS).read()
    store = Store(tmp_path / "s", versions=VERSIONS)
    with store.lock():
        store.write({}, {"a": np.arange(100, dtype=np.int64)})
    npy = next((tmp_path / "s").glob("gen-*/a.npy"))
    data = bytearray(npy.read_bytes())
    data[-1] ^= 0xFF
    npy.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match="checksum"):
        store.read()


def test_version_mismatch_says_how_to_rebuild(tmp_path):
    with Store(tmp_path / "s", versions=VERSIONS).lock():
        Store(tmp_path / "s", versions=VERSIONS).write({}, {})
    with pytest.raises(StoreVersionMismatch, match="rebuild"):
        Store(tmp_path / "s", versions={"normaliser": "n/2", "shingles": "s/1"}).read()


def test_a_crash_before_the_switch_leaves_the_previous_generation_live(tmp_path, monkeypatch):
    store = Store(tmp_path / "s", versions=VERSIONS)
    with store.lock():
        store.write({"note": "good"}, {"a": np.arange(3, dtype=np.int64)})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError), store.lock():
        store.write({"note": "half"}, {"a": np.arange(4, dtype=np.int64)})
    monkeypatch.undo()
    assert store.read().manifest["note"] == "good"
    assert not list((tmp_path / "s").glob(".staging-*"))


def test_readers_see_whole_generations_while_a_writer_works(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    with store.lock():
        store.write({"n": 0}, {"a": np.zeros(1000, dtype=np.int64)})
    errors, stop = [], threading.Event()

    def read_loop():
        for _ in range(300):
            if stop.is_set():
                return
            snap = store.read()
            n = snap.manifest["n"]
            if not (snap.arrays["a"] == n).all():
                errors.append(n)

    reader = threading.Thread(target=read_loop)
    reader.start()
    for n in range(1, 30):
        with store.lock():
            store.write({"n": n}, {"a": np.full(1000, n, dtype=np.int64)})
    stop.set()
    reader.join(timeout=30)
    assert not errors
    assert store.read().manifest["n"] == 29
