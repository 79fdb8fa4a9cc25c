"""SIEM lines: RFC 5424 and CEF framing and escaping, and no text of the scanned item in any of them."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlp.incidents import Incident
from dlp.siem import cef, feed_record, format_line, rfc5424

EXCERPT = "the full text of a leaked paragraph"


def incident(item: str = "plan.docx", sender: str | None = "a@acme.example", action: str = "block") -> Incident:
    body = {"recipients": [{"address": "li@firma.cn", "domain": "firma.cn", "country": "CN", "class": "external"}],
            "findings": [{"secret": "plan", "version": 2, "kind": "document", "detector": "fingerprint",
                          "evidence": {"excerpt": EXCERPT, "runs": [{"start": 1, "end": 9, "excerpt": EXCERPT}],
                                       "top_words": [{"word": "leaked", "start": 3, "end": 9}]}}],
            "problems": [{"kind": "encrypted", "locator": "x.zip!/y", "detail": "password"}]}
    return Incident("INC-20261123-1a2b3c4d", 1_795_000_000.25, "mail", sender, item, action, "rule:secret out",
                    "open", body)


# RFC 5424: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
SYSLOG = re.compile(r'^<(?P<pri>\d{1,3})>1 (?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (?P<host>[!-~]{1,255}) '
                    r'dlp - (?P<msgid>[!-~]{1,32}) (?P<sd>\[incident@32473(?: [a-z]+="(?:[^"\\\]]|\\["\\\]])*")*\]) '
                    r'\ufeff(?P<msg>.*)$')


def test_rfc5424_line():
    line = rfc5424(incident(), hostname="gw1")
    m = SYSLOG.match(line)
    assert m, line
    assert (m["pri"], m["ts"], m["host"], m["msgid"]) == ("107", "2026-11-18T11:06:40.250Z", "gw1", "block")
    assert 'id="INC-20261123-1a2b3c4d"' in m["sd"] and 'secrets="plan"' in m["sd"] and 'countries="CN"' in m["sd"]
    assert m["msg"] == "block INC-20261123-1a2b3c4d on mail: plan to li@firma.cn (plan.docx); unreadable: encrypted"


@given(st.text(min_size=1, max_size=60), st.text(max_size=30))
def test_hostile_names_stay_inside_one_well_formed_syslog_line(item, sender):
    line = rfc5424(incident(item=item, sender=sender), hostname="gw 1\n")
    assert "\n" not in line and "\r" not in line
    assert SYSLOG.match(line), line


CEF = re.compile(r"^CEF:0\|dlp\|dlp\|[^|]+\|dlp:(warn|quarantine|block)\|(?:[^|\\]|\\[|\\])+\|\d+\|(?P<ext>.*)$")


def cef_fields(ext: str) -> dict[str, str]:
    """Split an extension as a CEF parser does: a key is a word before an unescaped '='."""
    parts = re.split(r"(?:^| )([A-Za-z0-9]+)=(?<!\\=)", ext)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_cef_line():
    line = cef(incident())
    m = CEF.match(line)
    assert m, line
    fields = cef_fields(m["ext"])
    assert fields["externalId"] == "INC-20261123-1a2b3c4d" and fields["act"] == "block" and fields["cs1"] == "plan"
    assert fields["rt"] == "1795000000250" and fields["duser"] == "li@firma.cn" and fields["cs4"] == "encrypted"


@given(st.text(min_size=1, max_size=60))
def test_hostile_item_names_cannot_forge_cef_fields(item):
    line = cef(incident(item=item + " act=allow externalId=INC-x"))
    assert "\n" not in line and CEF.match(line)
    fields = cef_fields(CEF.match(line)["ext"])
    assert fields["act"] == "block" and fields["externalId"] == "INC-20261123-1a2b3c4d"


@pytest.mark.parametrize("fmt", ["jsonl", "syslog", "cef"])
def test_no_feed_line_carries_text_of_the_scanned_item(fmt):
    line = format_line(incident(), fmt, hostname="gw1")
    assert EXCERPT not in line and "leaked" not in line
    if fmt == "jsonl":
        record = json.loads(line)
        assert record == feed_record(incident())
        assert record["findings"][0]["evidence"]["runs"] == [{"start": 1, "end": 9}]
        assert record["findings"][0]["evidence"]["top_words"] == [{"start": 3, "end": 9}]
