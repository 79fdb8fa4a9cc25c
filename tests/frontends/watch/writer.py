"""A real writer process for the watch tests: it does what it is told on standard input.

One JSON command per line, answered by one line ``ok`` (or ``error: ...``) on standard output:

    {"op": "open", "path": P}            open P for writing (created or truncated)
    {"op": "write", "text": T}           write T through the open handle and flush it
    {"op": "rename", "src": A, "dst": B} rename A to B (the handle stays open)
    {"op": "map", "size": N}             map the first N bytes writable, then close the handle
    {"op": "poke", "offset": O, "text": T}   write T into the mapping at O
    {"op": "close"}                      close the handle and drop the mapping
"""

from __future__ import annotations

import json
import mmap
import os
import sys


def main() -> None:
    handle = None
    mapping = None
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        try:
            if op == "open":
                handle = open(command["path"], "w+")  # read and write: a mapping needs both
            elif op == "write":
                handle.write(command["text"])
                handle.flush()
            elif op == "rename":
                os.rename(command["src"], command["dst"])
            elif op == "map":
                mapping = mmap.mmap(handle.fileno(), command["size"])
                handle.close()
                handle = None
            elif op == "poke":
                data = command["text"].encode()
                mapping[command["offset"]:command["offset"] + len(data)] = data
                mapping.flush()
            elif op == "close":
                if handle is not None:
                    handle.close()
                    handle = None
                if mapping is not None:
                    mapping.close()
                    mapping = None
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:  # reported to the test, which fails on it
            print(f"error: {type(exc).__name__}: {exc}", flush=True)
            continue
        print("ok", flush=True)


if __name__ == "__main__":
    main()
