"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched, readable without CSS.

Each function returns one ``<svg>`` element (as markupsafe.Markup, every label escaped)
with a ``viewBox`` so it scales to the width of its box, a ``<title>`` for screen
readers, and the numbers written beside the bars, so a chart is never the only place a
figure can be read.
"""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

from markupsafe import Markup

ACTION_COLOURS = {"warn": "#d9a400", "quarantine": "#e0701b", "block": "#c62828"}
BAR = "#3566a8"
MUTED = "#8a94a6"
INK = "#1d2330"


def per_day(days: Sequence[str], counts: Mapping[str, Sequence[int]], title: str) -> Markup:
    """Stacked columns, one per day, one colour per action (warn, quarantine, block)."""
    width, height, left, bottom, top = 480, 200, 30, 26, 26
    n = max(1, len(days))
    totals = [sum(series[i] for series in counts.values()) for i in range(len(days))]
    peak = max(totals, default=0) or 1
    step = (width - left - 6) / n
    bar = max(1.0, step * 0.8)
    scale = (height - bottom - top) / peak
    out = [_open(width, height, title, "columns")]
    out.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" stroke="{MUTED}"/>')
    out.append(f'<text x="{left - 4}" y="{top + 4}" font-size="11" text-anchor="end" fill="{INK}">{peak}</text>')
    out.append(f'<text x="{left - 4}" y="{height - bottom}" font-size="11" text-anchor="end" fill="{INK}">0</text>')
    for i, day in enumerate(days):
        x = left + i * step + (step - bar) / 2
        y = height - bottom
        for action, colour in ACTION_COLOURS.items():
            value = counts.get(action, [0] * len(days))[i]
            if not value:
                continue
            h = value * scale
            y -= h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                       f'<title>{escape(day)}: {value} {escape(action)}</title></rect>')
    if days:
        out.append(f'<text x="{left}" y="{height - 10}" font-size="11" fill="{INK}">{escape(days[0])}</text>')
        out.append(f'<text x="{width - 4}" y="{height - 10}" font-size="11" text-anchor="end" fill="{INK}">'
                   f'{escape(days[-1])}</text>')
    x = left
    for action, colour in ACTION_COLOURS.items():
        total = sum(counts.get(action, ()))
        out.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="15" font-size="11" fill="{INK}">{escape(action)} {total}</text>')
        x += 120
    out.append("</svg>")
    return Markup("".join(out))


def bars(items: Sequence[tuple[str, float]], title: str, *, unit: str = "", share: bool = False,
         threshold: float | None = None, empty: str = "nothing in this period") -> Markup:
    """Horizontal bars with the label above each bar and the value at its end.

    `share`: values are shares in 0..1, drawn against a full scale and written as percentages;
    `threshold` (a share) draws a dashed line where the policy acts.
    """
    width, row, top = 400, 34, 6
    if not items:
        height = 34
        return Markup(_open(width, height, title, "bars") + f'<text x="0" y="20" font-size="12" fill="{MUTED}">'
                      f'{escape(empty)}</text></svg>')
    height = top + row * len(items) + 4
    peak = 1.0 if share else (max(v for _, v in items) or 1)
    room = width - 70
    out = [_open(width, height, title, "bars")]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(1.0, room * min(value, peak) / peak) if value else 0
        text = f"{value:.0%}" if share else f"{value:g}{unit}"
        out.append(f'<text x="0" y="{y + 11}" font-size="12" fill="{INK}">{escape(_clip(label, 60))}</text>')
        out.append(f'<rect x="0" y="{y + 15}" width="{w:.1f}" height="12" fill="{BAR}" rx="2">'
                   f'<title>{escape(label)}: {escape(text)}</title></rect>')
        out.append(f'<text x="{w + 6:.1f}" y="{y + 25}" font-size="11" fill="{INK}">{escape(text)}</text>')
    if share and threshold is not None:
        x = room * threshold
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height}" stroke="{ACTION_COLOURS["block"]}" '
                   f'stroke-dasharray="4 3"><title>threshold {threshold:.0%}</title></line>')
    out.append("</svg>")
    return Markup("".join(out))


def coverage(total_words: int, ranges: Sequence[Sequence[int]], title: str) -> Markup:
    """The registered document as a bar of its length, with the matched word ranges marked.

    Only positions: the bar says *where* in the secret the item matched, never what it says.
    """
    width, height = 400, 34
    total = max(1, int(total_words))
    out = [_open(width, height, title, "coverage"),
           f'<rect x="0" y="6" width="{width}" height="14" fill="#e3e7ee" rx="2"/>']
    for start, end in ranges:
        start, end = max(0, int(start)), min(total, int(end))
        if end <= start:
            continue
        x, w = width * start / total, max(1.5, width * (end - start) / total)
        out.append(f'<rect x="{x:.1f}" y="6" width="{w:.1f}" height="14" fill="{ACTION_COLOURS["block"]}">'
                   f'<title>words {start}-{end} of {total}</title></rect>')
    out.append(f'<text x="0" y="32" font-size="10" fill="{MUTED}">0</text>'
               f'<text x="{width}" y="32" font-size="10" text-anchor="end" fill="{MUTED}">{total} words</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _open(width: int, height: int, title: str, kind: str = "") -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'class="chart {kind}" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">'
            f"<title>{escape(title)}</title>")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
