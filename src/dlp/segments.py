"""What one segment of the registry holds, owner by owner, and how it becomes arrays.

An *owner* is one registered version: a document, a term set, a record list, or a piece
of public content. `OwnerRecord` is everything the detectors need of it, as keyed values
only. `build` turns a list of records into a segment's metadata and arrays (sorted
indexes and their bitmaps, concatenated per-owner rows); `decode` turns a stored
segment back into records, so merging segments is decoding the live owners of several
and building one.

Arrays of a segment (all optional; absent when empty):

====================  ==========================================================
``owner_*``           per owner: tokens, family key, fingerprint count
``doc_hash/owner/pos``  winnowed shingle fingerprints, sorted by hash; ``doc_bits``
``doc_all``           every shingle of every document (top 32 bits, CSR ``doc_all_ptr``):
                      runs are extended to their true ends, never guessed from picks
``exact_key/owner``   keyed file digests (first 64 bits), for byte-identical copies
``exact_size``        the length of each of those files (no digest is computed for an item of another length)
``pub_hash/owner``    every shingle of public content
``rw_*``              sentence vectors (CSR: ``rw_ptr``, ``rw_cols``, ``rw_weights``),
                      rows per owner ``rw_owner``, sentence signatures ``rw_sig`` (and
                      sorted: ``rw_sig_sorted``, ``rw_sig_row``)
``rp_*``              rare-lemma pair signatures of sentences: distinct hashes ``rp_hash``
                      (``rp_bits``), their sentences ``rp_sent`` (CSR ``rp_ptr``) and how
                      many families share each within the segment ``rp_fam``
``rw_lemmas``         the rare lemmas of the segment, and ``rw_tab_key``/``rw_tab_val``:
                      a hash table from every word form of them to the packed lemma
                      (``rw_tab_bits``: its bitmap)
``pub_sig``/``pub_pair``  sentence and pair signatures of public content
``ph_*``              term and record phrases as hashed token n-grams, sorted; first
                      tokens ``ph_first`` (``ph_first_bits``) and lengths ``ph_lengths``;
                      ``ph_rowkey``/``ph_rowentry``: the entries of each record row;
                      typed fields: words of names ``nm_words`` (``nm_bits``) and
                      lengths of phone and id values ``jc_chars``
``cl_*``              hashed word counts per owner (classifier training)
====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from . import speedups
from .arrays import Joined, distinct, distinct_pairs, gather, run_starts, stable_argsort, stable_sort
from .fingerprint import bitmap
from .fingerprint.lexicon import Lexicon
from .fingerprint import table
from .fingerprint.rewrite import RewriteRecord, SentenceVectors, pack_lemma
from .fingerprint.shingles import fmix64

_U64 = np.uint64
_EMPTY_U64 = np.zeros(0, dtype=np.uint64)


def _zeros(dtype) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass
class OwnerRecord:
    secret: str
    version: int
    kind: str  # document | terms | records | public
    tokens: int = 0
    family: int = 0
    exact: int = 0  # first 64 bits of the keyed digest of the registered file (documents)
    exact_size: int = 0  # its length in bytes (a scanned item of another length is no copy of it)
    fp_hash: np.ndarray = field(default_factory=lambda: _zeros(np.uint64))  # documents: winnowed; public: all
    fp_pos: np.ndarray = field(default_factory=lambda: _zeros(np.uint32))
    all_sh32: np.ndarray = field(default_factory=lambda: _zeros(np.uint32))  # documents: every shingle, 32 bits
    rewrite: RewriteRecord | None = None
    ph_hash: np.ndarray = field(default_factory=lambda: _zeros(np.uint64))
    ph_row: np.ndarray = field(default_factory=lambda: _zeros(np.uint32))
    ph_col: np.ndarray = field(default_factory=lambda: _zeros(np.uint16))
    ph_len: np.ndarray = field(default_factory=lambda: _zeros(np.uint8))
    ph_first: np.ndarray = field(default_factory=lambda: _zeros(np.uint64))
    cl_bucket: np.ndarray = field(default_factory=lambda: _zeros(np.uint32))
    cl_count: np.ndarray = field(default_factory=lambda: _zeros(np.float32))
    field_types: tuple[str, ...] = ()  # typed record columns (phone, id, name, date): their entries have ph_len 0
    name_words: np.ndarray = field(default_factory=lambda: _zeros(np.uint64))  # keyed words of registered names
    joined_chars: np.ndarray = field(default_factory=lambda: _zeros(np.uint8))  # lengths of phone/id values

    @property
    def key(self) -> tuple[str, int]:
        return self.secret, self.version


# -- phrases as hashed n-grams ----------------------------------------------------------------

_NGRAM_MIX = np.uint64(0x9E3779B97F4A7C15)
_LENGTH_MIX = np.uint64(0xC2B2AE3D27D4EB4F)


def ngram_hashes(values: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Hash of the `length` keyed values from each start: the phrase hash terms and records use."""
    with np.errstate(over="ignore"):
        h = values[starts].astype(np.uint64, copy=True)
        for j in range(1, length):
            h *= _NGRAM_MIX
            h += values[starts + j]
        return fmix64(h ^ (np.uint64(length) * _LENGTH_MIX))


