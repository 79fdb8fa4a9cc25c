"""The compiled registry as one self-checking value, sent to each worker once.

`pack` reads the generation the client opened (`Store.pack`: its manifest,
catalogue and segments, keyed values only, never plaintext), the key file and the
policy file into a `Shipment`. `Shipment.open` writes them into a private folder on
the worker (`Store.unpack`) and opens a `Scanner` there, so the store's keyed
checksums and version checks run on the worker as they do locally. Workers need no
access to the registry path. Nothing here imports Dask.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ... import __version__
from ...errors import StoreError
from ...scanner import Scanner, open_scanner
from ...store import Store


@dataclass(frozen=True)
class Shipment:
    """Everything a worker needs to open the same scanner as the client."""

    dlp_version: str
    generation: str                      # generation name, e.g. "gen-000007"
    files: tuple[tuple[str, bytes], ...]  # (path relative to the store, bytes)
    key: bytes
    policy: tuple[str, bytes] | None = None  # (file name, bytes)
    ocr: bool = True  # False: the client runs with --no-ocr

    @property
    def digest(self) -> str:
        """Identity of the content (not of the key): names the worker plugin, so reruns reuse it."""
        h = hashlib.sha256(self.dlp_version.encode() + b"\0" + self.generation.encode())
        for name, data in self.files:
            h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
        if self.policy is not None:
            h.update(b"\0policy\0" + hashlib.sha256(self.policy[1]).digest())
        if not self.ocr:
            h.update(b"\0no-ocr")
        return h.hexdigest()

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files) + len(self.key)

    def open(self, folder: str | os.PathLike) -> Scanner:
        """Write the registry into `folder` (created, private) and open a scanner on it."""
        if self.dlp_version != __version__:
            raise StoreError(f"this worker runs dlp {__version__}, the client dlp {self.dlp_version}; "
                             f"install the same dlp version on the client and every worker")
        root = Path(folder)
        store = root / "registry"
        root.mkdir(parents=True, mode=0o700, exist_ok=True)
        Store.unpack(store, self.generation, list(self.files))
        key = root / "registry.key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(self.key)
        policy = None
        if self.policy is not None:
            policy = root / self.policy[0]
            policy.write_bytes(self.policy[1])
        return open_scanner(store, key, policy, ocr=self.ocr, environ={})


def pack(scanner: Scanner, policy_file: str | os.PathLike | None = None) -> Shipment:
    """The generation `scanner` was opened on, its key and the policy file, read into memory."""
    index = scanner.index
    files = index.store.pack(index.generation_record)
    try:
        key = index.key_path.read_bytes()
    except OSError as exc:
        raise StoreError(f"registry key {index.key_path} cannot be read: {exc.strerror}") from None
    policy = None
    if policy_file:
        policy = (Path(policy_file).name, Path(policy_file).read_bytes())
    return Shipment(__version__, index.generation_name, tuple(files), key, policy, ocr=scanner.ocr.enabled)
