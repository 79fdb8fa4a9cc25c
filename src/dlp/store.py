"""The on-disk registry store: versioned, checksummed generations swapped atomically.

Layout of a store directory::

    CURRENT              name of the live generation, replaced atomically
    .lock                writers hold an exclusive flock on it
    gen-000007/
        manifest.json    format and normaliser versions, metadata, checksums
        <name>.npy       arrays (numpy format, never pickles)

A writer builds a complete new generation in a temporary directory, fsyncs it,
renames it into place and only then replaces CURRENT, so a crash at any point
leaves the previous generation live. Readers never lock: they read CURRENT once
and use that generation; the last KEEP generations stay on disk for them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .errors import StoreCorrupt, StoreError, StoreMissing, StoreVersionMismatch

STORE_FORMAT = "dlp.store/1"
KEEP = 3


@dataclass(frozen=True)
class Snapshot:
    generation: int
    manifest: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray]


class Store:
    def __init__(self, root: Path, *, versions: Mapping[str, str]) -> None:
        self.root = Path(root)
        self.versions = dict(versions)  # e.g. {"normaliser": ..., "shingles": ...}

    def exists(self) -> bool:
        return (self.root / "CURRENT").is_file()

    def read(self) -> Snapshot:
        for _attempt in range(3):  # a writer may prune the generation between our reads
            name = self._current()
            try:
                return self._read_generation(name)
            except FileNotFoundError:
                if self._current() == name:
                    raise StoreCorrupt(f"registry {self.root}: generation {name} is missing") from None
        raise StoreError(f"registry {self.root} keeps changing under this reader; retry")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def busy(self) -> bool:
        """True while a writer holds the lock (a change is in progress); never blocks."""
        try:
            fd = os.open(self.root / ".lock", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def write(self, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> int:
        """Write a new generation and make it current. Call with `lock()` held."""
        self.root.mkdir(parents=True, exist_ok=True)
        generation = self._latest_generation() + 1
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            files = {}
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
                data = buffer.getvalue()
                _write_synced(staging / f"{name}.npy", data)
                files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            full = {"format": STORE_FORMAT, **self.versions, "generation": generation, **manifest, "arrays": files}
            _write_synced(staging / "manifest.json", json.dumps(full, indent=1, sort_keys=True).encode())
            _fsync_dir(staging)
            final = self.root / _gen_name(generation)
            os.rename(staging, final)
            _fsync_dir(self.root)
            _write_synced(self.root / "CURRENT.tmp", (_gen_name(generation) + "\n").encode())
            os.replace(self.root / "CURRENT.tmp", self.root / "CURRENT")
            _fsync_dir(self.root)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        self._prune()
        return generation

    # -- internals ---------------------------------------------------------------

    def _current(self) -> str:
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            if self.root.is_dir() and any(self.root.iterdir()):
                raise StoreCorrupt(f"{self.root} is not a dlp registry (no CURRENT file)") from None
            raise StoreMissing(f"no registry at {self.root}: register secrets first with `dlp register`") from None
        except OSError as exc:
            raise StoreError(f"registry {self.root} cannot be read: {exc.strerror}") from None
        if not name.startswith("gen-"):
            raise StoreCorrupt(f"registry {self.root}: CURRENT names {name[:40]!r}, not a generation")
        return name

    def _read_generation(self, name: str) -> Snapshot:
        folder = self.root / name
        try:
            manifest = json.loads((folder / "manifest.json").read_bytes())
        except (ValueError, UnicodeDecodeError):
            raise StoreCorrupt(f"registry {self.root}: {name}/manifest.json is not valid JSON") from None
        if not isinstance(manifest, dict) or "format" not in manifest:
            raise StoreCorrupt(f"registry {self.root}: {name}/manifest.json is not a dlp manifest")
        self._check_versions(manifest)
        arrays = {}
        for array_name, meta in manifest.get("arrays", {}).items():
            data = (folder / f"{array_name}.npy").read_bytes()
            if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
                raise StoreCorrupt(f"registry {self.root}: {name}/{array_name}.npy fails its checksum")
            try:
                arrays[array_name] = np.load(io.BytesIO(data), allow_pickle=False)
            except ValueError:
                raise StoreCorrupt(f"registry {self.root}: {name}/{array_name}.npy cannot be parsed") from None
        return Snapshot(int(manifest["generation"]), manifest, arrays)

    def _check_versions(self, manifest: Mapping[str, Any]) -> None:
        wanted = {"format": STORE_FORMAT, **self.versions}
        for field, expected in wanted.items():
            found = manifest.get(field)
            if found != expected:
                raise StoreVersionMismatch(
                    f"registry {self.root} was written with {field} {found!r}, this dlp uses {expected!r}; "
                    f"rebuild it: move the directory away and run `dlp register` again on the original files"
                )

    def _generations(self) -> list[int]:
        out = []
        for entry in self.root.glob("gen-*"):
            try:
                out.append(int(entry.name[4:]))
            except ValueError:
                continue
        return sorted(out)

    def _latest_generation(self) -> int:
        return max(self._generations(), default=0)

    def _prune(self) -> None:
        for generation in self._generations()[:-KEEP]:
            shutil.rmtree(self.root / _gen_name(generation), ignore_errors=True)


def _gen_name(generation: int) -> str:
    return f"gen-{generation:06d}"


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
