"""Rendering a report: a text table for people, versioned JSON and SARIF for tools.

A report is rendered whole before anything is written (`render_report`), so a failure
while rendering never leaves half a report; `write_report_file` then replaces the
target file atomically. Locators are already `escape_path` text; a stray undecodable
character that reaches this far is escaped here rather than failing the whole report.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from typing import Any, TextIO

from .. import __version__
from ..types import Action, FileReport, Report, escape_path, writable

SARIF_LEVEL = {Action.BLOCK: "error", Action.QUARANTINE: "error", Action.WARN: "warning", Action.ALLOW: "note"}


_SURROGATES = re.compile("[\ud800-\udfff]")


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``: counts in messages read as English."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_report(report: Report, fmt: str) -> str:
    """The whole report as text in format `fmt` (text, json or sarif), always encodable as UTF-8."""
    if fmt in ("json", "sarif"):
        data = report.to_dict() if fmt == "json" else to_sarif(report)
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if _SURROGATES.search(text):  # valid JSON either way: \udcff escapes instead of raw surrogates
            text = json.dumps(data, indent=2, ensure_ascii=True)
        return text + "\n"
    return "".join(_SURROGATES.sub(lambda m: escape_path(m.group()), line) + "\n" for line in text_lines(report))


def write_report(report: Report, fmt: str, out: TextIO) -> None:
    out.write(render_report(report, fmt))


def write_report_file(report: Report, fmt: str, path: str) -> None:
    """Write the report to `path` atomically: a temporary file beside it, fsynced, then renamed
    over it. A failure leaves any previous file as it was, never a truncated one. A path that
    is not a regular file (a pipe, /dev/stdout) is written directly."""
    data = render_report(report, fmt).encode("utf-8")
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with open(path, "wb") as handle:
            handle.write(data)
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, existing.st_mode & 0o777 if existing is not None else 0o666 & ~_umask())
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temporary, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def text_lines(report: Report) -> list[str]:
    """The report as lines for a terminal. Names inside items (archive members, attachments) are
    the sender's to choose: a control character in one forged a line (a carriage return and
    escape codes that erased the BLOCK line and wrote an ALLOW one: found attacking stop 36), so
    every line is written as `writable` text."""
    lines = []
    for f in report.files:
        lines.append(f"{f.action.label.upper():10} {f.path}{_headline(f)}")
        if f.action > Action.ALLOW and f.meta.get("incident"):
            lines.append(f"{'':10}   incident {f.meta['incident']}")
        for finding in f.findings[1:] if f.findings else ():
            lines.append(f"{'':10}   also {_describe(finding)}")
        for p in f.problems:
            lines.append(f"{'':10}   ! {p.locator}: {p.kind}: {p.detail}")
        for d in f.meta.get("explain", ()):  # --explain: what was set aside, and why
            numbers = ", ".join(f"{k} {v}" for k, v in d.items() if k not in ("part", "detector", "secret", "reason"))
            lines.append(f"{'':10}   ? {d['secret']} ({d['detector']}): {d['reason']}" + (f" ({numbers})" if numbers else ""))
    counts = report.actions()
    parts = ", ".join(f"{counts[a.label]} {a.label}" for a in reversed(Action) if counts[a.label])
    total = sum(f.bytes for f in report.files)
    lines.append(f"{plural(len(report.files), 'file')} ({_size(total)}) in {report.seconds:.2f} s: "
                 f"{parts or 'nothing scanned'}")
    return [writable(line) for line in lines]


def _headline(f: FileReport) -> str:
    if not f.findings:
        return ""
    return "  " + _describe(f.findings[0])


def _describe(finding) -> str:
    where = ""
    ev = finding.evidence
    spans = ev.spans()
    if spans:
        first = spans[0]
        where = f" at chars {first.start}-{first.end}"
        if first.page is not None:
            where += f" (page {first.page})"
    if finding.kind == "document":
        size = f"{finding.matched_words} words, {finding.coverage:.0%} of the secret"
    elif finding.kind == "terms":
        size = f"{plural(getattr(ev, 'distinct_terms', 0), 'distinct term')}"
    elif finding.kind == "records":
        size = f"{getattr(ev, 'rows', 0)} rows"
    else:
        size = f"score {finding.score:.2f}"
    locator = "" if "!" not in finding.locator else f" in {finding.locator.split('!', 1)[1]}"
    return (f"{finding.secret} v{finding.version} \"{finding.label}\" [{finding.kind}/{finding.detector}] "
            f"{size}{where}{locator}")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def to_sarif(report: Report) -> dict[str, Any]:
    kinds = sorted({fd.kind for f in report.files for fd in f.findings} | {"unscannable"})
    rules = [{"id": k, "name": k, "shortDescription": {"text": f"registered secret found ({k})" if k != "unscannable"
                                                        else "content that could not be scanned"}} for k in kinds]
    results = []
    for f in report.files:
        for fd in f.findings:
            spans = fd.evidence.spans()
            region = {}
            if spans:
                region = {"charOffset": spans[0].start, "charLength": spans[0].end - spans[0].start}
            location = {"physicalLocation": {"artifactLocation": {"uri": f.path}}}
            if region:
                location["physicalLocation"]["region"] = region
            results.append({
                "ruleId": fd.kind, "level": SARIF_LEVEL[f.action],
                "message": {"text": f"{fd.secret} v{fd.version} ({fd.label}) found by {fd.detector} in {fd.locator}: "
                                    f"score {fd.score:.2f}, {fd.matched_words} words"},
                "locations": [location],
                "properties": {"action": f.action.label, "finding": fd.to_dict()},
            })
        for p in f.problems:
            results.append({"ruleId": "unscannable", "level": "warning",
                            "message": {"text": f"{p.locator}: {p.kind}: {p.detail}"},
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.path}}}]})
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "dlp", "version": __version__, "rules": rules}}, "results": results}],
    }
