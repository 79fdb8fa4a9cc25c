"""Serving the console: one listening socket (127.0.0.1 unless told otherwise), TLS when asked for.

The socket is bound here, before uvicorn starts, so ``--listen 127.0.0.1:0`` works (the
port the kernel chose is printed) and a port in use is a one-line error, not a traceback.
A console that listens beyond the loopback interface must use TLS: passwords and
session cookies would otherwise cross the network in clear.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ...errors import UsageError

DEFAULT_LISTEN = "127.0.0.1:8765"


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    @classmethod
    def parse(cls, text: str) -> "Listen":
        """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (127.0.0.1)."""
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
        host = host.strip("[]") or "127.0.0.1"
        return cls(host, int(port))


def bind(listen: Listen) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((listen.host, listen.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def check_tls(cert: Path | None, key: Path | None) -> None:
    """Both or neither, and they load: refuse at start rather than at the first connection."""
    if (cert is None) != (key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if cert is None:
        return
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use --tls-cert {cert} / --tls-key {key}: {exc}") from None


def serve(app, listen: Listen, *, tls_cert: Path | None = None, tls_key: Path | None = None,
          announce: Callable[[str], None] = print) -> None:
    """Run until SIGINT or SIGTERM; uvicorn finishes the requests in hand, then this returns."""
    import uvicorn

    check_tls(tls_cert, tls_key)
    if not listen.loopback and tls_cert is None:
        raise UsageError(f"--listen {listen.host}: a console reachable from other machines needs TLS "
                         "(--tls-cert FILE --tls-key FILE); passwords would otherwise cross the network in clear")
    sock = bind(listen)
    port = sock.getsockname()[1]
    scheme = "https" if tls_cert else "http"
    host = f"[{listen.host}]" if ":" in listen.host else listen.host
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, proxy_headers=False,
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key, timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    announce(f"dlp console listening on {scheme}://{host}:{port}/")
    # uvicorn hands a stop signal back to the handler it found once it has shut down; with these
    # the command then returns (exit 0 for systemd) instead of dying by the signal
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
