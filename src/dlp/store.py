"""The on-disk registry store: immutable segments, generations that list them, swapped atomically.

Layout of a store directory::

    CURRENT            name of the live generation ("gen-000042"), replaced atomically
    .lock              writers hold an exclusive flock on it
    gen-000042.json    a generation: format and scheme versions, key check, settings, the
                       segments it is made of, the owners removed from them since, the
                       keyed MAC of its metadata file; all under one keyed MAC
    meta-000042.json   the secrets' metadata (ids, labels, versions, file names; never content)
    seg-000017/        an immutable segment: segment.json (its owners, the keyed MAC of
                       every array) and the arrays as .npy files (never pickles)
    verified           which array files were already checked (keyed; see below)

Registering writes one new, small segment and a new generation that lists it beside
the unchanged ones, the way Lucene adds segments; `Store.merge` folds segments
together (in `dlp compact`, or for small segments when registering). A writer builds a
segment in a staging directory, fsyncs it and renames it into place, then writes the
generation files and only then replaces CURRENT, so a crash at any point leaves the
previous generation live. Readers never lock: they read CURRENT once and use that
generation; generations are kept for readers (`KEEP`), and a segment is deleted only
when no kept generation lists it.

**Integrity.** Every array, segment and generation carries a keyed MAC (BLAKE2b under
the registry key): arrays rewritten by someone without the key are refused. Checking
costs one pass over the bytes; since segments never change, a file once checked is
recorded in `verified` with its size, modification and change times and inode (under
a keyed MAC too), and not hashed again until any of them changes. Rewriting a file,
even with its old times restored, changes its change time.

Arrays are memory-mapped, never copied or re-sorted when a generation is opened.

**Long-running readers** (the watch daemon, the milter) keep one generation open and ask
a `GenerationWatch` (`Store.watch`) every second or so whether another one became
current; a look that finds nothing new costs one `stat`.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from .arrays import Joined
from .errors import KeyMissing, StoreCorrupt, StoreError, StoreMissing, StoreVersionMismatch

STORE_FORMAT = "dlp.store/2"
KEEP = 3  # generations kept for readers that opened an older one
VERIFIED = "verified"


@dataclass(frozen=True)
class Segment:
    """One immutable segment: its metadata (segment.json) and its arrays (memory-mapped)."""

    name: str
    meta: Mapping[str, Any]
    arrays: Mapping[str, np.ndarray]

    @property
    def owners(self) -> list[list]:
        return self.meta.get("owners", [])

    def get(self, name: str, dtype=np.uint64) -> np.ndarray:
        array = self.arrays.get(name)
        return array if array is not None else np.zeros(0, dtype=dtype)


@dataclass(frozen=True)
class Generation:
    name: str
    number: int
    manifest: Mapping[str, Any]


class Store:
    def __init__(self, root: Path, *, versions: Mapping[str, str]) -> None:
        self.root = Path(root)
        self.versions = dict(versions)  # e.g. {"normaliser": ..., "shingles": ...}
        self._segments: dict[str, Segment] = {}  # immutable: cached per store object
        self._verifying = threading.Lock()  # one thread at a time reads and rewrites the `verified` file
        self._naming = threading.Lock()  # one thread at a time numbers and writes a segment

    def exists(self) -> bool:
        return (self.root / "CURRENT").is_file()

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

    # -- reading -----------------------------------------------------------------------------

    def current(self) -> str:
        try:
            name = (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            if self.root.is_dir() and any(p.name not in (".lock",) for p in self.root.iterdir()):
                raise StoreCorrupt(f"{self.root} is not a dlp registry (no CURRENT file)") from None
            raise StoreMissing(f"no registry at {self.root}: register secrets first with `dlp register`") from None
        except OSError as exc:
            raise StoreError(f"registry {self.root} cannot be read: {exc.strerror}") from None
        if not name.startswith("gen-"):
            raise StoreCorrupt(f"registry {self.root}: CURRENT names {name[:40]!r}, not a generation")
        return name

    def watch(self, held: str) -> "GenerationWatch":
        """A watch for a reader holding generation `held`: tells it when another one is current.
        It keeps a store object of its own: this one's segments (mapped arrays) are not kept
        alive by a watch that outlives the reader's index."""
        return GenerationWatch(Store(self.root, versions=self.versions), held)

    def peek(self, name: str | None = None) -> Generation:
        """The generation manifest with its versions checked, before any key is at hand.

        Used to give the version message (rebuild) even to someone without the key, and
        to read the key check; `read` then verifies it under the key.
        """
        for _attempt in range(3):  # a writer may prune the generation between our reads
            chosen = name or self.current()
            if (self.root / chosen).is_dir():  # the first store format kept generations as folders
                raise StoreVersionMismatch(
                    f"registry {self.root} was written by an older dlp (store format dlp.store/1), this dlp uses "
                    f"{STORE_FORMAT}; rebuild it: move the directory away and run `dlp register` again on the "
                    f"original files")
            try:
                raw = (self.root / f"{chosen}.json").read_bytes()
            except FileNotFoundError:
                if name is not None or self.current() == chosen:
                    raise StoreCorrupt(f"registry {self.root}: generation {chosen} is missing") from None
                continue
            manifest = _parse(raw, f"registry {self.root}: {chosen}.json")
            self._check_versions(manifest.get("body", manifest))
            return Generation(chosen, int(manifest["body"]["generation"]), manifest)
        raise StoreError(f"registry {self.root} keeps changing under this reader; retry")

    def read(self, keyer, name: str | None = None) -> Generation:
        """The current (or named) generation, its key check and keyed MAC verified."""
        gen = self.peek(name)
        body = gen.manifest["body"]
        if keyer.check_value != body.get("key_check"):
            raise KeyMissing(f"the key does not belong to the registry at {self.root}")
        if keyer.mac(_canonical(body), person=b"dlp-generation") != gen.manifest.get("mac"):
            raise StoreCorrupt(f"registry {self.root}: {gen.name}.json fails its keyed checksum "
                               f"(changed by someone without the key)")
        return Generation(gen.name, gen.number, body)

    def read_meta(self, generation: Generation, keyer, raw: bytes | None = None) -> dict[str, Any]:
        """The generation's secrets metadata, checked against the MAC its manifest holds.

        `raw`: its bytes, read earlier (`meta_bytes`) by a reader that parses them later.
        """
        name, mac = generation.manifest["meta"]["file"], generation.manifest["meta"]["mac"]
        if raw is None:
            raw = self.meta_bytes(generation)
        if keyer.mac(raw, person=b"dlp-meta") != mac:
            raise StoreCorrupt(f"registry {self.root}: {name} fails its keyed checksum")
        return _parse(raw, f"registry {self.root}: {name}")

    def meta_bytes(self, generation: Generation) -> bytes:
        name = generation.manifest["meta"]["file"]
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            raise StoreCorrupt(f"registry {self.root}: {name} is missing") from None

    def segment(self, name: str, keyer) -> Segment:
        """An immutable segment with every array verified (or known verified) and memory-mapped."""
        cached = self._segments.get(name)
        if cached is not None:
            return cached
        folder = self.root / name
        try:
            raw = (folder / "segment.json").read_bytes()
        except FileNotFoundError:
            raise StoreCorrupt(f"registry {self.root}: segment {name} is missing") from None
        wrapped = _parse(raw, f"registry {self.root}: {name}/segment.json")
        meta = wrapped.get("body")
        if not isinstance(meta, dict) or keyer.mac(_canonical(meta), person=b"dlp-segment") != wrapped.get("mac"):
            raise StoreCorrupt(f"registry {self.root}: {name}/segment.json fails its keyed checksum")
        self._check_versions(meta)
        with self._verifying:
            verified = _Verified.load(self.root / VERIFIED, keyer)
            arrays = {}
            for array_name, info in meta.get("arrays", {}).items():
                path = folder / f"{array_name}.npy"
                arrays[array_name] = _map_verified(path, f"{name}/{array_name}.npy", info["mac"], keyer, verified,
                                                   self.root)
            verified.save()
        segment = Segment(name, meta, arrays)
        self._segments[name] = segment
        return segment

    def pack(self, generation: Generation) -> list[tuple[str, bytes]]:
        """Every file of one generation, as (path relative to the store, bytes): to ship it elsewhere.

        The bytes are the stored ones, MACs included, so the receiving side verifies them
        under the key exactly as here (`unpack`, then open as usual).
        """
        names = [f"{generation.name}.json", generation.manifest["meta"]["file"]]
        segments = list(generation.manifest.get("segments", []))
        if generation.manifest.get("lexicon_segment"):
            segments.append(generation.manifest["lexicon_segment"])
        for segment in segments:
            names.append(f"{segment}/segment.json")
            meta = json.loads((self.root / segment / "segment.json").read_bytes())["body"]
            names.extend(f"{segment}/{array}.npy" for array in sorted(meta.get("arrays", {})))
        try:
            return [(name, (self.root / name).read_bytes()) for name in names]
        except FileNotFoundError as exc:
            raise StoreError(f"registry {self.root}: {exc.filename} vanished while packing generation "
                             f"{generation.name} (a newer one was committed meanwhile); try again") from None

    @staticmethod
    def unpack(root: Path, generation_name: str, files: list[tuple[str, bytes]]) -> "Store":
        """Write a packed generation into a new, private store directory at `root`."""
        root = Path(root)
        root.mkdir(parents=True, mode=0o700, exist_ok=False)
        for name, data in files:
            target = (root / name).resolve()
            if root.resolve() not in target.parents:
                raise StoreCorrupt(f"packed registry names a file outside its store: {name!r}")
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            target.write_bytes(data)
        (root / "CURRENT").write_text(generation_name + "\n")
        return root

    # -- writing (call with lock() held) -----------------------------------------------------

    def write_segment(self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], keyer) -> str:
        writer = self.segment_writer(keyer)
        writer.add(arrays)
        return writer.finish(meta)

    def segment_writer(self, keyer) -> "SegmentWriter":
        """A segment written array by array as its arrays are ready (see `SegmentWriter`)."""
        return SegmentWriter(self, keyer)

    def publish(self, manifest: Mapping[str, Any], meta: Mapping[str, Any], keyer) -> int:
        """Write a generation (its metadata file, then its manifest) and make it current."""
        number = max(self._latest("gen-"), self._latest("meta-")) + 1
        meta_name = f"meta-{number:06d}.json"
        meta_bytes = json.dumps(meta, sort_keys=True).encode()  # one line: the C encoder (indent is 10x slower)
        _write_replace(self.root / meta_name, meta_bytes)
        body = {"format": STORE_FORMAT, **self.versions, **manifest, "generation": number,
                "meta": {"file": meta_name, "mac": keyer.mac(meta_bytes, person=b"dlp-meta")}}
        wrapped = {"body": body, "mac": keyer.mac(_canonical(body), person=b"dlp-generation")}
        name = f"gen-{number:06d}"
        _write_replace(self.root / f"{name}.json", json.dumps(wrapped, sort_keys=True).encode())
        _write_replace(self.root / "CURRENT", (name + "\n").encode())
        self.prune()
        return number

    def prune(self) -> None:
        """Drop generations beyond the last KEEP, and segments no kept generation lists."""
        generations = self._numbers("gen-", ".json")
        keep = generations[-KEEP:]
        for number in generations[:-KEEP]:
            for stale in (f"gen-{number:06d}.json", f"meta-{number:06d}.json"):
                with contextlib.suppress(FileNotFoundError):
                    (self.root / stale).unlink()
        for number in self._numbers("meta-", ".json"):
            if number not in keep:
                with contextlib.suppress(FileNotFoundError):
                    (self.root / f"meta-{number:06d}.json").unlink()
        listed: set[str] = set()
        for number in keep:
            try:
                body = json.loads((self.root / f"gen-{number:06d}.json").read_bytes())["body"]
            except (OSError, ValueError, KeyError):
                continue
            listed.update(body.get("segments", []))
            if body.get("lexicon_segment"):
                listed.add(body["lexicon_segment"])
        if not listed and keep:
            return  # unreadable generations: keep every segment rather than guess
        for entry in self.root.iterdir():
            if entry.name.startswith("seg-") and entry.name not in listed:
                shutil.rmtree(entry, ignore_errors=True)
                self._segments.pop(entry.name, None)
            elif entry.name.startswith(".staging-"):
                shutil.rmtree(entry, ignore_errors=True)  # left by a writer that crashed (we hold the lock)

    # -- internals ---------------------------------------------------------------------------

    def _check_versions(self, manifest: Mapping[str, Any]) -> None:
        wanted = {"format": STORE_FORMAT, **self.versions}
        for field, expected in wanted.items():
            found = manifest.get(field)
            if found != expected:
                raise StoreVersionMismatch(
                    f"registry {self.root} was written with {field} {found!r}, this dlp uses {expected!r}; "
                    f"rebuild it: move the directory away and run `dlp register` again on the original files"
                )

    def _numbers(self, prefix: str, suffix: str = "") -> list[int]:
        out = []
        if not self.root.is_dir():
            return out
        for entry in self.root.iterdir():
            name = entry.name
            if name.startswith(prefix) and name.endswith(suffix):
                digits = name[len(prefix) : len(name) - len(suffix)]
                if digits.isdigit():
                    out.append(int(digits))
        return sorted(out)

    def _latest(self, prefix: str) -> int:
        suffix = ".json" if prefix in ("gen-", "meta-") else ""
        return max(self._numbers(prefix, suffix), default=0)