def ngram_hashes_of_lengths(values: np.ndarray, starts: np.ndarray, lengths: list[int]):
    """`ngram_hashes` for every length in `lengths` at once, from each start where it fits:
    (hashes, starts, lengths), one prefix pass and one finaliser for all of them."""
    n = len(values)
    out_h, out_s, out_l = [], [], []
    with np.errstate(over="ignore"):
        h = values[starts].astype(np.uint64, copy=True)
        done = 1
        for length in sorted(lengths):
            fits = starts + length <= n  # fewer as the length grows
            if not fits.all():
                h, starts = h[fits], starts[fits]
            while done < length:
                h *= _NGRAM_MIX
                h += values[starts + done]
                done += 1
            out_h.append(h ^ (np.uint64(length) * _LENGTH_MIX))
            out_s.append(starts)
            out_l.append(np.full(len(starts), length, dtype=np.int64))
    if not out_h:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return fmix64(np.concatenate(out_h), in_place=True), np.concatenate(out_s), np.concatenate(out_l)


def phrase_hash(values: tuple[int, ...] | np.ndarray) -> int:
    array = np.asarray(values, dtype=np.uint64)
    return int(ngram_hashes(array, np.zeros(1, dtype=np.int64), len(array))[0])


# -- building ---------------------------------------------------------------------------------


BUILD_THREADS = 2  # the parts of a segment are independent: NumPy sorts them outside the GIL


