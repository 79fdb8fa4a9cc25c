"""After the decision: audit entry, exposure, incident, in this order.

Every front end hands each decided report (`decide.Decider`) to one `Recorder` once
the outcome is final (the file placed, the MTA answered): `record` writes the
decision to the audit trail *first* (naming the incident id it is about to open),
then adds what left to the exposure ledger (only content that really left: allow and
warn), then opens an incident for every warn, quarantine and block. A crash between
the steps leaves an audit entry without its incident, never the reverse; with a
`once` key the repeat after the crash completes it without a second entry.

A read-only recorder (`read_only=True`, the CLI's ``--no-record``) writes nothing: no
audit entry, incident or exposure, and no state directory or file that did not exist.
The decider it goes with is read-only too, and adds up in memory what a run of
several items would have let leave, so a dry run decides as a recorded one would.

A daemon that re-reads its policy file (the watch daemon and the milter, on a registry
change or SIGHUP) hands the new policy to `use_policy`, so incidents classify recipients,
and exposure is counted, under the policy that decided.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

from .audit import AuditLog
from .decide import EXPOSURE_FILE
from .destinations import recipients_of
from .exposure import ExposureLedger
from .incidents import Incident, IncidentStore, new_incident_id
from .rules import Policy
from .types import Action, Destination, FileReport

POLICY_SEEN = "policy.sha256"  # the digest of the policy file last used


class Recorder:
    def __init__(self, state_dir: Path, policy: Policy, *, clock: Callable[[], float] = time.time,
                 today: Callable[[], dt.date] | None = None, read_only: bool = False) -> None:
        self.state_dir = Path(state_dir)
        self.policy = policy
        self.clock = clock
        self.read_only = read_only
        self.today = today or (lambda: dt.datetime.fromtimestamp(clock(), dt.timezone.utc).date())
        exposure = policy.exposure
        self.exposure = exposure if exposure is not None and exposure.enabled else None
        self.audit: AuditLog | None = None
        self._decider = None
        if not read_only:
            self.audit = AuditLog(self.state_dir, clock=clock)
            self.audit.check()  # evidence first: no decision is taken that cannot be audited
        self.incidents = IncidentStore(self.state_dir, clock=clock, read_only=read_only)
        self.ledger = (ExposureLedger(self.state_dir / EXPOSURE_FILE, clock=clock, read_only=read_only)
                       if self.exposure else None)
        if not read_only:
            self._note_policy(policy)

    def close(self) -> None:
        if self._decider is not None:
            self._decider.close()
        self.incidents.close()
        if self.ledger is not None:
            self.ledger.close()

    def decider(self):
        """The decider that goes with this recorder: same state, same policy, same dry-run mode
        (one per recorder, so a dry run adds up over every item it decides)."""
        if self._decider is None:
            from .decide import Decider

            self._decider = Decider(self.policy, self.state_dir, read_only=self.read_only, clock=self.clock,
                                    today=self.today)
        return self._decider

    def use_policy(self, policy: Policy) -> None:
        """Record under `policy` from now on (a front end re-read its policy file).

        Incidents classify recipients by it and exposure follows its settings. A policy
        file changed since it was last used is a `policy` audit entry, written first: a
        trail that cannot take it raises, and nothing is switched. `decider()` then hands
        out a decider for the new policy; one handed out before keeps the old policy until
        its holder replaces it, and its holder closes it.
        """
        if not self.read_only:
            self._note_policy(policy)
        exposure = policy.exposure
        enabled = exposure if exposure is not None and exposure.enabled else None
        if enabled is not None and self.ledger is None:  # once open, kept: a record in flight may use it
            self.ledger = ExposureLedger(self.state_dir / EXPOSURE_FILE, clock=self.clock, read_only=self.read_only)
        self.policy, self.exposure = policy, enabled
        if self._decider is not None and self._decider.policy is not policy:
            self._decider = None

    def record(self, report: FileReport, destination: Destination, target: Mapping[str, Any] | None = None,
               *, once: str | None = None) -> FileReport:
        """Audit entry, exposure, incident: in this order, so no incident exists without its audit entry.

        `once`: a key of this decision (the watch daemon's journal id). A decision recorded
        before a crash is not recorded again when recovery repeats the hook; one cut short
        by the crash is completed with the incident id and audit entry it had begun with.
        """
        meta = dict(report.meta)
        slices = meta.pop("exposure_slices", [])
        if self.read_only or self.audit is None:
            return replace(report, meta=meta)
        if once is not None:
            earlier = self.incidents.recorded(once)
            if earlier is not None:
                if earlier:
                    meta["incident"] = earlier
                return replace(report, meta=meta)
        incident_id, audited = self._begin(report, once)
        if audited is None:
            decision = report.decision
            self.audit.append(
                "decision", channel=destination.channel, item=report.path, action=report.action.label,
                rule=decision.rule if decision else "", incident=incident_id or None,
                sender=destination.sender, recipients=list(destination.addresses), country=destination.country,
                share=destination.share,
                findings=[{"secret": f.secret, "version": f.version, "detector": f.detector,
                           "score": round(f.score, 4), "matched_words": f.matched_words, "digest": f.digest}
                          for f in report.findings],
                problems=sorted({p.kind for p in report.problems}),
                allowed=[a["allow"] for a in meta.get("allowed", [])],
                **({"record_key": once} if once is not None else {}),
            )
        ledger = self.ledger
        if ledger is not None and report.action <= Action.WARN:  # it left: count it
            for s in slices:
                ledger.record(s["secret"], s["key"], [tuple(r) for r in s["ranges"]], s["total"])
        if incident_id:
            self._incident(report, destination, target, incident_id, once)
            meta["incident"] = incident_id
        elif once is not None:
            self.incidents.mark_recorded(once, "")
        return replace(report, meta=meta)

    def _begin(self, report: FileReport, once: str | None) -> tuple[str, dict[str, Any] | None]:
        """The incident id this decision opens ("" for none) and its audit entry if a crashed
        attempt already wrote it."""
        assert self.audit is not None
        wanted = new_incident_id(self.clock()) if report.action >= Action.WARN else ""
        if once is None:
            return wanted, None
        pending = self.incidents.pending(once)
        if pending is None:
            self.incidents.begin_recording(once, wanted, self.audit.last_seq())
            return wanted, None
        incident_id, since = pending
        earlier = self.audit.find(since, event="decision", record_key=once)
        if earlier is not None and earlier.get("action") == report.action.label:
            return incident_id, earlier
        # the decision changed since the crash (a rescan): a new audit entry, with an incident if it needs one
        return (incident_id or wanted) if report.action >= Action.WARN else "", None

    # -- internals ----------------------------------------------------------------------------

    def _note_policy(self, policy: Policy) -> None:
        """A policy file used for the first time, or changed since it was last used, is an audit entry."""
        assert self.audit is not None
        source = policy.source
        if not source or not os.path.isfile(source):
            return
        with open(source, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        seen = self.state_dir / POLICY_SEEN
        try:
            previous = seen.read_text().strip()
        except FileNotFoundError:
            previous = ""
        if previous != digest:
            self.audit.append("policy", source=os.path.abspath(source), sha256=digest, previous=previous or None)
            tmp = seen.with_name(seen.name + ".tmp")
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(digest + "\n")
            os.replace(tmp, seen)

    def _incident(self, report: FileReport, destination: Destination, target: Mapping[str, Any] | None,
                  incident_id: str, once: str | None) -> Incident:
        recipients = []
        for r in recipients_of(self.policy, destination, report.findings[0] if report.findings else None):
            recipients.append({"address": r.address, "domain": r.domain, "country": r.country, "class": r.cls,
                               "partner": r.partner, "why": r.why})
        body = {
            "destination": {"addresses": list(destination.addresses), "country": destination.country,
                            "share": destination.share},
            "recipients": recipients,
            "findings": [f.to_dict() | {"digest": f.digest} for f in report.findings],
            "problems": [p.to_dict() for p in report.problems],
            "reasons": list(report.decision.reasons) if report.decision else [],
            "allowed": list(report.meta.get("allowed", [])),
            "bytes": report.bytes,
            "target": dict(target or {}),
        }
        return self.incidents.add(channel=destination.channel, sender=destination.sender, item=report.path,
                                  action=report.action.label, rule=report.decision.rule if report.decision else "",
                                  body=body, recipients=recipients, incident_id=incident_id, once=once)
