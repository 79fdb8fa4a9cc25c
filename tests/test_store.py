"""The segment store: keyed integrity, atomic generations, pruning, crash safety, concurrent readers."""

import json
import os
import threading

import numpy as np
import pytest

from dlp.errors import KeyMissing, StoreCorrupt, StoreMissing, StoreVersionMismatch
from dlp.fingerprint import Keyer
from dlp.store import KEEP, Store

VERSIONS = {"normaliser": "n/1", "shingles": "s/1"}
KEYER = Keyer(bytes(range(32)))


def publish(store: Store, note, arrays: dict, keyer: Keyer = KEYER) -> int:
    """One generation made of one new segment holding `arrays`."""
    with store.lock():
        name = store.write_segment({"owners": []}, arrays, keyer)
        return store.publish({"key_check": keyer.check_value, "segments": [name], "note": note}, {"secrets": []}, keyer)


def read(store: Store, keyer: Keyer = KEYER):
    generation = store.read(keyer)
    return generation, store.segment(generation.manifest["segments"][0], keyer)


def test_round_trip_and_generations(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "first", {"a": np.arange(5, dtype=np.uint64)})
    g = publish(store, "second", {"a": np.arange(70000, dtype=np.uint64)})
    generation, segment = read(Store(tmp_path / "s", versions=VERSIONS))
    assert generation.number == g == 2 and generation.manifest["note"] == "second"
    assert segment.arrays["a"].tolist() == list(range(70000))
    assert isinstance(segment.arrays["a"].base, np.memmap)  # mapped, not copied


@pytest.mark.parametrize("array", [np.arange(5, dtype=np.uint64), np.zeros(0, dtype=np.uint32),
                                   np.array([True, False]), np.linspace(0, 1, 9, dtype=np.float32),
                                   np.arange(12, dtype=np.int64)[::2], np.arange(6, dtype=np.uint16).reshape(2, 3)])
def test_arrays_are_written_as_numpy_saves_them_and_read_back_equal(tmp_path, array):
    import io

    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "one", {"a": array, "b": np.arange(3, dtype=np.uint8)})
    generation, segment = read(Store(tmp_path / "s", versions=VERSIONS))
    expected = io.BytesIO()
    np.save(expected, np.ascontiguousarray(array), allow_pickle=False)
    [folder] = generation.manifest["segments"]
    assert (tmp_path / "s" / folder / "a.npy").read_bytes() == expected.getvalue()
    assert segment.arrays["a"].dtype == array.dtype and segment.arrays["a"].tolist() == array.tolist()


@pytest.mark.parametrize("parts, dtype", [
    ([np.arange(5, dtype=np.uint32), np.zeros(0, dtype=np.uint32), np.arange(7, 70_007, dtype=np.uint32)], np.uint32),
    ([np.linspace(0, 1, 9, dtype=np.float32)] * 3, np.float32),
    ([np.arange(4, dtype=np.int64), np.arange(3, dtype=np.uint16)], np.uint32),  # each part in the dtype asked
    ([np.arange(12, dtype=np.uint32)[::3]], np.uint32),  # a part that is not contiguous
    ([], np.float32), ([np.zeros(0, dtype=np.uint32)], np.uint32),
])
def test_an_array_written_part_by_part_is_the_one_joined(tmp_path, parts, dtype):
    """A `Joined` array (a segment's plain concatenations, never joined in memory) is written,
    MAC'd and read back byte for byte as its concatenation would be."""
    import io

    from dlp.arrays import Joined

    whole = np.concatenate([p.astype(dtype) for p in parts]) if parts else np.zeros(0, dtype=dtype)
    joined = Joined(parts, dtype)
    assert len(joined) == len(whole) and b"".join(p.tobytes() for p in joined.parts) == whole.tobytes()
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "one", {"a": joined})
    generation, segment = read(Store(tmp_path / "s", versions=VERSIONS))
    expected = io.BytesIO()
    np.save(expected, whole, allow_pickle=False)
    [folder] = generation.manifest["segments"]
    assert (tmp_path / "s" / folder / "a.npy").read_bytes() == expected.getvalue()
    assert segment.arrays["a"].dtype == whole.dtype and segment.arrays["a"].tolist() == whole.tolist()
    other = Store(tmp_path / "t", versions=VERSIONS)  # the same MAC as the array written whole
    publish(other, "one", {"a": whole})
    mine, theirs = (json.loads((root / f / "segment.json").read_text())["body"]["arrays"]["a"]
                    for root, f in ((tmp_path / "s", folder), (tmp_path / "t", other.read(KEYER).manifest["segments"][0])))
    assert mine == theirs