def build(records: list[OwnerRecord], lexicon: Lexicon,
          ready: Callable[[dict[str, np.ndarray]], None] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Segment metadata and arrays for `records` (in owner order).

    The parts (document fingerprints, sentence pairs, rare lemmas, phrases, classifier counts)
    are built on `BUILD_THREADS` threads: a bulk registration builds its segment while the other
    core is otherwise idle. `ready` is given the arrays of each part as soon as it is built (a
    `SegmentWriter` writes them while the other parts are still being built). Arrays that
    are only every owner's values one after the other are `Joined`: written part by part,
    never copied into one."""
    n = len(records)
    arrays: dict[str, np.ndarray] = {
        "owner_tokens": np.array([r.tokens for r in records], dtype=np.uint32),
        "owner_family": np.array([r.family for r in records], dtype=np.uint64),
    }
    if ready is not None:
        ready(_stored(arrays))
    # the longest first; then the classifier's counts, nothing to build but the most bytes to
    # hash and write, so the writer has them while the rest are still sorted
    parts = [lambda: _pair_arrays(records, arrays["owner_family"]), lambda: _classifier_arrays(records),
             lambda: _doc_arrays(records), lambda: _sentence_arrays(records),
             lambda: _lemma_arrays(records, lexicon), lambda: _phrase_arrays(records)]

    def part_built(more: dict[str, np.ndarray]) -> None:
        if ready is not None:
            ready(_stored(more))
        arrays.update(more)

    if sum(len(r.fp_hash) for r in records) < (1 << 16):  # small: threads would cost more than they save
        for part in parts:
            part_built(part())
    else:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(BUILD_THREADS, thread_name_prefix="dlp-build") as pool:
            for done in as_completed([pool.submit(part) for part in parts]):
                part_built(done.result())
    meta = {
        "kind": "data",
        "owners": [[r.secret, r.version, r.kind, list(r.field_types)] for r in records],
        "field_types": sorted({t for r in records for t in r.field_types}),
        "counts": {"owners": n, "fingerprints": int(len(arrays["doc_hash"])),
                   "phrases": int(len(arrays.get("ph_hash", ()))),
                   "sentences": int(len(arrays["rw_ptr"]) - 1), "pairs": int(len(arrays["rp_sent"]))},
    }
    return meta, _stored(arrays)


def _stored(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays a segment stores: empty ones are left out, but for the pointers readers index."""
    return {k: v for k, v in arrays.items() if len(v) or k in ("cl_ptr", "rw_ptr", "rw_owner", "doc_all_ptr")}


def _owner_of(parts: list[np.ndarray]) -> np.ndarray:
    """The owner (index in `parts`) of every entry of the concatenated parts."""
    return np.repeat(np.arange(len(parts), dtype=np.uint32), [len(p) for p in parts]) if parts else _zeros(np.uint32)


def _doc_arrays(records: list[OwnerRecord]) -> dict[str, np.ndarray | Joined]:
    n = len(records)
    docs = [r.fp_hash if r.kind == "document" else _EMPTY_U64 for r in records]
    h = np.concatenate(docs) if docs else _EMPTY_U64
    pos = np.concatenate([r.fp_pos if r.kind == "document" else _zeros(np.uint32) for r in records]) if n else _zeros(np.uint32)
    own = _owner_of(docs)
    ranked, order = stable_sort(h)
    arrays = dict(doc_hash=ranked.astype(np.uint64, copy=False), doc_owner=gather(own, order),
                  doc_pos=gather(pos, order).astype(np.uint32, copy=False), owner_fps=np.array([len(d) for d in docs], dtype=np.uint32))
    arrays["doc_bits"] = bitmap.build(arrays["doc_hash"], bitmap.bits_for(len(h)))
    every = [r.all_sh32 if r.kind == "document" else _zeros(np.uint32) for r in records]
    arrays.update(doc_all=Joined(every, np.uint32),
                  doc_all_ptr=np.concatenate(([0], np.cumsum([len(e) for e in every]))).astype(np.int64))

    exact = [(r.exact, i) for i, r in enumerate(records) if r.exact]
    exact.sort()
    arrays.update(exact_key=np.array([e for e, _ in exact], dtype=np.uint64),
                  exact_owner=np.array([i for _, i in exact], dtype=np.uint32),
                  exact_size=np.array([records[i].exact_size for _, i in exact], dtype=np.uint64))

    pubs = [r.fp_hash if r.kind == "public" else _EMPTY_U64 for r in records]
    _sorted_pair(arrays, "pub_hash", "pub_owner", pubs)
    return arrays


def _classifier_arrays(records: list[OwnerRecord]) -> dict[str, np.ndarray | Joined]:
    buckets = [r.cl_bucket for r in records]
    return dict(cl_bucket=Joined(buckets, np.uint32), cl_count=Joined([r.cl_count for r in records], np.float32),
                cl_ptr=np.concatenate(([0], np.cumsum([len(b) for b in buckets]))).astype(np.int64))


def _sorted_pair(arrays: dict, value_name: str, owner_name: str, parts: list[np.ndarray]) -> None:
    values = np.concatenate(parts).astype(np.uint64, copy=False) if parts else _EMPTY_U64
    owners = _owner_of(parts)
    ranked, order = stable_sort(values)
    arrays[value_name], arrays[owner_name] = ranked, gather(owners, order)


def _owner_rows(records: list[OwnerRecord]) -> np.ndarray:
    """The first sentence row of every owner, and the end (public and rewrite-less owners have none)."""
    sizes = [len(r.rewrite.vectors) if r.rewrite is not None and r.kind != "public" else 0 for r in records]
    return np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)


