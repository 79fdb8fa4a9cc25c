"""From findings and problems to an action.

`Policy` is the one interface every front end decides through. `DefaultPolicy`
is the built-in rule set used when no policy file is given:

- block on a document finding at or over the excerpt threshold, or on a record hit;
- warn on any other finding (terms, smaller document overlaps, rewrites, classifier);
- a part that could not be read makes the item at least `warn` (the CLI's
  fail-soft default; mail and outbound channels can be made fail-closed with
  `unreadable_action`).
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
    unreadable_action: Action = Action.WARN

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
            if self.unreadable_action > action:
                action, rule = self.unreadable_action, "default:unscannable"
        return Decision(action, rule, tuple(reasons))

    def _finding_action(self, finding: Finding) -> tuple[Action, str]:
        if finding.kind == "records":
            return Action.BLOCK, f"record match, {finding.matched_words} fields"
        if finding.kind == "document" and finding.score >= self.block_score:
            return Action.BLOCK, f"verbatim excerpt of {finding.matched_words} words"
        return Action.WARN, f"{finding.kind} finding, score {finding.score:.2f}"