def test_old_generations_and_unlisted_segments_are_pruned(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    for i in range(KEEP + 3):
        publish(store, i, {"a": np.arange(i, dtype=np.int64)})
    assert len(list((tmp_path / "s").glob("gen-*.json"))) == KEEP
    assert len(list((tmp_path / "s").glob("meta-*.json"))) == KEEP
    assert len(list((tmp_path / "s").glob("seg-*"))) == KEEP


def test_missing_corrupt_and_foreign_stores_are_refused(tmp_path):
    with pytest.raises(StoreMissing):
        Store(tmp_path / "none", versions=VERSIONS).read(KEYER)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("hello")
    with pytest.raises(StoreCorrupt, match="not a dlp registry"):
        Store(tmp_path / "foreign", versions=VERSIONS).read(KEYER)
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, 0, {"a": np.arange(100, dtype=np.int64)})
    npy = next((tmp_path / "s").glob("seg-*/a.npy"))
    data = bytearray(npy.read_bytes())
    data[-1] ^= 0xFF
    npy.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupt, match="keyed checksum"):
        read(Store(tmp_path / "s", versions=VERSIONS))


@pytest.mark.parametrize("target", ["array", "segment", "generation"])
def test_files_rewritten_without_the_key_are_refused(tmp_path, target):
    """Someone who can write the store but has no key cannot make it say something else,
    not even by recomputing plain checksums or restoring the old file times."""
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "good", {"a": np.arange(100, dtype=np.uint64)})
    read(Store(tmp_path / "s", versions=VERSIONS))  # verified once: the record of it must not help a forger
    if target == "array":
        path = next((tmp_path / "s").glob("seg-*/a.npy"))
        old = path.stat()
        buffer = __import__("io").BytesIO()
        np.save(buffer, np.arange(100, dtype=np.uint64)[::-1].copy())
        path.write_bytes(buffer.getvalue())
        os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    elif target == "segment":
        path = next((tmp_path / "s").glob("seg-*/segment.json"))
        path.write_text(path.read_text().replace('"owners": []', '"owners": [["x", 1, "document"]]'))
    else:
        path = next((tmp_path / "s").glob("gen-*.json"))
        path.write_text(path.read_text().replace('"good"', '"evil"'))
    with pytest.raises(StoreCorrupt, match="keyed checksum"):
        read(Store(tmp_path / "s", versions=VERSIONS))


def test_another_key_is_refused(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, 0, {"a": np.arange(3, dtype=np.int64)})
    with pytest.raises(KeyMissing, match="does not belong"):
        store.read(Keyer(bytes(32)))


def test_version_mismatch_says_how_to_rebuild(tmp_path):
    publish(Store(tmp_path / "s", versions=VERSIONS), 0, {})
    with pytest.raises(StoreVersionMismatch, match="rebuild"):
        Store(tmp_path / "s", versions={"normaliser": "n/2", "shingles": "s/1"}).peek()


def test_a_store_of_the_first_format_is_refused_with_the_rebuild_instruction(tmp_path):
    (tmp_path / "s" / "gen-000003").mkdir(parents=True)
    (tmp_path / "s" / "gen-000003" / "manifest.json").write_text("{}")
    (tmp_path / "s" / "CURRENT").write_text("gen-000003\n")
    with pytest.raises(StoreVersionMismatch, match="rebuild"):
        Store(tmp_path / "s", versions=VERSIONS).peek()


