"""Just enough CSS to tell what a browser does not show, and what it shows reversed.

HTML text is read whole, hidden elements included, since it all leaves with the file.
But hidden junk between the words a reader sees (``display:none`` after every third
word), or text stored reversed and shown in order by ``unicode-bidi: bidi-override;
direction: rtl``, would break a registered excerpt the browser shows whole. The HTML
reader uses these rules for a second reading of such pages, as the browser shows them.

Styles come from ``style`` attributes and from the simple rules of ``<style>`` blocks
(a tag, ``.class``, ``#id`` or ``tag.class`` selector); nothing is fetched. Cascade
order is approximated: rules in the order they come, then the element's own style.
"""

from __future__ import annotations

import re

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"(?:^|(?<=[{}]))([^{}]+)\{([^{}]*)\}")  # starts after a brace: linear on any sheet
_SIMPLE_SELECTOR = re.compile(r"^[a-z][a-z0-9]*$|^[a-z0-9]*[.#][\w-]+$", re.I)
_NUMBER = re.compile(r"^(-?\d*\.?\d+)\s*([a-z%]*)$")
_ALPHA_ZERO = re.compile(r"^(?:rgba|hsla)\(.*[,/]\s*0*\.?0*%?\s*\)$")


def declarations(style: str) -> dict[str, str]:
    """``"a: b; c: d !important"`` as ``{"a": "b", "c": "d"}`` (later declarations win)."""
    found: dict[str, str] = {}
    for declaration in style.split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            found[name.strip().lower()] = value.replace("!important", "").strip().lower()
    return found


def conceals(style: dict[str, str]) -> bool:
    """Whether an element with these declarations shows none of its text."""
    get = style.get
    if get("display") == "none" or get("visibility") in ("hidden", "collapse"):
        return True
    if _at_most(get("opacity"), {"": 0.05}) or get("color") == "transparent" or _ALPHA_ZERO.match(get("color", "")):
        return True
    if _at_most(get("font-size"), {"px": 1, "pt": 1, "em": 0.1, "rem": 0.1, "%": 10, "": 0, "vw": 0.1, "vh": 0.1}):
        return True
    if get("overflow") == "hidden" and any(_at_most(get(side), {"": 0, "px": 0, "em": 0, "%": 0})
                                          for side in ("width", "height", "max-width", "max-height")):
        return True
    if get("clip", "").replace(" ", "").startswith("rect(0") or get("clip-path", "").replace(" ", "") in (
            "inset(50%)", "inset(100%)", "circle(0)", "circle(0px)"):
        return True
    if get("transform", "").replace(" ", "") in ("scale(0)", "scale(0,0)"):
        return True
    return any(_at_most(get(side), {"px": -1000, "em": -100, "rem": -100, "pt": -1000})
               for side in ("left", "top", "text-indent", "margin-left"))


def direction(style: dict[str, str], inherited: str) -> str:
    value = style.get("direction")
    return value if value in ("rtl", "ltr") else inherited


def overrides(style: dict[str, str]) -> bool:
    """Whether the element sets a bidi override (its characters laid out in its direction)."""
    return style.get("unicode-bidi") in ("bidi-override", "isolate-override")


def _at_most(value: str | None, limits: dict[str, float]) -> bool:
    """Whether a CSS length or number is at most the limit given for its unit."""
    if not value:
        return False
    match = _NUMBER.match(value.strip())
    if match is None:
        return False
    number, unit = float(match.group(1)), match.group(2)
    return unit in limits and number <= limits[unit]


class StyleRules:
    """Simple rules of the ``<style>`` blocks met so far, by selector key."""

    def __init__(self) -> None:
        self.rules: dict[str, list[str]] = {}

    def add(self, sheet: str) -> None:
        for selectors, body in _RULE.findall(_COMMENT.sub("", sheet)):
            for selector in selectors.split(","):
                selector = selector.strip().lower()
                if _SIMPLE_SELECTOR.match(selector):
                    self.rules.setdefault(selector, []).append(body)

    def style(self, tag: str, attributes: dict[str, str | None]) -> dict[str, str]:
        """The declarations that apply to an element (rules first, then its own style)."""
        bodies: list[str] = []
        if self.rules:
            keys = [tag]
            classes = (attributes.get("class") or "").lower().split()
            keys += [f".{name}" for name in classes] + [f"{tag}.{name}" for name in classes]
            if attributes.get("id"):
                identifier = (attributes.get("id") or "").lower()
                keys += [f"#{identifier}", f"{tag}#{identifier}"]
            for key in keys:
                bodies.extend(self.rules.get(key, ()))
        own = attributes.get("style")
        if own:
            bodies.append(own)
        return declarations(";".join(bodies)) if bodies else {}
