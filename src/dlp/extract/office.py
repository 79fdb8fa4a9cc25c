"""Office documents in zip packages, read straight from their XML with a safe parser.

Everything a reader of the document can get at is read, not only the main text:

- DOCX: body (tables, text boxes, alt text of pictures included), headers and footers
  of every section, footnotes, endnotes, comments, tracked insertions and deletions,
  hidden text, the glossary (building blocks).
- XLSX: every cell of every sheet, hidden ones included (shared and inline strings,
  numbers, cached formula results and the formula text), sheet and defined names,
  data-validation prompts and lists, sheet headers and footers, hyperlink text, legacy
  and threaded comments, drawing text; macro and dialog sheets like worksheets.
- PPTX: slides (one part, a page per slide, alt text included), notes, comments,
  slide masters and layouts, notes and handout masters.
- ODT, ODS, ODP: content (annotations, hidden text, tracked changes, form controls),
  headers and footers of the master pages, embedded objects.
- Every other member is read by what it is: document and custom properties
  (docProps/*.xml, meta.xml), charts, SmartArt data, custom XML, alt chunks (DOCX
  ``altChunk``: an HTML, RTF, text or DOCX part Word shows as body text), embedded
  files and pictures become child items that the walk extracts by content (pictures
  by OCR).
- Members that hold no text (relationships, styles, themes, fonts, settings,
  numbering, thumbnails...) are skipped; a member dlp knowingly does not read (a VBA
  project) is a `not_read` problem, never silence.

Each story is one part: the main one at the document's own locator, the others at
``doc.docx!/word/footnotes.xml`` and the like.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Iterable, Iterator

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .archives import member_name, names_text, read_zip_member
from .base import Context, Output, child
from .decoding import printable_strings
from .safexml import MarkupText, TextTarget, XmlText, local, parse_text
from .shown import around

ZIP_MAGIC = b"PK\x03\x04"

_OOXML_MAIN = {"word/document.xml": "docx", "xl/workbook.xml": "xlsx", "ppt/presentation.xml": "pptx"}
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
        with (io.BytesIO(item.data) if item.data is not None else item.open()) as source, \
                zipfile.ZipFile(source) as archive:
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
        source = io.BytesIO(item.data) if item.data is not None else item.open()
        try:
            archive = zipfile.ZipFile(source)
        except Exception as exc:
            source.close()
            raise ExtractionError("corrupt", f"office package cannot be opened: {exc}"[:300]) from None
        with source, archive:
            package = Package(item, archive, ctx)
            family = office_family(set(archive.namelist()))
            read = {"docx": _docx, "xlsx": _xlsx, "pptx": _pptx, "odf": _odf}.get(family or "odf")
            yield from read(package)
            yield from _properties(package)
            yield from _other_members(package)
            chosen = [member_name(archive.getinfo(name)) for name in package.unlisted if not _GENERATED_NAME.match(name)]
            names = names_text(archive, chosen)
            if names.strip():
                yield Part(package.locator("names"), names, "zip-names")
            yield from package.problems


class Package:
    """Bounded member reads of one office zip; problems are kept, not raised."""

    def __init__(self, item: Item, archive: zipfile.ZipFile, ctx: Context) -> None:
        self.item = item
        self.archive = archive
        self.ctx = ctx
        self.names = [info.filename for info in archive.infolist() if not info.is_dir()]
        self.problems: list[Problem] = []
        self.read: set[str] = set()  # members a story reader has taken
        self.unlisted: list[str] = []  # members no reader took and that are not plumbing: their names are text

    def locator(self, name: str) -> str:
        return f"{self.item.locator}!/{name}"

    def member(self, name: str) -> bytes | None:
        self.read.add(name)
        try:
            return read_zip_member(self.archive, self.archive.getinfo(name), self.ctx)
        except ExtractionError as exc:
            if exc.kind == "timeout":
                raise
            self.problems.append(Problem(self.locator(name), exc.kind, exc.detail))
        except Exception as exc:  # bad CRC, truncated deflate stream, missing member
            self.problems.append(Problem(self.locator(name), "corrupt", f"{type(exc).__name__}: {exc}"[:300]))
        return None

    def text(self, name: str, target: TextTarget, data: bytes | None = None) -> str | None:
        data = self.member(name) if data is None else data
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


# --- every other member -------------------------------------------------------------

# Members that hold no text anyone reads: package plumbing, formatting, fonts, previews.
_PLUMBING = re.compile(
    r"""^(?:\[Content_Types\]\.xml
    |(?:.*/)?_rels/.*
    |_xmlsignatures/.*|META-INF/.*|mimetype|manifest\.rdf|layout-cache
    |Configurations2/.*|Thumbnails/.*|ObjectReplacements/.*|docProps/thumbnail\.\w+
    |(?:.*/)?(?:theme|fonts|printerSettings)/.*
    |(?:.*/)?(?:fontTable|styles|stylesWithEffects|settings|webSettings|numbering|commentsIds
       |commentsExtensible|commentsExtended|calcChain|presProps|viewProps|tableStyles|vbaData
       |customizations|metadata|fontTable\d+)\.xml
    |customXml/itemProps\d*\.xml
    |(?:.*/)?charts/(?:colors|style)\d*\.xml
    |(?:.*/)?diagrams/(?:layout|quickStyle|colors)\d*\.xml
    )$""",
    re.X,
)
_MACROS = re.compile(r"^(?:.*/)?vbaProject\.bin$|^(?:.*/)?vbaProjectSignature\w*\.bin$", re.I)
_METAFILE = re.compile(r"\.(?:emf|wmf)$", re.I)
# Raster pictures carry no text without OCR; they are skipped like the walk's own image
# parts, which the scanner reports `binary` (a problem entry in every ordinary document).


# A member name as office applications write them (customXml/item1.xml, word/media/image3.png,
# word/embeddings/Microsoft_Excel_Worksheet2.xlsx, Pictures/10000201000000C8.png): words of
# one token each, a known extension. No run of words long enough to match a registered
# document fits in such names, so they are not listed in the package's names part; any
# other name (a member someone added, named as they liked) is.
_GENERATED_NAME = re.compile(
    r"^(?:[A-Za-z0-9]{1,64}/){0,3}(?:[A-Za-z0-9]{1,64}|Microsoft_[A-Za-z]+(?:_[A-Za-z-]+){1,3}\d*)"
    r"\.(?:xml|png|jpe?g|gif|emf|wmf|bin|tiff?|bmp|svg|wdp|jfif|webp|xls[xmb]?|docx?|docm|pptx?|pptm|vsdx|od[tsp]|"
    r"mp[34]|wav|avi|json|data)$",
    re.I,
)


class PropertiesText(TextTarget):
    """Document properties a user writes (title, subject, author, keywords, comments,
    category, company, manager; custom properties, their names after all values, lest a
    name split what two values hold; ODF user-defined metadata), a line each. What the application fills in (template, application name,
    counts, dates) is the same in every document of a template and is left out, lest it
    match between unrelated documents."""

    _USER = frozenset({"title", "subject", "creator", "keywords", "keyword", "description", "lastModifiedBy",
                       "category", "contentStatus", "identifier", "Company", "Manager", "HyperlinkBase",
                       "initial-creator", "user-defined", "property"})

    def __init__(self) -> None:
        super().__init__()
        self._depth_in_field = 0
        self.labels: list[str] = []  # names of custom properties, read after all values

    def start(self, tag, attrib) -> None:
        name = local(tag)
        self._stack.append(name)
        if name in self._USER:
            self._depth_in_field += 1
            label = attrib.get("name") or next((v for k, v in attrib.items() if k.endswith("}name")), "")
            if label:
                self.labels.append(label)

    def end(self, tag) -> None:
        name = self._stack.pop() if self._stack else local(tag)
        if name in self._USER:
            self._depth_in_field -= 1
            self.chunks.append("\n")

    def data(self, text: str) -> None:
        if self._depth_in_field:
            self.chunks.append(text)

    def close(self) -> str:
        text = "".join(self.chunks)
        return f"{text}\n{' '.join(self.labels)}\n" if self.labels else text


_PROPERTIES = ("docProps/core.xml", "docProps/app.xml", "docProps/custom.xml", "meta.xml")


def _properties(package: Package) -> Iterator[Output]:
    for name in _PROPERTIES:
        if name in package.names:
            text = package.text(name, PropertiesText())
            if text and text.strip():
                yield Part(package.locator(name), text, "properties")


def _other_members(package: Package) -> Iterator[Output]:
    """Members no story reader took: properties, charts, SmartArt, custom XML, alt
    chunks, embedded files and pictures become child items (the walk reads each by its
    content); vector pictures are read for their text records; plumbing is skipped.
    The names of these members (a name is whatever its writer chose) are noted in
    `package.unlisted` for the package's ``!/names`` part."""
    for name in package.names:
        if name in package.read or _PLUMBING.match(name):
            continue
        package.unlisted.append(name)
        package.ctx.budget.check_time()
        if _MACROS.match(name):
            if "Signature" not in name:
                package.problems.append(Problem(package.locator(name), "not_read", "VBA project (macros) is not read"))
            continue
        data = package.member(name)
        if data is None or not data.strip():
            continue
        if _METAFILE.search(name):  # EMF/WMF pictures draw their text as UTF-16 records
            yield Part(package.locator(name), printable_strings(data), "metafile")
        else:
            yield child(package.item, name, data)


