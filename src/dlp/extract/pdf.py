"""PDF through PDFium (pypdfium2), in a killable worker with its memory cap: page text
with page offsets and, per page, how many characters of text it found
(``meta["page_chars"]``: a page without text is a scan or a picture); annotation text;
form field values; embedded files (the EmbeddedFiles name tree and file attachment
annotations) as child items under ``doc.pdf!/attachments/``.

pdfminer.six stays for what PDFium does not do: the values of form fields that no page
shows (an AcroForm field without a widget annotation, invisible in every viewer yet in
the file); the text of pages whose fonts PDFium cannot map to characters (it returns
fewer characters than the page has text objects); and, as a fallback, PDFs PDFium
refuses to open.
"""

from __future__ import annotations

import ctypes
import io
import re
from typing import Any, Iterable, Iterator

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .base import Context, Limits, Output, child
from .isolate import run_isolated
from .ocr import read_scanned_pages
from .pdfvisible import concealed_objects, miner_converter, shown_text

_MAX_TREE = 10_000  # nodes visited in a name tree or field tree
_ANNOT_KEYS = (b"T", b"Subj", b"Contents", b"RC")
_WIDGET = 20  # FPDF_ANNOT_WIDGET
_FILE_ATTACHMENT = 17  # FPDF_ANNOT_FILEATTACHMENT


class PdfExtractor:
    name = "pdf"

    def sniff(self, head: bytes, item: Item) -> bool:
        return b"%PDF-" in head[:1024]

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        if item.size > ctx.limits.max_item_bytes:
            raise ExtractionError("too_large", f"{item.size} bytes exceeds {ctx.limits.max_item_bytes}")
        import pdfminer.pdfdocument  # noqa: F401  (the metadata's reader)
        import pypdfium2  # noqa: F401  (loaded once here, so that every forked worker has them)

        outputs = run_isolated(read_pdf, item, ctx)
        yield from outputs
        yield from read_scanned_pages(item, outputs, ctx)  # pages without a text layer, by OCR


