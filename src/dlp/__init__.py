"""dlp: finds registered trade secrets in outbound content."""

import os as _os

# One BLAS thread per process, set before NumPy loads OpenBLAS: its thread pool otherwise
# starts one spinning thread per core at import, 0.1 s of CPU in every `dlp` command even
# when nothing is multiplied. Scanning keeps BLAS to one thread anyway (`scanner_from`);
# more cores mean more scanning processes. An explicit setting is left as it is.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# No transparent huge pages asked for NumPy's arrays (read when NumPy loads). With the common
# kernel setting (THP "madvise", defrag "madvise") every array of 4 MB or more that NumPy
# marks for huge pages can stall on memory compaction when first written: the first 40 MB
# scan of a process spent 0.4 s in the kernel that way, the next ones none, and whole
# commands pay that first time. Steady-state scans ran as fast without them.
_os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"
