"""The read side of the registry: one generation, opened for scanning.

`Index.open` reads the current generation (its manifest, every segment's small
metadata file, the memory-mapped arrays, all checked under the registry key) and
numbers the owners of all segments in one sequence. Nothing is sorted, copied or
built here: segments carry their own sorted indexes and bitmaps. The catalogue
(labels, versions) and the lexicon are read only when a detector needs them.

`Index.detectors()` builds the detectors over it, cheap before expensive:
fingerprints, phrases (terms and records), then the rewrite tier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .catalogue import Secret
from .errors import StoreCorrupt
from .fingerprint.keyed import Keyer, load_key
from .fingerprint.lexicon import Lexicon
from .store import Generation, Segment, Store
from .text import spacing

DEFAULT_BOILERPLATE_DOCS = 5


_ANY_SIZE = object()  # a segment without file lengths: any length may be a copy


@dataclass(frozen=True)
class Owner:
    """One registered version, as findings name it."""

    secret: str
    version: int
    kind: str
    label: str
    classification: str
    tags: tuple[str, ...]
    tokens: int
    settings: dict


def default_key_path(root: Path) -> Path:
    """The key lives beside the store, never inside it: copying the store does not copy the key."""
    root = Path(root).resolve()
    return root.with_name(root.name + ".key")


def store_versions() -> dict[str, str]:
    from .fingerprint.keyed import KEYED_VERSION
    from .fingerprint.lexicon import LEXICON_VERSION
    from .fingerprint.rewrite import REWRITE_VERSION
    from .fingerprint.shingles import SHINGLE_VERSION
    from .text import NORMALISER_VERSION

    return {"normaliser": NORMALISER_VERSION, "shingles": SHINGLE_VERSION, "keyed": KEYED_VERSION,
            "rewrite": REWRITE_VERSION, "lexicon": LEXICON_VERSION}


class _Secrets(Mapping):
    """The catalogue's secrets by id, each read when first asked for: a scan that finds one
    secret of 10,000 does not build the other 9,999 (0.1 s per scanning process)."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = {entry["id"]: entry for entry in entries}
        self._read: dict[str, Secret] = {}

    def __getitem__(self, sid: str) -> Secret:
        secret = self._read.get(sid)
        if secret is None:
            secret = self._read[sid] = Secret.from_dict(self._entries[sid])
        return secret

    def __contains__(self, sid: object) -> bool:
        return sid in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class Index:
    def __init__(self, store: Store, generation: Generation, keyer: Keyer, key_path: Path) -> None:
        self.store = store
        self.root = store.root
        self.keyer = keyer
        self.key_path = key_path
        self.generation = generation.number
        self.generation_name = generation.name
        self.manifest = generation.manifest
        self.generation_record = generation  # the manifest as stored, for packing
        self.key_check = self.manifest["key_check"]
        self.settings: dict[str, Any] = dict(self.manifest.get("settings", {}))
        self.segments: tuple[Segment, ...] = tuple(store.segment(name, keyer) for name in self.manifest["segments"])
        # read now, parsed when needed: a writer may prune this generation's files while we scan
        self._catalogue_bytes = store.meta_bytes(generation)
        lexicon = self.manifest.get("lexicon_segment")
        self._lexicon_segment = store.segment(lexicon, keyer) if lexicon else None
        if self._lexicon_segment is not None:
            spacing.provide(self._lexicon_segment.meta, self._lexicon_segment.arrays)
        counts = [len(s.owners) for s in self.segments]
        self.offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.owner_keys: list[tuple[str, int, str]] = [(o[0], int(o[1]), o[2]) for s in self.segments for o in s.owners]
        dead = self.manifest.get("dead", {})
        self.live = np.ones(len(self.owner_keys), dtype=bool)
        for i, seg in enumerate(self.segments):
            for local in dead.get(seg.name, []):
                self.live[self.offsets[i] + int(local)] = False
        self.family = self._per_owner("owner_family", np.uint64)
        self.tokens = self._per_owner("owner_tokens", np.uint32)
        self._owners: dict[int, Owner] = {}
        self._exact_sizes: set[int] | object | None = None  # lengths of the registered files (`may_be_exact`)

    @classmethod
    def open(cls, root: str | os.PathLike, key_path: str | os.PathLike | None = None) -> "Index":
        store = Store(Path(root), versions=store_versions())
        peeked = store.peek()  # version and format first: a rebuild message needs no key
        key_file = Path(key_path) if key_path else default_key_path(store.root)
        keyer = Keyer(load_key(key_file))
        for _attempt in range(5):
            name = store.current() if _attempt else peeked.name
            try:
                return cls(store, store.read(keyer, name), keyer, key_file)
            except StoreCorrupt as exc:  # a writer pruned what this generation lists: take the newer one
                if "missing" not in str(exc) or store.current() == name:
                    raise
        raise StoreCorrupt(f"registry {store.root} keeps changing under this reader; retry")

    def _per_owner(self, name: str, dtype) -> np.ndarray:
        parts = [s.get(name, dtype) for s in self.segments]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    # -- lazily read parts ---------------------------------------------------------------------

    @property
    def boilerplate_docs(self) -> int:
        return int(self.settings.get("boilerplate_docs", DEFAULT_BOILERPLATE_DOCS))

    @cached_property
    def lexicon(self) -> Lexicon:
        if self._lexicon_segment is None:
            raise StoreCorrupt(f"registry {self.root}: generation {self.generation_name} has no lexicon")
        return Lexicon.from_arrays(self._lexicon_segment.arrays)

    @cached_property
    def catalogue(self) -> dict[str, Any]:
        return self.store.read_meta(self.generation_record, self.keyer, self._catalogue_bytes)

    @cached_property
    def secrets(self) -> Mapping[str, Secret]:
        return _Secrets(self.catalogue.get("secrets", []))

    @property
    def public(self) -> list[dict[str, Any]]:
        return list(self.catalogue.get("public", []))

    def owner(self, number: int) -> Owner:
        """The registered version behind global owner `number`."""
        cached = self._owners.get(number)
        if cached is None:
            sid, version, kind = self.owner_keys[number]
            secret = self.secrets.get(sid)
            if secret is None:
                cached = Owner(sid, version, kind, sid, "", (), int(self.tokens[number]), {})
            else:
                cached = Owner(sid, version, kind, secret.label, secret.classification, secret.tags,
                               int(self.tokens[number]), dict(secret.settings))
            self._owners[number] = cached
        return cached

    def may_be_exact(self, size: int) -> bool:
        """Whether an item of `size` bytes may be a byte-identical copy of a registered file: only
        when a registered file has that length (a segment written before lengths were kept, or
        merged from one, answers yes to any). Hashing a 40 MB item took 25 ms of its scan."""
        sizes = self._exact_sizes
        if sizes is None:
            sizes = set()
            for seg in self.segments:
                if len(seg.get("exact_key")) and len(seg.get("exact_size")) != len(seg.get("exact_key")):
                    sizes = _ANY_SIZE
                    break
                sizes.update(seg.get("exact_size").tolist())
            if sizes is not _ANY_SIZE and 0 in sizes:  # (a file merged from a segment without lengths: unknown)
                sizes = _ANY_SIZE
            self._exact_sizes = sizes
        return sizes is _ANY_SIZE or size in sizes

    def exact(self, digest: str) -> int | None:
        """The live document owner registered with this keyed file digest, if any."""
        key = np.uint64(int(digest[:16], 16))
        for i, seg in enumerate(self.segments):
            keys = seg.get("exact_key")
            at = int(np.searchsorted(keys, key))
            while at < len(keys) and keys[at] == key:
                number = int(self.offsets[i] + seg.arrays["exact_owner"][at])
                if self.live[number] and self.owner_keys[number][0] in self.secrets:
                    if self.secrets[self.owner_keys[number][0]].version(self.owner_keys[number][1]).digest == digest:
                        return number
                at += 1
        return None

    def statistics(self) -> dict[str, int]:
        """Counts over the generation's segments (for `dlp list` and the console)."""
        counts = {"segments": len(self.segments), "fingerprints": 0, "phrases": 0, "sentences": 0, "pairs": 0}
        for segment in self.segments:
            for key, value in segment.meta.get("counts", {}).items():
                if key in counts:
                    counts[key] += int(value)
        counts["dead_owners"] = int((~self.live).sum())
        return counts

    def has(self, array: str) -> bool:
        return any(len(s.get(array)) for s in self.segments)

    def detectors(self) -> tuple:
        """The detectors over this index, cheap before expensive, then plugins (`dlp.detectors`)."""
        from .detectors import build

        return build(self)
