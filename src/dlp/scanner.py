"""The scanner: items in, detections out. The one place that wires a scan together.

`Scanner.detect` finds; it decides nothing. Front ends (CLI, watch daemon, milter,
Dask runner) run `detect` wherever scans run (in process, in worker processes, on
cluster workers) and decide each detection once, where the item is about to leave,
through their `decide.Decider`. `scan_item`, `scan_path` and `scan_bytes` do both
with the scanner's own stateless decider, for callers with no state (tests, tools).

A part is tokenised once; its keyed token values go through every detector, cheap
before expensive (fingerprints, phrases, the rewrite tier, classifiers). Parts longer
than `SLICE_CHARS` are scanned in overlapping windows of tokens, so memory stays bounded
whatever the part's length; an excerpt of up to `OVERLAP_TOKENS` words always lies whole
in one window, however much white space or punctuation separates its words.
The item's deadline (`Limits.timeout_seconds`) is handed to the expensive tiers; one
that runs out of time is a `timeout` problem, never silence.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import replace
from typing import Callable, Iterator, Sequence

from .classify.model import Model, load_models
from .detectors import Detector, Scanned
from .detectors.classifier import ClassifierDetector
from .errors import DeadlineExceeded
from .evidence import ExactEvidence, RewriteSummary
from .extract import Context, Extractor, Limits, walk
from .extract.base import problem_of
from .extract import extractors as installed_extractors
from .extract.encoded import seven_bit_parent
from .extract.ocr import Ocr, OcrSettings, ocr_summary
from .index import Index
from .text.normalise import CHUNK_CHARS, Tokens, _cut, concatenate, tokenise, tokenise_slice
from .decide import Decider, Request
from .rules import Policy
from .settings import Settings, load_settings
from .memory import keep_freed_memory
from .types import Destination, Detection, FileReport, Finding, Item, Part, Problem, writable

_log = logging.getLogger(__name__)

SLICE_CHARS = CHUNK_CHARS - (1 << 13)  # longer parts are scanned in windows of tokens ...
WINDOW_TOKENS = 1 << 19  # ... of about this many tokens (a slice of mail holds some 650,000: one slice a window,
# 440 rather than 530 MB at the peak of a 40 MB scan, and fewer new pages to fault in) ...
OVERLAP_TOKENS = 1 << 13  # ... that overlap by this many: a verbatim excerpt up to this long lies whole in one


class Scanner:
    def __init__(
        self,
        index,
        *,
        policy: Policy | None = None,
        limits: Limits = Limits(),
        extractors: tuple[Extractor, ...] | None = None,  # None: the built-in readers and installed plugins
        extra_detectors: Sequence[Detector] = (),
        models: Sequence[Model] = (),
        excerpt_chars: int = 0,
        ocr: Ocr | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.index: Index = index if isinstance(index, Index) else index.index  # an editing Registry: its commit
        self.ocr = ocr if ocr is not None else Ocr()  # one engine and image cache for every item
        self.keyer = self.index.keyer
        self.decider = Decider(policy)  # stateless: the built-in or given policy, no allow entries or exposure
        self.limits = limits
        self.extractors = extractors if extractors is not None else installed_extractors()
        self.clock = clock
        self.excerpt_chars = excerpt_chars  # > 0 only when the policy asks for excerpts of scanned items
        # cheap before expensive: fingerprints and phrases, the rewrite tier, then classifiers
        self.detectors: tuple[Detector, ...] = (*self.index.detectors(), *extra_detectors,
                                                *(ClassifierDetector(m) for m in models))
        self.timings: dict[str, float] = {}  # seconds per stage, for benchmarks
        self._exact = self.index.has("exact_key")

    @property
    def policy(self) -> Policy:
        return self.decider.policy

    @property
    def registry(self) -> Index:  # the name front ends used before the index had its own class
        return self.index

    def warm_up(self) -> None:
        """Read what scans read lazily (lexicon, catalogue, the English word table that glued and
        letter-spaced words are read with), so the first item does not wait for it."""
        if any(d.name == "rewrite" for d in self.detectors):
            self.index.lexicon  # noqa: B018
        self.index.catalogue  # noqa: B018
        self.scan_text("warm up: w a r m i n g and somewordsgluedtogetherwithoutanyspace")

    # -- entry points ------------------------------------------------------------

    def scan_path(self, path: str | os.PathLike, request: Request | Destination = Destination()) -> FileReport:
        path = os.fspath(path)
        return self.scan_item(Item(locator=path, name=os.path.basename(path), path=path), request)

    def scan_bytes(self, data: bytes, name: str, request: Request | Destination = Destination()) -> FileReport:
        return self.scan_item(Item(locator=name, name=name, data=data), request)

    def scan_item(self, item: Item, request: Request | Destination = Destination()) -> FileReport:
        """Detect, then decide with the scanner's stateless decider."""
        return self.decider.decide(self.detect(item), request)

    def detect_path(self, path: str | os.PathLike) -> Detection:
        path = os.fspath(path)
        return self.detect(Item(locator=path, name=os.path.basename(path), path=path))

    def detect_bytes(self, data: bytes, name: str) -> Detection:
        return self.detect(Item(locator=name, name=name, data=data))

    def detect(self, item: Item, *, explain: bool = False) -> Detection:
        """Everything found in the item and every part that could not be read; never raises for the item.
        `explain`: also what the detectors set aside and why, in `meta["explain"]` (ids and numbers only)."""
        discarded: list | None = [] if explain else None
        started = self.clock()
        deadline = time.monotonic() + self.limits.timeout_seconds
        findings: list[Finding] = []
        problems: list[Problem] = []
        size = 0
        try:
            size = item.size
            exact = self._exact_copy(item, size)
            if exact is not None:
                findings.append(exact)
        except OSError as exc:
            problems.append(Problem(item.locator, "unreadable", exc.strerror or str(exc)))
        meta: dict = {}
        read_by_ocr: list = []
        if not problems:
            try:
                self._walk(item, deadline, discarded, findings, problems, meta, read_by_ocr)
            except Exception as exc:  # noqa: BLE001 (walk turns every failure into a problem; if one slips by, so does this)
                problems.append(problem_of(item, exc))
        findings = _without_repeats(findings)
        if read_by_ocr:
            meta["ocr"] = ocr_summary(read_by_ocr)
        if discarded is not None:
            meta["explain"] = discarded
        return Detection(path=item.locator, findings=tuple(findings), problems=tuple(problems), bytes=size,
                         seconds=self.clock() - started, meta=meta)

    def _walk(self, item: Item, deadline: float, discarded: list | None, findings: list[Finding],
              problems: list[Problem], meta: dict, read_by_ocr: list) -> None:
        """The parts of `item` scanned as they are extracted, into `findings` and `problems`."""
        for out in walk(item, self.extractors, Context(self.limits, ocr=self.ocr)):
            if isinstance(out, Problem):
                problems.append(out)
                continue
            headers = out.meta.get("headers") or out.meta.get("mail") if out.meta else None
            if headers and "headers" not in meta:
                meta["headers"] = dict(headers)
            if out.meta and "ocr" in out.meta:
                read_by_ocr.append(out.meta["ocr"])
            if out.binary:
                problems.append(Problem(out.locator, "binary", "format not recognised; printable strings scanned"))
            part_findings, part_problems = self._scan_part_or_problem(out, deadline, discarded)
            if out.meta and out.meta.get("streamed"):  # chunks overlap: one finding per secret stands
                part_findings = _strongest(findings, part_findings)
            findings.extend(part_findings)
            problems.extend(part_problems)
            out = None  # noqa: PLW2901 (a streamed chunk's text is freed before the next is read)

    def scan_part(self, part: Part) -> list[Finding]:
        findings, _ = self._scan_part(part, None)
        return findings

    def scan_text(self, text: str, locator: str = "<text>") -> list[Finding]:
        return self.scan_part(Part(locator, text, "text"))

    # -- internals ---------------------------------------------------------------

    def _scan_part_or_problem(self, part: Part, deadline: float | None,
                              discarded: list | None) -> tuple[list[Finding], list[Problem]]:
        """`_scan_part`, whose failure outside a detector (the tokeniser, keying) is the part's problem."""
        try:
            return self._scan_part(part, deadline, discarded)
        except Exception as exc:  # noqa: BLE001 (a bug or an exhausted resource: the part is unscannable, the scan goes on)
            return [], [_failed(part, "tokeniser", exc)]

    def _scan_part(self, part: Part, deadline: float | None,
                   discarded: list | None = None) -> tuple[list[Finding], list[Problem]]:
        if len(part.text) <= SLICE_CHARS:
            return self._scan_slice(part, tokenise(part.text), deadline, discarded)
        findings: dict[tuple[str, str], Finding] = {}
        problems: list[Problem] = []
        for window in _windows(part.text):
            found, trouble = self._scan_slice(part, window, deadline, discarded)
            window = None  # noqa: PLW2901 (freed before the next window is read: its memory serves that one)
            problems.extend(trouble)
            for f in found:  # a secret found in several windows: the strongest finding stands for it
                key = (f.secret, f.kind)
                if key not in findings or (f.score, f.matched_words) > (findings[key].score, findings[key].matched_words):
                    findings[key] = f
        return list(findings.values()), problems

    def _scan_slice(self, part: Part, tokens: Tokens, deadline: float | None,
                    discarded: list | None = None) -> tuple[list[Finding], list[Problem]]:
        if len(tokens) == 0:
            return [], []
        t0 = time.perf_counter()
        scanned = Scanned(part, tokens, self.keyer.tokens(tokens), deadline, discarded)
        t1 = time.perf_counter()
        self.timings["keyed"] = self.timings.get("keyed", 0.0) + t1 - t0
        out: list[Finding] = []
        problems: list[Problem] = []
        if tokens.unsegmented:  # glued or letter-spaced letters past the tokeniser's budgets: not read as words
            problems.append(Problem(part.locator, "truncated",
                                    f"{tokens.unsegmented} letters of glued or letter-spaced words past the "
                                    "tokeniser's budget were not split into words"))
        for detector in self.detectors:
            try:
                out.extend(detector.detect(scanned))
            except DeadlineExceeded as exc:
                out.extend(exc.findings)
                problems.append(Problem(part.locator, "timeout", f"{detector.name}: {exc}"))
            except Exception as exc:  # noqa: BLE001 (a detector's bug, a plugin's among them: the others still run)
                problems.append(_failed(part, detector.name, exc))
            t2 = time.perf_counter()
            self.timings[detector.name] = self.timings.get(detector.name, 0.0) + t2 - t1
            t1 = t2
        out = _fold_rewrites(out)
        if self.excerpt_chars > 0:
            out = [_with_excerpt(f, part, self.excerpt_chars) for f in out]
        return out, problems

    def _exact_copy(self, item: Item, size: int) -> Finding | None:
        """A byte-identical copy of a registered file (also catches files without text)."""
        if not self._exact or size > self.limits.max_item_bytes or not self.index.may_be_exact(size):
            return None
        if item.data is not None:
            digest = self.keyer.digest(item.data)
        else:
            with item.open() as handle:
                digest = self.keyer.digest_file(handle)
        number = self.index.exact(digest)
        if number is None:
            return None
        info = self.index.owner(number)
        return Finding(secret=info.secret, version=info.version, label=info.label, kind="document",
                       score=1.0, matched_words=info.tokens, coverage=1.0, density=1.0,
                       locator=item.locator, classification=info.classification, tags=info.tags,
                       detector="exact", evidence=ExactEvidence(size))


