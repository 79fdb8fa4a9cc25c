"""`dlp watch` through the real CLI entry point: usage errors become exit status 2."""

from __future__ import annotations

import io

import pytest

from dlp.frontends.cli import Env, main


@pytest.mark.parametrize("argv, message", [
    (["watch", "{o}"], "needs --release DIR and --quarantine DIR"),
    (["watch", "--release", "{o}"], "go with an OUTBOX argument"),
    (["watch"], "no outbox to watch"),
    (["watch", "{o}/missing", "--release", "{o}/r", "--quarantine", "{o}/q"], "is not a folder"),
    (["watch", "--config", "{o}/none.toml"], "cannot read the watch configuration"),
])
def test_usage_errors(tmp_path, argv, message):
    err = io.StringIO()
    status = main([a.format(o=tmp_path) for a in argv], Env(stdout=io.StringIO(), stderr=err))
    assert status == 2
    assert message in err.getvalue()
