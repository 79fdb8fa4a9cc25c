"""`dlp milter` through its command module: options, then a real run stopped by SIGTERM."""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import struct
import threading
import time
from types import SimpleNamespace

import pytest

from dlp.recording import Recorder
from dlp.frontends.milter import command
from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.server import ListenAddress

from dlp.rules import DefaultPolicy

from .conversation import marker_scan, message_packets
from .harness import free_port


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dlp")
    for option in ("--registry", "--key", "--policy"):
        parser.add_argument(option)
    command.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_options_become_settings():
    args = parse(["milter", "--listen", "inet:8899@127.0.0.1", "--fail-open", "--timeout", "9",
                  "--max-message-size", "20M", "--spool-threshold", "512K", "--workers", "3", "--socket-mode", "600"])
    assert args.listen == ListenAddress("inet", "127.0.0.1", 8899)
    settings = command.settings_from_args(args)
    assert (settings.fail_open, settings.scan_timeout, settings.workers) == (True, 9.0, 3)
    assert (settings.max_message_bytes, settings.spool_threshold, settings.socket_mode) == (20 << 20, 512 << 10, 0o600)
    assert args.handler is command.run


@pytest.mark.parametrize("argv", [["milter"], ["milter", "--listen", "tcp:1"], ["milter", "--listen", "inet:1",
                                                                                 "--max-message-size", "lots"]])
def test_bad_options_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit):
        parse(argv)


class LineStream(io.StringIO):
    """stderr that lets another thread wait for a line."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            written = super().write(text)
            self.changed.notify_all()
        return written

    def wait_for(self, needle: str, timeout: float = 10) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: needle in self.getvalue(), timeout)


def test_run_serves_until_sigterm(tmp_path):
    port = free_port()
    stderr = LineStream()
    recorder = Recorder(tmp_path / "state", DefaultPolicy())
    env = SimpleNamespace(stdout=io.StringIO(), stderr=stderr, environ={},
                          scanner=lambda args: SimpleNamespace(detect_bytes=marker_scan, policy=DefaultPolicy()),
                          recorder=lambda args, policy=None: recorder)
    replies: list[p.Packet] = []

    def mta() -> None:
        try:
            assert stderr.wait_for("listening on")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                packets = [p.Packet("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)),
                           *message_packets("a@x", ["b@y"], [], b"LEAK")]
                sock.sendall(b"".join(packet.encode() for packet in packets))
                decoder, deadline = p.PacketDecoder(), time.monotonic() + 5
                while len(replies) < 2 and time.monotonic() < deadline:
                    replies.extend(decoder.feed(sock.recv(65536)))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    client = threading.Thread(target=mta)
    client.start()
    status = command.run(parse(["milter", "--listen", f"inet:{port}@127.0.0.1"]), env)
    client.join(10)
    assert status == 0
    assert replies[1].payload.startswith(b"550 5.7.1")
    assert "stopped after 1 messages" in stderr.getvalue()
    [incident] = recorder.incidents.query()  # `dlp milter` records what it refuses
    assert incident.id.encode() in replies[1].payload and incident.action == "block"
