"""dlp: finds registered trade secrets in outbound content."""

import os as _os

# One BLAS thread per process, set before NumPy loads OpenBLAS: its thread pool otherwise
# starts one spinning thread per core at import, 0.1 s of CPU in every `dlp` command even
# when nothing is multiplied. Scanning keeps BLAS to one thread anyway (`scanner_from`);
# more cores mean more scanning processes. An explicit setting is left as it is.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