# --- DOCX -------------------------------------------------------------------------


class WordText(TextTarget):
    """A WordprocessingML story. Field instructions (``{ QUOTE "..." }``, shown with
    Alt+F9, and the text of a field whose result was left empty) come after the story's
    text, so that they do not move the offsets of the text itself."""

    keep = frozenset({"t", "delText", "instrText", "delInstrText"})
    skip = frozenset({"Fallback", "pPr", "rPr", "sectPr", "tblPr", "tcPr", "trPr", "tblGrid"})
    before = {"tab": "\t", "br": "\n", "cr": "\n", "noBreakHyphen": "-"}
    after = {"p": "\n", "tc": "\t", "tr": "\n"}
    _FIELD = frozenset({"instrText", "delInstrText"})

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []

    def on_start(self, name: str, attrib) -> None:
        _alt_text(self, name, attrib)
        if name == "fldSimple":
            instruction = next((v for k, v in attrib.items() if k.endswith("}instr")), "")
            if instruction.strip():
                self.fields.append(instruction.strip())

    def data(self, text: str) -> None:
        if self._stack and self._stack[-1] in self._FIELD:
            if not self._skipping and text.strip():
                self.fields.append(text.strip())
        else:
            self._text(text)

    def _text(self, text: str) -> None:
        super().data(text)

    def visible(self) -> str | None:
        """The story as Word shows it, where that differs (see `ShownWordText`)."""
        return None

    def close(self) -> str:
        text = "".join(self.chunks)
        return f"{text}\n\n{' '.join(self.fields)}\n" if self.fields else text


