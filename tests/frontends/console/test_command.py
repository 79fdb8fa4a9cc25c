"""`dlp console user|token ...` through the CLI entry point, and `dlp console` serving over TLS."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from dlp.audit import AuditLog
from dlp.frontends.cli import Env, main
from dlp.frontends.console.accounts import Accounts, Kdf

from .conftest import FAST_KDF


class Run:
    def __init__(self, state: Path):
        self.state = state

    def __call__(self, *argv: str, stdin: str = "") -> int:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--state", str(self.state), *argv], Env(stdout=out, stderr=err, stdin=io.StringIO(stdin),
                                                             environ={}))
        self.out, self.err = out.getvalue(), err.getvalue()
        return code


@pytest.fixture
def run(tmp_path) -> Run:
    return Run(tmp_path / "state")


def test_users_roles_and_tokens_from_the_command_line(run):
    assert run("console", "user", "add", "ada", "--role", "admin", stdin="a long admin password\n") == 0, run.err
    assert run.out.strip() == "console user ada added as admin"
    assert run("console", "user", "add", "bot", "--role", "viewer", "--no-password") == 0
    assert run("console", "user", "add", "ada", "--role", "viewer", stdin="another long password\n") == 2
    assert "exists already" in run.err
    assert run("console", "user", "add", "eve", "--role", "viewer", stdin="short\n") == 2
    assert "at least 12 characters" in run.err
    assert run("console", "user", "add", "eve", "--role", "root", stdin="a long password here\n") == 2
    assert run("console", "user", "add", "../eve", "--role", "viewer", stdin="a long password here\n") == 2
    assert run("console", "user", "add", "eve", "--role", "viewer") == 2 and "no password" in run.err

    assert run("console", "token", "create", "bot", "--label", "siem") == 0
    token = run.out.strip()
    assert token.startswith("dlpc_") and len(token) > 40 and "shown this once" in run.err
    raw = (run.state / "console.sqlite").read_bytes()
    assert token.encode() not in raw and b"a long admin password" not in raw      # digests and hashes only
    accounts = Accounts(run.state, AuditLog(run.state), kdf=FAST_KDF)
    assert accounts.bearer(token).user.name == "bot" and accounts.bearer(token + "x") is None
    assert run("console", "token", "list") == 0 and "bot" in run.out and "siem" in run.out and token not in run.out

    assert run("console", "user", "role", "bot", "reviewer") == 0
    assert accounts.bearer(token).user.role == "reviewer"                       # a token acts with its user's role
    assert run("console", "user", "remove", "ada") == 2 and "only admin" in run.err
    assert run("console", "user", "remove", "bot") == 0
    assert accounts.bearer(token) is None                                        # its tokens went with it
    assert run("console", "user", "list") == 0 and run.out.split()[0] == "ada"

    entries = [e for e in AuditLog(run.state).entries() if e["event"] == "console"]
    assert [e["action"] for e in entries] == ["user-add", "user-add", "token-create", "user-role", "user-remove"]
    assert all(e["via"] == "cli" and e["by"] for e in entries)
    assert run("audit", "verify") == 0


def test_passwords_are_memory_hard_hashes(tmp_path):
    accounts = Accounts(tmp_path, AuditLog(tmp_path))
    accounts.add_user("ada", "admin", "correct horse battery staple", by="t", via="cli")
    import sqlite3

    stored = sqlite3.connect(tmp_path / "console.sqlite").execute("SELECT password FROM users").fetchone()[0]
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2 ** 15, 8, 1) and len(bytes.fromhex(salt)) == 16
    assert 128 * int(r) * int(n) >= 32 * 2 ** 20                                  # 32 MiB per guess
    assert Kdf.verify("correct horse battery staple", stored) and not Kdf.verify("correct horse battery stapl", stored)
    other = Accounts(tmp_path / "b", AuditLog(tmp_path / "b"))
    other.add_user("ada", "admin", "correct horse battery staple", by="t", via="cli")
    assert sqlite3.connect(tmp_path / "b/console.sqlite").execute("SELECT password FROM users").fetchone()[0] != stored


def test_sessions_expire_when_idle_and_after_their_lifetime(tmp_path):
    now = [1_000_000.0]
    accounts = Accounts(tmp_path, AuditLog(tmp_path), clock=lambda: now[0], kdf=FAST_KDF, idle_s=600,
                        lifetime_s=3600)
    accounts.add_user("rita", "reviewer", "a long enough password", by="t", via="cli")
    cookie, _ = accounts.login("rita", "a long enough password", "127.0.0.1")
    for _ in range(5):
        now[0] += 590
        assert accounts.session(cookie) is not None
    now[0] += 800
    assert accounts.session(cookie) is None                                       # lifetime over, however active
    cookie, _ = accounts.login("rita", "a long enough password", "127.0.0.1")
    now[0] += 601
    assert accounts.session(cookie) is None                                       # idle too long
    assert accounts.session("forged") is None and accounts.session("") is None


@pytest.mark.parametrize("listen,message", [("0.0.0.0:0", "needs TLS"), ("nonsense", "expected HOST:PORT"),
                                            ("127.0.0.1:99999", "expected HOST:PORT")])
def test_serving_refuses_unsafe_or_bad_addresses(run, listen, message):
    assert run("console", "user", "add", "ada", "--role", "admin", stdin="a long admin password\n") == 0
    assert run("console", "--listen", listen) == 2 and message in run.err


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "console.crt", folder / "console.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.integration
def test_console_over_tls_sets_secure_cookies(run, tmp_path):
    assert run("console", "user", "add", "ada", "--role", "admin", stdin="a long admin password\n") == 0
    cert, key = self_signed(tmp_path)
    command = [sys.executable, "-m", "dlp", "--state", str(run.state), "--registry", str(tmp_path / "none"),
               "console", "--listen", "127.0.0.1:0", "--tls-cert", str(cert), "--tls-key", str(key)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLP_")}
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline()
        assert line.startswith("dlp console listening on https://127.0.0.1:"), line + server.stderr.read()
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        context = ssl.create_default_context(cafile=str(cert))

        def request(method, path, body=None, headers=None):
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read().decode()
            conn.close()
            return response, data

        response, page = request("GET", "/login")
        assert response.status == 200
        login_cookie = response.getheader("set-cookie")
        assert "Secure" in login_cookie and "HttpOnly" in login_cookie
        token = page.split('name="csrf" value="')[1].split('"')[0]
        from urllib.parse import urlencode

        response, _ = request("POST", "/login", urlencode({"name": "ada", "password": "a long admin password",
                                                           "csrf": token}),
                              {"content-type": "application/x-www-form-urlencoded",
                               "cookie": login_cookie.split(";")[0]})
        assert response.status == 303
        session = [c for c in response.headers.get_all("set-cookie") if c.startswith("dlp_session=")][0]
        assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
        response, body = request("GET", "/api/incidents", headers={"cookie": session.split(";")[0]})
        assert response.status == 200 and json.loads(body)["incidents"] == []
        import socket

        with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")  # an untrusted certificate
    finally:
        server.terminate()
        server.wait(20)
    assert server.returncode == 0
