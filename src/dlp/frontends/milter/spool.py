"""Message content as it arrives from the MTA, in memory up to a threshold, then on disk.

The buffer never holds more than `max_bytes`: beyond that it keeps counting and marks
itself oversize, so a huge message costs neither memory nor disk, and the milter can
answer for it without scanning a truncated copy.
"""

from __future__ import annotations

import tempfile


class MessageBuffer:
    def __init__(self, max_bytes: int, spool_threshold: int, spool_dir: str | None = None) -> None:
        if max_bytes < 0 or spool_threshold < 0:
            raise ValueError("buffer limits must not be negative")
        self.max_bytes = max_bytes
        self.size = 0  # bytes offered, kept or not
        self._file = tempfile.SpooledTemporaryFile(max_size=spool_threshold, dir=spool_dir)

    @property
    def oversize(self) -> bool:
        return self.size > self.max_bytes

    @property
    def spooled(self) -> bool:
        """True once the content has moved to a temporary file."""
        return bool(getattr(self._file, "_rolled", False))

    def write(self, data: bytes) -> None:
        room = self.max_bytes - self.size
        if room > 0:
            self._file.write(data[:room])
        self.size += len(data)

    def head(self, size: int) -> bytes:
        """The first `size` bytes kept (the header block of a message, say), oversize or not."""
        self._file.seek(0)
        return self._file.read(size)

    def read(self) -> bytes:
        """The whole message. Refuses when oversize: a truncated copy is not the message."""
        if self.oversize:
            raise ValueError(f"message of {self.size} bytes exceeds the limit of {self.max_bytes}")
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()
