"""Test helpers: a private Postfix, an SMTP sink it relays to, and the milter in a thread.

Everything listens on 127.0.0.1 only and every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import zlib
import queue
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlp.frontends.milter.server import ListenAddress, MilterServer, MilterSettings, ScanFunction

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix" if os.path.exists("/usr/sbin/postfix") else None)
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
POSTSUPER = shutil.which("postsuper") or "/usr/sbin/postsuper"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- hostile content


def slow_pdf(operators: int = 1_000_000) -> bytes:
    """A one-page PDF of a few dozen KB whose compressed content stream holds `operators`
    text-drawing operators: pdfminer needs about 10 s per 100,000 of them."""
    content = b"BT /F1 12 Tf\n" + b"1 0 0 1 10 10 Tm (a) Tj\n" * operators + b"ET\n"
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------------------- SMTP sink


@dataclass(frozen=True)
class Delivered:
    sender: str
    recipients: tuple[str, ...]
    data: bytes


class _SinkHandler(socketserver.StreamRequestHandler):
    timeout = 10

    def handle(self) -> None:
        send = lambda line: self.wfile.write(line.encode() + b"\r\n")  # noqa: E731
        send("220 sink ESMTP")
        sender, recipients = "", []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                send("250 sink")
            elif verb == b"MAIL":
                sender, recipients = line[10:].strip().decode(), []
                send("250 ok")
            elif verb == b"RCPT":
                recipients.append(line[8:].strip().decode())
                send("250 ok")
            elif verb == b"DATA":
                send("354 go")
                chunks = []
                while (chunk := self.rfile.readline(1 << 20)) not in (b".\r\n", b""):
                    chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.delivered.put(Delivered(sender, tuple(recipients), b"".join(chunks)))  # type: ignore[attr-defined]
                send("250 queued")
            elif verb == b"QUIT":
                send("221 bye")
                return
            else:
                send("250 ok")


class SmtpSink(socketserver.ThreadingTCPServer):
    """Accepts everything Postfix relays and queues it for the test to wait on."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SinkHandler)
        self.delivered: "queue.Queue[Delivered]" = queue.Queue()
        self.port = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "SmtpSink":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)

    def wait(self, timeout: float = 15.0) -> Delivered:
        return self.delivered.get(timeout=timeout)


# ---------------------------------------------------------------------------- Postfix

MASTER_CF = """\
{smtp} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixInstance:
    """A private Postfix: own config and queue directories under /tmp, 127.0.0.1 only,
    relaying everything to `relay_port`. Needs root (Postfix's master runs as root)."""

    def __init__(self, relay_port: int, milter: str | None, extra: dict[str, str] | None = None) -> None:
        # pytest's tmp_path sits in a 0700 directory the postfix user cannot enter.
        self.root = Path(tempfile.mkdtemp(prefix="dlp-postfix-", dir="/tmp"))
        self.root.chmod(0o755)
        self.config = self.root / "conf"
        self.queue = self.root / "queue"
        self.data = self.root / "data"
        self.maillog = self.root / "maillog"
        self.port = free_port()
        for directory in (self.config, self.queue, self.data):
            directory.mkdir()
        shutil.chown(self.data, "postfix")
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue),
            "data_directory": str(self.data),
            "meta_directory": "/etc/postfix",
            "myhostname": "dlp-test.localdomain",
            "mydomain": "localdomain",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": f"[127.0.0.1]:{relay_port}",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": "/tmp",
            "milter_protocol": "6",
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "10s",
            "milter_content_timeout": "30s",
            "smtpd_milters": milter or "",
            "smtp_connect_timeout": "5s",
            "biff": "no",
        }
        settings.update(extra or {})
        (self.config / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        (self.config / "master.cf").write_text(MASTER_CF.format(smtp=f"127.0.0.1:{self.port}"))

    def _postfix(self, *args: str) -> subprocess.CompletedProcess:
        assert POSTFIX is not None
        return subprocess.run(
            [POSTFIX, "-c", str(self.config), *args], capture_output=True, text=True, timeout=30
        )

    def start(self) -> None:
        done = self._postfix("start")
        if done.returncode != 0:
            raise RuntimeError(f"postfix start failed: {done.stderr}\n{self.log()}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"postfix did not listen on {self.port}\n{self.log()}")

    def stop(self) -> None:
        try:
            self._postfix("stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def queue_entries(self) -> list[dict]:
        done = subprocess.run(
            [POSTQUEUE, "-c", str(self.config), "-j"], capture_output=True, text=True, timeout=15
        )
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def wait_for_queue(self, predicate: Callable[[dict], bool], timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.queue_entries():
                if predicate(entry):
                    return entry
            time.sleep(0.1)
        raise TimeoutError(f"no matching queue entry within {timeout} s\n{self.log()}")

    def log(self) -> str:
        try:
            return self.maillog.read_text()[-4000:]
        except OSError:
            return "(no maillog)"


# ---------------------------------------------------------------------------- the milter


class MilterThread:
    """A `MilterServer` on its own event loop in a daemon thread. `scan` runs in the server's
    worker processes; `decider` and `record` in this process."""

    def __init__(self, scan: ScanFunction, settings: MilterSettings, address: ListenAddress, *, decider=None,
                 record=None, on_unscanned=None) -> None:
        self.scan = scan
        self.settings = settings
        self.address = address
        self.decider = decider
        self.record = record
        self.on_unscanned = on_unscanned
        self.loop = asyncio.new_event_loop()
        self.server: MilterServer | None = None
        self.bound: list[str] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> "MilterThread":
        self._thread.start()
        self.server = MilterServer(self.scan, self.settings, decider=self.decider, record=self.record,
                                   on_unscanned=self.on_unscanned,
                                   incident_id=lambda: "dlp-test-0001")
        self.bound = asyncio.run_coroutine_threadsafe(self.server.start(self.address), self.loop).result(30)
        return self

    def stop(self) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.close(grace=2), self.loop).result(30)
            self.server = None

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
