"""One composition root: where everything is and how far extraction may go, loaded once, frozen.

`Settings` is built by `load_settings` from, in order of precedence:

1. command-line flags (`--registry`, `--key`, `--state`, `--models`, `--policy`);
2. environment variables (`DLP_REGISTRY`, `DLP_KEY_FILE`, `DLP_STATE`, `DLP_MODELS`,
   `DLP_POLICY`);
3. one TOML file (`dlp --settings FILE`, or `DLP_SETTINGS`), for example::

       registry = "/var/lib/dlp/fingerprints"
       key = "/etc/dlp/fingerprints.key"
       state = "/var/lib/dlp/state"
       policy = "/etc/dlp/policy.toml"
       ocr = true                  # false: images and scanned PDF pages are not read

       [limits]                    # any field of dlp.extract.Limits
       timeout_seconds = 60
       max_depth = 8

4. the built-in defaults (`./fingerprints`, the key beside it, `state/` and `models/`
   beside it, the built-in policy, `Limits()`).

Every error names the file, the key and the fix. The CLI builds it once per command
(`Env.settings`) and hands it to `scanner.scanner_from`, the recorder and the audit
trail; worker processes (the watch daemon's pool, `scan --jobs`) get the same frozen
value, so nothing reads the environment again after this. Relative paths in the file
are relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .extract.base import Limits

DEFAULT_REGISTRY = "fingerprints"
DEFAULT_MODELS = "models"  # beside the registry directory
DEFAULT_STATE = "state"    # beside the registry directory
PATHS = ("registry", "key", "state", "models", "policy")
ENVIRONMENT = {"registry": "DLP_REGISTRY", "key": "DLP_KEY_FILE", "state": "DLP_STATE", "models": "DLP_MODELS",
               "policy": "DLP_POLICY"}


@dataclass(frozen=True)
class Settings:
    registry: Path
    key: Path | None  # None: DIR.key beside the registry
    state: Path
    models: Path
    policy: Path | None  # None: the built-in policy
    limits: Limits = field(default_factory=Limits)
    ocr: bool = True  # read text in images and scanned PDF pages (`--no-ocr`, `ocr = false`)
    config: Path | None = None  # the file these came from, if any

    def with_policy(self, policy: str | os.PathLike | None) -> "Settings":
        return dataclasses.replace(self, policy=Path(policy) if policy else None)


def load_settings(*, config: str | os.PathLike | None = None, environ: Mapping[str, str] = os.environ,
                  **flags: Any) -> Settings:
    """Settings from flags, then the environment, then the TOML file, then the defaults."""
    chosen = config or environ.get("DLP_SETTINGS")
    path = Path(chosen) if chosen else None
    data = _read(path) if path else {}
    unknown = set(data) - set(PATHS) - {"limits", "ocr"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(PATHS)}, ocr, [limits])")
    if "ocr" in data and not isinstance(data["ocr"], bool):
        raise ConfigError(f"{path}: ocr: true or false is expected, e.g. ocr = false")
    ocr = flags.get("ocr") if flags.get("ocr") is not None else data.get("ocr", True)
    values: dict[str, Path | None] = {}
    for name in PATHS:
        flag = flags.get(name)
        if flag:
            values[name] = Path(flag)
        elif environ.get(ENVIRONMENT[name]):
            values[name] = Path(environ[ENVIRONMENT[name]])
        elif name in data:
            if not isinstance(data[name], str) or not data[name]:
                raise ConfigError(f"{path}: {name}: a path is expected, e.g. {name} = \"/var/lib/dlp/{name}\"")
            given = Path(data[name])
            values[name] = given if given.is_absolute() else path.parent / given  # type: ignore[union-attr]
        else:
            values[name] = None
    registry = values["registry"] or Path(DEFAULT_REGISTRY)
    beside = Path(registry).resolve().parent
    return Settings(
        registry=registry, key=values["key"], state=values["state"] or beside / DEFAULT_STATE,
        models=values["models"] or beside / DEFAULT_MODELS, policy=values["policy"],
        limits=_limits(data.get("limits", {}), path, flags.get("limits")), ocr=bool(ocr), config=path)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such settings file (--settings or DLP_SETTINGS)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _limits(table: Any, path: Path | None, given: Limits | None) -> Limits:
    base = given or Limits()
    if not table:
        return base
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: limits: a table is expected ([limits] with keys such as timeout_seconds = 60)")
    known = {f.name: f for f in dataclasses.fields(Limits)}
    changes = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{path}: limits.{key}: unknown limit (known: {', '.join(sorted(known))})")
        kind = type(getattr(base, key))
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind) and not isinstance(value, bool)
        if not ok or (isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0):
            raise ConfigError(f"{path}: limits.{key}: expected a non-negative {kind.__name__}, got {value!r}")
        changes[key] = kind(value)
    return dataclasses.replace(base, **changes)
