"""The registry shipped to workers: opened from bytes alone, checked as on disk."""

from __future__ import annotations

import shutil

import pytest

from dlp.errors import StoreCorrupt, StoreError
from dlp.frontends.cluster.shipment import Shipment, pack
from dlp.scanner import Scanner
from dlp.types import Destination

from helpers import prose, registry_with, words

SECRET = " ".join(words(400, seed=5))


@pytest.fixture
def scanner(tmp_path) -> Scanner:
    return Scanner(registry_with(tmp_path, {"plan": SECRET}))


def test_the_shipped_scanner_finds_what_the_original_finds(scanner, tmp_path):
    shipment = pack(scanner)
    shutil.move(tmp_path / "reg", tmp_path / "elsewhere")  # workers need not see the registry path
    shipped = shipment.open(tmp_path / "worker")
    leak = prose(200, 1) + " " + " ".join(SECRET.split()[50:110])
    for text in (leak, prose(300, 2)):
        local = scanner.scan_bytes(text.encode(), "x.txt", Destination())
        remote = shipped.scan_bytes(text.encode(), "x.txt", Destination())
        assert [f.to_dict() for f in remote.findings] == [f.to_dict() for f in local.findings]
        assert remote.action == local.action
    assert shipped.scan_bytes(leak.encode(), "x.txt").action.label == "block"


def test_the_key_is_private_on_the_worker(scanner, tmp_path):
    pack(scanner).open(tmp_path / "worker")
    assert (tmp_path / "worker" / "registry.key").stat().st_mode & 0o777 == 0o600


def test_content_digest_is_stable_and_ignores_nothing_that_matters(scanner):
    a, b = pack(scanner), pack(scanner)
    assert a.digest == b.digest and a.size > len(a.key)
    files = list(a.files)
    files[-1] = (files[-1][0], files[-1][1] + b"\0")
    assert Shipment(a.dlp_version, a.generation, tuple(files), a.key).digest != a.digest


def test_a_damaged_array_is_refused_on_the_worker(scanner, tmp_path):
    a = pack(scanner)
    files = [(name, data[:-1] + bytes([data[-1] ^ 1]) if name.endswith(".npy") else data)
             for name, data in a.files]
    with pytest.raises(StoreCorrupt, match="fails its keyed checksum"):
        Shipment(a.dlp_version, a.generation, tuple(files), a.key).open(tmp_path / "worker")


def test_another_dlp_version_is_refused(scanner, tmp_path):
    a = pack(scanner)
    with pytest.raises(StoreError, match="same dlp version"):
        Shipment("0.0.0", a.generation, a.files, a.key).open(tmp_path / "worker")
