"""Settings of `dlp watch`: outboxes and daemon options, from the command line and/or a TOML file.

A configuration file (``--config``) looks like this; every key but the outbox paths
is optional, and options given on the command line win over the file::

    workers = 4            # files scanned at the same time
    scan_in = "threads"    # or "processes"
    settle = 2.0           # seconds a file's size and mtime must stay unchanged
    rescan = 60.0          # seconds between full rescans of every outbox (safety net)
    fail_open = false      # true: unscannable content follows the policy instead of quarantine
    ocr = true             # false: images and scanned PDF pages are not read (unscannable)
    ignore = ["*.swp"]     # more temporary-name patterns (added to the built-in ones)

    [[outbox]]
    path = "/srv/share/outbox/acme"
    release = "/srv/share/release/acme"
    quarantine = "/srv/dlp/quarantine/acme"
    country = "CN"                      # destination country code
    to = ["transfers@acme.example"]     # destination addresses
    poll = 5.0                          # poll every 5 s (SMB/NFS); omit for inotify
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from ...errors import ConfigError
from ...types import Destination, escape_path
from .names import TEMPORARY_NAMES

WORK_FOLDER = ".dlp-work"
SCAN_MODES = ("threads", "processes")


@dataclass(frozen=True)
class Outbox:
    """One watched folder and where its files go."""

    path: Path
    release: Path
    quarantine: Path
    country: str | None = None
    to: tuple[str, ...] = ()
    poll: float | None = None  # None: native change events (inotify)

    @property
    def destination(self) -> Destination:
        return Destination(addresses=self.to, country=self.country, channel="watch", share=escape_path(self.path))

    @property
    def work(self) -> Path:
        """The private work folder; inside the outbox, so claiming a file is a rename on one filesystem."""
        return self.path / WORK_FOLDER


@dataclass(frozen=True)
class WatchSettings:
    outboxes: tuple[Outbox, ...]
    workers: int = 2
    scan_in: str = "threads"
    settle: float = 2.0
    rescan: float = 60.0
    fail_open: bool = False
    ocr: bool = True
    ignore: tuple[str, ...] = TEMPORARY_NAMES
    registry_check: float = 1.0  # seconds between two looks for a new registry generation (Store.watch)
    source: str = "command line"  # where the settings came from, for messages

    @property
    def tick(self) -> float:
        """How often pending files are looked at."""
        return min(0.5, max(0.05, self.settle / 4))


_OPTIONS = {"workers": int, "scan_in": str, "settle": float, "rescan": float, "fail_open": bool,
            "ocr": bool, "ignore": list, "poll": float, "registry_check": float}
_OUTBOX_KEYS = {"path", "release", "quarantine", "country", "to", "poll"}


def load_settings(config: str | os.PathLike | None, overrides: Mapping[str, Any] | None = None,
                  extra_outboxes: tuple[Outbox, ...] = ()) -> WatchSettings:
    """Settings from the TOML file (if any), then `overrides` (command-line values that are not None),
    plus outboxes given on the command line. Validated; raises ConfigError naming the file and key."""
    data: dict[str, Any] = {}
    source = "command line"
    if config is not None:
        source = os.fspath(config)
        try:
            with open(config, "rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read the watch configuration: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - set(_OPTIONS) - {"outbox"}
    if unknown:
        raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_OPTIONS))}, [[outbox]])")
    options: dict[str, Any] = {}
    for key, kind in _OPTIONS.items():
        if key in data:
            options[key] = _typed(source, key, data[key], kind)
    for key, value in (overrides or {}).items():
        if value is not None:
            options[key] = value
    default_poll = options.pop("poll", None)
    outboxes = [_outbox(source, i, raw, default_poll) for i, raw in enumerate(_outbox_tables(source, data))]
    outboxes.extend(replace(o, poll=o.poll if o.poll is not None else default_poll) for o in extra_outboxes)
    if "ignore" in options:
        options["ignore"] = TEMPORARY_NAMES + tuple(str(p) for p in options["ignore"])
    settings = WatchSettings(outboxes=tuple(outboxes), source=source, **options)
    validate(settings)
    return settings


def validate(settings: WatchSettings) -> None:
    where = settings.source
    if not settings.outboxes:
        raise ConfigError(f"{where}: no outbox to watch: give OUTBOX --release DIR --quarantine DIR, "
                          f"or [[outbox]] tables in --config")
    if settings.workers < 1:
        raise ConfigError(f"{where}: workers must be at least 1")
    if settings.scan_in not in SCAN_MODES:
        raise ConfigError(f"{where}: scan_in must be one of {', '.join(SCAN_MODES)}, not {settings.scan_in!r}")
    if settings.settle < 0 or settings.rescan <= 0 or settings.registry_check <= 0:
        raise ConfigError(f"{where}: settle must be >= 0, rescan and registry_check > 0 (seconds)")
    folders: list[tuple[str, Path]] = []
    for i, box in enumerate(settings.outboxes):
        if box.poll is not None and box.poll <= 0:
            raise ConfigError(f"{where}: outbox {i} ({box.path}): poll must be more than 0 seconds")
        if not box.path.is_dir():
            raise ConfigError(f"{where}: outbox {i}: {box.path} is not a folder")
        folders += [(f"outbox {i} path", box.path), (f"outbox {i} release", box.release),
                    (f"outbox {i} quarantine", box.quarantine)]
    for a_name, a in folders:
        for b_name, b in folders:
            if a_name != b_name and (a == b or b.is_relative_to(a)):
                raise ConfigError(f"{where}: {b_name} ({b}) lies inside {a_name} ({a}); "
                                  f"keep outboxes, release and quarantine folders apart")


def prepare_folders(box: Outbox) -> list[str]:
    """Create the release, quarantine and work folders, check they share the outbox's filesystem
    (placing a file must be one atomic rename), and make folders that already existed no looser
    than the daemon would create them. Returns what was tightened, for the log.

    - quarantine and work folder: the daemon's own, mode 0700; one owned by another user is
      refused (its owner could open it again and read what is held, or plant journal entries);
    - release folder: others may read it (the transfer job does), but no one may write to it
      where the daemon's umask would not let them, or files could reach it without a scan.
    """
    box.release.mkdir(parents=True, exist_ok=True)
    box.quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
    box.work.mkdir(mode=0o700, exist_ok=True)
    device = box.path.stat().st_dev
    for name, folder in (("release", box.release), ("quarantine", box.quarantine)):
        if folder.stat().st_dev != device:
            raise ConfigError(f"outbox {box.path}: the {name} folder {folder} is on another filesystem; "
                              f"put it on the outbox's filesystem so files move by atomic rename")
    umask = _umask()
    notes = [_no_looser(box, "release", box.release, forbidden=0o022 & umask)]
    for name, folder in (("quarantine", box.quarantine), ("work", box.work)):
        owner = folder.stat().st_uid
        if owner != os.geteuid():
            raise ConfigError(f"outbox {box.path}: the {name} folder {folder} belongs to uid {owner}, not to the "
                              f"daemon's user (uid {os.geteuid()}); its owner could read or change what it holds. "
                              f"Remove it, or chown it to the daemon's user")
        notes.append(_no_looser(box, name, folder, forbidden=0o077))
    return [note for note in notes if note]


def _no_looser(box: Outbox, name: str, folder: Path, *, forbidden: int) -> str:
    st = folder.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"outbox {box.path}: the {name} folder {folder} is not a folder")
    mode = stat.S_IMODE(st.st_mode)
    if not mode & forbidden:
        return ""
    tight = mode & ~forbidden
    try:
        os.chmod(folder, tight)
    except OSError as exc:
        raise ConfigError(f"outbox {box.path}: the {name} folder {folder} has mode {mode:04o}, looser than the "
                          f"daemon allows ({tight:04o}), and cannot be tightened ({exc.strerror}); "
                          f"run `chmod {tight:04o} {folder}`") from None
    return f"{name} folder {escape_path(folder)}: mode {mode:04o} tightened to {tight:04o}"


def _umask() -> int:
    """The process umask, read without changing it (worker threads may be creating folders)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022  # the usual default; only decides how strict the release check is


def _outbox_tables(source: str, data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tables = data.get("outbox", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{source}: outbox must be an array of tables: [[outbox]] with path, release, quarantine")
    return tables


def _outbox(source: str, i: int, raw: Mapping[str, Any], default_poll: float | None) -> Outbox:
    unknown = set(raw) - _OUTBOX_KEYS
    if unknown:
        raise ConfigError(f"{source}: outbox {i}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_OUTBOX_KEYS))})")
    paths = {}
    for key in ("path", "release", "quarantine"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{source}: outbox {i}: {key} is required (a folder path)")
        paths[key] = Path(raw[key]).absolute()
    to = raw.get("to", [])
    if isinstance(to, str):
        to = [to]
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        raise ConfigError(f"{source}: outbox {i}: to must be a list of addresses")
    country = raw.get("country")
    if country is not None and not isinstance(country, str):
        raise ConfigError(f"{source}: outbox {i}: country must be a country code such as \"CN\"")
    poll = _typed(source, f"outbox {i}: poll", raw["poll"], float) if "poll" in raw else default_poll
    return Outbox(paths["path"], paths["release"], paths["quarantine"], country, tuple(to), poll)


def _typed(source: str, key: str, value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{source}: {key} must be {kind.__name__}, not {type(value).__name__}")