def _failed(part: Part, stage: str, exc: Exception) -> Problem:
    """The problem of a part that `stage` failed on: the part was not (fully) checked, which policy
    decides as it does any unscannable part. The detail and the log name the exception's type and
    where it was raised, never its message: that may quote the scanned text."""
    if isinstance(exc, MemoryError):
        return Problem(part.locator, "too_large", f"{stage}: out of memory")
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    _log.error("%s failed on %s: %s%s (%s)", stage, writable(part.locator), type(exc).__name__, where,
               " < ".join(f"{os.path.basename(f.filename)}:{f.lineno}" for f in reversed(frames[:-1])))
    return Problem(part.locator, "scan_failed", f"{stage}: {type(exc).__name__}{where}")


def _windows(text: str) -> Iterator[Tokens]:
    """The tokens of a long text in windows of about WINDOW_TOKENS that overlap by OVERLAP_TOKENS.

    Counted in tokens, not characters: an excerpt whose words are far apart (megabytes of
    blanks or ruler lines between them, which the tokeniser skips) is still whole in one
    window when it is at most OVERLAP_TOKENS words long. The text is tokenised a chunk at a
    time, so memory stays bounded by the window, not the part.
    """
    carry: Tokens | None = None
    base = 0
    while base < len(text):
        pieces = [carry] if carry is not None else []
        count = len(carry) if carry is not None else 0
        nbase = len(carry.norm) if carry is not None else 0
        while base < len(text) and count < WINDOW_TOKENS:
            end = _cut(text, base + CHUNK_CHARS)
            piece = tokenise_slice(text[base:end], base, nbase)
            pieces.append(piece)
            count += len(piece)
            nbase += len(piece.norm)
            base = end
        window = concatenate(pieces)
        pieces = []
        yield window
        # the tail copied, so that nothing holds the window while the next one is read (the
        # arrays of two windows at once were a third of a scan's memory, and its page faults)
        carry = window.tail(max(0, len(window) - OVERLAP_TOKENS)) if base < len(text) else None
        window = None


