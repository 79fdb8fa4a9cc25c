"""Administrative changes, evidence first: audit intent, change, audit completion, recovery.

Every change of the registry (`register`, `terms`, `records`, `remove`) and of an
incident (`release`, `confirm`) goes through :meth:`AuditLog.change`: the intent is
written before anything changes, so a trail that cannot be written stops the
command with nothing changed, and the completion after. A registry change also
names its change id in the manifest of the generation it commits, so after a crash
the registry itself says whether the change took effect.

The first audited change binds the registry to its trail (an id only the trail's key
gives, kept in the registry's settings): a change run with another state directory is
refused, so nobody removes a secret and audits it in a trail of their own.

Recovery (:func:`reconcile`) runs at the start of every registry change, under the
registry's writer lock, and on demand (`dlp audit recover`). Every intent left open
by a crash is closed by a ``recovered`` entry that marks the gap and says whether
the change applied (the live generation names it), did not (the registry is still
at the generation the intent saw), or cannot be told (the registry moved on
without naming it). `dlp audit verify` asks the same questions, read-only.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .audit import AuditLog, Change, OpenChange
from .errors import AuditError, DlpError, StoreError
from .index import store_versions
from .registry import Registry, editing
from .store import Store

SHOWN = 5  # ids named in a one-line summary of a change
TRAIL = "audit_trail"  # registry setting: the trail (id and state directory) its changes are audited in


@dataclass(frozen=True)
class Outcome:
    """What the registry or the incident store says about an interrupted change."""

    applied: bool | None  # None: cannot be told
    detail: str
    in_progress: bool = False
    generation: int | None = None


@contextlib.contextmanager
def registry_change(audit: AuditLog, root: Path, key_path: Path | None, event: str,
                    **what: Any) -> Iterator[tuple[Registry, Change]]:
    """The registry at `root` under its writer lock, inside an audited change.

    Earlier interrupted changes of this registry are reconciled first. The caller
    edits the registry, commits, and notes the outcome::

        with registry_change(audit, root, key, "remove", secret=sid) as (reg, change):
            secret = reg.remove(sid)
            change.note(generation=reg.commit(), versions=len(secret.versions))
    """
    audit.check()  # before the registry lock and the load: a trail we cannot write changes nothing
    with editing(Path(root), key_path) as reg:
        _check_bound(reg, audit)
        reconcile(audit, registry=reg)
        with audit.change(event, registry=where(root), base_generation=reg.generation, **what) as change:
            reg.change = change.id
            if TRAIL not in reg.settings:  # the first audited change binds the registry to this trail
                reg.settings[TRAIL] = {"id": audit.trail_id(), "state": str(audit.state_dir.resolve())}
            yield reg, change


def _check_bound(reg: Registry, audit: AuditLog) -> None:
    """A registry's changes go to the trail it was bound to, not to any state directory given."""
    bound = reg.settings.get(TRAIL)
    if not isinstance(bound, dict) or bound.get("id") == audit.trail_id():
        return
    raise AuditError(f"the registry {reg.root} records its changes in the audit trail at {bound.get('state')}, "
                     f"not in {audit.state_dir}: give --state {bound.get('state')} (or set DLP_STATE)")


def where(root: Path | str) -> str:
    """How a registry is named in the audit trail: its absolute path."""
    return str(Path(root).resolve())


# -- probing and reconciling ----------------------------------------------------------------


def probe(change: OpenChange, *, registry: Registry | None = None, incidents: Any = None) -> Outcome | None:
    """What became of an interrupted change, or None when nothing here can tell (another kind of change)."""
    if "registry" in change.fields:
        return probe_registry(change, current=registry)
    if "incident" in change.fields and incidents is not None:
        return probe_incident(change, incidents)
    return None


