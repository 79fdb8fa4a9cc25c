"""`dlp scan`: files, directories and standard input against the registry."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

from ...errors import UsageError
from ...types import Destination, FileReport, Item, Report
from ..output import write_report
from .files import scan_items
from .incidents import add_policy_option

EXIT_FOUND = 1


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
    p.add_argument("--no-record", action="store_true",
                   help="a dry run: keep no incident, audit entry or exposure for this scan")
    p.add_argument("--no-ocr", action="store_true",
                   help="do not read text in images and scanned PDF pages (each one is then a not_read problem)")
    add_policy_option(p)
    p.set_defaults(handler=run)


def run(args, env) -> int:
    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.cluster and args.jobs > 1:
        raise UsageError("--cluster and --jobs exclude each other: the cluster's workers are the jobs")
    targets = scan_items(args.paths)
    destination = Destination(addresses=tuple(args.to), country=args.country, channel="cli")
    scanner = env.scanner(args)  # opened up front: a bad registry fails before any work
    recorder = None if args.no_record else env.recorder(args, scanner.policy)
    started = time.perf_counter()
    progress = _Progress(env.stderr, len(targets), enabled=not args.no_progress and len(targets) > 1)
    reports: list[FileReport] = []
    if args.cluster:
        from ..cluster.runner import scan_on_cluster  # Dask is imported only here

        reports.extend(scan_on_cluster(args.cluster, scanner, targets, destination,
                                       policy_file=getattr(args, "policy", None),
                                       on_report=lambda report: progress.step(report.path)))
    elif args.jobs > 1 and len(targets) > 1 and all(t.path is not None for t in targets):
        with ProcessPoolExecutor(args.jobs, initializer=_init_worker,
                                 initargs=(args.registry, args.key, args.policy, dict(env.environ),
                                           not args.no_ocr)) as pool:
            for report in pool.map(_scan_in_worker, [(t, destination) for t in targets], chunksize=4):
                reports.append(report)
                progress.step(report.path)
    else:
        for target in targets:
            if target.path is None:  # standard input
                data = env.stdin.buffer.read() if hasattr(env.stdin, "buffer") else env.stdin.read().encode()
                report = scanner.scan_bytes(data, "<stdin>", destination)
            else:
                report = scanner.scan_item(target, destination)
            reports.append(report)
            progress.step(report.path)
    progress.done()
    if recorder is not None:  # in scan order, so exposure adds up as the items would leave
        reports = [recorder.settle(r, destination, _target(r)) for r in reports]
    report = Report(tuple(reports), time.perf_counter() - started)
    for r in reports:
        for p in r.problems:
            if p.kind == "unreadable":
                env.warn(f"cannot read {p.locator}: {p.detail}")
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                write_report(report, args.format, out)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        write_report(report, args.format, env.stdout)
    return EXIT_FOUND if any(r.action.label in ("block", "quarantine") for r in reports) else 0


def _target(report: FileReport) -> dict:
    if report.path == "<stdin>":
        return {"kind": "stdin"}
    return {"kind": "file", "path": os.path.abspath(report.path), "quarantined": False}


_worker_scanner = None


def _init_worker(registry, key, policy, environ, ocr=True) -> None:
    global _worker_scanner
    from ...scanner import open_scanner

    _worker_scanner = open_scanner(registry, key, policy, ocr=ocr, environ=environ)


def _scan_in_worker(job: tuple[Item, Destination]) -> FileReport:
    item, destination = job
    return _worker_scanner.scan_item(item, destination)


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
