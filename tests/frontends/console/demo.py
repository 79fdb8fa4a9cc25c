"""The demo company's state, made by the real code paths, for the console's tests and screenshots.

- the registry of `examples/demo` (same `dlp register`, `terms add`, `records add` commands);
- two weeks of history: the demo outbox scanned by the real scanner under `examples/policy.toml`
  and recorded by the real `Recorder` (with its clock set to each day) as mail to a few
  recipients, each mail with a Postfix queue id; slices of a confidential source file that stay
  under every per-mail threshold (the slow-leak chart); a damaged PDF (unscannable);
- held files of today: the real `dlp watch` daemon (a subprocess, inotify) over an outbox, so
  quarantine incidents have a quarantined file and a sidecar, exactly as in production.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dlp.recording import Recorder
from dlp.frontends.cli import Env, main
from dlp.destinations import load_policy
from dlp.scanner import open_scanner
from dlp.types import Destination

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
POLICY = EXAMPLES / "policy.toml"
DAY = 86400.0

# (recipients, sender) of the history's mails; the policy classifies each recipient
MAILS = (
    (("compras@soltera.example",), "m.ortega@bfcoatings.example"),          # the licensed partner
    (("li.wei@firma.cn",), "j.hartley@bfcoatings.example"),                 # external, CN
    (("buyer@rival-coatings.de", "ops@bfcoatings.example"), "s.patel@bfcoatings.example"),
    (("info@petrochem.ru",), "j.hartley@bfcoatings.example"),               # embargoed
    (("sales@marinesupply.com",), "a.novak@bfcoatings.example"),            # unknown country
)


def cli(*argv: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err, stdin=io.StringIO(""), environ={}))
    if code not in (0, 1):
        raise AssertionError(f"dlp {' '.join(argv)} -> {code}: {err.getvalue()}")
    return out.getvalue()


def register_demo(registry: Path) -> None:
    """What `examples/demo` registers, with the same commands."""
    r = ["--registry", str(registry)]
    cli(*r, "register", "--public", str(EXAMPLES / "public"))
    cli(*r, "register", str(EXAMPLES / "secrets/formulation.md"), "--id", "formulation", "--label",
        "Coating formulation", "--classification", "secret", "--owner", "R&D", "--tag", "halcyon")
    cli(*r, "register", str(EXAMPLES / "secrets/design-spec.docx"), "--id", "design-spec", "--label",
        "Dispensing cell design specification", "--classification", "secret", "--owner", "Engineering",
        "--tag", "halcyon")
    cli(*r, "register", str(EXAMPLES / "secrets/mixing_controller.py"), "--id", "mixing-controller", "--label",
        "Mixing cell controller source", "--classification", "confidential", "--owner", "Process Automation")
    cli(*r, "terms", "add", "codenames", str(EXAMPLES / "terms/codenames.txt"), "--label", "Programme code names",
        "--classification", "confidential")
    cli(*r, "records", "add", "customers", str(EXAMPLES / "records/customers.csv"), "--columns",
        "company,contact,email,phone", "--min-fields", "2", "--label", "Customer list", "--classification", "secret")


@dataclass
class Demo:
    root: Path
    registry: Path
    state: Path
    policy: Path = POLICY
    outbox: Path | None = None
    release: Path | None = None
    quarantine: Path | None = None
    held: dict[str, str] = field(default_factory=dict)  # incident id -> quarantined file (watch incidents)

    def args(self) -> list[str]:
        return ["--registry", str(self.registry), "--state", str(self.state), "--policy", str(self.policy)]


def build(root: Path, *, days: int = 14, now: float | None = None, watch: bool = True) -> Demo:
    demo = Demo(root, root / "registry", root / "state")
    register_demo(demo.registry)
    _history(demo, days, now or time.time())
    if watch:
        _watch(demo)
    return demo


def _slices(count: int, words: int = 14) -> list[str]:
    """Consecutive slices of the confidential controller source, each too short to be held."""
    text = (EXAMPLES / "secrets/mixing_controller.py").read_text(encoding="utf-8").split()
    return [" ".join(text[40 + i * words: 40 + (i + 1) * words]) for i in range(count)]


def _history(demo: Demo, days: int, now: float) -> None:
    items = demo.root / "history"
    items.mkdir()
    files = sorted((EXAMPLES / "outbox").iterdir())
    damaged = items / "quote-scan-2024-10.pdf"
    damaged.write_bytes((EXAMPLES / "outbox/invoice-INV-24-0917.pdf").read_bytes()[:1500])
    for i, text in enumerate(_slices(days)):
        (items / f"forum-reply-{i + 1:02d}.txt").write_text(
            f"Re: staggered start on gear pumps\n\nFrom our notes:\n{text}\n\nHope this helps.\n", encoding="utf-8")
    scanner = open_scanner(demo.registry, None, demo.policy)
    clock = [now - days * DAY]
    recorder = Recorder(demo.state, load_policy(demo.policy), clock=lambda: clock[0])
    decider = recorder.decider()
    reports = {}
    for n, (to, sender) in enumerate(MAILS):
        destination = Destination(to, None, "mail", sender=sender)
        for path in files:
            reports[(n, path.name)] = scanner.detect_path(path)
    queue_id = 0x3A7F10
    for day in range(days):
        for n, (to, sender) in enumerate(MAILS):
            if (day + n) % 2:  # not every recipient every day
                continue
            destination = Destination(to, None, "mail", sender=sender)
            for k, path in enumerate(files):
                if (day * 7 + k + n) % 3:
                    continue
                clock[0] = now - (days - day) * DAY + 3600 * (8 + (k + n) % 9) + 60 * k
                queue_id += 1
                recorder.record(decider.decide(reports[(n, path.name)], destination), destination, {"kind": "mail", "queue_id": f"{queue_id:X}"})
        slice_to = Destination(("forum@gearpumps-talk.com",), None, "mail", sender="r.kim@bfcoatings.example")
        clock[0] = now - (days - day) * DAY + 3600 * 15
        queue_id += 1
        recorder.record(decider.decide(scanner.detect_path(items / f"forum-reply-{day + 1:02d}.txt"), slice_to),
                        slice_to, {"kind": "mail", "queue_id": f"{queue_id:X}"})
        if day % 5 == 2:
            queue_id += 1
            to = Destination(("purchasing@harbourworks.co.uk",), None, "mail", sender="a.novak@bfcoatings.example")
            recorder.record(decider.decide(scanner.detect_path(damaged), to), to,
                            {"kind": "mail", "queue_id": f"{queue_id:X}"})
    decider.close()
    recorder.close()


def _watch(demo: Demo) -> None:
    """Today's held files, by the real watch daemon over an outbox whose files go to a buyer in CN."""
    demo.outbox, demo.release, demo.quarantine = (demo.root / n for n in ("outbox", "release", "quarantine"))
    demo.outbox.mkdir()
    log = demo.root / "watch.log"
    command = [sys.executable, "-m", "dlp", *demo.args(), "watch", str(demo.outbox), "--release", str(demo.release),
               "--quarantine", str(demo.quarantine), "--to", "procurement@shenzhen-coatings.cn", "--settle", "0.3"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLP_")}
    with open(log, "w") as out:
        daemon = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=demo.root)
        try:
            names = ("memo-soltera-gelled-pails.docx", "crm-pipeline-export-2024-09.csv",
                     "forum-gear-pump-staggered-start.html", "agenda-q3-operations-review.md")
            deadline = time.monotonic() + 120
            while not _started(log):
                _alive(daemon, log, deadline)
            for name in names:
                shutil.copy(EXAMPLES / "outbox" / name, demo.outbox / (name + ".part"))
                os.rename(demo.outbox / (name + ".part"), demo.outbox / name)
            while len(_decisions(log)) < len(names):
                _alive(daemon, log, deadline)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
    state_incidents = json.loads(cli(*demo.args(), "incidents", "list", "--format", "json"))
    for inc in state_incidents:
        target = inc.get("target") or {}
        if inc["channel"] == "watch" and target.get("quarantined"):
            demo.held[inc["id"]] = target["path"]


def _started(log: Path) -> bool:
    return any(r.get("event") == "started" for r in _records(log))


def _decisions(log: Path) -> list[dict]:
    return [r for r in _records(log) if r.get("event") == "decision"]


def _records(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _alive(process: subprocess.Popen, log: Path, deadline: float) -> None:
    if process.poll() is not None:
        raise AssertionError(f"dlp watch exited with {process.returncode}: {log.read_text()[-2000:]}")
    if time.monotonic() > deadline:
        raise AssertionError(f"dlp watch did not decide in time: {log.read_text()[-2000:]}")
    time.sleep(0.1)
