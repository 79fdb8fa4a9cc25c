"""From findings and problems to an action.

`Policy` is the one interface every front end decides through. `DefaultPolicy`
is the built-in rule set used when no policy file is given:

- block on a document finding at or over the excerpt threshold, or on a record hit;
- warn on any other finding (terms, smaller document overlaps, rewrites, classifier);
- a part that could not be read is never clean: by default it makes the item
  `quarantine` when the content goes by mail, through the watch daemon, or to any
  named recipient or country (fail-closed), and `warn` for an ad-hoc CLI scan;
  `unreadable_action` overrides both (the destination policy file has its own rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from .types import Action, Decision, Destination, Finding, Problem

# Problems that are facts about the content rather than failures to read it.
INFORMATIONAL_PROBLEMS = frozenset({"binary"})


class Policy(Protocol):
    def decide(
        self,
        findings: Sequence[Finding],
        problems: Sequence[Problem],
        destination: Destination,
    ) -> Decision: ...


@dataclass(frozen=True)
class DefaultPolicy:
    block_score: float = 1.0
    unreadable_action: Action | None = None  # None: fail-closed for outbound channels, warn for the CLI

    def decide(
        self,
        findings: Sequence[Finding],
        problems: Sequence[Problem],
        destination: Destination,
    ) -> Decision:
        action, rule, reasons = Action.ALLOW, "default:clean", []
        for finding in findings:
            this, why = self._finding_action(finding)
            reasons.append(f"{finding.secret} v{finding.version}: {why}")
            if this > action:
                action, rule = this, f"default:{finding.kind}"
        unreadable = [p for p in problems if p.kind not in INFORMATIONAL_PROBLEMS]
        if unreadable:
            reasons.append(f"{len(unreadable)} part(s) could not be read: " + ", ".join(sorted({p.kind for p in unreadable})))
            fallback = self.unreadable_action if self.unreadable_action is not None else _fail_closed(destination)
            if fallback > action:
                action, rule = fallback, "default:unscannable"
        return Decision(action, rule, tuple(reasons))

    def _finding_action(self, finding: Finding) -> tuple[Action, str]:
        if finding.kind == "records":
            return Action.BLOCK, f"record match, {finding.matched_words} fields"
        if finding.kind == "document" and finding.score >= self.block_score:
            return Action.BLOCK, f"verbatim excerpt of {finding.matched_words} words"
        return Action.WARN, f"{finding.kind} finding, score {finding.score:.2f}"


def _fail_closed(destination: Destination) -> Action:
    outbound = destination.channel in ("mail", "watch") or destination.addresses or destination.country
    return Action.QUARANTINE if outbound else Action.WARN
