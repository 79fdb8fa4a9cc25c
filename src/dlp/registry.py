"""The editing side of the registry: what the company protects, and how it enters the store.

`Registry` is what `dlp register`, `terms add`, `records add`, `remove` and `compact`
use: open the live generation's catalogue, register or remove secrets, `commit()`.
A commit writes one new segment holding only what is new (keyed shingle fingerprints,
phrases, rewrite vectors and pair signatures, classifier features), marks removed or
replaced versions dead in their old segments, and publishes a generation listing the
segments. Small segments are merged on the way (`MERGE_FACTOR` of one size tier, up to
`INLINE_MERGE_BYTES`); `compact()` merges everything. Scanning never uses this class:
it opens an `Index`.

Nothing stored is plaintext: documents become keyed shingle fingerprints and sentence
vectors, terms and record fields become hashed n-grams of keyed token values, files
become keyed digests.

**Boilerplate** (a shingle in `boilerplate_docs` (5) or more registered families, or in
registered public content) is decided when scanning, across all segments, so a new
registration never has to rewrite old segments. Secrets where the smaller one lies
80% or more inside the larger (versions of one document, variants with another
appendix, the same file registered under several ids) share a *family* and count
once: registering copies of a document does not turn the document into boilerplate.
`new_boilerplate` says, before a commit, which passages a registration would turn
into boilerplate, so it never happens silently.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .arrays import among, distinct, distinct_pairs, run_starts
from . import parallel, segments as seg, speedups
from .catalogue import DEFAULT_CLASSIFICATION, KINDS, Secret, Version
from .classify.features import hashed_counts
from .errors import FilesRefused, KeyMissing, StoreError, UsageError
from .fingerprint import Keyer, load_key, new_key_file, shingles
from .fingerprint import bitmap, fields
from .fingerprint.batch import Prepared, pack, prepare, unpack
from .fingerprint.lexicon import Lexicon
from .fingerprint.rewrite import rewrite_record
from .index import DEFAULT_BOILERPLATE_DOCS, Index, default_key_path, store_versions
from .store import Store
from .text import spacing, tokenise
from .text.normalise import tokenise_lines, tokenise_many
from .text.english import english
from .text.spacing import glued_forms

__all__ = ["Registry", "Registered", "NewDocument", "editing", "slug", "default_key_path", "KINDS", "Secret", "Version"]

NEAR_DUPLICATE = 0.8  # share of the smaller document's fingerprints the larger holds that makes them one family
MERGE_FACTOR = 4  # segments of one size tier merged together
TIER_BASE_BYTES = 256 * 1024
INLINE_MERGE_BYTES = 64 * 1024 * 1024  # larger merges wait for `dlp compact`
MIN_RECORD_CHARS = 3  # field values shorter than this are not evidence
BOILERPLATE_REPORT = 3  # fingerprints (a passage of about ten words) a registration must make boilerplate to say so
BATCH_CHARS = 256 * 1024  # text fingerprinted in one vectorised pass (NumPy's per-call cost paid once per batch)
BATCH_DOCS = 256
POOL_CHARS = 4 << 20  # less text than this is fingerprinted in this process (starting workers costs more)
FLUSH_BYTES = 512 << 20  # pending records of this size are written as a segment of the edit (bounds memory;
# a segment per 10,000 news articles: each segment more costs scans a lookup, about 10% of the fingerprint tier)


@dataclass(frozen=True)
class NewDocument:
    """A document to register: its text, its bytes (for the file digest), its file name and secret id."""

    text: str
    raw: bytes
    source: str
    secret_id: str


class PendingFingerprints:
    """Which documents added in this edit hold which fingerprints, so that a new document is
    compared with each of them as exactly as with the committed ones (`Registry._stored`): a
    bottom-k sketch of each missed a document that quotes a shorter one whole, whose smallest
    fingerprints come from its own text (found by attack5 on the mails of a thread). An
    open-addressing multimap kept at most half full, in C where the speedups are built (a
    dict of lists otherwise)."""

    def __init__(self) -> None:
        self.keys = np.zeros(1 << 12, dtype=np.uint64)
        self.values = np.zeros(1 << 12, dtype=np.int32)
        self.used = 0
        self.documents = 0
        self.sizes = np.zeros(64, dtype=np.int64)  # how many fingerprints each document added holds
        self._scratch = np.zeros(0, dtype=np.int32)
        self._lists: dict[int, list[int]] = {}

    def add(self, fps: np.ndarray, document: int) -> None:
        """Record the distinct fingerprints `fps` of pending document number `document`."""
        self._sized(fps, document)
        native = speedups.native
        if native is None:
            for value in fps.tolist():
                self._lists.setdefault(value, []).append(document)
            return
        self._room(len(fps))
        native.multimap_add(self.keys, self.values, np.ascontiguousarray(fps, dtype=np.uint64),
                            np.full(len(fps), document, dtype=np.int32))
        self.used += len(fps)

    def reserve(self, more: int) -> None:
        """Room for `more` fingerprints, made at once (growing the map as they come rehashes it
        a dozen times: 0.45 s for 10,000 documents, against 0.1 s for adding them)."""
        if speedups.native is not None:
            self._room(more)

    def _room(self, more: int) -> None:
        if 2 * (self.used + more) > len(self.keys):
            self._grow(self.used + more)

    def _sized(self, fps: np.ndarray, document: int) -> None:
        self.documents = max(self.documents, document + 1)
        if document >= len(self.sizes):
            self.sizes = np.concatenate((self.sizes, np.zeros(max(document + 1, len(self.sizes)), dtype=np.int64)))
        self.sizes[document] = len(fps)

    def shared(self, fps: np.ndarray, then_add: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(pending documents, how many of the distinct `fps` each holds), int64, documents
        ascending; then, with `then_add`, `add(fps, then_add)` (in the same walk over the map, in C)."""
        native = speedups.native
        if native is None:
            counts: dict[int, int] = {}
            for value in fps.tolist():
                for d in self._lists.get(value, ()):
                    counts[d] = counts.get(d, 0) + 1
            if then_add is not None:
                self.add(fps, then_add)
            return (np.array(sorted(counts), dtype=np.int64),
                    np.array([counts[d] for d in sorted(counts)], dtype=np.int64))
        if len(self._scratch) < self.documents:
            self._scratch = np.zeros(max(self.documents, 2 * len(self._scratch)), dtype=np.int32)
        fps = np.ascontiguousarray(fps, dtype=np.uint64)
        if then_add is None:
            documents, counts = native.multimap_count(self.keys, self.values, fps, self._scratch)
        else:
            self._room(len(fps))
            documents, counts = native.multimap_count(self.keys, self.values, fps, self._scratch, then_add)
            self.used += len(fps)
            self._sized(fps, then_add)
        return np.frombuffer(documents, dtype=np.int64), np.frombuffer(counts, dtype=np.int64)

    def _grow(self, needed: int) -> None:
        size = len(self.keys)
        while 2 * needed > size:
            size *= 2
        held = self.keys != 0
        keys, values = self.keys[held], self.values[held]
        self.keys, self.values = np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.int32)
        speedups.native.multimap_add(self.keys, self.values, keys, values)