def test_a_crash_before_the_switch_leaves_the_previous_generation_live(tmp_path, monkeypatch):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "good", {"a": np.arange(3, dtype=np.int64)})

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        publish(store, "half", {"a": np.arange(4, dtype=np.int64)})
    monkeypatch.undo()
    generation, segment = read(Store(tmp_path / "s", versions=VERSIONS))
    assert generation.manifest["note"] == "good" and segment.arrays["a"].tolist() == [0, 1, 2]
    publish(store, "after", {"a": np.arange(5, dtype=np.int64)})  # the next writer cleans up
    assert not list((tmp_path / "s").glob(".staging-*"))
    assert read(Store(tmp_path / "s", versions=VERSIONS))[0].manifest["note"] == "after"


def test_readers_see_whole_generations_while_a_writer_works(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, 0, {"a": np.zeros(1000, dtype=np.int64)})
    errors, stop = [], threading.Event()

    def read_loop():
        for _ in range(300):
            if stop.is_set():
                return
            try:
                generation, segment = read(Store(tmp_path / "s", versions=VERSIONS))
            except StoreCorrupt as exc:  # a generation pruned between two reads is retried by callers
                if "missing" not in str(exc):
                    errors.append(str(exc))
                continue
            n = generation.manifest["note"]
            if not (segment.arrays["a"] == n).all():
                errors.append(n)

    reader = threading.Thread(target=read_loop)
    reader.start()
    for n in range(1, 30):
        publish(store, n, {"a": np.full(1000, n, dtype=np.int64)})
    stop.set()
    reader.join(timeout=30)
    assert not errors
    assert read(store)[0].manifest["note"] == 29


# -- watching for a new generation (long-running readers) -------------------------------------


def test_a_watch_tells_the_reader_of_each_new_generation_until_it_holds_it(tmp_path):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "first", {"a": np.arange(3, dtype=np.int64)})
    watch = Store(tmp_path / "s", versions=VERSIONS).watch(store.current())  # a reader's own Store object
    assert watch.changed() is None
    publish(store, "second", {"a": np.arange(4, dtype=np.int64)})
    assert watch.changed() == "gen-000002"
    assert watch.changed() == "gen-000002"  # asked again: still news until the reader holds it
    watch.hold("gen-000002")
    assert watch.changed() is None
    publish(store, "third", {"a": np.arange(5, dtype=np.int64)})
    publish(store, "fourth", {"a": np.arange(6, dtype=np.int64)})
    assert watch.changed() == "gen-000004"  # the latest, whatever was missed between two looks


@pytest.mark.parametrize("current, expected", [
    (None, None),                       # CURRENT gone: keep what is held, the next open says why
    ("rubbish\n", None),                # names no generation: the same
    ("gen-000001\n", None),             # rewritten with the name held (a new file, same news)
    ("gen-000002\n", "gen-000002"),     # another generation, newer ...
    ("gen-000000\n", "gen-000000"),     # ... or older (a registry restored from a backup)
])
def test_a_watch_on_odd_current_files(tmp_path, current, expected):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "first", {"a": np.arange(3, dtype=np.int64)})
    watch = store.watch("gen-000001")
    assert watch.changed() is None
    path = tmp_path / "s" / "CURRENT"
    path.unlink()
    if current is not None:
        path.write_text(current)
    assert watch.changed() == expected


def test_a_watch_that_finds_the_same_file_reads_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "first", {"a": np.arange(3, dtype=np.int64)})
    watch = store.watch("gen-000001")
    assert watch.changed() is None  # the first look reads the name once
    reads = []
    monkeypatch.setattr(Store, "current", lambda self: reads.append(1) or "gen-000001")
    for _ in range(100):
        assert watch.changed() is None
    assert reads == []  # one stat per look, no read


def test_a_watch_outliving_the_reader_keeps_none_of_its_arrays_mapped(tmp_path):
    import gc
    import weakref

    store = Store(tmp_path / "s", versions=VERSIONS)
    publish(store, "first", {"a": np.arange(70000, dtype=np.uint64)})
    generation, segment = read(store)
    mapped = weakref.ref(segment)
    watch = store.watch(generation.name)
    del store, generation, segment
    gc.collect()
    assert mapped() is None  # a daemon that let its old index go lets its mapped files go
    assert watch.changed() is None
