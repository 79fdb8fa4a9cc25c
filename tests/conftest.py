"""Shared fixtures. Tests that read ../shared/corpora skip cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPORA = SHARED / "corpora"


@pytest.fixture
def corpora() -> Path:
    """The root of ../shared/corpora, or skip the test."""
    if not CORPORA.is_dir():
        pytest.skip("../shared/corpora is not present")
    return CORPORA


@pytest.fixture(scope="session", autouse=True)
def _derived_tables_cache(tmp_path_factory):
    """One cache of derived word tables (`dlp.text.derived`) for the whole run, inherited by the
    commands tests start: built once per run, never read from the user's own cache."""
    import os

    folder = tmp_path_factory.mktemp("derived-cache")
    previous = os.environ.get("DLP_CACHE_DIR")
    os.environ["DLP_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("DLP_CACHE_DIR", None)
    else:
        os.environ["DLP_CACHE_DIR"] = previous
