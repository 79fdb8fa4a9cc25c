"""Independent pieces of one batch command spread over processes, results in order.

Registering a folder reads and fingerprints every document on its own: on a machine
with two cores, two processes do it in about half the time. `ordered_map` runs a
function over pieces in forked worker processes (they inherit what the parent has
built, a registry key or a lexicon, without pickling it) and yields the results in
the pieces' order, so the parent applies them exactly as one process would. A worker
that dies (killed, out of memory) fails the whole command with `WorkerDied`: nothing
is skipped silently.

Workers never write anything: the parent alone changes the registry, under its lock.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from .errors import WorkerDied

T = TypeVar("T")
R = TypeVar("R")

AHEAD = 32  # pieces per worker handed out ahead of the one whose result is awaited
FEW_FILES = 256  # fewer files than this (and little text) are read in the calling process: starting workers costs more
_STATE: dict[str, Any] = {}  # what a worker process was started with (set once per worker, by fork)


def default_workers() -> int:
    """The cores this process may use (at most 8): batch commands use them all."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def state(name: str) -> Any:
    """In a worker (or the parent, when it works alone): what `ordered_map` was given as `state`."""
    return _STATE[name]


def ordered_map(fn: Callable[[T], R], pieces: Sequence[T], *, workers: int, state: dict[str, Any] | None = None,
                meanwhile: Callable[[], Any] | None = None) -> Iterator[R]:
    """`fn(piece)` for every piece, in order; in `workers` forked processes when there are two or
    more of both (else here). `fn` reads `state` through `parallel.state`. `meanwhile` is work
    of this process's own, done while the workers run (or first, without workers)."""
    if workers <= 1 or len(pieces) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        if meanwhile is not None:
            meanwhile()
        _STATE.clear()
        _STATE.update(state or {})
        try:
            yield from map(fn, pieces)
        finally:
            _STATE.clear()
        return
    context = multiprocessing.get_context("fork")
    ahead = AHEAD * workers  # pieces handed out before their results are taken: bounds what waits in memory
    with ProcessPoolExecutor(min(workers, len(pieces)), mp_context=context, initializer=_start,
                             initargs=(state or {},)) as pool:
        waiting: collections.deque = collections.deque()
        try:
            waiting.extend(pool.submit(fn, piece) for piece in pieces[:ahead])
            # the workers are forked at the first submit, before `meanwhile` runs (no fork beside a thread)
            if meanwhile is not None:
                meanwhile()
            for piece in pieces[ahead:]:
                result = waiting.popleft().result()
                waiting.append(pool.submit(fn, piece))
                yield result
            while waiting:
                yield waiting.popleft().result()
        except BrokenProcessPool:
            raise WorkerDied("a worker process died (killed, or out of memory); nothing was changed") from None
        finally:
            for future in waiting:
                future.cancel()


def _start(given: dict[str, Any]) -> None:
    _STATE.clear()
    _STATE.update(given)


def chunks(sizes: Iterable[int], budget: int, most: int) -> list[range]:
    """Consecutive index ranges whose sizes add up to about `budget`, at most `most` items each."""
    out, start, total, n = [], 0, 0, 0
    for i, size in enumerate(sizes):
        if n and (total + size > budget or n >= most):
            out.append(range(start, i))
            start, total, n = i, 0, 0
        total += size
        n += 1
    if n:
        out.append(range(start, start + n))
    return out