class GenerationWatch:
    """Tells a long-running reader, cheaply enough to ask every second, when a generation other
    than the one it holds has become current.

    A writer makes a generation current by replacing CURRENT with a new file, so a look
    whose `stat` finds the same file (inode, size, times) answers at once; the name is read
    only when the file was replaced. Nothing here opens or verifies the new generation:
    the reader does that (`Index.open`) and then says so with `hold`.
    """

    def __init__(self, store: Store, held: str) -> None:
        self.store = store
        self.held = held
        self._mark: tuple[int, int, int, int] | None = None
        self._current = held

    def changed(self) -> str | None:
        """The name of the current generation when it is not the one held, else None.

        None too while the registry cannot be read (CURRENT missing, unreadable or naming
        no generation): the reader keeps what it holds, and the next open reports why."""
        try:
            st = os.stat(self.store.root / "CURRENT")
        except OSError:
            return None
        mark = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if mark != self._mark:
            try:
                name = self.store.current()
            except StoreError:
                return None
            self._mark, self._current = mark, name
        return self._current if self._current != self.held else None

    def hold(self, name: str) -> None:
        """The reader now holds generation `name` (it opened it)."""
        self.held = name


# -- verification of array files ------------------------------------------------------------


class _Verified:
    """Array files already checked, keyed by (size, mtime, ctime, inode), under a keyed MAC."""

    def __init__(self, path: Path, keyer, entries: dict[str, list]) -> None:
        self.path, self.keyer, self.entries, self.dirty = path, keyer, entries, False

    @classmethod
    def load(cls, path: Path, keyer) -> "_Verified":
        try:
            wrapped = json.loads(path.read_bytes())
            entries = wrapped["entries"]
            if keyer.mac(_canonical(entries), person=b"dlp-verified") != wrapped["mac"]:
                entries = {}  # forged or from another key: check everything again
        except (OSError, ValueError, KeyError, TypeError):
            entries = {}
        return cls(path, keyer, entries if isinstance(entries, dict) else {})

    def known(self, rel: str, stamp: list, mac: str) -> bool:
        return self.entries.get(rel) == [*stamp, mac]

    def add(self, rel: str, stamp: list, mac: str) -> None:
        self.entries[rel] = [*stamp, mac]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        live = {rel: v for rel, v in self.entries.items() if (self.path.parent / rel).exists()}
        wrapped = {"entries": live, "mac": self.keyer.mac(_canonical(live), person=b"dlp-verified")}
        try:  # best effort: a reader without write access simply checks again next time
            _write_replace(self.path, json.dumps(wrapped, sort_keys=True).encode(), sync=False)
        except OSError:
            pass
        self.dirty = False