def read_pdf(item: Item, limits: Limits) -> list[Output]:
    """Everything dlp reads from one PDF (runs in the worker): PDFium first, pdfminer
    when PDFium cannot open the file."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    data = item.read()
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == raw.FPDF_ERR_PASSWORD:
            raise ExtractionError("encrypted", "PDF is password protected") from None
        if getattr(exc, "err_code", None) == raw.FPDF_ERR_SECURITY:
            raise ExtractionError("encrypted", "PDF uses an unsupported security handler") from None
        return read_pdf_with_pdfminer(item, limits)  # raises `corrupt` if pdfminer cannot read it either
    try:
        return _read_pdfium(item, document, data, limits)
    finally:
        document.close()


def _read_pdfium(item: Item, document, data: bytes, limits: Limits) -> list[Output]:
    import pypdfium2.raw as raw

    outputs: list[Output] = []
    has_form = document.get_formtype() != raw.FORMTYPE_NONE
    if has_form:
        document.init_forms()
    chunks: list[str] = []
    pages: list[int] = []
    page_chars: list[int] = []
    shown: list[str] = []  # per page, as a viewer shows it, where that differs (else "")
    notes: list[str] = []
    note_pages: list[int] = []
    fields: dict[tuple[str, str], None] = {}
    attachments: list[tuple[str, Any]] = []
    offset = note_offset = 0
    miner = _MinerPages(data, item.locator, outputs)
    count = len(document)
    if count == 0:
        raise ExtractionError("corrupt", "PDF has no readable pages")
    for number in range(1, count + 1):
        text, annotation_text, seen = "", "", ""
        try:
            page = document[number - 1]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n")
                chars = textpage.count_chars()
                concealed, everything = concealed_objects(page) if chars else (set(), False)
                if concealed and not everything:  # a page all hidden (a scan's OCR layer) shows no text to read twice
                    seen = shown_text(textpage, chars, concealed)
                textpage.close()
                if chars < _FEW_CHARS and _text_objects(page, chars) > chars:
                    text, seen = miner.page_text(number, text), ""  # fonts PDFium cannot map to text
                annotation_text = "\n".join(_annotations(page, document, fields, attachments))
            finally:
                page.close()
        except Exception as exc:  # one bad page does not lose the others
            outputs.append(Problem(f"{item.locator}#page={number}", "corrupt", f"{type(exc).__name__}: {exc}"[:300]))
        if text and not text.endswith("\n"):
            text += "\n"
        seen = seen if seen.strip() else ""
        shown.append(seen + "\n" if seen and not seen.endswith("\n") else seen)
        pages.append(offset)
        chunks.append(text)
        page_chars.append(_visible(text))
        offset += len(text)
        note_pages.append(note_offset)
        notes.append(annotation_text + "\n" if annotation_text else "")
        note_offset += len(notes[-1])
    outputs.insert(0, Part(item.locator, "".join(chunks), "pdf", pages=tuple(pages),
                           meta={"page_chars": tuple(page_chars)}))
    if any(shown):
        outputs.insert(1, _shown_part(item, shown))
    if note_offset:
        outputs.append(Part(f"{item.locator}!/annotations", "".join(notes), "pdf", pages=tuple(note_pages)))
    if has_form:
        for line in _unshown_fields(data, fields):
            fields[(line, "")] = None
    lines = [f"{name}: {value}" if name and value else (value or name) for name, value in fields]
    if lines:
        outputs.append(Part(f"{item.locator}!/form", "\n".join(lines), "pdf"))
    outputs.extend(_properties(item, document, data, limits))
    for index in range(min(document.count_attachments(), limits.max_members)):
        try:
            attachment = document.get_attachment(index)
        except Exception as exc:
            outputs.append(Problem(f"{item.locator}!/attachments[{index + 1}]", "corrupt", f"{exc}"[:300]))
            continue
        attachments.append((_attachment_name(attachment, f"attachment[{index + 1}]"), attachment))
    outputs.extend(_pdfium_attachments(item, attachments, limits))
    return outputs


_INFO_KEYS = ("Title", "Author", "Subject", "Keywords", "Creator", "Producer")
_INFO_DATES = frozenset({"CreationDate", "ModDate", "Trapped"})


def _properties(item: Item, document, data: bytes, limits: Limits) -> Iterator[Output]:
    """The document information a viewer's Properties dialog shows (title, author,
    subject, keywords, creator, producer, by PDFium), the XMP packet and the Info keys
    PDFium does not name, read from the bytes where they are stored as they are, else
    by pdfminer (an Info dictionary in an object stream, a compressed XMP packet):
    ``doc.pdf!/properties``. Values come first, a line each, and the keys after them all."""
    lines: dict[str, None] = {}
    for key in _INFO_KEYS:
        try:
            value = document.get_metadata_value(key).strip()
        except Exception:  # an undecodable value: pdfminer's reading below may still have it
            continue
        if value:
            lines[value] = None
    packets = [match.group() for match in _XMP_PACKET.finditer(data)] if b"<?xpacket begin" in data else []
    for packet in packets:
        text = _xmp_text(packet)
        if text:
            lines.setdefault(text)
    keys: list[str] = list(_INFO_KEYS)
    stored = _stored_info(data)
    for key, value in stored or ():
        if key not in _INFO_KEYS and key not in _INFO_DATES and value:
            keys.append(key)
            lines.setdefault(value)
    miner = None
    if stored is None or (b"/Metadata" in data and not packets):  # the bytes do not show it all
        try:
            from pdfminer.pdfdocument import PDFDocument
            from pdfminer.pdfparser import PDFParser

            # no fallback: a PDF whose cross-reference table pdfminer cannot follow is not
            # re-parsed from end to end for its metadata (PDFium's reading above stands)
            miner = PDFDocument(PDFParser(io.BytesIO(data)), fallback=False)
        except Exception:
            miner = None
    problems: list[Problem] = []
    if miner is not None:
        for line in _miner_properties(item, miner, limits, problems, keys, skip=frozenset(keys)):
            lines.setdefault(line)
    text = "\n".join([*lines, " ".join(keys)]) if lines else ""
    if text.strip():
        yield Part(f"{item.locator}!/properties", text + "\n", "properties")
    yield from problems


# An XMP packet stored as it is (the XMP specification asks writers not to compress it,
# so that tools can find it by scanning bytes), read without parsing the PDF.
_XMP_PACKET = re.compile(rb"<\?xpacket begin=.{0,200}?\?>.*?<\?xpacket end=[^>]{0,20}>", re.S)
_INFO_REF = re.compile(rb"/Info\s+(\d{1,10})\s+(\d{1,5})\s+R")


def _stored_info(data: bytes) -> list[tuple[str, str]] | None:
    """(key, text) of the string entries of the Info dictionaries stored as they are in
    the file (every incremental update's); None when one cannot be read from the bytes
    (an Info dictionary inside an object stream), for pdfminer to read."""
    entries: list[tuple[str, str]] = []
    for number, generation in set(_INFO_REF.findall(data[-65536:]) + _INFO_REF.findall(data[:65536])):
        body = _object_dictionary(data, int(number), int(generation))
        if body is None:
            return None
        entries.extend((key.decode("latin-1"), _pdf_string(value)) for key, value in _STRING_ENTRY.findall(body))
    return entries


# /Key (literal string) or /Key <hex string>; one level of nested parentheses
_STRING_ENTRY = re.compile(rb"/([A-Za-z0-9_.#-]{1,127})\s*(\((?:\\.|[^\\()]|\((?:\\.|[^\\()])*\))*\)|<[0-9A-Fa-f\s]*>)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\r\n]|.)", re.S)


def _pdf_string(value: bytes) -> str:
    """A PDF string's text: escapes resolved, UTF-16BE after its BOM, else PDFDocEncoding
    (Latin-1 for the letters that matter)."""
    if value.startswith(b"<"):
        raw = bytes.fromhex((re.sub(rb"\s", b"", value[1:-1]) + b"0")[: len(re.sub(rb"\s", b"", value[1:-1])) // 2 * 2].decode())
    else:
        def escape(match: re.Match) -> bytes:
            code = match.group(1)
            if code[:1].isdigit():
                return bytes([int(code, 8) & 0xFF])
            return b"" if code in (b"\r\n", b"\r", b"\n") else _ESCAPES.get(code, code)

        raw = _ESCAPE.sub(escape, value[1:-1])
    if raw.startswith(b"\xfe\xff"):
        return " ".join(raw[2:].decode("utf-16-be", errors="replace").split())
    if raw.startswith(b"\xef\xbb\xbf"):
        return " ".join(raw[3:].decode("utf-8", errors="replace").split())
    return " ".join(raw.decode("latin-1").split())


def _object_dictionary(data: bytes, number: int, generation: int) -> bytes | None:
    """The dictionary of object `number` as stored in the file (the last definition),
    None when it is not stored as it is (inside an object stream)."""
    needle = b"%d %d obj" % (number, generation)
    position = data.rfind(needle)
    while position > 0 and data[position - 1:position].isdigit():
        position = data.rfind(needle, 0, position)
    if position < 0:
        return None
    start = data.find(b"<<", position, position + len(needle) + 64)
    end = data.find(b"endobj", position, position + 1_000_000)
    return data[start:end] if start >= 0 and end > start else None


def _xmp_text(packet: bytes) -> str:
    from .decoding import printable_strings
    from .safexml import MarkupText, parse_text

    try:
        text = parse_text(packet, MarkupText()).text
    except ExtractionError:  # not XML after all: its printable runs
        text = printable_strings(packet)
    return " ".join(text.split())


def _miner_properties(item: Item, document, limits: Limits, problems: list[Problem], keys: list[str],
                      skip: frozenset[str] = frozenset()) -> Iterator[str]:
    """Values of the Info dictionary (every key but dates and those in `skip`; the keys
    go to `keys`, to be read after the values, so that no key splits what two values
    hold) and the text of the catalog's XMP packet, through pdfminer; a packet that
    expands past the limits is a problem."""
    from pdfminer.pdftypes import PDFStream

    try:
        for info in document.info[:4]:
            for key, value in list(info.items())[:_MAX_TREE]:
                if key in skip or key in _INFO_DATES:
                    continue
                text = " ".join(_text(value).split())
                if text:
                    keys.append(str(key))
                    yield text
        packet = _resolve(document.catalog.get("Metadata"))
        if not isinstance(packet, PDFStream):
            return
        stored = len(packet.rawdata or b"") if packet.rawdata is not None else 0
        xml = packet.get_data()
    except Exception:  # damaged metadata: what was read stands
        return
    if len(xml) > limits.max_item_bytes or (len(xml) > limits.ratio_floor_bytes and len(xml) > limits.max_ratio * max(1, stored)):
        problems.append(Problem(f"{item.locator}!/properties", "ratio", f"XMP metadata expands to {len(xml)} bytes"))
        return
    text = _xmp_text(xml)
    if text:
        yield text


def _shown_part(item: Item, shown: list[str]) -> Part:
    """The pages with concealed text, as a viewer shows them (other pages empty, so that
    page numbers still hold): ``doc.pdf#visible``."""
    starts, offset = [], 0
    for page in shown:
        starts.append(offset)
        offset += len(page)
    return Part(f"{item.locator}#visible", "".join(shown), "pdf", pages=tuple(starts), meta={"reading": "visible"})


def _visible(text: str) -> int:
    """Characters that are not white space."""
    return len(text) - sum(len(run) for run in _SPACE.findall(text))


_SPACE = re.compile(r"\s+")
_FEW_CHARS = 200  # below this many characters, a page is checked for text PDFium could not decode


def _text_objects(page, limit: int) -> int:
    """Text objects on the page, counted up to `limit` + 1."""
    import pypdfium2.raw as raw

    count = 0
    for _ in page.get_objects(filter=[raw.FPDF_PAGEOBJ_TEXT], max_depth=4):
        count += 1
        if count > limit:
            break
    return count


class _MinerPages:
    """pdfminer's reading of single pages, for pages with text objects PDFium returns
    (almost) no characters for: fonts whose encoding PDFium cannot map (kampo.pdf, a
    vertical Japanese gazette: 28 characters from PDFium, 2,373 words from pdfminer)."""

    def __init__(self, data: bytes, locator: str, outputs: list) -> None:
        self.data = data
        self.locator = locator
        self.outputs = outputs
        self.pages = None

    def page_text(self, number: int, pdfium_text: str) -> str:
        from pdfminer.converter import TextConverter
        from pdfminer.layout import LAParams
        from pdfminer.pdfdocument import PDFDocument
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFParser

        try:
            if self.pages is None:
                self.manager = PDFResourceManager()
                self.pages = list(PDFPage.create_pages(PDFDocument(PDFParser(io.BytesIO(self.data)))))
            out = io.StringIO()
            device = TextConverter(self.manager, out, laparams=LAParams())
            try:
                PDFPageInterpreter(self.manager, device).process_page(self.pages[number - 1])
            finally:
                device.close()
            text = out.getvalue()
        except Exception:  # PDFium's reading stands
            return pdfium_text
        if _visible(text) > _visible(pdfium_text):
            return text
        return pdfium_text


def _wide_string(getter, *args) -> str:
    """A UTF-16LE string out of a PDFium getter that reports its size in bytes."""
    import pypdfium2.raw as raw

    size = getter(*args, None, 0)
    if size <= 2:
        return ""
    buffer = ctypes.create_string_buffer(size)
    getter(*args, ctypes.cast(buffer, ctypes.POINTER(raw.FPDF_WCHAR)), size)
    return buffer.raw[:size].decode("utf-16-le", errors="replace").rstrip("\0")


def _annotations(page, document, fields: dict, attachments: list) -> Iterator[str]:
    """Text of a page's annotations; form field values (widgets) go to `fields`, file
    attachment annotations to `attachments`."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    for index in range(min(raw.FPDFPage_GetAnnotCount(page), _MAX_TREE)):
        annot = raw.FPDFPage_GetAnnot(page, index)
        if not annot:
            continue
        try:
            subtype = raw.FPDFAnnot_GetSubtype(annot)
            if subtype == _WIDGET:
                if document.formenv is not None:
                    name = _wide_string(raw.FPDFAnnot_GetFormFieldName, document.formenv, annot).strip()
                    value = _wide_string(raw.FPDFAnnot_GetFormFieldValue, document.formenv, annot).strip()
                    if value:
                        fields[(name, value)] = None
                continue
            for key in _ANNOT_KEYS:
                text = _wide_string(raw.FPDFAnnot_GetStringValue, annot, key).strip()
                if text:
                    yield text
            if subtype == _FILE_ATTACHMENT:
                handle = raw.FPDFAnnot_GetFileAttachment(annot)
                if handle:
                    attachment = pdfium.PdfAttachment(handle, document)
                    attachments.append((_attachment_name(attachment, "attachment"), attachment))
        finally:
            raw.FPDFPage_CloseAnnot(annot)


def _attachment_name(attachment, fallback: str) -> str:
    try:
        name = attachment.get_name()
    except Exception:
        return fallback
    return name.replace("\\", "/").rsplit("/", 1)[-1] or fallback


def _pdfium_attachments(item: Item, attachments: list[tuple[str, Any]], limits: Limits) -> Iterator[Output]:
    """Embedded files as child items, under the size and expansion limits (the file's own
    size stands for the compressed size: PDFium decodes the stream before it says how
    big it is, inside the worker's memory cap)."""
    import pypdfium2.raw as raw

    seen: dict[str, int] = {}
    total = 0
    for name, attachment in attachments[: limits.max_members]:
        count = seen[name] = seen.get(name, 0) + 1
        label = f"attachments/{name}" if count == 1 else f"attachments/{name}[{count}]"
        locator = f"{item.locator}!/{label}"
        size = ctypes.c_ulong()
        if not raw.FPDFAttachment_GetFile(attachment, None, 0, size):
            yield Problem(locator, "corrupt", "embedded file without a readable stream")
            continue
        size = size.value
        total += size
        if size > limits.max_item_bytes or total > limits.max_total_bytes:
            yield Problem(locator, "too_large", f"{size} bytes")
            continue
        if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(1, item.size):
            yield Problem(locator, "ratio", f"{size} bytes from a {item.size}-byte PDF")
            continue
        try:
            data = bytes(attachment.get_data()) if size else b""
        except Exception as exc:
            yield Problem(locator, "corrupt", f"{type(exc).__name__}: {exc}"[:300])
            continue
        yield child(item, label, data)


def _unshown_fields(data: bytes, shown: dict[tuple[str, str], None]) -> Iterator[str]:
    """Values of AcroForm fields that no widget on any page shows, by pdfminer's walk of
    the field tree (PDFium reaches fields only through their widgets)."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser

    values = {value for _, value in shown}
    try:
        document = PDFDocument(PDFParser(io.BytesIO(data)))
        for line in _form_fields(document):
            value = line.split(": ", 1)[-1]
            if value not in values:
                values.add(value)
                yield line
    except Exception:  # the fields PDFium saw are kept; this is a second look, not the reading
        return


def read_pdf_with_pdfminer(item: Item, limits: Limits) -> list[Output]:
    """Everything pdfminer reads from one PDF (the fallback, in the worker)."""
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser, PDFSyntaxError

    data = item.read()
    outputs: list[Output] = []
    try:
        document = PDFDocument(PDFParser(io.BytesIO(data)))
        manager = PDFResourceManager()
        chunks: list[str] = []
        pages: list[int] = []
        notes: list[str] = []
        note_pages: list[int] = []
        attachments: list[tuple[str, Any]] = []
        offset = note_offset = 0
        shown: list[str] = []
        for number, page in enumerate(PDFPage.create_pages(document), start=1):
            out = io.StringIO()
            device = miner_converter(manager, out)
            try:
                PDFPageInterpreter(manager, device).process_page(page)
            except (PDFPasswordIncorrect, PDFEncryptionError):
                raise
            except Exception as exc:  # one bad page does not lose the others
                outputs.append(Problem(f"{item.locator}#page={number}", "corrupt", f"{type(exc).__name__}: {exc}"[:300]))
            finally:
                device.close()
            text = out.getvalue()
            seen = device.visible() or ""
            shown.append(seen + "\n" if seen.strip() else "")
            pages.append(offset)
            chunks.append(text)
            offset += len(text)
            annotation_text = "\n".join(_miner_annotations(page, attachments))
            note_pages.append(note_offset)
            notes.append(annotation_text + "\n" if annotation_text else "")
            note_offset += len(notes[-1])
        if not pages:
            raise ExtractionError("corrupt", "PDF has no readable pages")
        outputs.insert(0, Part(item.locator, "".join(chunks), "pdf", pages=tuple(pages)))
        if any(shown):
            outputs.insert(1, _shown_part(item, shown))
        if note_offset:
            outputs.append(Part(f"{item.locator}!/annotations", "".join(notes), "pdf", pages=tuple(note_pages)))
        fields = "\n".join(_form_fields(document))
        if fields:
            outputs.append(Part(f"{item.locator}!/form", fields, "pdf"))
        problems: list[Problem] = []
        keys: list[str] = []
        properties = "\n".join(dict.fromkeys(_miner_properties(item, document, limits, problems, keys)))
        if properties.strip():
            outputs.append(Part(f"{item.locator}!/properties", f"{properties}\n{' '.join(keys)}\n", "properties"))
        outputs.extend(problems)
        attachments.extend(_embedded_files(document))
        outputs.extend(_attachment_items(item, attachments, limits))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise ExtractionError("encrypted", f"PDF is password protected ({type(exc).__name__})") from None
    except PDFSyntaxError as exc:
        raise ExtractionError("corrupt", f"PDF syntax error: {exc}"[:300]) from None
    except ExtractionError:
        raise
    except RecursionError:
        raise ExtractionError("corrupt", "PDF objects nest recursively") from None
    except Exception as exc:
        if "encrypt" in type(exc).__name__.lower() or "password" in str(exc).lower():
            raise ExtractionError("encrypted", f"PDF is password protected: {exc}") from None
        raise ExtractionError("corrupt", f"PDF cannot be parsed: {type(exc).__name__}: {exc}"[:300]) from None
    return outputs


def _resolve(value: Any, depth: int = 0) -> Any:
    from pdfminer.pdftypes import PDFObjRef

    while isinstance(value, PDFObjRef) and depth < 32:
        value = value.resolve()
        depth += 1
    return value


def _text(value: Any) -> str:
    from pdfminer.psparser import PSLiteral
    from pdfminer.utils import decode_text

    value = _resolve(value)
    if isinstance(value, bytes):
        return decode_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, PSLiteral):
        return str(value.name)
    if isinstance(value, list):
        return " ".join(_text(v) for v in value[:100])
    return ""


def _miner_annotations(page, attachments: list[tuple[str, Any]]) -> Iterator[str]:
    annots = _resolve(getattr(page, "annots", None))
    if not isinstance(annots, list):
        return
    for annot in annots[:_MAX_TREE]:
        annot = _resolve(annot)
        if not isinstance(annot, dict):
            continue
        subtype = _text(annot.get("Subtype"))
        if subtype == "Widget":
            continue  # form widgets: read through the AcroForm fields
        for key in ("T", "Subj", "Contents", "RC"):
            text = _text(annot.get(key)).strip()
            if text:
                yield text
        if subtype == "FileAttachment":
            spec = _resolve(annot.get("FS"))
            if isinstance(spec, dict):
                attachments.append((_spec_name(spec, "attachment"), spec))


def _form_fields(document) -> Iterator[str]:
    form = _resolve(document.catalog.get("AcroForm"))
    if not isinstance(form, dict):
        return
    stack = list(_resolve(form.get("Fields")) or [])
    seen: set[int] = set()
    while stack and len(seen) < _MAX_TREE:
        ref = stack.pop(0)
        key = getattr(ref, "objid", None) or id(ref)
        if key in seen:
            continue
        seen.add(key)
        field = _resolve(ref)
        if not isinstance(field, dict):
            continue
        name, value = _text(field.get("T")).strip(), _text(field.get("V")).strip()
        if value:
            yield f"{name}: {value}" if name else value
        kids = _resolve(field.get("Kids"))
        if isinstance(kids, list):
            stack.extend(kids)


def _embedded_files(document) -> Iterator[tuple[str, Any]]:
    names = _resolve(document.catalog.get("Names"))
    tree = _resolve(names.get("EmbeddedFiles")) if isinstance(names, dict) else None
    if not isinstance(tree, dict):
        return
    stack: list[Any] = [tree]
    seen: set[int] = set()
    while stack and len(seen) < _MAX_TREE:
        node = _resolve(stack.pop(0))
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        pairs = _resolve(node.get("Names"))
        if isinstance(pairs, list):
            for index in range(0, len(pairs) - 1, 2):
                spec = _resolve(pairs[index + 1])
                if isinstance(spec, dict):
                    yield _spec_name(spec, _text(pairs[index]) or "attachment"), spec
        kids = _resolve(node.get("Kids"))
        if isinstance(kids, list):
            stack.extend(kids)


def _spec_name(spec: dict, fallback: str) -> str:
    for key in ("UF", "F", "Desc"):
        name = _text(spec.get(key)).strip()
        if name:
            return name.replace("\\", "/").rsplit("/", 1)[-1] or fallback
    return fallback


def _attachment_items(item: Item, attachments: list[tuple[str, Any]], limits: Limits) -> Iterator[Output]:
    from pdfminer.pdftypes import PDFStream

    seen: dict[str, int] = {}
    total = 0
    for name, spec in attachments[: limits.max_members]:
        count = seen[name] = seen.get(name, 0) + 1
        label = f"attachments/{name}" if count == 1 else f"attachments/{name}[{count}]"
        streams = _resolve(spec.get("EF"))
        stream = _resolve(streams.get("UF") or streams.get("F")) if isinstance(streams, dict) else None
        if not isinstance(stream, PDFStream):
            yield Problem(f"{item.locator}!/{label}", "corrupt", "embedded file without a stream")
            continue
        raw = len(stream.rawdata or b"") if stream.rawdata is not None else 0
        try:
            data = stream.get_data()
        except Exception as exc:
            yield Problem(f"{item.locator}!/{label}", "corrupt", f"{type(exc).__name__}: {exc}"[:300])
            continue
        total += len(data)
        if len(data) > limits.max_item_bytes or total > limits.max_total_bytes:
            yield Problem(f"{item.locator}!/{label}", "too_large", f"{len(data)} bytes")
            continue
        if len(data) > limits.ratio_floor_bytes and raw and len(data) > limits.max_ratio * raw:
            yield Problem(f"{item.locator}!/{label}", "ratio", f"{len(data)} bytes from {raw}")
            continue
        yield child(item, label, data)
