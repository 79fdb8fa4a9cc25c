"""From findings and problems to an action.

`Policy` is the one interface every front end decides through. `DefaultPolicy`
is the built-in rule set used when no policy file is given, and the behaviour a
policy file keeps for everything it does not name:

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
BLOCK_SCORE = 1.0  # a document finding scores 1.0 at the built-in excerpt threshold (a run of 15 words)


@dataclass(frozen=True)
class ExposureSettings:
    """Slow leaks: the share of one secret that may reach one destination within a window."""

    window_days: float = 30.0
    threshold: float = 0.5
    action: Action = Action.BLOCK
    by: str = "domain"  # domain | country
    enabled: bool = True


class Policy(Protocol):
    """Decides one item; also says where it came from and what else it asks of the recorder."""

    source: str | None          # the policy file, None for the built-in policy
    excerpt: bool               # keep ~200 characters of the scanned item at each finding
    exposure: ExposureSettings | None  # slow-leak tracking, None for none

    def decide(
        self,
        findings: Sequence[Finding],
        problems: Sequence[Problem],
        destination: Destination,
    ) -> Decision: ...


@dataclass(frozen=True)
class DefaultPolicy:
    block_score: float = BLOCK_SCORE
    unreadable_action: Action | None = None  # None: fail-closed for outbound channels, warn for the CLI
    source: str | None = None
    excerpt: bool = False
    exposure: ExposureSettings | None = None

    def decide(
        self,
        findings: Sequence[Finding],
        problems: Sequence[Problem],
        destination: Destination,
    ) -> Decision:
        action, rule, reasons = Action.ALLOW, "default:clean", []
        for finding in findings:
            this, why = default_finding_action(finding, self.block_score)
            reasons.append(f"{finding.secret} v{finding.version}: {why}")
            if this > action:
                action, rule = this, f"default:{finding.kind}"
        unreadable = [p for p in problems if p.kind not in INFORMATIONAL_PROBLEMS]
        if unreadable:
            reasons.append(f"{len(unreadable)} part(s) could not be read: " + ", ".join(sorted({p.kind for p in unreadable})))
            fallback = self.unreadable_action if self.unreadable_action is not None else default_unscannable_action(destination)
            if fallback > action:
                action, rule = fallback, "default:unscannable"
        return Decision(action, rule, tuple(reasons))


def default_finding_action(finding: Finding, block_score: float = BLOCK_SCORE) -> tuple[Action, str]:
    """The built-in action for one finding, and why."""
    if finding.kind == "records":
        return Action.BLOCK, f"record match, {finding.matched_words} fields"
    if finding.kind == "document" and finding.score >= block_score:
        return Action.BLOCK, f"verbatim excerpt of {finding.matched_words} words"
    return Action.WARN, f"{finding.kind} finding, score {finding.score:.2f}"


def default_kind_action(kind: str) -> Action:
    """The most the built-in policy does for a finding of this kind (a verbatim excerpt for documents)."""
    return Action.BLOCK if kind in ("document", "records") else Action.WARN


def default_unscannable_action(destination: Destination) -> Action:
    """Fail-closed when content goes somewhere (mail, watch, a named recipient or country); warn otherwise."""
    outbound = destination.channel in ("mail", "watch") or destination.addresses or destination.country
    return Action.QUARANTINE if outbound else Action.WARN