def _map_verified(path: Path, rel: str, mac: str, keyer, verified: _Verified, root: Path) -> np.ndarray:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreCorrupt(f"registry {root}: {rel} is missing") from None
    stamp = _stamp(st)
    if not verified.known(rel, stamp, mac):
        hasher = keyer.hasher(person=b"dlp-array")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                hasher.update(chunk)
        if hasher.hexdigest() != mac:
            raise StoreCorrupt(f"registry {root}: {rel} fails its keyed checksum (changed by someone without the key)")
        verified.add(rel, stamp, mac)
    try:
        if st.st_size <= 4096:
            return np.load(path, allow_pickle=False)  # tiny arrays: not worth a mapping
        # a plain ndarray over the mapping: numpy.memmap's indexing costs Python time per call
        return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    except ValueError:
        raise StoreCorrupt(f"registry {root}: {rel} cannot be parsed") from None


# -- files ------------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _parse(raw: bytes, what: str) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise StoreCorrupt(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise StoreCorrupt(f"{what} is not a dlp file")
    return value


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class SegmentWriter:
    """A segment written as its parts are built: each array is hashed and written into a staging
    folder by two threads as soon as it is `add`ed (beside the threads still building the others,
    instead of after all of them), then `finish` numbers the segment, writes its metadata, fsyncs
    and renames the folder into place, and records the stamps it checked as written. `abandon`
    (or a failed `finish`) removes the staging folder; so does `Store.prune` after a crash."""

    def __init__(self, store: Store, keyer) -> None:
        from concurrent.futures import ThreadPoolExecutor

        store.root.mkdir(parents=True, exist_ok=True)
        self.store, self.keyer = store, keyer
        self.staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=store.root))
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="dlp-write")  # hashing and writing release the GIL
        self._written: list = []

    def add(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._written.extend(self._pool.submit(self._write, name, array) for name, array in arrays.items())

    def _write(self, array_name: str, array: np.ndarray | Joined):
        from numpy.lib import format as np_format

        header = io.BytesIO()  # what np.save writes, without copying the array
        if isinstance(array, Joined):  # the header of the whole, then each part
            parts = array.parts
            np_format.write_array_header_1_0(header, {"descr": np_format.dtype_to_descr(array.dtype),
                                                      "fortran_order": False, "shape": (len(array),)})
        else:
            parts = [np.ascontiguousarray(array)]
            np_format.write_array_header_1_0(header, np_format.header_data_from_array_1_0(parts[0]))
        pieces = [header.getbuffer(), *(memoryview(p).cast("B") for p in parts)]
        mac = self.keyer.hasher(person=b"dlp-array")
        for piece in pieces:
            mac.update(piece)
        st = _write_synced(self.staging / f"{array_name}.npy", *pieces)
        return array_name, {"bytes": sum(len(p) for p in pieces), "mac": mac.hexdigest()}, st

    def finish(self, meta: Mapping[str, Any]) -> str:
        store, keyer, staging = self.store, self.keyer, self.staging
        try:
            written = [future.result() for future in self._written]
            with store._naming:  # a registry writes segments from a second thread too (`Registry._flush`)
                name = f"seg-{store._latest('seg-') + 1:06d}"
                files, stamps = {}, {}
                for array_name, entry, st in written:
                    files[array_name] = entry
                    # checked as written: opening the segment next need not hash it again (renaming
                    # the folder changes no stamp of the files in it; any later change of a file does)
                    stamps[f"{name}/{array_name}.npy"] = (_stamp(st), entry["mac"])
                body = {"format": STORE_FORMAT, **store.versions, **meta, "name": name, "arrays": files}
                wrapped = {"body": body, "mac": keyer.mac(_canonical(body), person=b"dlp-segment")}
                _write_synced(staging / "segment.json", json.dumps(wrapped, sort_keys=True).encode())
                _fsync_dir(staging)
                os.rename(staging, store.root / name)
                _fsync_dir(store.root)
            with store._verifying:
                verified = _Verified.load(store.root / VERIFIED, keyer)
                for rel, (stamp, mac) in stamps.items():
                    verified.add(rel, stamp, mac)
                verified.save()
            return name
        finally:
            self.abandon()

    def abandon(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)


def _write_synced(path: Path, *pieces) -> os.stat_result:
    with open(path, "wb", buffering=1 << 20) as handle:  # (many small pieces: a `Joined` array)
        for data in pieces:
            handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        return os.fstat(handle.fileno())


def _write_replace(path: Path, data: bytes, *, sync: bool = True) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if sync:
        _write_synced(tmp, data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)
    if sync:
        _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
