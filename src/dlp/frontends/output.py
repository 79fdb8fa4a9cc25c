"""Rendering a report: a text table for people, versioned JSON and SARIF for tools."""

from __future__ import annotations

import json
from typing import Any, TextIO

from .. import __version__
from ..types import Action, FileReport, Report

SARIF_LEVEL = {Action.BLOCK: "error", Action.QUARANTINE: "error", Action.WARN: "warning", Action.ALLOW: "note"}


def write_report(report: Report, fmt: str, out: TextIO) -> None:
    if fmt == "json":
        json.dump(report.to_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif fmt == "sarif":
        json.dump(to_sarif(report), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        for line in text_lines(report):
            out.write(line + "\n")


def text_lines(report: Report) -> list[str]:
    lines = []
    for f in report.files:
        lines.append(f"{f.action.label.upper():10} {f.path}{_headline(f)}")
        for finding in f.findings[1:] if f.findings else ():
            lines.append(f"{'':10}   also {_describe(finding)}")
        for p in f.problems:
            lines.append(f"{'':10}   ! {p.locator}: {p.kind}: {p.detail}")
    counts = report.actions()
    parts = ", ".join(f"{counts[a.label]} {a.label}" for a in reversed(Action) if counts[a.label])
    total = sum(f.bytes for f in report.files)
    lines.append(f"{len(report.files)} files ({_size(total)}) in {report.seconds:.2f} s: {parts or 'nothing scanned'}")
    return lines


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
        size = f"{getattr(ev, 'distinct_terms', 0)} distinct terms"
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
