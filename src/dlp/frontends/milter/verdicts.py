"""From a scan report, or a failure to scan, to the milter replies that end a message.

| report action | replies                                                        |
|---------------|----------------------------------------------------------------|
| block         | 550 5.7.1 naming the incident, secret ids and finding kinds    |
| quarantine    | verdict header, SMFIR_QUARANTINE (Postfix hold queue), accept  |
| warn          | verdict header with the incident, accept                       |
| allow         | verdict header, accept                                         |
| (no report)   | 451 4.7.1, or with fail-open: `unscanned` header, accept        |

Replies name registered secrets by id and the kind of finding, never their text.
A sender's own `X-DLP-Verdict` headers are deleted before ours is added, so a
downstream filter can trust the header it sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...types import Action, FileReport
from . import protocol as p
from .session import VERDICT_HEADER, CollectedMessage


@dataclass(frozen=True)
class ReplyPolicy:
    fail_open: bool = False
    header: str = VERDICT_HEADER
    named_findings: int = 3  # secrets named in a reply; the rest are counted


def findings_summary(report: FileReport, limit: int) -> str:
    """`S-0001 (document), S-0007 (terms) and 2 more`; the decision rule when nothing was found."""
    pairs: list[str] = []
    for finding in report.findings:
        pair = f"{finding.secret} ({finding.kind})"
        if pair not in pairs:
            pairs.append(pair)
    if not pairs:
        rule = report.decision.rule if report.decision is not None else report.action.label
        return f"rule {rule}"
    named = ", ".join(pairs[:limit])
    rest = len(pairs) - limit
    return named + (f" and {rest} more" if rest > 0 else "")


def report_replies(
    report: FileReport, message: CollectedMessage, incident: str, policy: ReplyPolicy = ReplyPolicy()
) -> tuple[p.Reply, ...]:
    summary = p.reply_text(findings_summary(report, policy.named_findings))
    incident = p.reply_text(incident)
    if report.action is Action.BLOCK:
        return (_refuse(incident, summary),)
    if report.action is Action.QUARANTINE:
        if not message.actions & p.ActionFlag.QUARANTINE:
            return (_refuse(incident, summary + "; quarantine is not available"),)
        return (
            *_verdict_header(message, policy, f"quarantine; incident={incident}"),
            p.Quarantine(f"dlp incident {incident}: {summary}"),
            p.Accept(),
        )
    if report.action is Action.WARN:
        value = f"warn; incident={incident}; findings={summary}"
        return (*_verdict_header(message, policy, value), p.Accept())
    return (*_verdict_header(message, policy, "allow"), p.Accept())


def failure_replies(reason: str, message: CollectedMessage, policy: ReplyPolicy = ReplyPolicy()) -> tuple[p.Reply, ...]:
    """The message could not be scanned (timeout, oversize, scanner error)."""
    reason = p.reply_text(reason)
    if policy.fail_open:
        return (*_verdict_header(message, policy, f"unscanned; reason={reason}"), p.Accept())
    text = f"Message could not be checked by data-loss prevention ({reason}), try again later"
    return (p.Respond(p.SmtpReply(451, "4.7.1", text)),)


def _refuse(incident: str, summary: str) -> p.Respond:
    text = f"Message refused by data-loss prevention policy, incident {incident}: {summary}"
    return p.Respond(p.SmtpReply(550, "5.7.1", p.reply_text(text)))


def _verdict_header(message: CollectedMessage, policy: ReplyPolicy, value: str) -> tuple[p.Reply, ...]:
    replies: list[p.Reply] = []
    if message.actions & p.ActionFlag.CHGHDRS:
        # Highest index first, so every index still names the header it named on arrival.
        for index in range(message.forged_verdict_headers, 0, -1):
            replies.append(p.ChangeHeader(index, policy.header, ""))
    if message.actions & p.ActionFlag.ADDHDRS:
        replies.append(p.AddHeader(policy.header, value))
    return tuple(replies)
