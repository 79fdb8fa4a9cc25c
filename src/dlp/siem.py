"""Incidents as lines for a SIEM: JSON lines, syslog (RFC 5424) or ArcSight CEF.

`dlp incidents export --follow` writes one line per incident as it is recorded, so the
console is not the only place incidents go: a log shipper (rsyslog's imfile, Filebeat,
Vector, a Splunk forwarder) picks the lines up from standard output or a file.

A feed is a log, read by more people than the incident store: excerpts of the scanned
item (kept only when the policy enables them) and the classifier's top words are
dropped, so a feed line never holds any text of the scanned item, only ids, labels,
addresses, digests, positions and counts.

Both wire formats are small enough to write by hand, with the escaping their
specifications demand: RFC 5424 section 6.3.3 (``"``, ``\\`` and ``]`` inside a
parameter value) and the CEF specification (``|`` and ``\\`` in the header; ``=``,
``\\`` and line breaks in the extension).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
from typing import Any

from . import __version__
from .incidents import Incident
from .errors import InvalidValue

FORMATS = ("jsonl", "syslog", "cef")
# RFC 5424 structured data of our own needs an SD-ID of the form name@<private enterprise number>.
# 32473 is the number RFC 5612 reserves for documentation; an operator with a number of its own
# may replace it in the collector's parser, the parameters stay the same.
SD_ID = "incident@32473"
FACILITY_LOG_AUDIT = 13
SYSLOG_SEVERITY = {"block": 3, "quarantine": 4, "warn": 5}    # error, warning, notice
CEF_SEVERITY = {"block": 9, "quarantine": 7, "warn": 4}


def feed_record(incident: Incident) -> dict[str, Any]:
    """The incident as a feed carries it: everything `dlp incidents show --format json` says,
    without excerpts of the scanned item."""
    record = incident.to_dict()
    record["findings"] = [_without_excerpt(f) for f in record.get("findings", [])]
    return record


def format_line(incident: Incident, fmt: str, *, hostname: str | None = None) -> str:
    if fmt == "jsonl":
        return json.dumps(feed_record(incident), ensure_ascii=False, separators=(",", ":"))
    if fmt == "syslog":
        return rfc5424(incident, hostname=hostname)
    if fmt == "cef":
        return cef(incident)
    raise InvalidValue(f"unknown feed format {fmt!r} ({', '.join(FORMATS)})")


def summary(incident: Incident) -> str:
    """One sentence for people: what, where, which secrets, to whom (never any text of either)."""
    record = incident.to_dict()
    to = ", ".join(r.get("address") or r.get("country") or "-" for r in record.get("recipients", [])) or "-"
    secrets = ", ".join(incident.secrets) or "-"
    problems = sorted({p.get("kind", "") for p in record.get("problems", [])})
    tail = f"; unreadable: {', '.join(problems)}" if problems else ""
    return f"{incident.action} {incident.id} on {incident.channel}: {secrets} to {to} ({incident.item}){tail}"


# -- RFC 5424 ---------------------------------------------------------------------------------


def rfc5424(incident: Incident, *, hostname: str | None = None) -> str:
    """``<PRI>1 TIMESTAMP HOST dlp - MSGID [incident@32473 ...] BOM MSG`` (RFC 5424, section 6)."""
    pri = FACILITY_LOG_AUDIT * 8 + SYSLOG_SEVERITY.get(incident.action, 5)
    when = dt.datetime.fromtimestamp(incident.time, dt.timezone.utc).isoformat(timespec="milliseconds")
    host = _header_field(hostname or socket.gethostname(), 255)
    record = incident.to_dict()
    params = [
        ("id", incident.id), ("channel", incident.channel), ("action", incident.action), ("status", incident.status),
        ("rule", incident.rule), ("sender", incident.sender or ""), ("item", incident.item),
        ("secrets", ",".join(incident.secrets)),
        ("recipients", ",".join(r.get("address") or "" for r in record.get("recipients", []))),
        ("classes", ",".join(sorted({r.get("class") or "" for r in record.get("recipients", [])}))),
        ("countries", ",".join(sorted({r.get("country") or "" for r in record.get("recipients", [])} - {""}))),
        ("problems", ",".join(sorted({p.get("kind", "") for p in record.get("problems", [])}))),
    ]
    data = "[" + SD_ID + "".join(f' {name}="{_sd_escape(value)}"' for name, value in params) + "]"
    msgid = _header_field(incident.action, 32)
    return f"<{pri}>1 {when.replace('+00:00', 'Z')} {host} dlp - {msgid} {data} \ufeff{_one_line(summary(incident))}"


def _sd_escape(value: str) -> str:
    return _one_line(str(value)).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header_field(value: str, limit: int) -> str:
    """A header field is 1..limit printable US-ASCII characters without spaces, or "-"."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


# -- CEF --------------------------------------------------------------------------------------


def cef(incident: Incident) -> str:
    """``CEF:0|dlp|dlp|VERSION|dlp:ACTION|NAME|SEVERITY|EXTENSION``."""
    record = incident.to_dict()
    recipients = record.get("recipients", [])
    header = ["CEF:0", "dlp", "dlp", __version__, f"dlp:{incident.action}",
              f"registered secret {incident.action}" if incident.secrets else f"unscannable item {incident.action}",
              str(CEF_SEVERITY.get(incident.action, 5))]
    extension = [
        ("rt", str(int(incident.time * 1000))), ("externalId", incident.id), ("act", incident.action),
        ("cat", incident.channel), ("outcome", incident.status), ("reason", incident.rule),
        ("suser", incident.sender or ""), ("duser", ",".join(r.get("address") or "" for r in recipients)),
        ("fname", incident.item),
        ("cs1Label", "secrets"), ("cs1", ",".join(incident.secrets)),
        ("cs2Label", "recipientClasses"), ("cs2", ",".join(sorted({r.get("class") or "" for r in recipients}))),
        ("cs3Label", "countries"), ("cs3", ",".join(sorted({r.get("country") or "" for r in recipients} - {""}))),
        ("cs4Label", "problems"), ("cs4", ",".join(sorted({p.get("kind", "") for p in record.get("problems", [])}))),
        ("msg", summary(incident)),
    ]
    return "|".join([header[0], *(_cef_header(h) for h in header[1:])]) + "|" + " ".join(
        f"{key}={_cef_value(value)}" for key, value in extension if value != "")


def _cef_header(value: str) -> str:
    return _one_line(value).replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: str) -> str:
    escaped = (value.replace("\\", "\\\\").replace("=", "\\=").replace("\r\n", "\\n")
               .replace("\n", "\\n").replace("\r", "\\r"))
    return _one_line(escaped)


# -- helpers ----------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """No line breaks or other control characters: one incident is one line, whatever a file was called."""
    return "".join(c if c.isprintable() else " " for c in text)


SCANNED_TEXT = frozenset({"excerpt", "word"})  # evidence keys that hold text of the scanned item


def _without_excerpt(finding: dict[str, Any]) -> dict[str, Any]:
    """The finding without any text of the scanned item, at any depth of its evidence."""
    return {**finding, "evidence": _strip(finding.get("evidence", {}))}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in SCANNED_TEXT}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