def _sentence_arrays(records: list[OwnerRecord]) -> dict[str, np.ndarray | Joined]:
    """Sentence vectors and signatures of the registered versions, and the public signatures."""
    arrays: dict[str, np.ndarray] = {}
    ptrs, cols, weights, sigs, base_col = [np.zeros(1, dtype=np.int64)], [], [], [], 0
    public: list[tuple[int, np.ndarray]] = []
    for i, rw, is_public in _rewritten(records):
        if is_public:
            public.append((i, rw.signatures))
            continue
        v = rw.vectors
        ptrs.append(v.ptr[1:] + base_col)
        cols.append(v.cols)
        weights.append(v.weights)
        sigs.append(rw.signatures)
        base_col += len(v.cols)
    arrays.update(rw_ptr=_cat(ptrs, np.int64), rw_cols=Joined(cols, np.uint32), rw_weights=Joined(weights, np.float32),
                  rw_sig=_cat(sigs, np.uint64), rw_owner=_owner_rows(records))
    ranked, order = stable_sort(arrays["rw_sig"])  # sentence signatures, searchable (boilerplate)
    arrays.update(rw_sig_sorted=ranked, rw_sig_row=order.astype(np.uint32))
    arrays["pub_sig"], arrays["pub_sig_owner"] = _public_sorted(public)
    return arrays


def _pair_arrays(records: list[OwnerRecord], owner_family: np.ndarray) -> dict[str, np.ndarray]:
    """Pair signatures of the registered versions (each pair value once, with its sentences and
    how many families hold it), and the public ones."""
    arrays: dict[str, np.ndarray] = {}
    owner_rows = _owner_rows(records)
    families = distinct(owner_family)  # numbered 0..
    family_number = np.searchsorted(families, owner_family).astype(np.uint32)
    pair_h, pair_row, owners = [], [], []
    public: list[tuple[int, np.ndarray]] = []
    for i, rw, is_public in _rewritten(records):
        if is_public:
            public.append((i, rw.pair_hashes))
            continue
        pair_h.append(rw.pair_hashes)
        pair_row.append(rw.pair_rows)
        owners.append(i)
    ph, pr = _cat(pair_h, np.uint64), _cat(pair_row, np.uint32)
    counts = [len(h) for h in pair_h]
    pr += np.repeat(owner_rows[owners].astype(np.uint32), counts)  # rows of the segment, not of each owner
    fam = np.repeat(family_number[owners], counts)
    ph, order = stable_sort(ph)
    pr, fam = gather(pr, order), gather(fam, order)
    change = run_starts(ph)
    first = np.flatnonzero(change)
    uniq = ph[first]
    arrays.update(rp_hash=uniq, rp_ptr=np.append(first, len(ph)).astype(np.int64), rp_sent=pr)
    arrays["rp_fam"] = np.minimum(_families_per_run(change, fam, len(families)), 65535).astype(np.uint16)
    arrays["rp_bits"] = bitmap.build(uniq, bitmap.bits_for(len(uniq)))
    arrays["pub_pair"], arrays["pub_pair_owner"] = _public_sorted(public)
    return arrays


def _rewritten(records: list[OwnerRecord]) -> Iterator[tuple[int, RewriteRecord, bool]]:
    """(owner number, rewrite record, whether it is public content) of the owners that have one."""
    for i, r in enumerate(records):
        if r.rewrite is not None:
            yield i, r.rewrite, r.kind == "public"


