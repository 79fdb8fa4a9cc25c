"""Office documents in zip packages, read straight from their XML with a safe parser.

- DOCX: body (tables and text boxes included), headers, footers, footnotes,
  endnotes, comments, tracked insertions and deletions.
- XLSX: every cell (shared and inline strings, numbers, cached formula results)
  row by row, sheet names, comments and drawing text.
- PPTX: slides (one part, a page per slide), notes and comments.
- ODT, ODS, ODP: content, headers and footers, annotations, tracked changes.

Embedded files (``word/embeddings/...``) and pictures (``word/media/...``, ODF
``Pictures/...``, read by OCR) come out as child items. Each story is
one part: the main one at the document's own locator, the others at
``doc.docx!/word/footnotes.xml`` and the like.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Iterable, Iterator

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .archives import read_zip_member
from .base import Context, Output, child
from .images import is_media
from .safexml import GenericText, TextTarget, XmlText, parse_text

ZIP_MAGIC = b"PK\x03\x04"

_OOXML_MAIN = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx", "ppt/presentation.xml": "pptx"}
_EMBEDDED = re.compile(r"^(?:word|xl|ppt)/embeddings/[^/]+$")
_DOCX_STORY = re.compile(r"^word/(?:document\d*|header\d*|footer\d*|footnotes|endnotes|comments|glossary/document)\.xml$")
_NUMBER = re.compile(r"(\d+)")


def office_family(names: set[str]) -> str | None:
    """'docx', 'xlsx', 'pptx' or 'odf' from a zip's member names, else None."""
    if "[Content_Types].xml" in names:
        for main, family in _OOXML_MAIN.items():
            if main in names:
                return family
    if "content.xml" in names and "META-INF/manifest.xml" in names:
        return "odf"
    return None


def _names(item: Item) -> set[str]:
    try:
        source = io.BytesIO(item.data) if item.data is not None else item.path
        with zipfile.ZipFile(source) as archive:
            return set(archive.namelist())
    except Exception:  # not a readable zip: let the zip extractor report it
        return set()


class OfficeExtractor:
    name = "office"

    def sniff(self, head: bytes, item: Item) -> bool:
        if not head.startswith(ZIP_MAGIC):
            return False
        if head[30:38] == b"mimetype" and b"opendocument" in head[38:120]:
            return True
        return office_family(_names(item)) is not None

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        source = io.BytesIO(item.data) if item.data is not None else item.path
        try:
            archive = zipfile.ZipFile(source)
        except Exception as exc:
            raise ExtractionError("corrupt", f"office package cannot be opened: {exc}"[:300]) from None
        with archive:
            package = Package(item, archive, ctx)
            family = office_family(set(archive.namelist()))
            read = {"docx": _docx, "xlsx": _xlsx, "pptx": _pptx, "odf": _odf}.get(family or "odf")
            yield from read(package)
            for name in package.names:
                if _EMBEDDED.match(name) or is_media(name):  # media: pictures, read by OCR
                    data = package.member(name)
                    if data is not None:
                        yield child(item, name, data)
            yield from package.problems


class Package:
    """Bounded member reads of one office zip; problems are kept, not raised."""

    def __init__(self, item: Item, archive: zipfile.ZipFile, ctx: Context) -> None:
        self.item = item
        self.archive = archive
        self.ctx = ctx
        self.names = [info.filename for info in archive.infolist() if not info.is_dir()]
        self.problems: list[Problem] = []

    def locator(self, name: str) -> str:
        return f"{self.item.locator}!/{name}"

    def member(self, name: str) -> bytes | None:
        try:
            return read_zip_member(self.archive, self.archive.getinfo(name), self.ctx)
        except ExtractionError as exc:
            if exc.kind == "timeout":
                raise
            self.problems.append(Problem(self.locator(name), exc.kind, exc.detail))
        except Exception as exc:  # bad CRC, truncated deflate stream, missing member
            self.problems.append(Problem(self.locator(name), "corrupt", f"{type(exc).__name__}: {exc}"[:300]))
        return None

    def text(self, name: str, target: TextTarget) -> str | None:
        data = self.member(name)
        if data is None:
            return None
        try:
            result: XmlText = parse_text(data, target)
        except ExtractionError as exc:
            self.problems.append(Problem(self.locator(name), exc.kind, exc.detail))
            return None
        for kind, detail in result.notes:
            self.problems.append(Problem(self.locator(name), kind, detail))
        return result.text

    def numbered(self, pattern: str) -> list[str]:
        """Members matching `pattern`, in numeric order (slide2 before slide10)."""
        regex = re.compile(pattern)
        found = [name for name in self.names if regex.match(name)]
        return sorted(found, key=lambda name: [int(n) if n.isdigit() else n for n in _NUMBER.split(name)])