def _without_repeats(findings: list[Finding]) -> list[Finding]:
    """`findings` less those of a 7-bit reading of a part (``mail.txt!/utf-7``) that the part
    itself has as strong, score first, then words: its lines are read whole, and an excerpt in
    plain ASCII on a line with a "+" in it (a phone number, an address) is found in both."""
    parents = {(f.locator, f.secret, f.kind): (f.score, f.matched_words) for f in findings}
    return [f for f in findings
            if (parent := seven_bit_parent(f.locator)) is None
            or parents.get((parent, f.secret, f.kind), (-1.0, -1)) < (f.score, f.matched_words)]


def _strongest(found: list[Finding], new: list[Finding]) -> list[Finding]:
    """`new` findings of a chunk, less those a finding already made at the same locator
    matches or beats; an earlier weaker one is replaced in `found` (in place)."""
    out = []
    for f in new:
        same = next((i for i, g in enumerate(found)
                     if (g.secret, g.kind, g.locator) == (f.secret, f.kind, f.locator)), None)
        if same is None:
            out.append(f)
        elif (f.score, f.matched_words) > (found[same].score, found[same].matched_words):
            found[same] = f
    return out


def _with_excerpt(finding: Finding, part: Part, chars: int) -> Finding:
    """A short excerpt of the scanned item where the finding starts (never of the registered secret
    itself: this is what was about to leave). Only when the policy enables it."""
    start = finding.evidence.first_start()
    if start is None:
        return finding
    start = _local(part, start)
    return replace(finding, evidence=finding.evidence.with_excerpt(" ".join(part.text[start:start + chars].split())))


