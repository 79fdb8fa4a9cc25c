"""Resolving an incident: release it, confirm it as a leak, or call it a false positive.

`dlp release`, `dlp confirm` and the review console all resolve incidents through the
two functions here, so a release does the same whoever asks: the quarantined file
moves to the release path its sidecar names (never over an existing file), a mail held
by the milter leaves Postfix's hold queue through ``postsuper -H``, the incident is
resolved once, scoped allow entries are added when asked for, and every step is an
audit entry naming who did it and through which front end (``via``).

What reaches the MTA is a command the *operator* configured (``postsuper``), never one
a caller of these functions chose per request: the console takes it from its own
command line, not from a form.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .decide import exposure_key
from .recording import Recorder
from .errors import UsageError
from .incidents import Allow, Incident
from .destinations import Recipient
from .types import escape_path, unescape_path

RESOLUTIONS = ("released", "false_positive", "confirmed")
POSTSUPER_TIMEOUT_S = 60


@dataclass(frozen=True)
class Resolution:
    """What resolving did: the incident as it is now, what happened to the held item, the
    allow entries made, and notes for the person who asked (e.g. a mail that goes later)."""

    incident: Incident
    outcome: str
    allows: tuple[Allow, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return self.incident.status


def release(recorder: Recorder, incident_id: str, *, by: str, justification: str, false_positive: bool = False,
            allow_until: dt.date | None = None, postsuper: str | Sequence[str] | None = None,
            via: str = "cli") -> Resolution:
    """Let the item of an open incident go and resolve it as released (or false positive).

    Everything that can be refused is checked before anything moves: the incident is open,
    who and why are given, an allow entry does not end in the past.
    """
    _check_who_and_why(by, justification)
    inc = recorder.incidents.get(incident_id)
    if inc.status != "open":
        raise UsageError(f"incident {inc.id} is already {inc.status} (by {inc.resolved_by})")
    if allow_until is not None and allow_until < recorder.today():
        raise UsageError(f"--allow-until {allow_until.isoformat()} is in the past")
    notes: list[str] = []
    status = "false_positive" if false_positive else "released"
    until = allow_until.isoformat() if allow_until is not None else None
    # evidence first: the intent is in the trail before the file moves or the mail goes
    with recorder.audit.change("release", incident=inc.id, status=status, by=by.strip(),
                               justification=justification.strip(), allow_until=until, via=via) as change:
        outcome = _release_target(inc, _command(postsuper), notes)
        change.note(outcome=outcome)
        inc = recorder.incidents.resolve(inc.id, status, by, justification)
        allows: list[Allow] = []
        if allow_until is not None:
            for allow in _allow_entries(recorder, inc, allow_until, by.strip()):
                recorder.audit.append("allow", incident=inc.id, allow=allow.id, secret=allow.secret,
                                      destination=allow.destination, digest=allow.digest,
                                      until=allow.until.isoformat(), by=by.strip(), via=via)
                allows.append(allow)
        change.note(incident=inc.id, status=status, by=by.strip(), via=via, allows=[a.id for a in allows])
    return Resolution(inc, outcome, tuple(allows), tuple(notes))


def confirm(recorder: Recorder, incident_id: str, *, by: str, justification: str, via: str = "cli") -> Resolution:
    """Resolve an open incident as a true leak; nothing held back moves."""
    _check_who_and_why(by, justification)
    inc = recorder.incidents.get(incident_id)
    if inc.status != "open":
        raise UsageError(f"incident {inc.id} is already {inc.status} (by {inc.resolved_by})")
    with recorder.audit.change("confirm", incident=inc.id, by=by.strip(), justification=justification.strip(),
                               via=via) as change:
        inc = recorder.incidents.resolve(incident_id, "confirmed", by, justification)
        change.note(incident=inc.id, status="confirmed", by=by.strip(), via=via)
    return Resolution(inc, "confirmed as a leak; the item stays where it is")


# -- internals ------------------------------------------------------------------------------


def _check_who_and_why(by: str, justification: str) -> None:
    if not (by or "").strip() or not (justification or "").strip():
        raise UsageError("a resolution needs who (--by) and why (--justification)")


def _command(postsuper: str | Sequence[str] | None) -> list[str] | None:
    if postsuper is None or postsuper == "":
        return None
    return shlex.split(postsuper) if isinstance(postsuper, str) else list(postsuper)


def _release_target(inc: Incident, postsuper: list[str] | None, notes: list[str]) -> str:
    target = inc.target
    if target.get("kind") == "file" and target.get("quarantined"):
        return _release_file(Path(unescape_path(target["path"])))
    if target.get("kind") == "mail":
        queue_id = target.get("queue_id")
        if not queue_id or queue_id == "NOQUEUE":
            return "mail without a queue id: nothing to release in the MTA"
        if postsuper:
            try:
                result = subprocess.run([*postsuper, "-H", queue_id], capture_output=True, text=True,
                                        timeout=POSTSUPER_TIMEOUT_S)
            except OSError as exc:
                raise UsageError(f"postsuper -H {queue_id}: {postsuper[0]}: {exc.strerror}") from None
            except subprocess.TimeoutExpired:
                raise UsageError(f"postsuper -H {queue_id} did not finish within {POSTSUPER_TIMEOUT_S} s") from None
            if result.returncode != 0:
                raise UsageError(f"postsuper -H {queue_id} failed: {result.stderr.strip() or result.returncode}")
            return f"mail {queue_id} released from the hold queue" + _deliver_now(postsuper, queue_id, notes)
        return f"mail {queue_id} marked released; release it from the hold queue with `postsuper -H {queue_id}`"
    return "nothing was held back for this incident; marked released"


def _deliver_now(postsuper: list[str], queue_id: str, notes: list[str]) -> str:
    """Released mail waits in the deferred queue for the next queue run; `postqueue -i` (same
    directory, same -c options) asks for delivery at once."""
    binary = Path(postsuper[0])
    if binary.name != "postsuper":
        return ""
    postqueue = [os.fspath(binary.with_name("postqueue")), *postsuper[1:], "-i", queue_id]
    try:
        result = subprocess.run(postqueue, capture_output=True, text=True, timeout=POSTSUPER_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        notes.append(f"{postqueue[0]}: {getattr(exc, 'strerror', None) or exc}; the mail goes at the next queue run")
        return ""
    if result.returncode != 0:
        notes.append(f"postqueue -i {queue_id} failed ({result.stderr.strip()}); the mail goes at the next queue run")
        return ""
    return " and queued for delivery"


def _release_file(quarantined: Path) -> str:
    """Move a quarantined file to the release path its sidecar names; never over an existing file."""
    sidecar = quarantined.with_name(quarantined.name + ".dlp.json")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{sidecar}: the quarantine sidecar is missing; cannot tell where the file goes") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{sidecar}: cannot read the quarantine sidecar: {exc}") from None
    if not quarantined.exists():
        raise UsageError(f"{quarantined}: the quarantined file is gone")
    target = Path(unescape_path(meta["release_path"]))  # non-UTF-8 names travel escaped
    target.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = target, 1
    while os.path.lexists(candidate):
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
        n += 1
    try:
        os.link(quarantined, candidate)  # fails rather than replace; then drop the quarantine name
        os.unlink(quarantined)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise UsageError(f"cannot move {quarantined} to {candidate}: {exc.strerror}") from None
        shutil.copy2(quarantined, candidate)  # another filesystem: copy, then drop the quarantined copy
        os.unlink(quarantined)
    try:
        os.chmod(candidate, int(meta.get("mode", "0o644"), 8) & 0o777)
    except (OSError, ValueError):
        pass
    sidecar.unlink(missing_ok=True)
    return f"moved to {escape_path(candidate)}"


def _allow_entries(recorder: Recorder, inc: Incident, until: dt.date, by: str):
    recipients = [Recipient(r.get("address") or "", r.get("domain") or "", r.get("country"), r.get("class") or "unknown")
                  for r in inc.body.get("recipients", [])]
    seen = set()
    for f in inc.body.get("findings", []):
        for r in recipients:
            key = (f["digest"], exposure_key(recorder.policy, r))
            if key in seen:
                continue
            seen.add(key)
            yield recorder.incidents.add_allow(f["digest"], f["secret"], key[1], until, inc.id, by)
