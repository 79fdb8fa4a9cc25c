"""XML parsing that cannot be turned against the scanner.

lxml with entities left unresolved (no billion laughs, no XXE), no network, no DTD
loading and libxml2's default size guards (`huge_tree=False`). A document that
declares entities gets a problem entry: entities that nest other entities are an
expansion bomb (`ratio`); plain ones are only left unexpanded (`unsupported`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lxml import etree

from ..errors import ExtractionError

_ENTITY_DECL = re.compile(rb"<!ENTITY\s")
_NESTED_ENTITY = re.compile(rb"<!ENTITY\s+%?\s*[^\s>]+\s+(?:\"[^\"]*&|'[^']*&)")
_PROLOG_BYTES = 1024 * 1024
_FEED_BYTES = 1024 * 1024


def entity_problem(data: bytes) -> tuple[str, str] | None:
    """(kind, detail) when the document's prolog declares entities, else None."""
    prolog = data[:_PROLOG_BYTES]
    if b"<!" not in prolog:
        return None
    if b"\0" in prolog[:200]:  # UTF-16: compare on the ASCII-only projection
        prolog = prolog.replace(b"\0", b"")
    if not _ENTITY_DECL.search(prolog):
        return None
    if _NESTED_ENTITY.search(prolog):
        return "ratio", "XML entity-expansion bomb (entities nesting entities); entities left unexpanded"
    return "unsupported", "XML declares entities; they are left unexpanded"


class TextTarget:
    """An lxml parser target collecting text in document order.

    Subclasses decide per element name: `skip` subtrees are ignored, `keep`
    elements have their character data kept (all are kept when `keep` is empty),
    `before`/`after` map element names to separators written at their start or end.
    """

    skip: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()
    before: dict[str, str] = {}
    after: dict[str, str] = {}

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self._stack: list[str] = []
        self._skipping = 0
        self._keeping = 0

    def start(self, tag, attrib) -> None:
        name = local(tag)
        self._stack.append(name)
        if self._skipping or name in self.skip:
            self._skipping += 1
            return
        if name in self.keep:
            self._keeping += 1
        if name in self.before:
            self.chunks.append(self.before[name])
        self.on_start(name, attrib)

    def end(self, tag) -> None:
        name = self._stack.pop() if self._stack else local(tag)
        if self._skipping:
            self._skipping -= 1
            return
        if name in self.keep:
            self._keeping -= 1
        if name in self.after:
            self.chunks.append(self.after[name])
        self.on_end(name)

    def data(self, text: str) -> None:
        if not self._skipping and (self._keeping or not self.keep):
            self.chunks.append(text)

    def on_start(self, name: str, attrib) -> None:
        """Hook for subclasses that read attributes."""

    def on_end(self, name: str) -> None:
        """Hook for subclasses that close records (cells, rows)."""

    def comment(self, text) -> None:
        pass

    def close(self) -> str:
        return "".join(self.chunks)


class GenericText(TextTarget):
    """Any XML: all character data, a line break where an element ends."""

    def end(self, tag) -> None:
        super().end(tag)
        if self.chunks and not self.chunks[-1].endswith("\n"):
            self.chunks.append("\n")


class MarkupText(GenericText):
    """A whole XML document as a reader of its source sees it: character data, the
    values of attributes (where data exports, custom properties and tags keep their
    text) and comments. URIs, numbers and other values without a word are left out."""

    comments = True

    def on_start(self, name: str, attrib) -> None:
        values = [v for v in attrib.values() if _WORDY.search(v) and "://" not in v]
        if values:
            self.chunks.append("\n" + "\n".join(values) + "\n")

    def comment(self, text) -> None:
        if not self._skipping and text and text.strip():
            self.chunks.append(f"\n{text}\n")


_WORDY = re.compile(r"[^\W\d_]{2}")


class XmlText(NamedTuple):
    text: str
    notes: tuple[tuple[str, str], ...]  # (problem kind, detail) for what could not be read


def parse_text(data: bytes, target: TextTarget) -> XmlText:
    """Feed `data` to a safe lxml parser driving `target`.

    Entity declarations are cut out before parsing (and noted), so nothing expands
    whatever libxml2's own guards do. Damage after some text keeps that text and
    notes `corrupt`; damage before any text raises `corrupt`.
    """
    notes: list[tuple[str, str]] = []
    problem = entity_problem(data)
    if problem is not None:
        notes.append(problem)
        data = defuse(data)
    parser = etree.XMLParser(
        target=target,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=not getattr(target, "comments", False),
        remove_pis=True,
    )
    view = memoryview(data)
    try:
        for start in range(0, len(data), _FEED_BYTES):
            parser.feed(bytes(view[start : start + _FEED_BYTES]))
        return XmlText(parser.close(), tuple(notes))
    except etree.XMLSyntaxError as exc:
        text = target.close()
        if not text.strip():
            raise ExtractionError("corrupt", f"XML syntax error: {exc}"[:300]) from None
        notes.append(("corrupt", f"XML is damaged: {exc}"[:300]))
        return XmlText(text, tuple(notes))


_DOCTYPE = re.compile(rb"<!DOCTYPE(?:[^\[>]*\[.*?\]\s*>|[^>]*>)", re.S)
_CUSTOM_ENTITY_REF = re.compile(rb"&(?!(?:lt|gt|amp|quot|apos|#[0-9]{1,8}|#x[0-9a-fA-F]{1,8});)[^;&<>\s]{1,256};")


def defuse(data: bytes) -> bytes:
    """`data` without its DOCTYPE and without references to entities it declared."""
    head, body = data[:_PROLOG_BYTES], data[_PROLOG_BYTES:]
    head = _DOCTYPE.sub(b"", head, count=1)
    return _CUSTOM_ENTITY_REF.sub(b"", head + body)


def local(tag: object) -> str:
    """The local name of an element tag ('' for comments, entities and the like)."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