def _public_sorted(public: list[tuple[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The values of public content, sorted, and the owner of each."""
    values = _cat([v for _, v in public], np.uint64)
    owners = _cat([np.full(len(v), i, dtype=np.uint32) for i, v in public], np.uint32)
    ranked, order = stable_sort(values)
    return ranked, gather(owners, order)


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else _zeros(dtype)


def _lemma_arrays(records: list[OwnerRecord], lexicon: Lexicon) -> dict[str, np.ndarray]:
    """The rare lemmas of every registered version, and the table of their word forms."""
    arrays: dict[str, np.ndarray] = {}
    _sorted_pair(arrays, "rw_lemmas", "rw_lemma_owner",
                 [r.rewrite.lemmas if r.rewrite is not None and r.kind != "public" else _EMPTY_U64 for r in records])
    rare = distinct(arrays["rw_lemmas"])
    if len(rare):
        words, lemmas, weights = lexicon.word_forms(rare)
        arrays["rw_tab_key"], arrays["rw_tab_val"] = table.build(words, pack_lemma(lemmas, weights))
        arrays["rw_tab_bits"] = bitmap.build(words, bitmap.bits_for(len(words)))
    return arrays


def _families_per_run(change: np.ndarray, family: np.ndarray, families: int) -> np.ndarray:
    """How many distinct families each run of entries holds (a run starts where `change` is True;
    `family`: family numbers below `families`)."""
    if len(family) == 0:
        return np.zeros(0, dtype=np.int64)
    native = speedups.native
    if native is not None:  # run by run in C: runs are short, no sort of every (run, family) key
        ptr = np.append(np.flatnonzero(change), len(family)).astype(np.int64)
        out = np.empty(len(ptr) - 1, dtype=np.int64)
        native.distinct_per_run(ptr, np.ascontiguousarray(family, dtype=np.uint32), families, out)
        return out
    runs = np.cumsum(change, dtype=np.int64) - 1
    family = family.astype(np.int64)
    bits = max(1, int(families).bit_length())
    if int(runs[-1]).bit_length() + bits > 62:
        pairs = distinct_pairs(runs.astype(np.uint64), family.astype(np.uint64))
        return np.bincount(pairs[0].astype(np.int64), minlength=int(runs[-1]) + 1)
    keys = distinct((runs << bits) | family)
    return np.bincount(keys >> bits, minlength=int(runs[-1]) + 1)


def _phrase_arrays(records: list[OwnerRecord]) -> dict[str, np.ndarray]:
    """Term and record phrases: their n-gram values, rows, first words and name words."""
    arrays: dict[str, np.ndarray] = {}
    parts = [r.ph_hash for r in records]
    if not any(len(p) for p in parts):
        return arrays
    h = np.concatenate(parts).astype(np.uint64, copy=False)
    owner = np.concatenate([np.full(len(p), i, dtype=np.uint32) for i, p in enumerate(parts)])
    row = np.concatenate([r.ph_row for r in records]).astype(np.uint32, copy=False)
    col = np.concatenate([r.ph_col for r in records]).astype(np.uint16, copy=False)
    length = np.concatenate([r.ph_len for r in records]).astype(np.uint8, copy=False)
    order = stable_argsort(h)
    arrays.update(ph_hash=h[order], ph_owner=owner[order], ph_row=row[order], ph_col=col[order], ph_len=length[order])
    arrays["ph_bits"] = bitmap.build(arrays["ph_hash"], bitmap.bits_for(len(h)))
    _sorted_pair(arrays, "ph_first", "ph_first_owner", [r.ph_first for r in records])
    _sorted_pair(arrays, "nm_words", "nm_owner", [r.name_words for r in records])
    if len(arrays["nm_words"]):
        arrays["nm_bits"] = bitmap.build(arrays["nm_words"], bitmap.bits_for(len(arrays["nm_words"])))
    lengths = [r.joined_chars.astype(np.uint64) for r in records]
    _sorted_pair(arrays, "jc_chars", "jc_owner", lengths)
    first = distinct(arrays["ph_first"])
    arrays["ph_first_bits"] = bitmap.build(first, bitmap.bits_for(len(first)))
    arrays["ph_lengths"] = distinct(length[length > 0]).astype(np.uint8)  # 0: typed values, no n-gram
    rowkey = (arrays["ph_owner"].astype(np.uint64) << np.uint64(32)) | arrays["ph_row"].astype(np.uint64)
    order = stable_argsort(rowkey)  # the fields of one record row, together
    arrays.update(ph_rowkey=rowkey[order], ph_rowentry=order.astype(np.uint32))
    return arrays


# -- decoding ---------------------------------------------------------------------------------


def decode(meta: dict[str, Any], arrays: dict[str, np.ndarray], keep: np.ndarray) -> list[OwnerRecord]:
    """The records of the owners of a segment where `keep` is True (for merging)."""
    owners = meta["owners"]
    get = lambda name, dtype=np.uint64: arrays.get(name, _zeros(dtype))  # noqa: E731
    tokens, family = get("owner_tokens", np.uint32), get("owner_family")
    groups = {name: _group(get(owner_name, np.uint32), len(owners)) for name, owner_name in
              (("doc", "doc_owner"), ("pub", "pub_owner"), ("ph", "ph_owner"), ("psig", "pub_sig_owner"),
               ("ppair", "pub_pair_owner"), ("lemma", "rw_lemma_owner"), ("first", "ph_first_owner"),
               ("names", "nm_owner"), ("joined", "jc_owner"))}
    exact = dict(zip(get("exact_owner", np.uint32).tolist(), get("exact_key").tolist()))
    exact_size = dict(zip(get("exact_owner", np.uint32).tolist(), get("exact_size").tolist()))
    rw_owner, rw_ptr = get("rw_owner", np.int64), get("rw_ptr", np.int64)
    pairs_by_row = None
    if len(get("rp_hash")):
        per_entry = np.repeat(get("rp_hash"), np.diff(get("rp_ptr", np.int64)))
        order = stable_argsort(get("rp_sent", np.uint32))
        pairs_by_row = (get("rp_sent", np.uint32)[order].astype(np.int64), per_entry[order])
    cl_ptr = get("cl_ptr", np.int64)
    out = []
    for i, (sid, version, kind, *rest) in enumerate(owners):
        if not keep[i]:
            continue
        r = OwnerRecord(sid, int(version), kind, int(tokens[i]) if len(tokens) else 0,
                        int(family[i]) if len(family) else 0, int(exact.get(i, 0)), int(exact_size.get(i, 0)),
                        field_types=tuple(rest[0]) if rest else ())
        if kind == "document":
            sel = groups["doc"][i]
            r.fp_hash, r.fp_pos = get("doc_hash")[sel], get("doc_pos", np.uint32)[sel]
            all_ptr = get("doc_all_ptr", np.int64)
            if len(all_ptr) > i + 1:
                r.all_sh32 = get("doc_all", np.uint32)[all_ptr[i] : all_ptr[i + 1]]
            if len(rw_owner) > i + 1 and rw_owner[i + 1] > rw_owner[i]:
                r.rewrite = _decode_rewrite(arrays, int(rw_owner[i]), int(rw_owner[i + 1]), rw_ptr, pairs_by_row,
                                            get("rw_lemmas")[groups["lemma"][i]])
        elif kind == "public":
            r.fp_hash = get("pub_hash")[groups["pub"][i]]
            r.rewrite = RewriteRecord(SentenceVectors(np.zeros(1, dtype=np.int64), _zeros(np.uint32), _zeros(np.float32)),
                                      get("pub_sig")[groups["psig"][i]], get("pub_pair")[groups["ppair"][i]],
                                      np.zeros(len(groups["ppair"][i]), dtype=np.int64), _EMPTY_U64)
        else:
            sel = groups["ph"][i]
            r.ph_hash, r.ph_row, r.ph_col = get("ph_hash")[sel], get("ph_row", np.uint32)[sel], get("ph_col", np.uint16)[sel]
            r.ph_len = get("ph_len", np.uint8)[sel]
            r.ph_first = get("ph_first")[groups["first"][i]]
            r.name_words = get("nm_words")[groups["names"][i]]
            r.joined_chars = get("jc_chars")[groups["joined"][i]].astype(np.uint8)
        if len(cl_ptr) > i + 1:
            r.cl_bucket = get("cl_bucket", np.uint32)[cl_ptr[i] : cl_ptr[i + 1]]
            r.cl_count = get("cl_count", np.float32)[cl_ptr[i] : cl_ptr[i + 1]]
        out.append(r)
    return out


def _group(owner: np.ndarray, n: int) -> list[np.ndarray]:
    """Entry indices per owner."""
    if len(owner) == 0:
        return [np.zeros(0, dtype=np.int64)] * n
    order = stable_argsort(owner)
    bounds = np.searchsorted(owner[order], np.arange(n + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(n)]


def _decode_rewrite(arrays, row0: int, row1: int, rw_ptr: np.ndarray, pairs_by_row, lemmas) -> RewriteRecord:
    p = rw_ptr[row0 : row1 + 1]
    vectors = SentenceVectors(np.asarray(p - p[0], dtype=np.int64), np.asarray(arrays["rw_cols"][p[0] : p[-1]]),
                              np.asarray(arrays["rw_weights"][p[0] : p[-1]]))
    sigs = np.asarray(arrays["rw_sig"][row0:row1])
    if pairs_by_row is None:
        hashes, rows = _EMPTY_U64, np.zeros(0, dtype=np.uint32)
    else:
        rows_all, hashes_all = pairs_by_row
        lo, hi = np.searchsorted(rows_all, [row0, row1])
        hashes, rows = hashes_all[lo:hi], (rows_all[lo:hi] - row0).astype(np.uint32)
    return RewriteRecord(vectors, sigs, hashes, rows, distinct(lemmas))
