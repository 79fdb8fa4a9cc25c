"""From report to replies: one table of cases, plus the promises every reply keeps."""

from __future__ import annotations

import pytest

from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.session import CollectedMessage
from dlp.frontends.milter.spool import MessageBuffer
from dlp.frontends.milter.verdicts import ReplyPolicy, failure_replies, findings_summary, report_replies
from dlp.types import Action, Decision, FileReport, Finding

ALL_ACTIONS = p.ActionFlag.ADDHDRS | p.ActionFlag.CHGHDRS | p.ActionFlag.QUARANTINE
SECRET_LABEL = "Project Hydra pricing model"


def message(actions=ALL_ACTIONS, forged=0) -> CollectedMessage:
    return CollectedMessage("a@example.com", ("b@partner.example",), MessageBuffer(100, 100), "Q1",
                            "localhost[127.0.0.1]", actions, forged)


def report(action: Action, *kinds: tuple[str, str]) -> FileReport:
    findings = tuple(Finding(secret, 2, SECRET_LABEL, kind, 1.0, 40, 0.8, "Q1.eml") for secret, kind in kinds)
    return FileReport("Q1.eml", action, findings)


REFUSED = "550 5.7.1 Message refused by data-loss prevention policy, incident dlp-1: "


@pytest.mark.parametrize(
    "case, got, expected",
    [
        ("allow", report_replies(report(Action.ALLOW), message(), ""),
         (p.AddHeader("X-DLP-Verdict", "allow"), p.Accept())),
        ("warn", report_replies(report(Action.WARN, ("S-7", "terms")), message(), "dlp-1"),
         (p.AddHeader("X-DLP-Verdict", "warn; incident=dlp-1; findings=S-7 (terms)"), p.Accept())),
        ("quarantine", report_replies(report(Action.QUARANTINE, ("S-7", "terms")), message(), "dlp-1"),
         (p.AddHeader("X-DLP-Verdict", "quarantine; incident=dlp-1"),
          p.Quarantine("dlp incident dlp-1: S-7 (terms)"), p.Accept())),
        ("quarantine unavailable", report_replies(report(Action.QUARANTINE, ("S-7", "terms")),
                                                  message(p.ActionFlag.ADDHDRS), "dlp-1"),
         (p.Respond(p.SmtpReply(550, "5.7.1", REFUSED[10:] + "S-7 (terms); quarantine is not available")),)),
        ("block", report_replies(report(Action.BLOCK, ("S-1", "document"), ("S-1", "document"), ("S-2", "records")),
                                 message(), "dlp-1"),
         (p.Respond(p.SmtpReply(550, "5.7.1", REFUSED[10:] + "S-1 (document), S-2 (records)")),)),
        ("block, many secrets", report_replies(report(Action.BLOCK, *[(f"S-{i}", "document") for i in range(6)]),
                                               message(), "dlp-1"),
         (p.Respond(p.SmtpReply(550, "5.7.1", REFUSED[10:] + "S-0 (document), S-1 (document), S-2 (document) and 3 more")),)),
        ("forged headers deleted, last first", report_replies(report(Action.ALLOW), message(forged=2), ""),
         (p.ChangeHeader(2, "X-DLP-Verdict"), p.ChangeHeader(1, "X-DLP-Verdict"),
          p.AddHeader("X-DLP-Verdict", "allow"), p.Accept())),
        ("no header rights", report_replies(report(Action.WARN, ("S-7", "terms")), message(p.ActionFlag(0), 1), "dlp-1"),
         (p.Accept(),)),
        ("fail closed", failure_replies("scan timed out", message()),
         (p.Respond(p.SmtpReply(451, "4.7.1", "Message could not be checked by data-loss prevention "
                                              "(scan timed out), try again later")),)),
        ("fail open", failure_replies("scan timed out", message(), ReplyPolicy(fail_open=True)),
         (p.AddHeader("X-DLP-Verdict", "unscanned; reason=scan timed out"), p.Accept())),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_replies(case, got, expected):
    assert got == expected


@pytest.mark.parametrize("action", list(Action))
def test_no_reply_carries_the_secret_label(action):
    for reply in report_replies(report(action, ("S-1", "document")), message(), "dlp-1"):
        assert SECRET_LABEL.encode() not in reply.packet().encode()


def test_a_block_without_findings_names_the_rule():
    blocked = FileReport("Q1.eml", Action.BLOCK, decision=Decision(Action.BLOCK, "mail:unscannable"))
    assert findings_summary(blocked, 3) == "rule mail:unscannable"


def test_hostile_secret_ids_cannot_break_the_smtp_reply():
    (reply,) = report_replies(report(Action.BLOCK, ("S-1\r\n250 ok %s", "document")), message(), "dlp-1")
    assert isinstance(reply, p.Respond) and "\r" not in reply.reply.text and "%" not in reply.reply.text
