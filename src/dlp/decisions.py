"""After the policy has decided: scoped allow entries, cumulative exposure, incidents, audit.

Every front end hands each report to one `Recorder`, in two steps:

- `review(report, destination)` before anything moves: findings covered by a scoped
  allow entry are set aside (kept in the report's meta with the entry that allowed
  them), the item is decided again, and slow leaks are caught: per secret and per
  destination, the union of the secret's words that already left within the window,
  plus this item's, is compared with the policy's threshold;
- `record(report, destination, target)` once the outcome is final: the decision is
  written to the audit trail *first* (naming the incident id it is about to open),
  then what left is added to the exposure ledger (only content that really left:
  allow and warn), then every warn, quarantine and block becomes an incident. A crash
  between the steps leaves an audit entry without its incident, never the reverse;
  with a `once` key the repeat after the crash completes it without a second entry.

`settle` does both for front ends that move nothing (the CLI, the milter).

A read-only recorder (`read_only=True`, the CLI's ``--no-record``) is a true dry run:
it reads the same allow entries and exposure ledger, so it decides exactly as a
recorded scan would, and writes nothing: no audit entry, incident or exposure, and
no state directory or file that did not exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from .audit import AuditLog
from .evidence import DocumentEvidence
from .exposure import ExposureLedger
from .incidents import Incident, IncidentStore, finding_digest, new_incident_id
from .policy import DestinationPolicy, Recipient
from .types import Action, Decision, Destination, FileReport, Finding
from .verdict import Policy

EXPOSURE_FILE = "exposure.sqlite"
POLICY_SEEN = "policy.sha256"  # the digest of the policy file last used
LEAVING = ("external", "embargoed", "unknown")  # recipients whose share of a secret is counted


@dataclass(frozen=True)
class _Slice:
    secret: str
    key: str
    ranges: tuple[tuple[int, int], ...]
    total: int


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
        self._dry_left: dict[tuple[str, str], list[tuple[int, int]]] = {}  # what a dry run "let leave" so far
        if not read_only:
            self.audit = AuditLog(self.state_dir, clock=clock)
            self.audit.check()  # evidence first: no decision is taken that cannot be audited
        self.incidents = IncidentStore(self.state_dir, clock=clock, read_only=read_only)
        self.ledger = (ExposureLedger(self.state_dir / EXPOSURE_FILE, clock=clock, read_only=read_only)
                       if self.exposure else None)
        if not read_only:
            self._note_policy()

    def close(self) -> None:
        self.incidents.close()
        if self.ledger is not None:
            self.ledger.close()

    # -- the two steps ----------------------------------------------------------------------

    def settle(self, report: FileReport, destination: Destination, target: Mapping[str, Any] | None = None) -> FileReport:
        return self.record(self.review(report, destination), destination, target)

    def review(self, report: FileReport, destination: Destination) -> FileReport:
        kept, allowed = [], []
        for finding in report.findings:
            entry = self._allow_entry(finding, destination)
            if entry is None:
                kept.append(finding)
            else:
                allowed.append({"secret": finding.secret, "version": finding.version, "detector": finding.detector,
                                "digest": finding_digest(finding), "allow": entry.id, "incident": entry.incident,
                                "until": entry.until.isoformat()})
        decision = report.decision or Decision(report.action, "scanner")
        if allowed:
            decision = self.policy.decide(kept, report.problems, destination)
            decision = replace(decision, reasons=(*decision.reasons, *(
                f"{a['secret']} v{a['version']}: allowed by entry {a['allow']} (incident {a['incident']}) "
                f"until {a['until']}" for a in allowed)))
        slices = self._slices(kept, destination)
        if self.ledger is not None and slices:
            decision = self._exposure(decision, slices)
        meta = dict(report.meta)
        if allowed:
            meta["allowed"] = allowed
        if slices:
            meta["exposure_slices"] = [s.__dict__ | {"ranges": [list(r) for r in s.ranges]} for s in slices]
        return replace(report, findings=tuple(kept), action=decision.action, decision=decision, meta=meta)

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
            if report.action <= Action.WARN:  # a dry run of several items adds up as a recorded one would
                for s in slices:
                    self._dry_left.setdefault((s["secret"], s["key"]), []).extend(tuple(r) for r in s["ranges"])
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
                           "score": round(f.score, 4), "matched_words": f.matched_words, "digest": finding_digest(f)}
                          for f in report.findings],
                problems=sorted({p.kind for p in report.problems}),
                allowed=[a["allow"] for a in meta.get("allowed", [])],
                **({"record_key": once} if once is not None else {}),
            )
        if self.ledger is not None and report.action <= Action.WARN:  # it left: count it
            for s in slices:
                self.ledger.record(s["secret"], s["key"], [tuple(r) for r in s["ranges"]], s["total"])
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

    def _note_policy(self) -> None:
        """A policy file used for the first time, or changed since it was last used, is an audit entry."""
        assert self.audit is not None
        source = self.policy.source
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

    def _recipients(self, destination: Destination, finding: Finding | None) -> list[Recipient]:
        if isinstance(self.policy, DestinationPolicy):
            return self.policy.recipients(destination, finding)
        out = [Recipient(a, a.rsplit("@", 1)[-1].lower(), destination.country, "unknown") for a in destination.addresses]
        if destination.share:
            out.append(Recipient(destination.share, "", destination.country, "unknown"))
        return out or [Recipient("", "", destination.country, "unknown")]

    def exposure_key(self, recipient: Recipient) -> str:
        """The destination a share of a secret is counted against (and allow entries are scoped to)."""
        if self.exposure is not None and self.exposure.by == "country":
            return f"country:{recipient.country or 'unknown'}"
        return recipient.exposure_key

    def _allow_entry(self, finding: Finding, destination: Destination):
        """An allow entry applies when every recipient of the finding has one for this digest."""
        digest = finding_digest(finding)
        entries = []
        for recipient in self._recipients(destination, finding):
            entry = self.incidents.allowed(digest, self.exposure_key(recipient), self.today())
            if entry is None:
                return None
            entries.append(entry)
        return entries[0] if entries else None

    def _slices(self, findings: list[Finding], destination: Destination) -> list[_Slice]:
        out = []
        for finding in findings:
            if finding.kind != "document":
                continue
            if not isinstance(finding.evidence, DocumentEvidence):
                continue  # a byte-identical copy has no word ranges: it is the whole secret, blocked anyway
            ranges = tuple((int(r.secret_words[0]), int(r.secret_words[1])) for r in finding.evidence.runs)
            total = int(finding.evidence.secret_words)
            if not ranges or total <= 0:
                continue
            for recipient in self._recipients(destination, finding):
                if recipient.cls in LEAVING:
                    out.append(_Slice(finding.secret, self.exposure_key(recipient), ranges, total))
        return out

    def _exposure(self, decision: Decision, slices: list[_Slice]) -> Decision:
        assert self.ledger is not None and self.exposure is not None
        settings = self.exposure
        worst = None
        for s in slices:
            ranges = (*self._dry_left.get((s.secret, s.key), ()), *s.ranges)
            seen = self.ledger.preview(s.secret, s.key, ranges, s.total, settings.window_days)
            if seen.share >= settings.threshold and (worst is None or seen.share > worst.share):
                worst = seen
        if worst is None or settings.action <= decision.action:
            return decision
        reason = (f"{worst.secret}: {worst.share:.0%} of the secret ({worst.words} of {worst.total} words) would have "
                  f"reached {worst.destination} within {settings.window_days:g} days "
                  f"({worst.events + 1} items), threshold {settings.threshold:.0%}")
        return Decision(settings.action, "exposure", (*decision.reasons, reason))

    def _incident(self, report: FileReport, destination: Destination, target: Mapping[str, Any] | None,
                  incident_id: str, once: str | None) -> Incident:
        recipients = []
        for r in self._recipients(destination, report.findings[0] if report.findings else None):
            recipients.append({"address": r.address, "domain": r.domain, "country": r.country, "class": r.cls,
                               "partner": r.partner, "why": r.why})
        body = {
            "destination": {"addresses": list(destination.addresses), "country": destination.country,
                            "share": destination.share},
            "recipients": recipients,
            "findings": [f.to_dict() | {"digest": finding_digest(f)} for f in report.findings],
            "problems": [p.to_dict() for p in report.problems],
            "reasons": list(report.decision.reasons) if report.decision else [],
            "allowed": list(report.meta.get("allowed", [])),
            "bytes": report.bytes,
            "target": dict(target or {}),
        }
        return self.incidents.add(channel=destination.channel, sender=destination.sender, item=report.path,
                                  action=report.action.label, rule=report.decision.rule if report.decision else "",
                                  body=body, recipients=recipients, incident_id=incident_id, once=once)


def open_recorder(state: str | os.PathLike | None, registry_root: Path, policy: Policy, environ=os.environ,
                  **kwargs) -> Recorder:
    from .scanner import state_location

    return Recorder(state_location(state, registry_root, environ), policy, **kwargs)
