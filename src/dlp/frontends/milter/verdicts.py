"""From a scan report, or a failure to scan, to a verdict, and to the milter replies that end a message.

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


@dataclass(frozen=True)
class MailVerdict:
    """What becomes of one message, whichever front end carries it out: the milter turns it
    into replies (`replies`), `dlp scan-mail` into an exit status and a header.

    `outcome` is accept (delivered, with `header`), hold (accepted into the MTA's hold queue,
    with `header` and `hold_reason`), refuse or tempfail (`reply`). `reason` says why a message
    has no report (it could not be scanned)."""

    outcome: str
    header: str = ""
    reply: p.SmtpReply | None = None
    hold_reason: str = ""
    report: FileReport | None = None
    incident: str = ""
    reason: str = ""

    @property
    def passes(self) -> bool:
        """True when the message goes on to its recipients now (accepted, not held)."""
        return self.outcome == "accept"


def verdict_of(report: FileReport, incident: str, policy: ReplyPolicy = ReplyPolicy(), *,
               can_hold: bool = True) -> MailVerdict:
    """The verdict for a scanned message. Without a hold queue (`can_hold` false) a quarantine
    is refused instead: it must not be delivered."""
    summary = p.reply_text(findings_summary(report, policy.named_findings))
    incident = p.reply_text(incident)
    if report.action is Action.BLOCK:
        return MailVerdict("refuse", reply=_refusal(incident, summary), report=report, incident=incident)
    if report.action is Action.QUARANTINE:
        if not can_hold:
            return MailVerdict("refuse", reply=_refusal(incident, summary + "; quarantine is not available"),
                               report=report, incident=incident)
        return MailVerdict("hold", header=f"quarantine; incident={incident}",
                           hold_reason=f"dlp incident {incident}: {summary}", report=report, incident=incident)
    if report.action is Action.WARN:
        return MailVerdict("accept", header=f"warn; incident={incident}; findings={summary}", report=report,
                           incident=incident)
    return MailVerdict("accept", header="allow", report=report)


def unscanned_verdict(reason: str, policy: ReplyPolicy = ReplyPolicy()) -> MailVerdict:
    """The message could not be scanned (too large, timed out, overloaded, scanner error)."""
    reason = p.reply_text(reason)
    if policy.fail_open:
        return MailVerdict("accept", header=f"unscanned; reason={reason}", reason=reason)
    text = f"Message could not be checked by data-loss prevention ({reason}), try again later"
    return MailVerdict("tempfail", reply=p.SmtpReply(451, "4.7.1", text), reason=reason)


def replies(verdict: MailVerdict, message: CollectedMessage, policy: ReplyPolicy = ReplyPolicy()) -> tuple[p.Reply, ...]:
    """The milter replies that carry out a verdict."""
    if verdict.reply is not None:
        return (p.Respond(verdict.reply),)
    header = _verdict_header(message, policy, verdict.header)
    if verdict.outcome == "hold":
        return (*header, p.Quarantine(verdict.hold_reason), p.Accept())
    return (*header, p.Accept())


def report_replies(
    report: FileReport, message: CollectedMessage, incident: str, policy: ReplyPolicy = ReplyPolicy()
) -> tuple[p.Reply, ...]:
    can_hold = bool(message.actions & p.ActionFlag.QUARANTINE)
    return replies(verdict_of(report, incident, policy, can_hold=can_hold), message, policy)


def failure_replies(reason: str, message: CollectedMessage, policy: ReplyPolicy = ReplyPolicy()) -> tuple[p.Reply, ...]:
    return replies(unscanned_verdict(reason, policy), message, policy)


def _refusal(incident: str, summary: str) -> p.SmtpReply:
    text = f"Message refused by data-loss prevention policy, incident {incident}: {summary}"
    return p.SmtpReply(550, "5.7.1", p.reply_text(text))


def _verdict_header(message: CollectedMessage, policy: ReplyPolicy, value: str) -> tuple[p.Reply, ...]:
    replies: list[p.Reply] = []
    if message.actions & p.ActionFlag.CHGHDRS:
        # Highest index first, so every index still names the header it named on arrival.
        for index in range(message.forged_verdict_headers, 0, -1):
            replies.append(p.ChangeHeader(index, policy.header, ""))
    if message.actions & p.ActionFlag.ADDHDRS:
        replies.append(p.AddHeader(policy.header, value))
    return tuple(replies)
