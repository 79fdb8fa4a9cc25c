"""Derived word tables kept between processes: the same table, never a stale one."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlp.text import derived


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DLP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_table_is_built_once_then_read(folder):
    calls = []

    def build():
        calls.append(1)
        return np.arange(5, dtype=np.uint64), np.ones(5, dtype=np.float32)

    first = derived.cached_arrays("t", "v1", ("a", "b"), build)
    again = derived.cached_arrays("t", "v1", ("a", "b"), build)
    assert len(calls) == 1
    for x, y in zip(first, again):
        assert x.dtype == y.dtype and x.tolist() == y.tolist()
    derived.cached_arrays("t", "v2", ("a", "b"), build)  # another version: another file
    assert len(calls) == 2


@pytest.mark.parametrize("damage", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_a_damaged_file_is_built_again(folder, damage):
    build = lambda: (np.arange(3, dtype=np.uint64),)  # noqa: E731
    derived.cached_arrays("t", "v", ("a",), build)
    [path] = folder.glob("t-*.npz")
    path.write_bytes(damage)
    assert derived.cached_arrays("t", "v", ("a",), build)[0].tolist() == [0, 1, 2]


def test_an_unwritable_folder_only_costs_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("DLP_CACHE_DIR", str(blocker / "cache"))
    assert derived.cached_arrays("t", "v", ("a",), lambda: (np.ones(2),))[0].tolist() == [1.0, 1.0]


_TABLES = {
    # (module attribute giving the arrays, file name, a floor on the first array's length)
    "english": ("e = english.english(); arrays = (e.words, e.lemmas, e.weights, e.flags)", 50_000),
    "confusables": ("arrays = confusables._table()", 1_000),
}


@pytest.mark.parametrize("name", sorted(_TABLES))
def test_a_table_read_from_the_cache_is_the_one_built(folder, name):
    # in fresh interpreters: the first builds and writes it, the second reads it
    made, floor = _TABLES[name]
    code = ("import hashlib, numpy as np; from dlp.text import english, confusables; " + made + "; "
            "print(hashlib.sha256(b''.join(np.ascontiguousarray(a).tobytes() + str(a.dtype).encode() "
            "for a in arrays)).hexdigest(), len(arrays[0]))")
    env = {"DLP_CACHE_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    built = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert list(folder.glob(f"{name}-*.npz"))
    read = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    uncached = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**env, "DLP_CACHE_DIR": ""}).stdout
    assert built == read == uncached
    assert int(built.split()[1]) > floor


def test_a_table_others_could_have_written_is_not_read(folder):
    import os

    build = lambda: (np.arange(3, dtype=np.uint64),)  # noqa: E731
    derived.cached_arrays("t", "v", ("a",), build)
    [path] = folder.glob("t-*.npz")
    np.savez(path, a=np.arange(99, dtype=np.uint64))  # planted, then made writable by others
    os.chmod(path, 0o666)
    assert derived.cached_arrays("t", "v", ("a",), build)[0].tolist() == [0, 1, 2]
    os.chmod(path, 0o600)
    os.chmod(folder, 0o777)  # a shared folder: nothing in it is trusted
    assert derived.cached_arrays("t", "v", ("a",), build)[0].tolist() == [0, 1, 2]