@dataclass(frozen=True)
class _Added:
    """A document this edit added, as near-duplicate and boilerplate checks need it."""

    secret: str
    version: int
    family: int
    fps: np.ndarray  # its distinct fingerprints, sorted


@dataclass(frozen=True)
class Registered:
    """The outcome of registering one file, for the CLI to print."""

    secret: str
    version: int
    status: str  # new | version | unchanged | updated (same content, new metadata) | public
    source: str
    tokens: int
    near_duplicate: str | None = None  # a registered secret this document nearly equals


class Registry:
    """Load, change and commit the registry at `root`."""

    def __init__(self, root: Path, key_path: Path | None = None, *, create: bool = False) -> None:
        self.root = Path(root)
        self.key_path = Path(key_path) if key_path else default_key_path(self.root)
        self.store = Store(self.root, versions=store_versions())
        self.secrets: dict[str, Secret] = {}
        self.public: list[dict[str, Any]] = []
        self.settings: dict[str, Any] = {"boilerplate_docs": DEFAULT_BOILERPLATE_DOCS}
        self.generation = 0
        self.change: str | None = None  # the audited change this edit belongs to, named in the manifest
        self.manifest: dict[str, Any] = {}  # the committed generation's manifest
        self._segments: list[str] = []
        self._dead: dict[str, set[int]] = {}
        self._lexicon_name: str | None = None
        self._lexicon: Lexicon | None = None
        self._pending: list[seg.OwnerRecord] = []
        self._index: Index | None = None
        self._where_cache: dict[tuple[str, int], tuple[str, int]] | None = None
        self._pending_fps = PendingFingerprints()  # fingerprints of new documents -> `_added` numbers
        self._added: list[_Added | None] = []  # the documents this edit added (None: removed again)
        self._flushed: list[str] = []  # segments written by this edit, published with it (`FLUSH_BYTES`)
        self._flushing: tuple[threading.Thread, list] | None = None  # a segment being built and written
        self._pending_bytes = 0
        if self.store.exists() or not create:
            peeked = self.store.peek()
            self.keyer = Keyer(load_key(self.key_path))
            if self.keyer.check_value != peeked.manifest["body"].get("key_check"):
                raise KeyMissing(f"key {self.key_path} does not belong to the registry at {self.root}")
            generation = self.store.read(self.keyer, peeked.name)
            body = self.manifest = generation.manifest
            self.generation = generation.number
            self.settings.update(body.get("settings", {}))
            self._segments = list(body["segments"])
            self._dead = {name: set(owners) for name, owners in body.get("dead", {}).items()}
            self._lexicon_name = body.get("lexicon_segment")
            catalogue = self.store.read_meta(generation, self.keyer)
            self.secrets = {d["id"]: Secret.from_dict(d) for d in catalogue.get("secrets", [])}
            self.public = list(catalogue.get("public", []))
            self._index = Index(self.store, generation, self.keyer, self.key_path)
        else:
            key = load_key(self.key_path) if self.key_path.exists() else new_key_file(self.key_path)
            self.keyer = Keyer(key)
        self.key_check = self.keyer.check_value

    # -- reading ----------------------------------------------------------------------------

    @property
    def index(self) -> Index:
        """The committed generation, read-only, for scanning."""
        if self._index is None:
            raise UsageError(f"the registry at {self.root} has nothing committed yet")
        return self._index

    @property
    def lexicon(self) -> Lexicon:
        if self._lexicon is None:
            if self._lexicon_name:
                self._lexicon = Lexicon.from_arrays(self.store.segment(self._lexicon_name, self.keyer).arrays)
            else:
                self._lexicon = Lexicon.build(self.keyer)
        return self._lexicon

    @property
    def features(self) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
        """Hashed word counts of every live registered version and public document (for `dlp train`)."""
        out = {}
        for record in self._live_records():
            if len(record.cl_bucket):
                out[record.key] = (np.asarray(record.cl_bucket), np.asarray(record.cl_count))
        return out

    def statistics(self) -> dict[str, int]:
        """Counts over the live generation's segments (for `dlp list`)."""
        if self._index is None:
            return {"segments": 0, "fingerprints": 0, "phrases": 0, "sentences": 0, "pairs": 0, "dead_owners": 0}
        return self._index.statistics()

    # -- documents --------------------------------------------------------------------------

    def add_document(self, text: str, raw: bytes, source: str, *, secret_id: str, label: str = "",
                     classification: str | None = None, owner: str = "", tags: Sequence[str] = ()) -> Registered:
        return self.add_documents([NewDocument(text, raw, source, secret_id)], label=label,
                                  classification=classification, owner=owner, tags=tags)[0]

    def add_documents(self, documents: Sequence[NewDocument], *, label: str = "", classification: str | None = None,
                      owner: str = "", tags: Sequence[str] = (), workers: int = 1) -> list[Registered]:
        """Register documents, in order, as `add_document` one after the other would.

        Their text is fingerprinted in batches (`fingerprint.batch`), in `workers` processes
        when there is enough of it; what depends on the registry (versions, families, the
        near-duplicates among them) is decided here, one document after the other.
        """
        digests = [self.keyer.digest(d.raw) for d in documents]
        known = self._known(d.secret_id for d in documents)
        todo = [i for i, (d, digest) in enumerate(zip(documents, digests)) if (d.secret_id, digest) not in known]
        wanted = set(todo)
        # the fingerprints they will add (winnowing keeps about one in 3.5 of some 6-character words)
        self._pending_fps.reserve(sum(len(documents[i].text) for i in todo) // 20)
        prepared = self._prepare([documents[i].text for i in todo], workers)  # in order, as they are ready
        asked = (label, classification, owner, tags)
        return [self._add_one(doc.secret_id, doc.source, len(doc.raw), digest, next(prepared) if i in wanted else None,
                              lambda: doc.text, *asked)
                for i, (doc, digest) in enumerate(zip(documents, digests))]

    def add_files(self, paths: Sequence[Path], secret_ids: Sequence[str],
                  read: Callable[[Path], tuple[str, bytes, list[Any]]], *, label: str = "",
                  classification: str | None = None, owner: str = "", tags: Sequence[str] = (),
                  workers: int = 1) -> list[Registered]:
        """`add_documents` of the files at `paths` under `secret_ids`, each read by `read` (its text,
        its bytes, the problems met) in the worker process that fingerprints it: text and bytes
        stay where they were read, only fingerprints, digests and sizes come here (reading in
        one pool and fingerprinting in another sent every text across processes twice).

        A file with problems, or an empty one, is not registered, and neither is any other:
        `FilesRefused` names them all, once every file was read.
        """
        known = self._known(secret_ids)
        sizes = [_file_size(path) for path in paths]
        pieces = parallel.chunks(sizes, BATCH_CHARS, BATCH_DOCS)
        if sum(sizes) < POOL_CHARS and len(paths) < parallel.FEW_FILES:
            workers = 1
        self._pending_fps.reserve(sum(sizes) // 20)
        asked = (label, classification, owner, tags)
        out: list[Registered] = []
        refused: list[tuple[Path, list[Any]]] = []
        batches = self._in_workers(_read_and_prepare, pieces, workers, read=read, paths=paths, ids=secret_ids,
                                   known=known)
        for piece, (heads, packed) in zip(pieces, batches):
            prepared = iter(unpack(packed) if packed is not None else ())
            for i, (digest, size, problems, wanted) in zip(piece, heads):
                if problems or not size:
                    refused.append((paths[i], problems))
                elif not refused:  # (else nothing of this edit is kept: the files are only read)
                    p = next(prepared) if wanted else None
                    out.append(self._add_one(secret_ids[i], paths[i].name, size, digest, p,
                                             lambda: read(paths[i])[0], *asked))
        if refused:
            raise FilesRefused(refused)
        return out

    def _known(self, secret_ids: Iterable[str]) -> set[tuple[str, str]]:
        """(id, digest) of the versions already registered under `secret_ids` (only theirs: a loop
        of add_document must not walk the whole catalogue each time)."""
        return {(sid, v.digest) for sid in set(secret_ids) if sid in self.secrets for v in self.secrets[sid].versions}

    def _add_one(self, secret_id: str, source: str, size: int, digest: str, p: Prepared | None,
                 text: Callable[[], str], label, classification, owner, tags) -> Registered:
        """One document of `add_documents` (`p`: its fingerprints, None when it was registered
        already; `text`: its text, should it need fingerprinting after all)."""
        existing = self.secrets.get(secret_id)
        if existing is not None and existing.kind != "document":
            raise UsageError(f"id {secret_id!r} is already a {existing.kind} secret")
        match = next((v for v in existing.versions if v.digest == digest), None) if existing else None
        if match is not None:
            status = "updated" if existing.relabel(label, classification, owner, tags) else "unchanged"
            return Registered(secret_id, match.version, status, source, match.tokens)
        if p is None:  # unchanged when asked, but its version was removed since in this edit
            p = next(self._prepare([text()], 1))
        return self._add_prepared(secret_id, source, size, digest, p, label, classification, owner, tags)

    def _prepare(self, texts: list[str], workers: int) -> Iterator[Prepared]:
        """The fingerprints of `texts`, in order, as the workers finish them."""
        if not texts:
            return
        pieces = parallel.chunks((len(t) for t in texts), BATCH_CHARS, BATCH_DOCS)
        if sum(len(t) for t in texts) < POOL_CHARS:
            workers = 1
        # the texts too: a worker is sent the numbers of its batch, not tens of megabytes of text
        for batch in self._in_workers(_prepare_texts, pieces, workers, texts=texts):
            yield from unpack(batch)

    def _in_workers(self, fn, pieces: list[range], workers: int, **state: Any) -> Iterator[Any]:
        """`parallel.ordered_map(fn, pieces)` with this registry's key and lexicon in the workers'
        state beside `state` (built here, before any fork: the workers inherit them)."""
        lexicon = self.lexicon
        if workers > 1:
            self.settle()  # no fork while a thread of ours writes a segment
        return parallel.ordered_map(fn, pieces, workers=workers, state={"keyer": self.keyer, "lexicon": lexicon, **state})

    def _add_prepared(self, secret_id: str, source: str, size: int, digest: str, p: Prepared, label, classification,
                      owner, tags) -> Registered:
        existing = self.secrets.get(secret_id)
        near = None
        fps = distinct(p.fp_hash)
        if existing is None:
            family, near = self._family_of_new(secret_id, fps)
            existing = self.secrets[secret_id] = Secret(secret_id, "document", label or secret_id,
                                                        classification or DEFAULT_CLASSIFICATION, owner, tuple(tags))
            status = "new"
        else:
            family = self._family_of_secret(secret_id)
            existing.relabel(label, classification, owner, tags)
            status = "version"
            # a new version that nearly equals another secret stays in its own family (a secret's
            # versions are one family), so the two count twice for boilerplate: say so
            other, near = self._family_of_new(secret_id, fps, exclude=secret_id)
            if near is None or other == family:
                near = None
        version = len(existing.versions) + 1
        extra: dict[str, Any] = {"fingerprints": int(len(p.fp_hash))}
        if near is not None:
            extra["near_duplicate_of"] = near
        existing.versions.append(Version(version, digest, p.tokens, time.time(), source, extra))
        self._added.append(_Added(secret_id, version, family, fps))
        self._pending.append(seg.OwnerRecord(
            secret_id, version, "document", p.tokens, family, int(digest[:16], 16), size, p.fp_hash,
            p.fp_pos, p.all_sh32, p.rewrite, cl_bucket=p.cl_bucket, cl_count=p.cl_count))
        self._pending_bytes += p.nbytes
        if self._pending_bytes >= FLUSH_BYTES:
            self._flush()
        return Registered(secret_id, version, status, source, p.tokens, near)

    def add_public(self, text: str, raw: bytes, source: str) -> Registered:
        digest = self.keyer.digest(raw)
        tokens = tokenise(text)
        values = self.keyer.tokens(tokens)
        if any(p["digest"] == digest for p in self.public):
            return Registered("public", 0, "unchanged", source, int(len(values)))
        record = rewrite_record(tokens, values, self.lexicon)
        buckets, counts = hashed_counts(values)
        self._pending.append(seg.OwnerRecord(
            f"public:{digest}", 0, "public", int(len(values)), self._family_key(f"public:{digest}"),
            fp_hash=distinct(shingles(values)), rewrite=record, cl_bucket=buckets, cl_count=counts))
        self.public.append({"digest": digest, "source": source, "tokens": int(len(values)), "registered": time.time()})
        return Registered("public", 0, "public", source, int(len(values)))

    # -- term sets and record lists ---------------------------------------------------------

    def add_terms(self, set_id: str, lines: Iterable[str], *, label: str = "", classification: str | None = None,
                  min_distinct: int = 1, raw: bytes = b"", source: str = "") -> Registered:
        numbered = [(n, line) for n, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
        phrases = _phrases([line for _, line in numbered], self.keyer)
        keep = [i for i, p in enumerate(phrases) if len(p)]
        if not keep:
            raise UsageError(f"term set {set_id!r}: the file has no terms (one per line)")
        keyed = [phrases[i] for i in keep]
        lines = [numbered[i][0] for i in keep]  # line numbers: evidence names lines
        # a term of several words is also registered as written without spaces (PROJECTHALCYON)
        forms = glued_forms([numbered[i][1] for i in keep])
        glued = [(line, form) for line, form in zip(lines, forms) if form is not None]
        keyed += _phrases([form for _, form in glued], self.keyer)
        rows = np.array(lines + [line for line, _ in glued], dtype=np.uint32)
        cols = np.zeros(len(keyed), dtype=np.uint16)
        out = self._add_phrases(set_id, "terms", keyed, rows, cols, raw, source, label, classification,
                                {"min_distinct": int(min_distinct)}, {"terms": len(lines)})
        return replace(out, tokens=len(lines))

    def add_records(self, name: str, text: str, *, columns: Sequence[str] | None = None, min_fields: int = 2,
                    label: str = "", classification: str | None = None, raw: bytes = b"", source: str = "") -> Registered:
        """A record list from CSV text. `columns` names the columns to match, each optionally with its
        type (``phone``, ``name:name``; see `fingerprint.fields`); a column without one gets a type
        guessed from its name and values."""
        if min_fields < 1:
            raise UsageError("--min-fields must be at least 1")
        reader = csv.reader(io.StringIO(text))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise UsageError(f"records {name!r}: the CSV file is empty") from None
        body = list(reader)
        lowered = [h.lower() for h in header]
        wanted = fields.parse_columns(",".join(columns)) if columns else [(h, None) for h in header]
        missing = [c for c, _ in wanted if c.lower() not in lowered]
        if missing:
            raise UsageError(f"records {name!r}: no column named {', '.join(missing)} (columns: {', '.join(header)})")
        chosen = [lowered.index(c.lower()) for c, _ in wanted]
        types = [kind or fields.guess_type(header[c], [row[c] for row in body[:200] if c < len(row)])
                 for (_, kind), c in zip(wanted, chosen)]
        cells, rows, cols = [], [], []
        typed: list[tuple[int, int, int]] = []  # (hash, row, column)
        name_words, joined_chars = [], []
        for ci, c in enumerate(chosen):
            present = [(r, record[c]) for r, record in enumerate(body) if c < len(record) and record[c].strip()]
            if types[ci] in ("text", "email"):
                for r, value in present:
                    cells.append(value)
                    rows.append(r)
                    cols.append(ci)
                continue
            column = fields.typed_column(types[ci], [v for _, v in present], self.keyer)
            typed.extend((h, r, ci) for (r, _), hs in zip(present, column.hashes) for h in hs)
            name_words.append(column.name_words)
            joined_chars.append(column.joined_chars)
        phrases = _phrases(cells, self.keyer, min_chars=MIN_RECORD_CHARS)
        keep = [i for i, p in enumerate(phrases) if len(p)]
        if not keep and not typed:
            raise UsageError(f"records {name!r}: no usable field values in the CSV file")
        settings = {"min_fields": int(min_fields), "columns": [header[c] for c in chosen], "types": types}
        return self._add_phrases(name, "records", [phrases[i] for i in keep],
                                 np.array([rows[i] for i in keep], dtype=np.uint32),
                                 np.array([cols[i] for i in keep], dtype=np.uint16), raw, source, label, classification,
                                 settings, {"rows": len(body), "fields": len(keep) + len(typed)}, typed=typed,
                                 name_words=distinct(np.concatenate(name_words)) if name_words else None,
                                 joined_chars=distinct(np.concatenate(joined_chars)) if joined_chars else None)

    def _add_phrases(self, sid, kind, keyed: list[np.ndarray], rows, cols, raw, source, label, classification,
                     settings, extra, typed: Sequence[tuple[int, int, int]] = (), name_words=None,
                     joined_chars=None) -> Registered:
        existing = self.secrets.get(sid)
        if existing is not None and existing.kind != kind:
            raise UsageError(f"id {sid!r} is already a {existing.kind} secret")
        lengths = np.array([len(k) for k in keyed], dtype=np.int64)
        digest = self.keyer.digest(raw or b"".join(k.tobytes() for k in keyed) + lengths.tobytes() + repr(typed).encode())
        if existing is not None and existing.latest.digest == digest and existing.settings == settings:
            status = "updated" if existing.relabel(label, classification) else "unchanged"
            return Registered(sid, existing.latest.version, status, source, len(keyed) + len(typed))
        if existing is None:
            existing = self.secrets[sid] = Secret(sid, kind, label or sid, classification or DEFAULT_CLASSIFICATION,
                                                  "", (), [], settings)
            status = "new"
        else:
            existing.relabel(label, classification)
            existing.settings = settings
            status = "version"
            # a term set or record list is replaced as a whole: only the latest version is matched
            for old in existing.versions:
                self._kill(sid, old.version)
        version = len(existing.versions) + 1
        existing.versions.append(Version(version, digest, int(lengths.sum()), time.time(), source, extra))
        hashes = np.zeros(len(keyed), dtype=np.uint64)
        for length in distinct(lengths).tolist():
            which = np.flatnonzero(lengths == length)
            block = np.stack([keyed[i] for i in which.tolist()]).astype(np.uint64)
            hashes[which] = seg.ngram_hashes(block.reshape(-1), np.arange(len(which)) * length, length)
        firsts = np.array([k[0] for k in keyed], dtype=np.uint64)
        typed_h = np.array([t[0] for t in typed], dtype=np.uint64)
        self._pending.append(seg.OwnerRecord(
            sid, version, kind, int(lengths.sum()), self._family_key(sid),
            ph_hash=np.concatenate((hashes, typed_h)),
            ph_row=np.concatenate((rows, np.array([t[1] for t in typed], dtype=np.uint32))),
            ph_col=np.concatenate((cols, np.array([t[2] for t in typed], dtype=np.uint16))),
            ph_len=np.concatenate((lengths, np.zeros(len(typed), dtype=np.int64))).astype(np.uint8),
            ph_first=distinct(firsts), field_types=tuple(sorted(set(settings.get("types", ())) - {"text", "email"})),
            name_words=name_words if name_words is not None else np.zeros(0, dtype=np.uint64),
            joined_chars=joined_chars if joined_chars is not None else np.zeros(0, dtype=np.uint8)))
        return Registered(sid, version, status, source, len(keyed) + len(typed))

    # -- removal ------------------------------------------------------------------------------

    def remove(self, sid: str) -> Secret:
        secret = self.secrets.pop(sid, None)
        if secret is None:
            raise UsageError(f"no secret with id {sid!r} (see `dlp list`)")
        for v in secret.versions:
            self._kill(sid, v.version)
        return secret

    def _kill(self, sid: str, version: int) -> None:
        if any(r.key == (sid, version) for r in self._pending):
            self._pending = [r for r in self._pending if r.key != (sid, version)]
        for i, added in enumerate(self._added):
            if added is not None and (added.secret, added.version) == (sid, version):
                self._added[i] = None  # no longer compared with: see `_family_of_new`
        where = self._where().get((sid, version))
        if where is not None:
            self._dead.setdefault(where[0], set()).add(where[1])

    def _where(self) -> dict[tuple[str, int], tuple[str, int]]:
        """(secret, version) -> (segment, local owner) of the committed owners."""
        self.settle()
        if self._where_cache is None:
            out = {}
            for name in self._segments:
                for local, (sid, version, *_kind) in enumerate(self.store.segment(name, self.keyer).owners):
                    out[(sid, int(version))] = (name, local)
            self._where_cache = out
        return self._where_cache

    # -- committing ---------------------------------------------------------------------------

    def commit(self) -> int:
        self._write_lexicon()
        self._flush()
        self.settle()
        self._merge(self._merge_plan())
        return self._publish()

    def _flush(self) -> None:
        """Write the pending records as a segment of this edit (listed by no generation until
        `commit` publishes one: a crash before leaves the old generation, and `Store.prune`
        removes the segment). A bulk registration holds at most `FLUSH_BYTES` of records.

        The segment is built and written by a thread while registration goes on (NumPy's sorts
        run outside the GIL): one at a time, and `settle` waits for it before anything reads
        the list of segments."""
        self.settle()
        if not self._pending:
            return
        self._write_lexicon()
        records, lexicon, outcome = self._pending, self.lexicon, []
        self._pending, self._pending_bytes = [], 0

        def build() -> None:
            try:
                writer = self.store.segment_writer(self.keyer)  # each part written as soon as it is built
                try:
                    meta, _ = seg.build(records, lexicon, ready=writer.add)
                except BaseException:
                    writer.abandon()
                    raise
                outcome.append(writer.finish(meta))
            except BaseException as exc:  # handed to the thread that settles
                outcome.append(exc)

        thread = threading.Thread(target=build, name="dlp-segment", daemon=True)
        thread.start()
        self._flushing = (thread, outcome)

    def flush(self) -> None:
        """Start writing what is pending as a segment of this edit, in the background: a bulk
        registration does so before it looks for new boilerplate, so the two overlap. `commit`
        waits for it."""
        self._flush()

    def _write_lexicon(self) -> None:
        if self._lexicon_name is None:
            spacing_meta, spacing_arrays = spacing.stored()  # the word table of the tokeniser, parsed once here
            self._lexicon_name = self.store.write_segment({"kind": "lexicon", "owners": [], **spacing_meta},
                                                          {**self.lexicon.arrays(), **spacing_arrays}, self.keyer)

    def settle(self) -> None:
        """Wait for the segment being written in the background, and list it (or raise its error)."""
        if self._flushing is None:
            return
        thread, outcome = self._flushing
        thread.join()
        self._flushing = None
        if not outcome or isinstance(outcome[0], BaseException):
            raise outcome[0] if outcome else StoreError(f"registry {self.root}: a segment was not written")
        self._segments.append(outcome[0])
        self._flushed.append(outcome[0])
        self._where_cache = None

    def compact(self) -> int:
        """Merge every segment into one, leaving out removed and replaced versions."""
        self.settle()
        if self._pending:
            self.commit()
        if len(self._segments) > 1 or any(self._dead.get(name) for name in self._segments):
            self._merge([list(self._segments)])
        return self._publish()

    def _publish(self) -> int:
        self._dead = {name: owners for name, owners in self._dead.items() if name in self._segments and owners}
        manifest = {
            "key_check": self.key_check,
            "settings": self.settings,
            "segments": list(self._segments),
            "lexicon_segment": self._lexicon_name,
            "dead": {name: sorted(owners) for name, owners in self._dead.items()},
            "written": time.time(),
            "change": self.change,  # recovery reads it: did an interrupted change reach the registry?
        }
        catalogue = {"secrets": [s.to_dict() for s in self.secrets.values()], "public": self.public}
        self._where_cache = None
        self._pending_fps, self._added, self._flushed = PendingFingerprints(), [], []
        self.generation = self.store.publish(manifest, catalogue, self.keyer)
        generation = self.store.read(self.keyer)
        self.manifest = generation.manifest
        self._index = Index(self.store, generation, self.keyer, self.key_path)
        return self.generation

    def _segment_bytes(self, name: str) -> int:
        return sum(int(a["bytes"]) for a in self.store.segment(name, self.keyer).meta.get("arrays", {}).values())

    def _merge_plan(self) -> list[list[str]]:
        """Groups of segments to merge now: `MERGE_FACTOR` of one size tier, small enough to merge inline;
        and small segments that are mostly dead."""
        tiers: dict[int, list[str]] = {}
        plan = []
        for name in self._segments:
            owners = len(self.store.segment(name, self.keyer).owners)
            dead = len(self._dead.get(name, ()))
            size = self._segment_bytes(name)
            if owners and dead * 2 > owners and size <= INLINE_MERGE_BYTES:
                plan.append([name])
                continue
            tier = int(math.log(max(size, TIER_BASE_BYTES) / TIER_BASE_BYTES, MERGE_FACTOR))
            tiers.setdefault(tier, []).append(name)
        for names in tiers.values():
            while len(names) >= MERGE_FACTOR:
                group, names = names[:MERGE_FACTOR], names[MERGE_FACTOR:]
                if sum(self._segment_bytes(n) for n in group) <= INLINE_MERGE_BYTES:
                    plan.append(group)
        return plan

    def _merge(self, plan: list[list[str]]) -> None:
        for group in plan:
            records = []
            for name in group:
                segment = self.store.segment(name, self.keyer)
                keep = np.ones(len(segment.owners), dtype=bool)
                for local in self._dead.get(name, ()):
                    keep[local] = False
                records.extend(seg.decode(dict(segment.meta), dict(segment.arrays), keep))
            position = self._segments.index(group[0])
            remaining = [n for n in self._segments if n not in group]
            if records:
                meta, arrays = seg.build(records, self.lexicon)
                remaining.insert(min(position, len(remaining)), self.store.write_segment(meta, arrays, self.keyer))
            for name in group:
                self._dead.pop(name, None)
            self._segments = remaining
            self._where_cache = None

    # -- families -----------------------------------------------------------------------------

    def _family_key(self, sid: str) -> int:
        return int(self.keyer.digest(sid.encode("utf-8", "surrogateescape"), person=b"dlp-family")[:16], 16)

    def _family_of_secret(self, sid: str) -> int:
        for record in reversed(self._pending):
            if record.secret == sid:
                return record.family
        where = self._where()
        for version in reversed(self.secrets[sid].versions):
            found = where.get((sid, version.version))
            if found is not None:
                return int(self.store.segment(found[0], self.keyer).get("owner_family")[found[1]])
        return self._family_key(sid)

    def _family_of_new(self, sid: str, fps: np.ndarray, exclude: str | None = None) -> tuple[int, str | None]:
        """A new document's family: that of a registered document it nearly equals, else its own
        (`fps`: its distinct fingerprints, sorted; `exclude`: a secret whose versions do not count).
        Its fingerprints are then pending, as those of the next document added (`_added`)."""
        if len(fps) == 0:
            return self._family_key(sid), None
        best: tuple[float, int, str] | None = None
        for segment, _, owner in self._stored(fps):
            owners, shared = np.unique(owner, return_counts=True)
            owner_fps = segment.get("owner_fps", np.uint32)
            for local, n in zip(owners.tolist(), shared.tolist()):
                if exclude is not None and segment.owners[local][0] == exclude:
                    continue
                score = n / max(1, min(len(fps), int(owner_fps[local])))  # the smaller one, contained
                if score >= NEAR_DUPLICATE and (best is None or score > best[0]):
                    family = int(segment.get("owner_family")[local])
                    best = (score, family, segment.owners[local][0])
        # the documents this edit added, compared the same way (the first of equal scores wins, as
        # among committed documents: the oldest); scored at once, only those near enough looked at
        pending = self._pending_fps
        documents, counts = pending.shared(fps, then_add=len(self._added))
        scores = counts / np.maximum(1, np.minimum(len(fps), pending.sizes[documents]))
        near = scores >= NEAR_DUPLICATE
        for i, score in zip(documents[near].tolist(), scores[near].tolist()):
            record = self._added[i] if i < len(self._added) else None
            if record is None or record.secret == sid:
                continue
            if best is None or score > best[0]:
                best = (score, record.family, record.secret)
        if best is None:
            return self._family_key(sid), None
        return best[1], best[2]

    def _stored(self, fps: np.ndarray) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
        """(segment, index into `fps`, local owner) of every live registered fingerprint among `fps`
        (in segments committed before this edit: its own documents are in `_added`)."""
        for name in self._segments:
            if name in self._flushed:
                continue
            segment = self.store.segment(name, self.keyer)
            cand, lo, counts = bitmap.lookup(segment.get("doc_hash"), segment.get("doc_bits", np.uint8), fps)
            if len(cand) == 0:
                continue
            qidx, entries = bitmap.expand(cand, lo, counts)
            local = segment.arrays["doc_owner"][entries].astype(np.int64)
            dead = self._dead.get(name)
            if dead:
                alive = ~np.isin(local, np.fromiter(dead, dtype=np.int64))
                qidx, local = qidx[alive], local[alive]
            yield segment, qidx, local

    def new_boilerplate(self) -> dict[str, tuple[int, tuple[str, ...]]]:
        """What the pending documents turn into boilerplate: per pending secret, the fingerprints
        it holds that `boilerplate_docs` or more families now store, and the other secrets that
        share them. A passage quoted in enough registered documents stops being evidence for
        all of them: registration says so, so nobody whitelists a passage without knowing."""
        docs = [r for r in self._added if r is not None and len(r.fps)]
        if not docs:
            return {}
        needed = int(self.settings.get("boilerplate_docs", DEFAULT_BOILERPLATE_DOCS))
        values = [r.fps for r in docs]
        fps = np.concatenate(values)
        families = np.repeat(np.array([r.family for r in docs], dtype=np.uint64), [len(v) for v in values])
        who: dict[int, str] = {r.family: r.secret for r in reversed(docs)}
        if any(name not in self._flushed for name in self._segments):  # stored before this edit
            wanted = distinct(fps)
            for segment, qidx, local in self._stored(wanted):
                found = segment.get("owner_family")[local].astype(np.uint64)
                fps = np.concatenate([fps, wanted[qidx]])
                families = np.concatenate([families, found])
                for family, i in zip(found.tolist(), local.tolist()):
                    who.setdefault(family, segment.owners[i][0])
        # a fingerprint held `needed` times or more, whatever the families, may be common: only
        # those (a few in millions) are counted by family
        ranked = np.sort(fps)
        starts = np.flatnonzero(run_starts(ranked))
        often = ranked[starts][np.diff(np.append(starts, len(ranked))) >= needed]
        maybe = among(fps, often)
        pairs = distinct_pairs(fps[maybe], families[maybe])  # (fingerprint, family) once each, sorted
        starts = np.flatnonzero(run_starts(pairs[0]))
        per_value = np.diff(np.append(starts, pairs.shape[1]))
        common = pairs[0][starts][per_value >= needed]
        out: dict[str, tuple[int, tuple[str, ...]]] = {}
        if len(common) == 0:
            return out
        # one pass over every pending fingerprint, not one per document: which are common,
        # and per document how many (a registration of 10,000 documents spent 25 s here)
        offsets = np.cumsum([0] + [len(v) for v in values])
        is_common = among(fps[: offsets[-1]], common)
        per_doc = np.add.reduceat(is_common.astype(np.int64), offsets[:-1]) if len(is_common) else offsets[1:] * 0
        held = pairs[:, among(pairs[0], common)]  # sorted by fingerprint (np.unique along axis 1)
        # every (document reported, family holding one of its common fingerprints) at once, the
        # families numbered in the order of their secrets' names
        reported = np.flatnonzero(per_doc >= BOILERPLATE_REPORT)
        at = np.flatnonzero(is_common & np.repeat(per_doc >= BOILERPLATE_REPORT, np.diff(offsets)))
        doc = np.searchsorted(offsets, at, side="right") - 1
        lo, hi = np.searchsorted(held[0], fps[at], "left"), np.searchsorted(held[0], fps[at], "right")
        which, entry = bitmap.expand(np.arange(len(at)), lo, hi - lo)
        holders, number = np.unique(held[1], return_inverse=True)
        names = [who.get(f, "?") for f in holders.tolist()]
        ordered = sorted(set(names))  # two families may show one name: it is said once
        name_number = {name: i for i, name in enumerate(ordered)}
        by_name = np.array([name_number[name] for name in names], dtype=np.int64)
        ordered = np.array(ordered, dtype=object)
        own_family = np.array([r.family for r in docs], dtype=np.uint64)
        own = np.minimum(np.searchsorted(holders, own_family), max(len(holders) - 1, 0))
        own = np.where(holders[own] == own_family, own, -1) if len(holders) else np.full(len(docs), -1)
        other = number[entry] != own[doc[which]]
        couples = distinct((doc[which][other].astype(np.int64) << 32) | by_name[number[entry][other]])
        bounds = np.searchsorted(couples >> 32, reported)
        ends = np.append(bounds[1:], len(couples))
        for d, a, b in zip(reported.tolist(), bounds.tolist(), ends.tolist()):
            out[docs[d].secret] = (int(per_doc[d]), tuple(ordered[couples[a:b] & 0xFFFFFFFF].tolist()))
        return out

    def _live_records(self) -> list[seg.OwnerRecord]:
        self.settle()
        records = []
        for name in self._segments:
            segment = self.store.segment(name, self.keyer)
            keep = np.ones(len(segment.owners), dtype=bool)
            for local in self._dead.get(name, ()):
                keep[local] = False
            records.extend(seg.decode(dict(segment.meta), dict(segment.arrays), keep))
        return records + list(self._pending)


def warm_up(root: Path) -> None:
    """Build, before the registry at `root` is opened, what registering documents into it will need:
    the English table the lexicon of a new registry is keyed from (two seconds of JSON and
    Python; `dlp register` does it while its workers read the files)."""
    if not (Path(root) / "CURRENT").exists():
        english()
        spacing.warm()  # the tokeniser's word table, parsed once here for every worker (and stored at commit)


def _read_and_prepare(batch: range) -> tuple[list[tuple[str, int, list[Any], bool]], dict[str, np.ndarray] | None]:
    """Read a batch of the files of `Registry.add_files` and fingerprint those to register (in a
    worker process, or here): per file (digest, size, problems, whether fingerprinted), and the
    fingerprints packed to travel back."""
    read, paths, ids, known, keyer = (parallel.state(name) for name in ("read", "paths", "ids", "known", "keyer"))
    heads, texts = [], []
    for i in batch:
        text, raw, problems = read(paths[i])
        usable = bool(raw) and not problems
        digest = keyer.digest(raw) if usable else ""
        wanted = usable and (ids[i], digest) not in known
        heads.append((digest, len(raw), list(problems), wanted))
        if wanted:
            texts.append(text)
    return heads, (_fingerprinted(texts) if texts else None)


def _file_size(path: Path) -> int:
    """Bytes of a file, to make batches of (0 if it cannot be asked: reading it will say why)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _prepare_texts(batch: range) -> dict[str, np.ndarray]:
    """Fingerprint a batch of the texts (in a worker process, or here), packed to travel back."""
    texts = parallel.state("texts")
    return _fingerprinted([texts[i] for i in batch])


def _fingerprinted(texts: list[str]) -> dict[str, np.ndarray]:
    """`prepare` of texts under the workers' key and lexicon, packed to travel back."""
    return pack(prepare(tokenise_many(texts), parallel.state("keyer"), parallel.state("lexicon")))


def _phrases(texts: list[str], keyer: Keyer, min_chars: int = 0) -> list[np.ndarray]:
    """Keyed token values of each text (a term, a field value), tokenised as one text.

    A value whose tokens add up to fewer than `min_chars` normalised characters is empty.
    """
    if not texts:
        return []
    toks, line = tokenise_lines(texts)
    values = keyer.tokens(toks)
    bounds = np.searchsorted(line, np.arange(len(texts) + 1))
    chars = np.concatenate(([0], np.cumsum(toks.lengths)))
    out = []
    for i in range(len(texts)):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        if hi == lo or int(chars[hi] - chars[lo]) < min_chars:
            out.append(np.zeros(0, dtype=np.uint64))
        else:
            out.append(values[lo:hi])
    return out


def slug(name: str) -> str:
    stem = Path(name).stem if "." in Path(name).name else Path(name).name
    out = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return out or "secret"


@contextlib.contextmanager
def editing(root: Path, key_path: Path | None = None) -> Iterator[Registry]:
    """The registry at `root` (created if absent) under the writer lock; call `commit()` to keep changes."""
    with Store(Path(root), versions=store_versions()).lock():
        registry = Registry(root, key_path, create=True)
        try:
            yield registry
        finally:  # no segment is written after the lock is let go
            flushing, registry._flushing = registry._flushing, None
            if flushing is not None:
                flushing[0].join()