class ShownWordText(WordText):
    """A story with text Word may not show, read as `WordText` does and also as Word
    shows it.

    Hidden text is read like any other, since it leaves with the file. But hidden junk
    between the words a reader sees (a hidden run after every third word) would break
    the run of a registered excerpt Word shows whole, so the story is also read as Word
    shows it, around the places where text it does not show sits between shown text
    (`visible`, see `extract.shown`). Not shown: hidden runs (``w:vanish``,
    directly or through a character or paragraph style), tracked deletions and moves away,
    white text on no shading (outside text boxes, whose shapes have fills of their own),
    text under 2 pt. (`_docx` uses this reader only for stories whose bytes have any of
    these: its bookkeeping runs for every element.)"""

    _GONE = frozenset({"del", "moveFrom"})  # tracked deletions and text moved away: not in the final view
    _MARKED = frozenset({"r", "p", "tc", "txbxContent"}) | _GONE  # elements whose start and end are noted

    def __init__(self, hidden_styles: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.hidden_styles = hidden_styles
        self.unshown: set[int] = set()  # indices in `chunks` of text Word does not show
        self._gone = 0
        self._paragraph_hidden = False
        self._run: dict[str, object] = {}
        self._shaded: list[bool] = []  # per open paragraph or cell: has a fill
        self._boxed = 0  # inside a text box, whose shape has a fill of its own

    def start(self, tag, attrib) -> None:
        # TextTarget.start with the bookkeeping of what is shown, in one method: it runs
        # for every element of every story
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        stack = self._stack
        if stack:
            parent = stack[-1]
            if parent == "rPr":
                if len(stack) > 1 and stack[-2] == "r":
                    self._run_property(name, attrib)
            elif parent == "pPr":
                if name == "pStyle" and _val(attrib) in self.hidden_styles:
                    self._paragraph_hidden = True
                elif name == "shd" and self._shaded and _filled(attrib):
                    self._shaded[-1] = True
            elif parent == "tcPr" and name == "shd" and self._shaded and _filled(attrib):
                self._shaded[-1] = True
        if name in self._MARKED:
            if name == "r":
                self._run = {}
            elif name == "p":
                self._paragraph_hidden = False
                self._shaded.append(False)
            elif name == "tc":
                self._shaded.append(False)
            elif name == "txbxContent":
                self._boxed += 1
            else:
                self._gone += 1
        stack.append(name)
        if self._skipping or name in self.skip:
            self._skipping += 1
            return
        if name in self.keep:
            self._keeping += 1
        if name in self.before:
            self.chunks.append(self.before[name])
        self.on_start(name, attrib)

    def end(self, tag) -> None:
        name = self._stack[-1] if self._stack else local(tag)
        if name in self._MARKED:
            if name in ("p", "tc"):
                if self._shaded:
                    self._shaded.pop()
            elif name == "txbxContent":
                self._boxed -= self._boxed > 0
            elif name != "r":
                self._gone -= self._gone > 0
        super().end(tag)

    def _run_property(self, name: str, attrib) -> None:
        if name == "vanish":
            self._run["vanish"] = _on(attrib)
        elif name == "rStyle" and _val(attrib) in self.hidden_styles:
            self._run.setdefault("vanish", True)
        elif name == "color":
            self._run["white"] = _val(attrib).upper() in ("FFFFFF", "WHITE")
        elif name == "sz":
            self._run["tiny"] = _val(attrib).isdigit() and int(_val(attrib)) < 4  # half-points: under 2 pt
        elif name in ("shd", "highlight") and _filled(attrib):
            self._run["shaded"] = True

    def _unshown(self) -> bool:
        run = self._run
        if self._gone or run.get("vanish") or (self._paragraph_hidden and run.get("vanish") is not False) or run.get("tiny"):
            return True
        return bool(run.get("white")) and not run.get("shaded") and not any(self._shaded) and not self._boxed

    def _text(self, text: str) -> None:
        count = len(self.chunks)
        super()._text(text)
        if len(self.chunks) > count and text.strip() and self._unshown():
            self.unshown.add(count)

    def visible(self) -> str | None:
        """The story as Word shows it, around the places where text it does not show sat
        between shown text (`shown.around`); None when there are none."""
        if not self.unshown:
            return None
        kept: list[str] = []
        cuts: list[int] = []
        length = 0
        for index, chunk in enumerate(self.chunks):
            if index in self.unshown:
                cuts.append(length)
            else:
                kept.append(chunk)
                length += len(chunk)
        return around("".join(kept), cuts)


def _val(attrib) -> str:
    return next((v for k, v in attrib.items() if k.endswith("}val") or k == "val"), "")


def _on(attrib) -> bool:
    """A WordprocessingML toggle property: on unless its value says off."""
    return _val(attrib).lower() not in ("0", "false", "off")


def _filled(attrib) -> bool:
    """A shading or highlight with a colour (not none, not white, not automatic)."""
    fill = next((v for k, v in attrib.items() if k.endswith("}fill")), None)
    value = (fill if fill is not None else _val(attrib)).upper()
    return value not in ("", "AUTO", "NONE", "FFFFFF", "WHITE", "CLEAR")


class HiddenStyles(TextTarget):
    """word/styles.xml: ids of the styles whose text is hidden (``w:vanish``), through
    ``w:basedOn`` chains."""

    def __init__(self) -> None:
        super().__init__()
        self.vanish: dict[str, bool] = {}
        self.based: dict[str, str] = {}
        self._style = ""

    def start(self, tag, attrib) -> None:
        name = local(tag)
        if name == "style":
            self._style = next((v for k, v in attrib.items() if k.endswith("}styleId")), "")
        elif name == "basedOn" and self._style:
            self.based[self._style] = _val(attrib)
        elif name == "vanish" and self._style and self._stack and self._stack[-1] == "rPr":
            self.vanish[self._style] = _on(attrib)
        self._stack.append(name)

    def end(self, tag) -> None:
        name = self._stack.pop() if self._stack else local(tag)
        if name == "style":
            self._style = ""

    def data(self, text: str) -> None:
        pass

    def hidden(self) -> frozenset[str]:
        found = set()
        for style in set(self.vanish) | set(self.based):
            seen, current = set(), style
            while current and current not in seen and current not in self.vanish:
                seen.add(current)
                current = self.based.get(current, "")
            if self.vanish.get(current):
                found.add(style)
        return frozenset(found)


# What a story's bytes show when some of its text may not be shown: hidden runs, tracked
# deletions and moves, white text, text under 2 pt (plain byte searches: a story can be
# megabytes). A story written with another prefix than w: is always read both ways.
_MAY_HIDE = (b"<w:vanish", b"<w:del ", b"<w:del>", b"<w:moveFrom", b'w:val="FFFFFF"', b'w:val="ffffff"',
             b'w:val="white"', b'w:val="White"')
_TINY = re.compile(rb'<w:sz w:val="[0-3]"')


def _may_hide(data: bytes, hidden_styles: frozenset[str]) -> bool:
    if b"<w:body" not in data and b"<w:p" not in data:
        return True
    if any(marker in data for marker in _MAY_HIDE) or _TINY.search(data):
        return True
    return any(b'w:val="%s"' % style.encode() in data for style in hidden_styles)


_STYLE = re.compile(rb'<w:style\b[^>]*?w:styleId="([^"]*)"[^>]*>(.*?)</w:style>', re.S)
_BASED_ON = re.compile(rb'<w:basedOn w:val="([^"]*)"')
_VANISH = re.compile(rb'<w:vanish(?: w:val="([^"]*)")?\s*/>')


def _hidden_styles(package: Package) -> frozenset[str]:
    if "word/styles.xml" not in package.names:
        return frozenset()
    data = package.member("word/styles.xml")
    if not data or b"vanish" not in data:
        return frozenset()
    styles = HiddenStyles()
    if b"<w:style" in data:  # Word's own prefix: the style blocks by pattern, no parse
        for identifier, body in _STYLE.findall(data):
            style = identifier.decode("utf-8", errors="replace")
            based = _BASED_ON.search(body)
            if based:
                styles.based[style] = based.group(1).decode("utf-8", errors="replace")
            vanish = _VANISH.search(body)
            if vanish:
                styles.vanish[style] = (vanish.group(1) or b"1").lower() not in (b"0", b"false", b"off")
        return styles.hidden()
    try:
        parse_text(data, styles)
    except ExtractionError:
        return frozenset()
    return styles.hidden()


_ALT_ATTRIBUTES = ("descr", "title", "tooltip")


def _alt_text(target: TextTarget, name: str, attrib) -> None:
    """Alt text and titles of pictures and shapes (``wp:docPr``, ``p:cNvPr``), hyperlink
    tooltips: shown by readers on demand, and written by users."""
    if name in ("docPr", "cNvPr", "hyperlink", "hlinkClick"):
        for key, value in attrib.items():
            if key.rsplit("}", 1)[-1] in _ALT_ATTRIBUTES and value.strip():
                target.chunks.append(f"\n{value}\n")


def _docx(package: Package) -> Iterator[Output]:
    stories = package.numbered(_DOCX_STORY.pattern)
    main = "word/document.xml" if "word/document.xml" in stories else (stories[0] if stories else None)
    if main is None:
        raise ExtractionError("corrupt", "DOCX without a main document part")
    hidden_styles = _hidden_styles(package)
    for name in [main] + [s for s in stories if s != main]:
        data = package.member(name)
        if data is None:
            continue
        story = ShownWordText(hidden_styles) if _may_hide(data, hidden_styles) else WordText()
        text = package.text(name, story, data)
        if text is not None:
            locator = package.item.locator if name == main else package.locator(name)
            yield Part(locator, text, "docx")
            shown = story.visible()
            if shown is not None:
                yield Part(f"{package.locator(name)}#visible", shown, "docx", meta={"reading": "visible"})


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
    """A worksheet as tab-separated rows, shared strings resolved, each cell's formula
    text after its value; then the sheet's other text, a line each: data-validation
    prompts, error messages and lists, headers and footers, hyperlink text."""

    keep = frozenset({"v", "t", "f", "formula1", "formula2", "oddHeader", "oddFooter", "evenHeader",
                      "evenFooter", "firstHeader", "firstFooter"})
    skip = frozenset({"rPh", "rPr", "extLst"})
    _VALIDATION = ("promptTitle", "prompt", "errorTitle", "error")
    _LINK = ("display", "tooltip")

    def __init__(self, strings: list[str], max_chars: int) -> None:
        super().__init__()
        self.strings = strings
        self.lines: list[str] = []
        self.extras: list[str] = []
        self.row: list[str] = []
        self.formula: list[str] = []
        self.cell_type = ""
        self.in_cell = False
        self.max_chars = max_chars
        self.chars = 0
        self.overflow = False

    def on_start(self, name: str, attrib) -> None:
        if name == "c":
            self.cell_type = attrib.get("t", "")
            self.in_cell = True
            self.chunks.clear()
            self.formula.clear()
        elif name == "dataValidation":
            self._attributes(attrib, self._VALIDATION)
        elif name == "hyperlink":
            self._attributes(attrib, self._LINK)

    def data(self, text: str) -> None:
        if self._skipping or not self._keeping:
            return
        if not self.in_cell:
            self._extra(text)
        elif self._stack and self._stack[-1] == "f":
            self.formula.append(text)
        else:
            self.chunks.append(text)

    def on_end(self, name: str) -> None:
        if name == "c":
            self.in_cell = False
            value = "".join(self.chunks)
            self.chunks.clear()
            if self.cell_type == "s":
                try:
                    value = self.strings[int(value)]
                except (ValueError, IndexError):
                    pass
            formula = "".join(self.formula).strip()
            if formula:
                value = f"{value} ={formula}" if value else f"={formula}"
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
        elif name in self.keep and not self.in_cell and self.extras and not self.extras[-1].endswith("\n"):
            self.extras.append("\n")

    def _attributes(self, attrib, names: tuple[str, ...]) -> None:
        for key in names:
            value = attrib.get(key, "")
            if value.strip():
                self._extra(value + "\n")

    def _extra(self, text: str) -> None:
        if not self.overflow:
            self.chars += len(text)
            self.extras.append(text)

    def close(self) -> str:
        extras = "".join(self.extras).strip()
        return "\n".join(self.lines) + ("\n" + extras if extras else "")


class SheetNames(TextTarget):
    """xl/workbook.xml: sheet names (hidden sheets too) and defined names with what they refer to."""

    def __init__(self) -> None:
        super().__init__()
        self.sheets: list[tuple[str, str]] = []  # (name, relationship id)
        self.defined: list[str] = []

    def on_start(self, name: str, attrib) -> None:
        if name == "sheet":
            rid = next((v for k, v in attrib.items() if k.endswith("}id")), "")
            self.sheets.append((attrib.get("name", ""), rid))
        elif name == "definedName":
            self.defined.append(attrib.get("name", "") + " ")

    def data(self, text: str) -> None:
        if self._stack and self._stack[-1] == "definedName" and self.defined:
            self.defined[-1] += text


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
    titles = [title for title, _ in names.sheets]
    yield Part(package.item.locator, "\n".join(titles + [d.strip() for d in names.defined]), "xlsx",
               meta={"sheets": tuple(titles)})
    shared = SharedStrings()
    if "xl/sharedStrings.xml" in package.names:
        package.text("xl/sharedStrings.xml", shared)
    for name in package.numbered(r"^xl/(?:worksheets|macrosheets|dialogsheets)/[^/]+\.xml$"):
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
    if "xl/styles.xml" in package.names:
        formats = NumberFormats()
        package.text("xl/styles.xml", formats)
        if formats.literals:
            yield Part(package.locator("xl/styles.xml"), "\n".join(formats.literals), "xlsx")
    for name in package.numbered(r"^xl/(?:comments\d*|threadedComments/[^/]+|drawings/drawing\d+)\.xml$"):
        text = package.text(name, _Runs())
        if text:
            yield Part(package.locator(name), text, "xlsx")


class NumberFormats(TextTarget):
    """xl/styles.xml: the quoted literal text of custom number formats, which a cell
    shows around (or instead of) its value: ``0 "units"``, ``;;;"anything at all"``."""

    _QUOTED = re.compile(r'"([^"]*)"')

    def __init__(self) -> None:
        super().__init__()
        self.literals: list[str] = []

    def on_start(self, name: str, attrib) -> None:
        if name == "numFmt":
            text = " ".join(self._QUOTED.findall(attrib.get("formatCode", ""))).strip()
            if text:
                self.literals.append(text)

    def data(self, text: str) -> None:
        pass


def _sheet_cap(package: Package, name: str) -> int:
    """Characters a sheet may expand to: the ratio limit over its XML size, within the text limit."""
    limits = package.ctx.limits
    size = package.archive.getinfo(name).file_size
    return int(min(limits.max_text_chars, max(limits.ratio_floor_bytes, limits.max_ratio * max(size, 1))))


class _Runs(TextTarget):
    """DrawingML and comment text: `t` runs, a line per paragraph, alt text of shapes."""

    keep = frozenset({"t", "text"})
    skip = frozenset({"rPr", "pPr", "Fallback"})
    after = {"p": "\n", "comment": "\n"}

    def on_start(self, name: str, attrib) -> None:
        _alt_text(self, name, attrib)


# --- PPTX -------------------------------------------------------------------------


class MasterRuns(_Runs):
    """Slide masters and layouts, notes and handout masters: the text of shapes that
    show on the slides built on them (a logo line, a "Confidential" banner, a footer).
    Placeholder prompts ("Click to edit Master title style") are formatting, the same
    in every deck, and are left out."""

    _SHOWN_PLACEHOLDERS = frozenset({"ftr"})

    def __init__(self) -> None:
        super().__init__()
        self._shapes: list[tuple[int, bool]] = []  # (chunk index at the shape's start, placeholder?)

    def on_start(self, name: str, attrib) -> None:
        super().on_start(name, attrib)
        if name == "sp":
            self._shapes.append((len(self.chunks), False))
        elif name == "ph" and self._shapes and attrib.get("type", "body") not in self._SHOWN_PLACEHOLDERS:
            start, _ = self._shapes[-1]
            self._shapes[-1] = (start, True)

    def on_end(self, name: str) -> None:
        if name == "sp" and self._shapes:
            start, placeholder = self._shapes.pop()
            if placeholder:
                del self.chunks[start:]



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
    for name in package.numbered(r"^ppt/(?:slideMasters/slideMaster\d+|slideLayouts/slideLayout\d+"
                                 r"|notesMasters/notesMaster\d+|handoutMasters/handoutMaster\d+)\.xml$"):
        text = package.text(name, MasterRuns())
        if text and text.strip():
            yield Part(package.locator(name), text, "pptx")


# --- ODF --------------------------------------------------------------------------


class OdfText(TextTarget):
    skip = frozenset({"font-face-decls", "automatic-styles", "styles", "scripts", "settings"})
    before = {"tab": "\t", "line-break": "\n", "s": " "}
    after = {"p": "\n", "h": "\n", "table-cell": "\t", "table-row": "\n", "list-item": ""}
    _CONTROL_TEXT = ("label", "value", "current-value", "title")

    def on_start(self, name: str, attrib) -> None:
        """Form controls carry their text in attributes (labels, values); spreadsheet
        cells their formula (whose string literals need not be shown)."""
        if name == "table-cell":
            formula = next((v for k, v in attrib.items() if k.endswith("}formula")), "")
            if formula:
                self.chunks.append(f"{formula} ")
        elif name in ("text", "textarea", "button", "checkbox", "radio", "fixed-text", "formatted-text",
                    "combobox", "listbox", "option", "item", "frame", "form"):
            for key, value in attrib.items():
                if key.rsplit("}", 1)[-1] in self._CONTROL_TEXT and value.strip():
                    self.chunks.append(f"\n{value}\n")


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
            result = parse_text(data, MarkupText())
        except ExtractionError:  # starts like XML but is not: read it as text
            yield from TextExtractor().extract(item, ctx)
            return
        if any(kind == "corrupt" for kind, _ in result.notes):
            # damaged, or not XML after its first element (a text file that starts with a
            # tag): the text is read whole, nothing after the damage is lost
            yield from TextExtractor().extract(item, ctx)
            return
        for kind, detail in result.notes:
            yield Problem(item.locator, kind, detail)
        yield Part(item.locator, result.text, "xml")