def _local(part: Part, offset: int) -> int:
    """The position in `part.text` of an offset in the whole item (a chunk of a streamed file
    starts at `char_offset` and left out the word-less runs noted in `gaps`)."""
    offset -= part.meta.get("char_offset", 0)
    removed = 0
    for position, total in part.meta.get("gaps", ()):
        if position + total > offset:
            break
        removed = total
    return max(0, offset - removed)


def _fold_rewrites(findings: list[Finding]) -> list[Finding]:
    """A rewrite of a secret the fingerprints already found in the part is not a second finding:
    its summary joins the fingerprint finding's evidence (kept, not dropped)."""
    documents = {f.secret: i for i, f in enumerate(findings) if f.kind == "document"}
    if not documents or not any(f.kind == "rewrite" for f in findings):
        return findings
    out = list(findings)
    folded = []
    for i, f in enumerate(findings):
        if f.kind == "rewrite" and f.secret in documents:
            j = documents[f.secret]
            summary = RewriteSummary(round(f.score, 4), f.evidence.pair_count,
                                     tuple(sorted(f.evidence.pairs, key=lambda p: -p.cosine)[:5]))
            out[j] = replace(out[j], evidence=replace(out[j].evidence, rewrite=summary))
            folded.append(i)
    return [f for i, f in enumerate(out) if i not in folded]


def scanner_from(settings: Settings) -> Scanner:
    """The composition root for every front end: the registry, models, policy and limits the
    settings name, opened once."""
    _one_blas_thread()
    keep_freed_memory()
    index = Index.open(settings.registry, settings.key)
    trained = load_models(settings.models, index.key_check)
    policy = None
    if settings.policy is not None:
        from .destinations import load_policy

        policy = load_policy(settings.policy)
    excerpt = 200 if getattr(policy, "excerpt", False) else 0
    if not getattr(policy, "ocr", True):
        ocr = OcrSettings(enabled=False, off_reason=f"ocr.enabled = false in {settings.policy.name}")
    elif not settings.ocr:
        ocr = OcrSettings(enabled=False, off_reason="--no-ocr, or ocr = false in the settings")
    else:
        ocr = OcrSettings()
    return Scanner(index, policy=policy, limits=settings.limits, models=trained, excerpt_chars=excerpt,
                   ocr=Ocr(ocr))


def _one_blas_thread() -> None:
    """Keep BLAS to the calling thread. The rewrite tier multiplies many small matrices
    (a few dozen sentences each way); OpenBLAS spreads each one over every core and
    spins waiting for them, so on a machine busy with anything else (another scan, a
    mail queue) one such product took 24 ms instead of 0.08 ms. A scanning process is
    one unit of parallel work; more cores mean more scanning processes (Dask, the
    watch daemon's and the milter's workers), never more threads per product."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def open_scanner(registry: str | os.PathLike | None = None, key_file: str | os.PathLike | None = None,
                 policy_file: str | os.PathLike | None = None, *, limits: Limits | None = None,
                 models: str | os.PathLike | None = None, ocr: bool = True, environ=os.environ) -> Scanner:
    """`scanner_from` for callers that name the parts (tests, tools): flags, then the environment."""
    return scanner_from(load_settings(environ=environ, registry=registry, key=key_file, policy=policy_file,
                                      models=models, limits=limits, ocr=None if ocr else False))