def probe_registry(change: OpenChange, *, current: Registry | None = None, locked: bool = False) -> Outcome:
    """Did the registry change named in the intent take effect? Read-only. `current` is a registry
    loaded under the writer lock, `locked` says the caller holds that lock: then the change cannot
    be in progress."""
    root = str(change.fields.get("registry"))
    base = change.fields.get("base_generation")
    if current is not None and where(current.root) == root:
        generation = current.generation
        manifest: Mapping[str, Any] = current.manifest if generation else {}
    else:
        store = Store(Path(root), versions=store_versions())
        if not locked and store.busy():
            return Outcome(None, f"in progress: a writer holds the lock of the registry {root}", in_progress=True)
        if not store.exists():
            if base == 0:
                return Outcome(False, f"not applied: there is still no registry at {root}", generation=0)
            return Outcome(None, f"cannot tell: the registry {root} is gone")
        try:  # read-only and without the key: which generation is live, and which change it names
            peeked = store.peek()
        except StoreError as exc:
            return Outcome(None, f"cannot tell: {exc}")
        generation, manifest = peeked.number, peeked.manifest["body"]
    if manifest.get("change") == change.change:
        return Outcome(True, f"applied: generation {generation} of {root} names this change", generation=generation)
    if generation == base:
        return Outcome(False, f"not applied: {root} is still at generation {base}", generation=generation)
    return Outcome(None, f"cannot tell: {root} moved from generation {base} to {generation} without naming "
                         "this change", generation=generation)


def probe_incident(change: OpenChange, incidents: Any) -> Outcome:
    """Did the release or confirmation of an incident take effect (its status moved, by that person)?"""
    incident_id = str(change.fields.get("incident"))
    try:
        incident = incidents.get(incident_id)
    except DlpError as exc:
        return Outcome(None, f"cannot tell: {exc}")
    if incident.status == "open":
        if change.event == "release":  # the held file or mail may have moved before the crash
            return Outcome(None, f"cannot tell: incident {incident_id} is still open, but its held item may have "
                                 f"been released before the crash (see `dlp incidents show {incident_id}`)")
        return Outcome(False, f"not applied: incident {incident_id} is still open")
    if incident.resolved_by == change.fields.get("by"):
        return Outcome(True, f"applied: incident {incident_id} is {incident.status} by {incident.resolved_by}")
    return Outcome(None, f"cannot tell: incident {incident_id} is {incident.status} by {incident.resolved_by}")


def reconcile(audit: AuditLog, *, registry: Registry | None = None, incidents: Any = None,
              lock_registries: bool = False) -> list[tuple[OpenChange, Outcome]]:
    """Close every interrupted change that can be judged here with a ``recovered`` entry.

    With `registry` (loaded under its writer lock), only that registry's changes are
    judged; with `lock_registries`, each registry named by an open change is locked
    while it is judged, so a change still running is waited for, not misjudged.
    """
    done = []
    for change in audit.open_changes():
        if "registry" in change.fields:
            root = str(change.fields["registry"])
            if registry is not None:
                if where(registry.root) != root:
                    continue  # another registry's change: its own next writer reconciles it
                outcome = probe_registry(change, current=registry)
            elif lock_registries:
                outcome = _probe_locked(change)
            else:
                outcome = probe_registry(change)
        elif registry is None:
            outcome = probe(change, incidents=incidents)
        else:
            continue
        if outcome is None or outcome.in_progress:
            continue
        audit.recover(change, outcome.applied, outcome.detail, generation=outcome.generation)
        done.append((change, outcome))
    return done


def _probe_locked(change: OpenChange) -> Outcome:
    root = Path(str(change.fields["registry"]))
    if not root.is_dir():
        return probe_registry(change)
    with Store(root, versions=store_versions()).lock():
        return probe_registry(change, locked=True)


# -- words ----------------------------------------------------------------------------------


def summary(event: str, fields: Mapping[str, Any]) -> str:
    """One line saying what a change was about, for `verify` and `recover` (ids and counts only)."""
    secrets = fields.get("secrets")
    if isinstance(secrets, Sequence) and not isinstance(secrets, str):
        names = [str(s) for s in secrets]
        shown = ", ".join(names[:SHOWN]) + (f", ... ({len(names) - SHOWN} more)" if len(names) > SHOWN else "")
        noun = "public document" if fields.get("public") else "document"
        return f"{event} of {len(names)} {noun}{'' if len(names) == 1 else 's'} ({shown})"
    for key in ("secret", "incident"):
        if key in fields:
            by = f" by {fields['by']}" if fields.get("by") else ""
            return f"{event} of {fields[key]}{by}"
    return event

