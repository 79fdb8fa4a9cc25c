"""The one decision step: from what was found to what happens, with every reason.

Every front end builds a `Request` (what is about to leave, to whom, by which channel)
and gets a decided report back from one `Decider`, once per item, after detection:

1. **Scoped allow entries** (made by `dlp release --allow-until`): a finding covered by
   an entry for every recipient is set aside, kept in the report's meta with the entry.
2. **The policy** (`rules.DefaultPolicy` or a `destinations.DestinationPolicy`) decides the
   remaining findings and the unreadable parts, per recipient and per channel.
3. **Fail-closed at the edge**: a front end that moves files (the watch daemon) keeps
   back anything with an unreadable part unless it was started fail-open; and a request
   may *hold* an item whatever was found (not a regular file, too large to copy, found
   in a work folder after a crash): at least quarantine, with its own rule.
4. **Slow leaks**: per secret and destination, the union of the secret's words that
   already left within the window, plus this item's, against the policy's threshold.

The decider reads the state directory (allow entries, exposure ledger) and writes
nothing: recording is `recording.Recorder`'s job, after the front end has acted. A
dry run (`read_only`) counts what it would have let leave in memory, so a run of
several items adds up as a recorded one would.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .destinations import Recipient, recipients_of
from .evidence import DocumentEvidence
from .exposure import ExposureLedger
from .incidents import IncidentStore
from .rules import INFORMATIONAL_PROBLEMS, DefaultPolicy, Policy
from .types import Action, Decision, Destination, Detection, FileReport, Finding
from .errors import InvalidValue

EXPOSURE_FILE = "exposure.sqlite"
LEAVING = ("external", "embargoed", "unknown")  # recipients whose share of a secret is counted
FAIL_CLOSED_RULE = "{channel}:fail-closed"


@dataclass(frozen=True)
class Hold:
    """An item the front end keeps back whatever the scan found, and why."""

    rule: str  # e.g. "watch:not-a-file"
    reason: str


UNSCANNABLE = ("policy", "closed", "open")


@dataclass(frozen=True)
class Request:
    """What a front end asks: where the item goes, and how unscannable content is treated at its edge.

    `unscannable`: "policy" (the policy decides, per channel), "closed" (an unreadable part
    keeps the item back, at least quarantine, whatever the policy says) or "open" (the
    built-in policy's unscannable rule is lowered to warn; a policy file keeps its own).
    `hold`: keep the item back whatever was found (at least quarantine), with its own rule.
    """

    destination: Destination = Destination()
    unscannable: str = "policy"
    hold: Hold | None = None

    def __post_init__(self) -> None:
        if self.unscannable not in UNSCANNABLE:
            raise InvalidValue(f"unscannable must be one of {', '.join(UNSCANNABLE)}, not {self.unscannable!r}")

    @classmethod
    def of(cls, destination: "Destination | Request") -> "Request":
        return destination if isinstance(destination, Request) else cls(destination)


@dataclass(frozen=True)
class Slice:
    """Part of a registered document about to reach one destination (for the exposure ledger)."""

    secret: str
    key: str  # the destination it is counted against
    ranges: tuple[tuple[int, int], ...]
    total: int

    def to_dict(self) -> dict:
        return {"secret": self.secret, "key": self.key, "ranges": [list(r) for r in self.ranges], "total": self.total}


class Decider:
    """Decides items for one policy; with a state directory, also by allow entries and exposure."""

    def __init__(self, policy: Policy | None = None, state_dir: Path | None = None, *, read_only: bool = True,
                 clock: Callable[[], float] = time.time, today: Callable[[], dt.date] | None = None) -> None:
        self.policy = policy or DefaultPolicy()
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clock = clock
        self.today = today or (lambda: dt.datetime.fromtimestamp(clock(), dt.timezone.utc).date())
        exposure = self.policy.exposure
        self.exposure = exposure if exposure is not None and exposure.enabled else None
        self.read_only = read_only
        self.incidents = IncidentStore(state_dir, clock=clock, read_only=True) if state_dir is not None else None
        self.ledger = (ExposureLedger(Path(state_dir) / EXPOSURE_FILE, clock=clock, read_only=True)
                       if state_dir is not None and self.exposure else None)
        self._dry_left: dict[tuple[str, str], list[tuple[int, int]]] = {}  # what a dry run "let leave" so far
        self._lock = threading.Lock()  # the watch daemon decides in several worker threads

    def with_policy(self, policy: Policy) -> "Decider":
        """The same state, another policy (a daemon that re-read its policy file)."""
        if policy is self.policy:
            return self
        return Decider(policy, self.state_dir, read_only=self.read_only, clock=self.clock, today=self.today)

    def close(self) -> None:
        if self.incidents is not None:
            self.incidents.close()
        if self.ledger is not None:
            self.ledger.close()

    def decide(self, detection: Detection | FileReport, request: "Request | Destination" = Destination()) -> FileReport:
        """The decided report: action, rule and reasons; set-aside findings and slices in its meta.
        A report given instead of a detection is decided again from what it found."""
        if isinstance(detection, FileReport):
            detection = detection.detection
        request = Request.of(request)
        destination = request.destination
        kept, allowed = [], []
        for finding in detection.findings:
            entry = self._allow_entry(finding, destination)
            if entry is None:
                kept.append(finding)
            else:
                allowed.append({"secret": finding.secret, "version": finding.version, "detector": finding.detector,
                                "digest": finding.digest, "allow": entry.id, "incident": entry.incident,
                                "until": entry.until.isoformat()})
        policy = self.policy
        if request.unscannable == "open" and isinstance(policy, DefaultPolicy) and policy.unreadable_action is None:
            policy = replace(policy, unreadable_action=Action.WARN)
        decision = policy.decide(kept, detection.problems, destination)
        if allowed:
            decision = replace(decision, reasons=(*decision.reasons, *(
                f"{a['secret']} v{a['version']}: allowed by entry {a['allow']} (incident {a['incident']}) "
                f"until {a['until']}" for a in allowed)))
        unreadable = sorted({p.kind for p in detection.problems if p.kind not in INFORMATIONAL_PROBLEMS})
        if request.unscannable == "closed" and unreadable:
            decision = _at_least_quarantine(decision, FAIL_CLOSED_RULE.format(channel=destination.channel),
                                            f"unscannable content: {', '.join(unreadable)}")
        hold = request.hold or _hold_of(detection)
        if hold is not None:
            decision = _at_least_quarantine(decision, hold.rule, hold.reason)
        slices = self._slices(kept, destination)
        if slices and self.ledger is not None:
            decision = self._exposure(decision, slices)
        meta = {k: v for k, v in detection.meta.items() if k not in ("hold", "allowed", "exposure_slices")}
        if allowed:
            meta["allowed"] = allowed
        if slices:
            meta["exposure_slices"] = [s.to_dict() for s in slices]
        if self.read_only and decision.action <= Action.WARN:  # a dry run adds up what it would let leave
            with self._lock:
                for s in slices:
                    self._dry_left.setdefault((s.secret, s.key), []).extend(s.ranges)
        return FileReport(path=detection.path, action=decision.action, findings=tuple(kept),
                          problems=detection.problems, bytes=detection.bytes, seconds=detection.seconds,
                          decision=decision, meta=meta)

    # -- recipients, allow entries, exposure ----------------------------------------------

    def exposure_key(self, recipient: Recipient) -> str:
        """The destination a share of a secret is counted against (and allow entries are scoped to)."""
        return exposure_key(self.policy, recipient)

    def _allow_entry(self, finding: Finding, destination: Destination):
        """An allow entry applies when every recipient of the finding has one for this digest."""
        if self.incidents is None:
            return None
        entries = []
        for recipient in recipients_of(self.policy, destination, finding):
            entry = self.incidents.allowed(finding.digest, self.exposure_key(recipient), self.today())
            if entry is None:
                return None
            entries.append(entry)
        return entries[0] if entries else None

    def _slices(self, findings: list[Finding], destination: Destination) -> list[Slice]:
        if self.exposure is None:
            return []
        out = []
        for finding in findings:
            if not isinstance(finding.evidence, DocumentEvidence):
                continue  # a byte-identical copy has no word ranges: it is the whole secret, blocked anyway
            ranges = tuple((int(r.secret_words[0]), int(r.secret_words[1])) for r in finding.evidence.runs)
            total = int(finding.evidence.secret_words)
            if not ranges or total <= 0:
                continue
            for recipient in recipients_of(self.policy, destination, finding):
                if recipient.cls in LEAVING:
                    out.append(Slice(finding.secret, self.exposure_key(recipient), ranges, total))
        return out

    def _exposure(self, decision: Decision, slices: list[Slice]) -> Decision:
        assert self.ledger is not None and self.exposure is not None
        settings = self.exposure
        worst = None
        for s in slices:
            with self._lock:
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


def exposure_key(policy: Policy, recipient: Recipient) -> str:
    """The destination a share of a secret is counted against (and allow entries are scoped to)."""
    exposure = policy.exposure
    if exposure is not None and exposure.enabled and exposure.by == "country":
        return f"country:{recipient.country or 'unknown'}"
    return recipient.exposure_key


def held(detection: Detection, rule: str, reason: str) -> Detection:
    """Mark a detection to be held whatever is found, where the scan learns why (a worker that
    found no regular file): the decider honours it as it does `Request.hold`."""
    return replace(detection, meta={**detection.meta, "hold": {"rule": rule, "reason": reason}})


def _hold_of(detection: Detection) -> Hold | None:
    hold = detection.meta.get("hold")
    return Hold(hold["rule"], hold["reason"]) if isinstance(hold, dict) else None


def _at_least_quarantine(decision: Decision, rule: str, reason: str) -> Decision:
    if decision.action >= Action.QUARANTINE:
        return replace(decision, reasons=(*decision.reasons, reason))
    return Decision(Action.QUARANTINE, rule, (*decision.reasons, reason))
