"""PDF with pdfminer.six, in a killable worker (recursive objects and pathological
content streams can hang it): page text with page offsets, annotation text, form
field values, and embedded files (the EmbeddedFiles name tree and file attachment
annotations) as child items under ``doc.pdf!/attachments/``.
"""

from __future__ import annotations

import io
from typing import Any, Iterable, Iterator

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .base import Context, Limits, Output, child
from .isolate import run_isolated
from .ocr import read_scanned_pages

_MAX_TREE = 10_000  # nodes visited in a name tree or field tree


class PdfExtractor:
    name = "pdf"

    def sniff(self, head: bytes, item: Item) -> bool:
        return b"%PDF-" in head[:1024]

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        if item.size > ctx.limits.max_item_bytes:
            raise ExtractionError("too_large", f"{item.size} bytes exceeds {ctx.limits.max_item_bytes}")
        outputs = run_isolated(read_pdf, item, ctx)
        yield from outputs
        yield from read_scanned_pages(item, outputs, ctx)  # pages without a text layer, by OCR


def read_pdf(item: Item, limits: Limits) -> list[Output]:
    """Everything dlp reads from one PDF (runs in the worker)."""
    from pdfminer.converter import TextConverter
    from pdfminer.layout import LAParams
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
        for number, page in enumerate(PDFPage.create_pages(document), start=1):
            out = io.StringIO()
            device = TextConverter(manager, out, laparams=LAParams())
            try:
                PDFPageInterpreter(manager, device).process_page(page)
            except (PDFPasswordIncorrect, PDFEncryptionError):
                raise
            except Exception as exc:  # one bad page does not lose the others
                outputs.append(Problem(f"{item.locator}#page={number}", "corrupt", f"{type(exc).__name__}: {exc}"[:300]))
            finally:
                device.close()
            text = out.getvalue()
            pages.append(offset)
            chunks.append(text)
            offset += len(text)
            annotation_text = "\n".join(_annotations(page, attachments))
            note_pages.append(note_offset)
            notes.append(annotation_text + "\n" if annotation_text else "")
            note_offset += len(notes[-1])
        if not pages:
            raise ExtractionError("corrupt", "PDF has no readable pages")
        outputs.insert(0, Part(item.locator, "".join(chunks), "pdf", pages=tuple(pages)))
        if note_offset:
            outputs.append(Part(f"{item.locator}!/annotations", "".join(notes), "pdf", pages=tuple(note_pages)))
        fields = "\n".join(_form_fields(document))
        if fields:
            outputs.append(Part(f"{item.locator}!/form", fields, "pdf"))
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


def _annotations(page, attachments: list[tuple[str, Any]]) -> Iterator[str]:
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
