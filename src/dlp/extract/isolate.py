"""Run a parser that can hang or balloon in a worker process that can be killed.

`run_isolated(function, item, ctx)` calls ``function(item, limits)`` in a child
process started with the context's multiprocessing start method ("fork" by default:
cheap, and it needs no importable ``__main__``, unlike "forkserver" and "spawn").
The child's address space is capped with RLIMIT_AS; the parent waits at most the
item's remaining time, then kills it, so even a child stuck on a lock inherited
from another thread ends as a `timeout`. The function
returns a list of outputs (parts, child items, problems), which come back pickled.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Callable

from ..errors import ExtractionError
from ..types import Item
from .base import Context, Limits, Output

Worker = Callable[[Item, Limits], list[Output]]


def run_isolated(function: Worker, item: Item, ctx: Context) -> list[Output]:
    """Outputs of ``function(item, limits)``, computed within the item's time and a memory cap."""
    ctx.budget.check_time()
    if ctx.isolation is None:
        outputs = _call(function, item, ctx.limits)
        for output in outputs:
            if isinstance(output, Item) and output.data is not None:
                ctx.budget.charge(len(output.data))
        return outputs
    mp = multiprocessing.get_context(ctx.isolation)
    receiver, sender = mp.Pipe(duplex=False)
    process = mp.Process(
        target=_child,
        args=(sender, function, item, ctx.limits),
        name=f"dlp-extract:{item.name[:40]}",
        daemon=True,
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(ctx.budget.seconds_left()):
            raise ExtractionError("timeout", f"parser still busy after {ctx.limits.timeout_seconds:g} s; worker killed")
        try:
            status, payload = receiver.recv()
        except EOFError:
            process.join(5)
            raise ExtractionError("corrupt", f"parser worker died ({_exit_reason(process.exitcode)})") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if status == "ok":
        for output in payload:  # what the worker expanded counts against this item's budget
            if isinstance(output, Item) and output.data is not None:
                ctx.budget.charge(len(output.data))
        return payload
    kind, detail = payload
    raise ExtractionError(kind, detail)


def _call(function: Worker, item: Item, limits: Limits) -> list[Output]:
    return list(function(item, limits))


def _child(sender, function: Worker, item: Item, limits: Limits) -> None:
    _cap_memory(limits.worker_memory_bytes)
    try:
        result: tuple = ("ok", _call(function, item, limits))
    except ExtractionError as exc:
        result = ("error", (exc.kind, exc.detail))
    except MemoryError:
        result = ("error", ("too_large", f"parser needed more than {limits.worker_memory_bytes} bytes of memory"))
    except RecursionError:
        result = ("error", ("corrupt", "structure nests too deeply to parse"))
    except Exception as exc:  # the worker's job is to turn every failure into a problem
        result = ("error", ("corrupt", f"{type(exc).__name__}: {exc}"[:300]))
    try:
        sender.send(result)
    except MemoryError:
        sender.send(("error", ("too_large", "parser output too large to return")))
    finally:
        sender.close()


def _cap_memory(extra: int) -> None:
    try:
        import resource

        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[0])
        current = pages * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (current + extra, current + extra))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no rlimits: the time limit still holds


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
