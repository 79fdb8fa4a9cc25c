"""What the company protects: secrets, their versions, and the arrays that find them.

`Registry` is the mutable view used by `dlp register`, `terms add`, `records add`
and `remove`: load the live generation, change it in memory, `commit()` a new one.
Nothing stored is plaintext: documents become keyed shingle fingerprints, terms
and record fields become tuples of keyed token values, files become keyed digests.
Documents also get keyed sentence vectors for the rewrite tier (`rw_*` arrays) and
hashed word counts for training classifiers (`cl_*` arrays); both are built from
keyed values only. Stores written before those tiers existed still load: their
documents simply have no rewrite vectors or features until registered again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .errors import KeyMissing, StoreVersionMismatch, UsageError
from .fingerprint import Keyer, load_key, new_key_file, shingles, winnow
from .classify.features import FEATURE_VERSION, hashed_counts
from .fingerprint.rewrite import (REWRITE_VERSION, RewriteRecord, SentenceVectors, rewrite_record, signatures,
                                  vectorise)
from .fingerprint.shingles import SHINGLE_VERSION
from .store import Store
from .text import NORMALISER_VERSION, tokenise
from .text.normalise import normalise_words
from .text.sentences import Analyser

VERSIONS = {"normaliser": NORMALISER_VERSION, "shingles": SHINGLE_VERSION}
DEFAULT_BOILERPLATE_DOCS = 3
KINDS = ("document", "terms", "records")


@dataclass
class Version:
    version: int
    digest: str  # keyed digest of the registered file's bytes
    tokens: int
    registered: float
    source: str  # file name only
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "tokens": self.tokens,
                "registered": self.registered, "source": self.source, **self.extra}


@dataclass
class Secret:
    id: str
    kind: str
    label: str = ""
    classification: str = "confidential"
    owner: str = ""
    tags: tuple[str, ...] = ()
    versions: list[Version] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # min_distinct, min_fields, columns

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "classification": self.classification,
                "owner": self.owner, "tags": list(self.tags), "settings": dict(self.settings),
                "versions": [v.to_dict() for v in self.versions]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Secret":
        versions = []
        for v in d["versions"]:
            base = {k: v[k] for k in ("version", "digest", "tokens", "registered", "source")}
            extra = {k: val for k, val in v.items() if k not in base}
            versions.append(Version(**base, extra=extra))
        return cls(d["id"], d["kind"], d.get("label", ""), d.get("classification", "confidential"),
                   d.get("owner", ""), tuple(d.get("tags", ())), versions, dict(d.get("settings", {})))


DEFAULT_CLASSIFICATION = "confidential"


def _relabel(secret: "Secret", label: str = "", classification: str | None = None, owner: str = "",
             tags: Sequence[str] = ()) -> str:
    """Same content registered again: metadata given explicitly replaces the old ("updated")."""
    before = (secret.label, secret.classification, secret.owner, secret.tags)
    secret.label = label or secret.label
    secret.classification = classification or secret.classification
    secret.owner = owner or secret.owner
    secret.tags = tuple(tags) or secret.tags
    return "unchanged" if (secret.label, secret.classification, secret.owner, secret.tags) == before else "updated"


@dataclass(frozen=True)
class Registered:
    """The outcome of registering one file, for the CLI to print."""

    secret: str
    version: int
    status: str  # new | version | unchanged | updated (same content, new metadata) | public
    source: str
    tokens: int


def default_key_path(root: Path) -> Path:
    """The key lives beside the store, never inside it: copying the store does not copy the key."""
    root = Path(root).resolve()
    return root.with_name(root.name + ".key")


class Registry:
    """Load, change and commit the registry at `root`."""

    def __init__(self, root: Path, key_path: Path | None = None, *, create: bool = False,
                 analyser: Analyser | None = None) -> None:
        self._analyser = analyser
        self.root = Path(root)
        self.key_path = Path(key_path) if key_path else default_key_path(self.root)
        self.store = Store(self.root, versions=VERSIONS)
        self.secrets: dict[str, Secret] = {}
        self.public: list[dict[str, Any]] = []
        self.settings: dict[str, Any] = {"boilerplate_docs": DEFAULT_BOILERPLATE_DOCS}
        self.generation = 0
        self.change: str | None = None  # the audited change this edit belongs to, named in the manifest
        # per version arrays, keyed by (secret id, version)
        self.fingerprints: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self.phrases: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self.public_hashes = np.zeros(0, dtype=np.uint64)
        self.rewrite: dict[tuple[str, int], RewriteRecord] = {}
        self.rewrite_public = np.zeros(0, dtype=np.uint64)  # sentence signatures of public content
        # classifier features per registered version; public content as ("public:<digest>", 0)
        self.features: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        if self.store.exists() or not create:
            self._load()
            self.keyer = Keyer(load_key(self.key_path))
            if self.keyer.check_value != self.key_check:
                raise KeyMissing(f"key {self.key_path} does not belong to the registry at {self.root}")
        else:
            if self.key_path.exists():
                key = load_key(self.key_path)
            else:
                key = new_key_file(self.key_path)
            self.keyer = Keyer(key)
            self.key_check = self.keyer.check_value

    # -- loading and committing -------------------------------------------------

    def _load(self) -> None:
        snap = self.store.read()
        m = snap.manifest
        self.generation = snap.generation
        self.key_check = m.get("key_check")
        self.settings.update(m.get("settings", {}))
        self.public = list(m.get("public", []))
        self.secrets = {d["id"]: Secret.from_dict(d) for d in m.get("secrets", [])}
        a = snap.arrays
        self.public_hashes = a.get("public_hash", np.zeros(0, dtype=np.uint64))
        owners = m.get("owners", [])
        if owners:
            bounds = np.searchsorted(a["doc_owner"], np.arange(len(owners) + 1))
            for i, (sid, ver) in enumerate(owners):
                lo, hi = bounds[i], bounds[i + 1]
                self.fingerprints[(sid, ver)] = (a["doc_hash"][lo:hi], a["doc_pos"][lo:hi])
        phrase_owners = m.get("phrase_owners", [])
        if phrase_owners:
            bounds = np.searchsorted(a["ph_owner"], np.arange(len(phrase_owners) + 1))
            for i, (sid, ver) in enumerate(phrase_owners):
                lo, hi = bounds[i], bounds[i + 1]
                offs = a["ph_offset"][lo : hi + 1] if hi > lo else np.zeros(1, dtype=np.int64)
                vals = a["ph_values"][offs[0] : offs[-1]] if hi > lo else np.zeros(0, dtype=np.uint64)
                self.phrases[(sid, ver)] = (vals, offs - offs[0], a["ph_row"][lo:hi], a["ph_col"][lo:hi])
        self._load_rewrite(m, a)
        self._load_features(m, a)
        self.snapshot = snap

    def _load_rewrite(self, m, a) -> None:
        self.rewrite_public = a.get("rw_public_sig", self.rewrite_public)
        rw_owners = m.get("rw_owners", [])
        if not rw_owners:
            return
        if m.get("rewrite_version") != REWRITE_VERSION:
            raise StoreVersionMismatch(
                f"registry {self.root}: rewrite vectors were written with {m.get('rewrite_version')!r}, this dlp "
                f"uses {REWRITE_VERSION!r}; rebuild it: move the directory away and run `dlp register` again")
        sent_bounds, vocab_bounds = a["rw_owner_sent"], a["rw_owner_vocab"]
        ptr, cols, weights = a["rw_ptr"], a["rw_cols"], a["rw_weights"]
        for i, (sid, ver) in enumerate(rw_owners):
            s0, s1 = int(sent_bounds[i]), int(sent_bounds[i + 1])
            p = ptr[s0 : s1 + 1]
            vectors = SentenceVectors(p - p[0], cols[p[0] : p[-1]], weights[p[0] : p[-1]])
            v0, v1 = int(vocab_bounds[i]), int(vocab_bounds[i + 1])
            self.rewrite[(sid, ver)] = RewriteRecord(vectors, a["rw_vocab"][v0:v1])

    def _load_features(self, m, a) -> None:
        cl_owners = m.get("cl_owners", [])
        if not cl_owners:
            return
        if m.get("feature_version") != FEATURE_VERSION:
            return  # features of another scheme are useless for training but harmless: re-register to refresh
        ptr = a["cl_ptr"]
        for i, (sid, ver) in enumerate(cl_owners):
            self.features[(sid, ver)] = (a["cl_bucket"][ptr[i] : ptr[i + 1]], a["cl_count"][ptr[i] : ptr[i + 1]])

    @property
    def analyser(self) -> Analyser:
        if self._analyser is None:
            self._analyser = Analyser()
        return self._analyser

    def commit(self) -> int:
        owners = sorted(self.fingerprints)
        doc_hash = [self.fingerprints[o][0] for o in owners]
        doc_pos = [self.fingerprints[o][1] for o in owners]
        doc_owner = [np.full(len(h), i, dtype=np.uint32) for i, h in enumerate(doc_hash)]
        arrays: dict[str, np.ndarray] = {
            "doc_hash": _cat(doc_hash, np.uint64),
            "doc_pos": _cat(doc_pos, np.uint32),
            "doc_owner": _cat(doc_owner, np.uint32),
            "public_hash": self.public_hashes,
        }
        idx_hash, idx_owner, idx_pos, suppressed = build_index(
            arrays["doc_hash"], arrays["doc_pos"], arrays["doc_owner"],
            np.array([self._secret_no(sid) for sid, _ in owners], dtype=np.int64),
            self.public_hashes, int(self.settings["boilerplate_docs"]))
        arrays.update(idx_hash=idx_hash, idx_owner=idx_owner, idx_pos=idx_pos)

        ph_owners = sorted(self.phrases)
        values, offsets, rows, cols, powner, base = [], [np.zeros(1, dtype=np.int64)], [], [], [], 0
        for i, o in enumerate(ph_owners):
            vals, offs, row, col = self.phrases[o]
            values.append(vals)
            offsets.append(offs[1:] + base)
            base += len(vals)
            rows.append(row)
            cols.append(col)
            powner.append(np.full(len(row), i, dtype=np.uint32))
        arrays.update(ph_values=_cat(values, np.uint64), ph_offset=_cat(offsets, np.int64),
                      ph_row=_cat(rows, np.uint32), ph_col=_cat(cols, np.uint16), ph_owner=_cat(powner, np.uint32))

        rw_owners = sorted(self.rewrite)
        arrays.update(_rewrite_arrays([self.rewrite[o] for o in rw_owners]), rw_public_sig=self.rewrite_public)
        cl_owners = sorted(self.features)
        buckets = [self.features[o][0] for o in cl_owners]
        arrays.update(cl_bucket=_cat(buckets, np.uint32),
                      cl_count=_cat([self.features[o][1] for o in cl_owners], np.float32),
                      cl_ptr=np.concatenate(([0], np.cumsum([len(b) for b in buckets]))).astype(np.int64))

        manifest = {
            "rewrite_version": REWRITE_VERSION,
            "rw_owners": [list(o) for o in rw_owners],
            "feature_version": FEATURE_VERSION,
            "cl_owners": [list(o) for o in cl_owners],
            "key_check": self.key_check,
            "settings": self.settings,
            "written": time.time(),
            "secrets": [s.to_dict() for s in self.secrets.values()],
            "public": self.public,
            "owners": [list(o) for o in owners],
            "phrase_owners": [list(o) for o in ph_owners],
            "index": {"fingerprints": int(len(idx_hash)), "suppressed": int(suppressed)},
            "change": self.change,  # recovery reads it: did an interrupted change reach the registry?
        }
        self.generation = self.store.write(manifest, arrays)
        return self.generation

    def _secret_no(self, sid: str) -> int:
        return list(self.secrets).index(sid)

    # -- changes -----------------------------------------------------------------

    def add_document(self, text: str, raw: bytes, source: str, *, secret_id: str, label: str = "",
                     classification: str | None = None, owner: str = "", tags: Sequence[str] = ()) -> Registered:
        digest = self.keyer.digest(raw)
        values = self.keyer.tokens(tokenise(text))
        existing = self.secrets.get(secret_id)
        if existing is not None and existing.kind != "document":
            raise UsageError(f"id {secret_id!r} is already a {existing.kind} secret")
        if existing is not None and any(v.digest == digest for v in existing.versions):
            match = next(v for v in existing.versions if v.digest == digest)
            status = _relabel(existing, label, classification, owner, tags)
            return Registered(secret_id, match.version, status, source, match.tokens)
        if existing is None:
            existing = self.secrets[secret_id] = Secret(secret_id, "document", label or secret_id,
                                                        classification or DEFAULT_CLASSIFICATION, owner, tuple(tags))
            status = "new"
        else:
            existing.label = label or existing.label
            existing.classification = classification or existing.classification
            existing.owner = owner or existing.owner
            existing.tags = tuple(tags) or existing.tags
            status = "version"
        version = len(existing.versions) + 1
        sh = shingles(values)
        picks = winnow(sh)
        existing.versions.append(Version(version, digest, int(len(values)), time.time(), source,
                                         {"fingerprints": int(len(picks))}))
        self.fingerprints[(secret_id, version)] = (sh[picks], picks.astype(np.uint32))
        self.rewrite[(secret_id, version)] = rewrite_record(text, self.keyer, self.analyser)
        self.features[(secret_id, version)] = hashed_counts(values)
        return Registered(secret_id, version, status, source, int(len(values)))

    def add_public(self, text: str, raw: bytes, source: str) -> Registered:
        digest = self.keyer.digest(raw)
        values = self.keyer.tokens(tokenise(text))
        if any(p["digest"] == digest for p in self.public):
            return Registered("public", 0, "unchanged", source, int(len(values)))
        self.public_hashes = np.union1d(self.public_hashes, shingles(values)).astype(np.uint64)
        self.features[(f"public:{digest}", 0)] = hashed_counts(values)
        public = signatures(vectorise(self.analyser.sentences(text), self.keyer, self.analyser))
        self.rewrite_public = np.union1d(self.rewrite_public, public).astype(np.uint64)
        self.public.append({"digest": digest, "source": source, "tokens": int(len(values)), "registered": time.time()})
        return Registered("public", 0, "public", source, int(len(values)))

    def add_terms(self, set_id: str, lines: Iterable[str], *, label: str = "", classification: str | None = None,
                  min_distinct: int = 1, raw: bytes = b"", source: str = "") -> Registered:
        numbered = [(n, normalise_words(line)) for n, line in enumerate(lines) if not line.lstrip().startswith("#")]
        numbered = [(n, p) for n, p in numbered if p]
        if not numbered:
            raise UsageError(f"term set {set_id!r}: the file has no terms (one per line)")
        keyed = [self.keyer.words(p) for _, p in numbered]
        rows = np.array([n for n, _ in numbered], dtype=np.uint32)  # line numbers: evidence names lines, not terms
        cols = np.zeros(len(keyed), dtype=np.uint16)
        return self._add_phrases(set_id, "terms", keyed, rows, cols, raw, source, label, classification,
                                 {"min_distinct": int(min_distinct)}, {"terms": len(keyed)})

    def add_records(self, name: str, text: str, *, columns: Sequence[str] | None = None, min_fields: int = 2,
                    label: str = "", classification: str | None = None, raw: bytes = b"", source: str = "") -> Registered:
        reader = csv.reader(io.StringIO(text))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise UsageError(f"records {name!r}: the CSV file is empty") from None
        lowered = [h.lower() for h in header]
        if columns:
            missing = [c for c in columns if c.lower() not in lowered]
            if missing:
                raise UsageError(f"records {name!r}: no column named {', '.join(missing)} (columns: {', '.join(header)})")
            chosen = [lowered.index(c.lower()) for c in columns]
        else:
            chosen = list(range(len(header)))
        keyed, rows, cols, n_rows = [], [], [], 0
        for r, record in enumerate(reader):
            n_rows += 1
            for ci, c in enumerate(chosen):
                if c >= len(record):
                    continue
                words = normalise_words(record[c])
                if not words or sum(len(w) for w in words) < 3:
                    continue  # values too short to be evidence
                keyed.append(self.keyer.words(words))
                rows.append(r)
                cols.append(ci)
        if not keyed:
            raise UsageError(f"records {name!r}: no usable field values in the CSV file")
        if min_fields < 1:
            raise UsageError("--min-fields must be at least 1")
        settings = {"min_fields": int(min_fields), "columns": [header[c] for c in chosen]}
        return self._add_phrases(name, "records", keyed, np.array(rows, dtype=np.uint32), np.array(cols, dtype=np.uint16),
                                 raw, source, label, classification, settings, {"rows": n_rows, "fields": len(keyed)})

    def _add_phrases(self, sid, kind, keyed, rows, cols, raw, source, label, classification, settings, extra) -> Registered:
        existing = self.secrets.get(sid)
        if existing is not None and existing.kind != kind:
            raise UsageError(f"id {sid!r} is already a {existing.kind} secret")
        digest = self.keyer.digest(raw or repr(keyed).encode())
        if existing is not None and existing.latest.digest == digest and existing.settings == settings:
            status = _relabel(existing, label, classification)
            return Registered(sid, existing.latest.version, status, source, len(keyed))
        if existing is None:
            existing = self.secrets[sid] = Secret(sid, kind, label or sid, classification or DEFAULT_CLASSIFICATION,
                                                  "", (), [], settings)
            status = "new"
        else:
            existing.label = label or existing.label
            existing.classification = classification or existing.classification
            existing.settings = settings
            status = "version"
            # a term set or record list is replaced as a whole: only the latest version is matched
            for old in existing.versions:
                self.phrases.pop((sid, old.version), None)
        version = len(existing.versions) + 1
        existing.versions.append(Version(version, digest, sum(len(k) for k in keyed), time.time(), source, extra))
        lengths = np.array([len(k) for k in keyed], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)))
        values = np.fromiter((v for k in keyed for v in k), dtype=np.uint64, count=int(offsets[-1]))
        self.phrases[(sid, version)] = (values, offsets, rows, cols)
        return Registered(sid, version, status, source, len(keyed))

    def remove(self, sid: str) -> Secret:
        secret = self.secrets.pop(sid, None)
        if secret is None:
            raise UsageError(f"no secret with id {sid!r} (see `dlp list`)")
        for v in secret.versions:
            self.fingerprints.pop((sid, v.version), None)
            self.phrases.pop((sid, v.version), None)
            self.rewrite.pop((sid, v.version), None)
            self.features.pop((sid, v.version), None)
        return secret


def build_index(doc_hash, doc_pos, doc_owner, owner_secret, public_hash, boilerplate_docs):
    """Sorted (hash, owner, position) triples without boilerplate and public shingles.

    A fingerprint is boilerplate when it occurs in `boilerplate_docs` or more distinct
    secrets (versions of one secret count once).
    """
    if len(doc_hash) == 0:
        empty = np.zeros(0, dtype=np.uint64)
        return empty, np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32), 0
    secret = owner_secret[doc_owner]
    order = np.lexsort((secret, doc_hash))
    h, s = doc_hash[order], secret[order]
    first_pair = np.ones(len(h), dtype=bool)
    first_pair[1:] = (h[1:] != h[:-1]) | (s[1:] != s[:-1])
    pair_hashes = h[first_pair]
    uniq, counts = np.unique(pair_hashes, return_counts=True)
    common = uniq[counts >= boilerplate_docs]
    keep = ~np.isin(h, common)
    if len(public_hash):
        keep &= ~np.isin(h, public_hash)
    o = order[keep]
    return doc_hash[o], doc_owner[o], doc_pos[o], int((~keep).sum())


def _rewrite_arrays(records: list[RewriteRecord]) -> dict[str, np.ndarray]:
    """Concatenated CSR sentence vectors and candidate vocabularies of all versions."""
    ptrs, cols, weights, vocab, vocab_owner = [np.zeros(1, dtype=np.int64)], [], [], [], []
    sent_bounds, vocab_bounds, base = [0], [0], 0
    for i, r in enumerate(records):
        v = r.vectors
        ptrs.append(v.ptr[1:] + base)
        base += len(v.cols)
        cols.append(v.cols)
        weights.append(v.weights)
        sent_bounds.append(sent_bounds[-1] + len(v))
        vocab.append(r.vocabulary)
        vocab_owner.append(np.full(len(r.vocabulary), i, dtype=np.uint32))
        vocab_bounds.append(vocab_bounds[-1] + len(r.vocabulary))
    return {"rw_ptr": _cat(ptrs, np.int64), "rw_cols": _cat(cols, np.uint32), "rw_weights": _cat(weights, np.float32),
            "rw_owner_sent": np.array(sent_bounds, dtype=np.int64), "rw_vocab": _cat(vocab, np.uint64),
            "rw_owner_vocab": np.array(vocab_bounds, dtype=np.int64)}


def slug(name: str) -> str:
    stem = Path(name).stem if "." in Path(name).name else Path(name).name
    out = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return out or "secret"


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


@contextlib.contextmanager
def editing(root: Path, key_path: Path | None = None) -> Iterator[Registry]:
    """The registry at `root` (created if absent) under the writer lock; call `commit()` to keep changes."""
    with Store(Path(root), versions=VERSIONS).lock():
        yield Registry(root, key_path, create=True)
