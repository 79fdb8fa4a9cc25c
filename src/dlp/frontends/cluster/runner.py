"""Running `dlp scan` on dask.distributed: the only module of dlp that imports Dask.

One scan is: register a worker plugin carrying the `Shipment` (each worker,
including one that joins or restarts later, opens its scanner from it once),
submit one task per `Batch`, collect detections as they complete, and put them
back in input order (the client decides them, as it would a local scan's). A task that errs after its retries, or whose
workers keep dying (Dask's KilledWorker), is split into one task per file; a
single file that still fails becomes a detection with an ``unreadable`` problem
saying so, so the scan always completes and lists every file exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ...errors import DlpError, UsageError
from ...scanner import Scanner
from ...types import Detection, Item
from .batches import Batch, plan, target_bytes
from .shipment import Shipment, pack

try:
    import dask
    from distributed import Client, LocalCluster, as_completed, get_worker
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - depends on the installation
    raise UsageError("--cluster needs Dask: pip install 'dlp[cluster]'") from None

RETRIES = 2               # Dask resubmits a task that raised this many times
WORKER_WAIT_SECONDS = 60  # a remote scheduler must have a worker within this time
CONNECT_SECONDS = 30
# How dlp wants a cluster configured (remote clusters: the same as DASK_* environment variables).
CLUSTER_CONFIG = {
    # workers must be allowed child processes: the extractors isolate hang-prone parsers in them
    "distributed.worker.daemon": False,
    # the sampling profiler takes the GIL every 10 ms from a CPU-bound scan
    "distributed.worker.profile.enabled": False,
    # one task in flight per worker thread: a worker killed by one file then takes no other task's
    # attempts with it, so innocent files are not given up as KilledWorker
    "distributed.scheduler.worker-saturation": 1.0,
}


class ClusterError(DlpError):
    """The cluster cannot be reached or its workers cannot scan."""


@dataclass(frozen=True)
class ClusterSpec:
    """Where to scan: a scheduler address, or `local_workers` processes on this machine."""

    address: str | None = None
    local_workers: int = 0

    @classmethod
    def parse(cls, text: str) -> "ClusterSpec":
        match = re.fullmatch(r"local(?::(\d+))?", text)
        if match:
            workers = int(match.group(1)) if match.group(1) else (os.cpu_count() or 1)
            if workers < 1:
                raise UsageError("--cluster local:N needs N of at least 1")
            return cls(local_workers=workers)
        if re.fullmatch(r"(tcp|tls|ucx|inproc)://\S+|[\w.-]+:\d+", text):
            return cls(address=text)
        raise UsageError(f"--cluster {text!r}: give a scheduler address such as tcp://scheduler:8786, "
                         f"or local[:N] for N local worker processes")


@contextlib.contextmanager
def connect(spec: ClusterSpec) -> Iterator[Client]:
    """A client of the scheduler at `spec.address`, or of a local cluster started (and stopped) here."""
    with dask.config.set(CLUSTER_CONFIG):  # held while open: a worker restarted later needs it too
        if spec.address is None:
            with LocalCluster(n_workers=spec.local_workers, threads_per_worker=1, processes=True,
                              host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
                    Client(cluster) as client:
                yield client
            return
        try:
            client = Client(spec.address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {spec.address}: {exc}") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
            except TimeoutError:
                raise ClusterError(f"the Dask scheduler at {spec.address} has had no worker for "
                                   f"{WORKER_WAIT_SECONDS} s; start workers with `dask worker {spec.address}`") from None
            yield client


def scan_on_cluster(
    cluster: str,
    scanner: Scanner,
    items: Sequence[Item],
    *,
    policy_file: str | os.PathLike | None = None,
    on_detection: Callable[[Detection], None] = lambda detection: None,
) -> list[Detection]:
    """The `dlp scan --cluster` entry point: detections for `items`, in their order."""
    spec = ClusterSpec.parse(cluster)
    if any(item.path is None for item in items):
        raise UsageError("--cluster scans files only, not standard input (-)")
    shipment = pack(scanner, policy_file)
    with connect(spec) as client:
        return scan(client, shipment, items, on_detection=on_detection)


# -- the worker side -----------------------------------------------------------------


class RegistryPlugin(WorkerPlugin):
    """Carries the shipment to every worker and keeps the worker's one scanner."""

    def __init__(self, shipment: Shipment, scan_id: str) -> None:
        self.shipment = shipment
        self.name = f"dlp-registry-{shipment.digest[:12]}-{scan_id}"  # one per scan: scans may overlap
        self.folder: str | None = None
        self.scanner = None

    def setup(self, worker) -> None:
        if multiprocessing.current_process().daemon:
            raise ClusterError("this Dask worker runs as a daemonic process and cannot isolate parsers in child "
                               "processes; start workers with DASK_DISTRIBUTED__WORKER__DAEMON=False")
        self.folder = tempfile.mkdtemp(prefix="dlp-registry-", dir=worker.local_directory)
        self.scanner = self.shipment.open(self.folder)
        self.shipment = None  # the worker keeps the opened scanner, not a second copy of the bytes

    def teardown(self, worker) -> None:
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)  # the key leaves the worker with the scan


