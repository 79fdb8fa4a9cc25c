"""Settings: flags, then the environment, then one TOML file, then the defaults; used by every command."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from dlp.errors import ConfigError
from dlp.extract import Limits
from dlp.frontends import cli
from dlp.settings import load_settings

from helpers import prose


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("flag, env, file, expected", [
    ("/flag/reg", "/env/reg", "from-file", "/flag/reg"),
    (None, "/env/reg", "from-file", "/env/reg"),
    (None, None, "from-file", "{dir}/from-file"),
    (None, None, None, "fingerprints"),
])
def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path, flag, env, file, expected):
    settings_file = write(tmp_path / "dlp.toml", f'registry = "{file}"\n' if file else "")
    environ = {"DLP_REGISTRY": env} if env else {}
    settings = load_settings(config=settings_file, environ=environ, registry=flag)
    assert str(settings.registry) == expected.format(dir=tmp_path)


def test_state_and_models_default_beside_the_registry(tmp_path):
    settings = load_settings(environ={}, registry=tmp_path / "reg")
    assert (settings.state, settings.models, settings.key, settings.policy) == (
        tmp_path / "state", tmp_path / "models", None, None)


def test_limits_come_from_the_file(tmp_path):
    settings = load_settings(config=write(tmp_path / "dlp.toml", "[limits]\nmax_depth = 3\ntimeout_seconds = 9\n"),
                             environ={})
    assert settings.limits == Limits(max_depth=3, timeout_seconds=9.0)


@pytest.mark.parametrize("text, message", [
    ('registy = "x"\n', "unknown key 'registy'"),
    ("registry = 3\n", "registry: a path is expected"),
    ("[limits]\nmax_dept = 3\n", "limits.max_dept: unknown limit"),
    ("[limits]\nmax_depth = -1\n", "limits.max_depth: expected a non-negative int"),
    ("[limits]\nmax_depth = true\n", "limits.max_depth: expected a non-negative int"),
    ("registry = \n", "not valid TOML"),
])
def test_every_error_names_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path / "dlp.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config=path, environ={})
    assert str(path) in str(caught.value) and message in str(caught.value)


def run(*argv: str, environ: dict | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), cli.Env(stdout=out, stderr=err, environ=environ or {}))
    return code, out.getvalue(), err.getvalue()


def test_the_cli_takes_registry_state_and_limits_from_a_settings_file(tmp_path):
    """`dlp --settings FILE` (or $DLP_SETTINGS): the registry and state it names are used by
    register and scan, and its [limits] bound the scan (here: archives one level deep)."""
    secret = prose(300, 7)
    write(tmp_path / "spec.txt", secret)
    settings = write(tmp_path / "dlp.toml", 'registry = "reg"\nstate = "state"\n\n[limits]\nmax_depth = 1\n')
    code, _, err = run("--settings", str(settings), "register", str(tmp_path / "spec.txt"))
    assert code == 0, err
    assert (tmp_path / "reg" / "CURRENT").exists() and (tmp_path / "state" / "audit.jsonl").exists()
    excerpt = " ".join(secret.split()[40:80])
    write(tmp_path / "leak.txt", excerpt)
    code, out, err = run("scan", "--no-record", str(tmp_path / "leak.txt"), environ={"DLP_SETTINGS": str(settings)})
    assert code == 1 and "spec" in out, err
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("leak.txt", excerpt)
    with zipfile.ZipFile(tmp_path / "nested.zip", "w") as z:
        z.writestr("inner.zip", inner.getvalue())
    code, out, _ = run("--settings", str(settings), "scan", "--no-record", "--format", "json",
                       str(tmp_path / "nested.zip"))
    assert '"too_deep"' in out
    code, out, _ = run("--registry", str(tmp_path / "reg"), "scan", "--no-record", "--format", "json",
                       str(tmp_path / "nested.zip"))
    assert code == 1 and '"too_deep"' not in out  # without the file: the default depth reads it
