"""Fixtures of the console's tests: the demo company's state (built once), users, an app in process.

The demo is built once per session (registering the demo secrets and running the watch
daemon take seconds). Tests that resolve incidents each take a *different* incident, by
file name or channel, so the order of tests does not matter.
"""

from __future__ import annotations

import io
import re
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest.importorskip("starlette")
with warnings.catch_warnings():  # Starlette would rather have the httpx2 fork; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from dlp.frontends.cli import Env, main  # noqa: E402
from dlp.frontends.console.accounts import Kdf  # noqa: E402
from dlp.frontends.console.app import ConsoleSettings, create_app  # noqa: E402

from . import demo as demo_data  # noqa: E402

PASSWORD = "correct horse battery staple"
USERS = {"ada": "admin", "rita": "reviewer", "vic": "viewer"}
FAST_KDF = Kdf(n=2 ** 10)  # users added by tests in process; those of the demo use the default


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> demo_data.Demo:
    built = demo_data.build(tmp_path_factory.mktemp("console-demo"))
    for name, role in USERS.items():
        out, err = io.StringIO(), io.StringIO()
        code = main([*built.args(), "console", "user", "add", name, "--role", role],
                    Env(stdout=out, stderr=err, stdin=io.StringIO(PASSWORD + "\n"), environ={}))
        assert code == 0, err.getvalue()
    return built


def settings_of(demo: demo_data.Demo, **changes) -> ConsoleSettings:
    return replace(ConsoleSettings(state=demo.state, registry=demo.registry, policy=str(demo.policy)), **changes)


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client_for(demo, clock) -> Iterator[Callable[..., TestClient]]:
    """client_for(**settings) -> a TestClient of a new app over the demo state (https://testserver)."""
    made = []

    def make(**changes) -> TestClient:
        app = create_app(settings_of(demo, **changes), clock=clock, kdf=FAST_KDF)
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(client_for) -> TestClient:
    return client_for()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/login")
    response = client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    return client


def held(demo: demo_data.Demo, name: str) -> tuple[str, Path]:
    """The watch incident whose quarantined file is called `name`, and that file."""
    for incident, path in demo.held.items():
        if Path(path).name == name:
            return incident, Path(path)
    raise AssertionError(f"no held file {name} in the demo: {demo.held}")


def snapshot(demo: demo_data.Demo) -> dict:
    """What a refused request must leave as it was: every incident's status and resolution, the allow
    entries, the files held and released, the console's users, and the audit trail apart from the
    login attempts a refusal itself records."""
    from dlp.audit import AuditLog
    from dlp.frontends.console.accounts import Accounts
    from dlp.incidents import IncidentStore

    store = IncidentStore(demo.state)
    try:
        incidents = [(i.id, i.status, i.resolved_by, i.justification) for i in store.query()]
        allows = [(a.id, a.digest, a.destination) for a in store.allows()]
    finally:
        store.close()
    files = {str(p): p.read_bytes() for root in (demo.quarantine, demo.release) if root and root.exists()
             for p in sorted(root.rglob("*")) if p.is_file()}
    audit = AuditLog(demo.state)
    entries = [e for e in audit.entries() if not (e["event"] == "console" and e.get("action", "").startswith("login"))]
    users = [(u.name, u.role) for u in Accounts(demo.state, audit, kdf=FAST_KDF).users()]
    return {"incidents": incidents, "allows": allows, "files": files, "audit": entries, "users": users}


def copy_state(demo: demo_data.Demo, into: Path) -> Path:
    shutil.copytree(demo.state, into)
    return into