def scan_batch(plugin_name: str, items: tuple[tuple[int, Item], ...]) -> tuple[tuple[int, Detection], ...]:
    """A task: scan a batch of items with this worker's scanner; detections keep their input position."""
    plugin = get_worker().plugins.get(plugin_name)
    if plugin is None or plugin.scanner is None:
        raise ClusterError(f"worker has no registry plugin {plugin_name}")
    return tuple((index, plugin.scanner.detect(item)) for index, item in items)


# -- the client side -----------------------------------------------------------------


def scan(
    client: Client,
    shipment: Shipment,
    items: Sequence[Item],
    *,
    on_detection: Callable[[Detection], None] = lambda detection: None,
    retries: int = RETRIES,
    batch_bytes: int | None = None,
    timeout: float | None = None,
    task: Callable = scan_batch,
) -> list[Detection]:
    """Detections for `items` scanned on `client`'s workers, in input order, each exactly once.

    `batch_bytes` overrides the task size chosen from the corpus and the number of
    workers; `timeout` bounds the whole scan (ClusterError past it); `task` is the
    function run per batch (tests inject failing ones)."""
    if not items:
        return []
    remote = [_for_workers(item) for item in items]
    sizes = [_size(item) for item in remote]
    workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
    batches = plan(sizes, batch_bytes or target_bytes(sum(sizes), workers))
    run_id = uuid.uuid4().hex[:8]
    plugin = RegistryPlugin(shipment, run_id)
    client.register_plugin(plugin, name=plugin.name)
    pending: dict = {}
    running = as_completed(with_results=True, raise_errors=False, timeout=timeout)  # fetch results at once

    def submit(batch: Batch) -> None:
        future = client.submit(task, plugin.name, tuple((i, remote[i]) for i in batch.indexes),
                               key=f"dlp-scan-{run_id}-{batch.indexes[0]}-{len(batch.indexes)}",
                               retries=retries, pure=False)
        pending[future.key] = (future, batch)
        running.add(future)

    reports: list[Detection | None] = [None] * len(items)
    try:
        for batch in batches:
            submit(batch)
        for future, result in _bounded(running, timeout):
            _, batch = pending.pop(future.key)
            if future.status == "cancelled":
                raise ClusterError("the scheduler cancelled the scan (lost connection, or the cluster was shut down)")
            if future.status == "finished":
                for index, report in result:
                    if reports[index] is not None:  # cannot happen: a key's result is kept once
                        raise ClusterError(f"{items[index].locator} came back twice")
                    reports[index] = report
                    on_detection(report)
            elif len(batch.indexes) > 1:  # find the file at fault: one task per file
                for index in batch.indexes:
                    submit(Batch((index,), sizes[index]))
            else:
                index = batch.indexes[0]
                error = result if isinstance(result, BaseException) else future.exception()
                reports[index] = _failed(items[index], sizes[index], error)
                on_detection(reports[index])
            future.release()
    finally:
        with contextlib.suppress(Exception):
            if pending:  # stopped early (timeout, lost scheduler): leave nothing running
                client.cancel([future for future, _ in pending.values()])
            client.unregister_worker_plugin(plugin.name)
    missing = [items[i].locator for i, r in enumerate(reports) if r is None]
    if missing:  # cannot happen: every batch ends finished or split
        raise ClusterError(f"{len(missing)} files have no report, e.g. {missing[0]}")
    return reports  # type: ignore[return-value]


def _bounded(running: as_completed, timeout: float | None) -> Iterator:
    try:
        yield from running
    except TimeoutError:
        raise ClusterError(f"the cluster did not finish the scan within {timeout} s") from None


def _for_workers(item: Item) -> Item:
    """The item with an absolute path (workers have another working directory); the locator is unchanged."""
    if item.path is None:
        raise UsageError("--cluster scans files only, not standard input")
    return Item(locator=item.locator, name=item.name, path=os.path.abspath(item.path), meta=item.meta)


def _size(item: Item) -> int:
    try:
        return os.stat(item.path).st_size  # type: ignore[arg-type]
    except OSError:
        return 0  # the worker reports it unreadable


def _failed(item: Item, size: int, error: BaseException | None) -> Detection:
    """A file whose scan kept failing: not scanned, and the policy decides what that means."""
    reason = f"{type(error).__name__}: {error}" if error is not None else "no result"
    return Detection.unscannable(item.locator, f"not scanned: it failed on the cluster after its retries "
                                               f"({reason[:200]})", size=size)