# --- DOCX -------------------------------------------------------------------------


class WordText(TextTarget):
    keep = frozenset({"t", "delText"})
    skip = frozenset({"instrText", "delInstrText", "Fallback", "pPr", "rPr", "sectPr", "tblPr", "tcPr", "trPr", "tblGrid"})
    before = {"tab": "\t", "br": "\n", "cr": "\n", "noBreakHyphen": "-"}
    after = {"p": "\n", "tc": "\t", "tr": "\n"}


def _docx(package: Package) -> Iterator[Output]:
    stories = package.numbered(_DOCX_STORY.pattern)
    main = "word/document.xml" if "word/document.xml" in stories else (stories[0] if stories else None)
    if main is None:
        raise ExtractionError("corrupt", "DOCX without a main document part")
    for name in [main] + [s for s in stories if s != main]:
        text = package.text(name, WordText())
        if text is not None:
            locator = package.item.locator if name == main else package.locator(name)
            yield Part(locator, text, "docx")


# --- XLSX -------------------------------------------------------------------------


class SharedStrings(TextTarget):
    """xl/sharedStrings.xml: one string per `si`, phonetic hints dropped."""

    keep = frozenset({"t"})
    skip = frozenset({"rPh", "rPr"})

    def __init__(self) -> None:
        super().__init__()
        self.strings: list[str] = []

    def on_end(self, name: str) -> None:
        if name == "si":
            self.strings.append("".join(self.chunks))
            self.chunks.clear()


class SheetCells(TextTarget):
    """A worksheet as tab-separated rows, shared strings resolved."""

    keep = frozenset({"v", "t"})
    skip = frozenset({"f", "rPh", "rPr", "extLst"})

    def __init__(self, strings: list[str], max_chars: int) -> None:
        super().__init__()
        self.strings = strings
        self.lines: list[str] = []
        self.row: list[str] = []
        self.cell_type = ""
        self.max_chars = max_chars
        self.chars = 0
        self.overflow = False

    def on_start(self, name: str, attrib) -> None:
        if name == "c":
            self.cell_type = attrib.get("t", "")
            self.chunks.clear()

    def on_end(self, name: str) -> None:
        if name == "c":
            value = "".join(self.chunks)
            self.chunks.clear()
            if self.cell_type == "s":
                try:
                    value = self.strings[int(value)]
                except (ValueError, IndexError):
                    pass
            if value and not self.overflow:
                self.chars += len(value) + 1
                if self.chars > self.max_chars:
                    self.overflow = True  # shared strings referenced over and over: an expansion bomb
                else:
                    self.row.append(value)
        elif name == "row":
            if self.row:
                self.lines.append("\t".join(self.row))
            self.row = []

    def close(self) -> str:
        return "\n".join(self.lines)


class SheetNames(TextTarget):
    def __init__(self) -> None:
        super().__init__()
        self.sheets: list[tuple[str, str]] = []  # (name, relationship id)

    def on_start(self, name: str, attrib) -> None:
        if name == "sheet":
            rid = next((v for k, v in attrib.items() if k.endswith("}id")), "")
            self.sheets.append((attrib.get("name", ""), rid))

    def data(self, text: str) -> None:
        pass


class Relationships(TextTarget):
    def __init__(self) -> None:
        super().__init__()
        self.targets: dict[str, str] = {}

    def on_start(self, name: str, attrib) -> None:
        if name == "Relationship":
            self.targets[attrib.get("Id", "")] = attrib.get("Target", "")

    def data(self, text: str) -> None:
        pass


