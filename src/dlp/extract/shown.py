"""Second readings "as shown": only the stretches around what a reader does not see.

A DOCX, HTML or PDF reader hides some text (hidden runs, concealed elements, comments,
invisible glyphs) or lays it out in another order than it is stored (bidi overrides).
Such text is read like any other, since it leaves with the file; but junk hidden
between the words a reader sees splits a registered excerpt the reader sees whole.
So the part is read a second time as shown (``#visible``). Only the stretches within
`REACH` characters of a place where hidden text sat between shown text are kept:
an excerpt the junk splits lies there, and the rest of the document, already read
whole, is not scanned twice (nor found twice).
"""

from __future__ import annotations

import re

REACH = 600  # characters kept on each side of a cut: a 60-word excerpt split in the middle fits twice over
_WORD_SLACK = 64  # characters a stretch may grow by to end on white space instead of inside a word


def around(text: str, cuts: list[int], reach: int = REACH) -> str | None:
    """The stretches of `text` within `reach` of the cuts that have text on both sides,
    joined by blank lines; None when no cut lies between text."""
    first = len(text) - len(text.lstrip())
    last = len(text.rstrip())
    spans: list[list[int]] = []
    for cut in sorted(cuts):
        if not first < cut < last:
            continue  # before all text or after it: splits nothing
        end = _word_end(text, min(len(text), cut + reach))
        if spans and max(0, cut - reach) <= spans[-1][1]:  # joins the stretch before: where it starts
            spans[-1][1] = max(spans[-1][1], end)  # does not matter (cuts close together, by the thousand)
            continue
        start = _word_start(text, max(0, cut - reach))
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    if not spans:
        return None
    return "\n\n".join(text[start:end] for start, end in spans)


def _word_start(text: str, position: int) -> int:
    if position == 0 or text[position - 1].isspace():
        return position
    floor = max(0, position - _WORD_SLACK)
    found = max(text.rfind(" ", floor, position), text.rfind("\n", floor, position))
    return found + 1 if found >= 0 else position


def _word_end(text: str, position: int) -> int:
    if position >= len(text) or text[position].isspace():
        return position
    ceiling = min(len(text), position + _WORD_SLACK)
    found = [index for index in (text.find(" ", position, ceiling), text.find("\n", position, ceiling)) if index >= 0]
    return min(found) if found else position


# A right-to-left override (U+202E) lays out every character up to the next pop (U+202C),
# the next override or embedding, or the end of the paragraph, from right to left: Latin
# letters stored reversed are shown in order.
_OVERRIDE = re.compile("\u202e([^\u202a-\u202e\u2066-\u2069\n]*)(?:\u202c)?")


def visual_order(text: str) -> str | None:
    """`text` with its right-to-left override runs in the order they are shown, around
    them (`around`); None when it has none. Cheap when there is no override: one search."""
    if "\u202e" not in text:
        return None
    pieces: list[str] = []
    cuts: list[int] = []
    position = length = 0
    for match in _OVERRIDE.finditer(text):
        before = text[position:match.start()]
        pieces.append(before)
        length += len(before)
        shown = match.group(1)[::-1]
        if shown.strip():
            cuts += [length, length + len(shown)]
        pieces.append(shown)
        length += len(shown)
        position = match.end()
    pieces.append(text[position:])
    return around("".join(pieces), cuts) if cuts else None
