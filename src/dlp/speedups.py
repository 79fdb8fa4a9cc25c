"""The optional C extension (`_speedups.c`): `native` is the module, or None.

It is built at install time where a C compiler and Python's headers are at hand; without
it, or with ``DLP_SPEEDUPS=0`` in the environment (to compare, or to rule it out), every
caller runs its NumPy code, which gives the same results (the tests check both). Callers
read `native` at each call, so a test can switch it off.
"""

from __future__ import annotations

import os

native = None
if os.environ.get("DLP_SPEEDUPS", "1") != "0":
    try:
        from . import _speedups as native  # type: ignore[no-redef]
    except ImportError:  # not built here: the NumPy code stands in
        native = None