def _xlsx(package: Package) -> Iterator[Output]:
    names = SheetNames()
    package.text("xl/workbook.xml", names)
    rels = Relationships()
    if "xl/_rels/workbook.xml.rels" in package.names:
        package.text("xl/_rels/workbook.xml.rels", rels)
    sheet_of: dict[str, str] = {}
    for title, rid in names.sheets:
        target = rels.targets.get(rid, "")
        if target:
            sheet_of[target.lstrip("/") if target.startswith("/") else "xl/" + target] = title
    yield Part(package.item.locator, "\n".join(title for title, _ in names.sheets), "xlsx", meta={"sheets": tuple(title for title, _ in names.sheets)})
    shared = SharedStrings()
    if "xl/sharedStrings.xml" in package.names:
        package.text("xl/sharedStrings.xml", shared)
    for name in package.numbered(r"^xl/worksheets/[^/]+\.xml$"):
        package.ctx.budget.check_time()
        cells = SheetCells(shared.strings, _sheet_cap(package, name))
        text = package.text(name, cells)
        if cells.overflow:
            package.problems.append(Problem(
                package.locator(name), "ratio",
                f"shared strings expand this sheet past {cells.max_chars} characters; the rest is not read",
            ))
        if text is not None:
            yield Part(package.locator(name), text, "xlsx", meta={"sheet": sheet_of.get(name, "")})
    for name in package.numbered(r"^xl/(?:comments\d*|threadedComments/[^/]+|drawings/drawing\d+)\.xml$"):
        text = package.text(name, _Runs())
        if text:
            yield Part(package.locator(name), text, "xlsx")


def _sheet_cap(package: Package, name: str) -> int:
    """Characters a sheet may expand to: the ratio limit over its XML size, within the text limit."""
    limits = package.ctx.limits
    size = package.archive.getinfo(name).file_size
    return int(min(limits.max_text_chars, max(limits.ratio_floor_bytes, limits.max_ratio * max(size, 1))))


class _Runs(TextTarget):
    """DrawingML and comment text: `t` runs, a line per paragraph."""

    keep = frozenset({"t", "text"})
    skip = frozenset({"rPr", "pPr", "Fallback"})
    after = {"p": "\n", "comment": "\n"}


# --- PPTX -------------------------------------------------------------------------


def _pptx(package: Package) -> Iterator[Output]:
    chunks: list[str] = []
    pages: list[int] = []
    offset = 0
    for name in package.numbered(r"^ppt/slides/slide\d+\.xml$"):
        package.ctx.budget.check_time()
        text = package.text(name, _Runs())
        pages.append(offset)
        chunks.append((text or "") + "\n")
        offset += len(chunks[-1])
    yield Part(package.item.locator, "".join(chunks), "pptx", pages=tuple(pages))
    for name in package.numbered(r"^ppt/(?:notesSlides/notesSlide\d+|comments/[^/]+)\.xml$"):
        text = package.text(name, _Runs())
        if text:
            yield Part(package.locator(name), text, "pptx")


# --- ODF --------------------------------------------------------------------------


class OdfText(TextTarget):
    skip = frozenset({"font-face-decls", "automatic-styles", "styles", "scripts", "settings", "forms"})
    before = {"tab": "\t", "line-break": "\n", "s": " "}
    after = {"p": "\n", "h": "\n", "table-cell": "\t", "table-row": "\n", "list-item": ""}


def _odf(package: Package) -> Iterator[Output]:
    manifest = package.member("META-INF/manifest.xml") if "META-INF/manifest.xml" in package.names else None
    if manifest is not None and b"encryption-data" in manifest:
        raise ExtractionError("encrypted", "OpenDocument is password protected")
    text = package.text("content.xml", OdfText())
    if text is None:
        raise ExtractionError("corrupt", "OpenDocument content cannot be read")
    yield Part(package.item.locator, text, "odf")
    if "styles.xml" in package.names:
        styles = package.text("styles.xml", _OdfMasterText())
        if styles and styles.strip():
            yield Part(package.locator("styles.xml"), styles, "odf")
    for name in package.numbered(r"^[^/]+/content\.xml$"):  # embedded objects (charts, formulas)
        embedded = package.text(name, OdfText())
        if embedded and embedded.strip():
            yield Part(package.locator(name), embedded, "odf")


class _OdfMasterText(OdfText):
    """styles.xml: only the headers and footers of the master pages carry text."""

    skip = frozenset({"font-face-decls", "automatic-styles", "styles"})


class XmlExtractor:
    """Any other XML document: its character data, entities never expanded."""

    name = "xml"

    def sniff(self, head: bytes, item: Item) -> bool:
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return stripped.startswith(b"<?xml") or (
            stripped.startswith(b"<") and not stripped.startswith(b"<!") and b"</" in head and b"<html" not in head[:512].lower()
        )

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        from .base import read_bytes
        from .text import TextExtractor

        data = read_bytes(item, ctx)
        try:
            result = parse_text(data, GenericText())
        except ExtractionError:  # starts like XML but is not: read it as text
            yield from TextExtractor().extract(item, ctx)
            return
        for kind, detail in result.notes:
            yield Problem(item.locator, kind, detail)
        yield Part(item.locator, result.text, "xml")
