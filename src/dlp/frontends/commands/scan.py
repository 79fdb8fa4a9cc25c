"""`dlp scan`: files, directories and standard input against the registry."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

from ...errors import UsageError
from ...types import Destination, Detection, Item, Report, escape_path
from ..output import write_report, write_report_file
from .files import scan_items
from .incidents import add_policy_option
from ..status import Exit



def register(sub) -> None:
    p = sub.add_parser("scan", help="scan files, directories or - (standard input)",
                       description="Scan outbound content. Exit status 0: nothing to stop; 1: at least one "
                                   "item to block or quarantine; 2: usage or configuration error; 3: internal error.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursively) or - for standard input")
    p.add_argument("--to", action="append", default=[], metavar="ADDRESS", help="recipient address (repeatable)")
    p.add_argument("--country", help="destination country code, when known")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="scan with N worker processes")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="scan on a Dask cluster: tcp://SCHEDULER:8786, or local[:N] for N local worker processes "
                        "(needs dlp[cluster]; workers must read the paths at the same absolute location)")
    p.add_argument("--no-progress", action="store_true", help="never draw the progress bar")
    p.add_argument("--no-ocr", action="store_true",
                   help="do not read text in images and scanned PDF pages (each one is then a not_read problem)")
    p.add_argument("--explain", action="store_true",
                   help="also list, per item, the candidates the detectors set aside and why (secret ids and "
                        "numbers, never text): a debug section in the report")
    p.add_argument("--no-record", action="store_true",
                   help="a dry run: decide as a recorded scan would (allow entries, exposure) but keep no incident, "
                        "audit entry or exposure")
    add_policy_option(p)
    p.set_defaults(handler=run)


def run(args, env) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.cluster and args.explain:
        raise UsageError("--explain is for local scans: drop --cluster to see why a file was not flagged")
    if args.cluster and args.jobs > 1:
        raise UsageError("--cluster and --jobs exclude each other: the cluster's workers are the jobs")
    targets = scan_items(args.paths)
    destination = Destination(addresses=tuple(args.to), country=args.country, channel="cli")
    scanner = env.scanner(args)  # opened up front: a bad registry fails before any work
    recorder = env.recorder(args, scanner.policy, read_only=args.no_record)  # --no-record: decide alike, write nothing
    decider = recorder.decider()
    started = time.perf_counter()
    progress = _Progress(env.stderr, len(targets), enabled=not args.no_progress and len(targets) > 1)
    found: dict[int, Detection] = {}
    readable: list[tuple[int, Item]] = []
    for index, target in enumerate(targets):
        if target.meta.get("unreadable"):  # an unlistable folder, a link, a pipe: a problem the policy decides
            found[index] = Detection.unscannable(target.locator, str(target.meta["unreadable"]))
            progress.step(target.locator)
        else:
            readable.append((index, target))
    items = [target for _, target in readable]
    detections: list[Detection] = []
    if args.cluster:
        from ..cluster.runner import scan_on_cluster  # Dask is imported only here

        detections.extend(scan_on_cluster(args.cluster, scanner, items, policy_file=getattr(args, "policy", None),
                                          on_detection=lambda d: progress.step(d.path)))
    elif args.jobs > 1 and len(items) > 1 and all(t.path is not None for t in items):
        with ProcessPoolExecutor(args.jobs, initializer=_init_worker,
                                 initargs=(env.settings(args),)) as pool:
            for detection in pool.map(_detect_in_worker, items, [args.explain] * len(items), chunksize=4):
                detections.append(detection)
                progress.step(detection.path)
    else:
        for target in items:
            if target.path is None:  # standard input
                data = env.stdin.buffer.read() if hasattr(env.stdin, "buffer") else env.stdin.read().encode()
                detection = scanner.detect(Item(locator="<stdin>", name="<stdin>", data=data), explain=args.explain)
            else:
                detection = scanner.detect(target, explain=args.explain)
            detections.append(detection)
            progress.step(detection.path)
    progress.done()
    found.update((index, detection) for (index, _), detection in zip(readable, detections))
    # decided and recorded in scan order, so exposure adds up as the items would leave
    # (--no-record: the same, counted in memory and written nowhere)
    ordered = []
    for index, target in enumerate(targets):
        report = decider.decide(found[index], destination)
        ordered.append((target, recorder.record(report, destination, _target(target))))
    report = Report(tuple(r for _, r in ordered), time.perf_counter() - started)
    for r in report.files:
        for p in r.problems:
            if p.kind == "unreadable":
                env.warn(f"cannot read {p.locator}: {p.detail}")
    if args.output:
        try:
            write_report_file(report, args.format, args.output)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        write_report(report, args.format, env.stdout)
    return Exit.STOP if any(r.action.label in ("block", "quarantine") for r in report.files) else Exit.OK


def _target(item: Item) -> dict:
    if item.path is None:
        return {"kind": "stdin"}
    return {"kind": "file", "path": escape_path(os.path.abspath(item.path)), "quarantined": False}


_worker_scanner = None


def _init_worker(settings) -> None:
    global _worker_scanner
    from ...scanner import scanner_from

    _worker_scanner = scanner_from(settings)  # the client's settings, frozen: the same registry, policy, limits


def _detect_in_worker(item: Item, explain: bool = False) -> Detection:
    return _worker_scanner.detect(item, explain=explain)


class _Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, stream, total: int, *, enabled: bool) -> None:
        self.stream, self.total, self.count = stream, total, 0
        self.enabled = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.last = 0.0

    def step(self, path: str) -> None:
        self.count += 1
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and self.count < self.total):
            return
        self.last = now
        width = 30
        filled = width * self.count // max(1, self.total)
        name = path if len(path) < 40 else "..." + path[-37:]
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total} {name:40}")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 90 + "\r")
            self.stream.flush()
