"""OLE compound files: Outlook .msg (through extract-msg, the optional extra
``dlp[msg]``, GPL), password-protected Office documents (OOXML wrapped in OLE,
legacy .doc/.xls/.ppt with their encryption flags), and legacy Office text as
printable strings.

olefile (BSD) reads the container; the parsers run in a killable worker.
"""

from __future__ import annotations

import io
import struct
from typing import Iterable

from ..errors import ExtractionError
from ..types import Item, Part, Problem
from .base import Context, Limits, Output, child
from .isolate import run_isolated
from .decoding import printable_strings

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class OleExtractor:
    name = "ole"

    def sniff(self, head: bytes, item: Item) -> bool:
        return head.startswith(OLE_MAGIC)

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        yield from run_isolated(read_ole, item, ctx)


def read_ole(item: Item, limits: Limits) -> list[Output]:
    """Everything dlp reads from one OLE file (runs in the worker)."""
    import olefile

    data = item.read()
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception as exc:
        raise ExtractionError("corrupt", f"OLE container cannot be read: {type(exc).__name__}: {exc}"[:300]) from None
    with ole:
        streams = {"/".join(path) for path in ole.listdir(streams=True, storages=False)}
        if "EncryptedPackage" in streams or "EncryptionInfo" in streams:
            raise ExtractionError("encrypted", "password-protected Office document (encrypted OOXML package)")
        if any(name.startswith("__substg1.0_") for name in streams):
            return _msg(item, data, limits)
        if "WordDocument" in streams and _word_encrypted(ole.openstream("WordDocument").read(64)):
            raise ExtractionError("encrypted", "password-protected Word document")
        if "Workbook" in streams and _excel_encrypted(ole.openstream("Workbook").read(4096)):
            raise ExtractionError("encrypted", "password-protected Excel workbook")
        if "EncryptedSummary" in streams:
            raise ExtractionError("encrypted", "password-protected PowerPoint presentation")
        outputs: list[Output] = []
        embedded = _embedded_payload(item, ole, streams, limits, outputs)
        content = {name for name in streams if not name.startswith(("\x01", "\x03", "\x05"))}
        if content and not embedded and not content & _KNOWN_STREAMS:
            outputs.append(Problem(item.locator, "not_read", "OLE object of a type dlp does not read "
                                   f"({_class_name(ole)}); only printable strings of its streams are scanned"))
        for name in sorted(streams):
            if name.startswith(("\x05", "\x01")) or name in _PAYLOAD_STREAMS:
                continue  # property sets, OLE plumbing, and payloads read above
            size = ole.get_size(name)
            if size > limits.max_item_bytes:
                outputs.append(Problem(f"{item.locator}!/{name}", "too_large", f"stream of {size} bytes"))
                continue
            text = printable_strings(ole.openstream(name).read())
            if text:
                outputs.append(Part(f"{item.locator}!/{name}", text, "ole-strings", binary=True))
        return outputs


# Streams of the formats whose text dlp reads as printable strings (legacy Word, Excel,
# PowerPoint, Visio, equations), so their OLE container is not "unknown".
_KNOWN_STREAMS = frozenset({"WordDocument", "Workbook", "Book", "PowerPoint Document", "VisioDocument",
                            "Equation Native", "CONTENTS", "Contents"})
_PAYLOAD_STREAMS = frozenset({"\x01Ole10Native", "Package", "CONTENTS"})


def _embedded_payload(item: Item, ole, streams: set[str], limits: Limits, outputs: list[Output]) -> bool:
    """A file an OLE object wraps, as a child item: the packager's ``\\x01Ole10Native``
    (any file dropped into a document), ``Package`` (an embedded OOXML document) and
    ``CONTENTS`` (an embedded PDF). True when there was one."""
    found = False
    for name in ("\x01Ole10Native", "Package", "CONTENTS"):
        if name not in streams:
            continue
        size = ole.get_size(name)
        if size > limits.max_item_bytes:
            outputs.append(Problem(f"{item.locator}!/{name.lstrip(chr(1))}", "too_large", f"stream of {size} bytes"))
            found = True
            continue
        data = ole.openstream(name).read()
        if name == "\x01Ole10Native":
            label, payload = _ole10_native(data)
            if payload is None:
                outputs.append(Problem(f"{item.locator}!/Ole10Native", "corrupt", "packaged file cannot be unwrapped"))
                outputs.append(Part(f"{item.locator}!/Ole10Native", printable_strings(data), "ole-strings", binary=True))
            else:
                outputs.append(child(item, label or "Ole10Native", payload))
        else:
            outputs.append(child(item, name, data))
        found = True
    return found


def _ole10_native(data: bytes) -> tuple[str, bytes | None]:
    """(file name, contents) of an Ole10Native stream: a 4-byte size, 2 bytes of flags,
    the label, the source path (NUL-terminated), 4 reserved bytes, the temporary path
    (length-prefixed), then the contents (length-prefixed)."""
    try:
        position = 6
        label_end = data.index(b"\0", position)
        raw_label = data[position:label_end]
        try:
            label = raw_label.decode("utf-8")
        except UnicodeDecodeError:
            label = raw_label.decode("cp1252", errors="replace")
        path_end = data.index(b"\0", label_end + 1)
        position = path_end + 1 + 4
        (temp_len,) = struct.unpack_from("<I", data, position)
        position += 4 + temp_len
        (size,) = struct.unpack_from("<I", data, position)
        position += 4
        if size > len(data) - position:
            return label, None
        name = label.replace("\\", "/").rsplit("/", 1)[-1]
        return name, data[position:position + size]
    except (ValueError, struct.error):
        return "", None


def _class_name(ole) -> str:
    try:
        clsid = ole.root.clsid
    except Exception:
        clsid = ""
    return f"class {clsid}" if clsid else "no class id"


def _word_encrypted(fib: bytes) -> bool:
    """fEncrypted, bit 8 of the FIB flags at offset 10."""
    return len(fib) >= 12 and bool(struct.unpack_from("<H", fib, 10)[0] & 0x0100)


def _excel_encrypted(workbook: bytes) -> bool:
    """A FILEPASS record (0x002F) among the first BIFF records."""
    offset = 0
    for _ in range(64):
        if offset + 4 > len(workbook):
            return False
        record, length = struct.unpack_from("<HH", workbook, offset)
        if record == 0x002F:
            return True
        if record == 0x00E1:  # INTERFACEHDR: past the file-protection block
            return False
        offset += 4 + length
    return False


def _msg(item: Item, data: bytes, limits: Limits) -> list[Output]:
    try:
        import extract_msg
    except ImportError:
        return [
            Problem(item.locator, "unsupported", "Outlook .msg needs the optional extra: pip install 'dlp[msg]'"),
            Part(item.locator, printable_strings(data), "binary", binary=True),
        ]
    try:
        message = extract_msg.openMsg(data, strict=False, delayAttachments=False)
    except Exception as exc:
        raise ExtractionError("corrupt", f".msg cannot be parsed: {type(exc).__name__}: {exc}"[:300]) from None
    with message:
        return list(_msg_outputs(item, message, limits))


def _msg_outputs(item: Item, message, limits: Limits, prefix: str = "!/") -> Iterable[Output]:
    from .decoding import Decoded, decode
    from .mail import headers_meta
    from .text import html_outputs

    base = f"{item.locator}{prefix}"
    header = {
        "from": _safe(lambda: message.sender),
        "to": _safe(lambda: message.to),
        "cc": _safe(lambda: message.cc),
        "subject": _safe(lambda: message.subject),
        "message-id": _safe(lambda: message.messageId),
        "date": _safe(lambda: message.date),
    }
    meta = {"mail": headers_meta(header)}
    yield Part(f"{base}headers", f"Subject: {header['subject'] or ''}\n", "mail-headers", meta=meta)
    body = _safe(lambda: message.body)
    if body:
        yield Part(f"{base}body", body, "mail", meta=meta)
    else:
        html = _safe(lambda: message.htmlBody)
        if html:
            if isinstance(html, str):
                html = html.encode("utf-8")
            decoded = decode(html) or Decoded("", "binary", "an HTML body that is not text", printable_strings(html))
            yield from html_outputs(f"{base}body", decoded, "mail", item.depth, **meta)
    seen: dict[str, int] = {}
    for index, attachment in enumerate(_safe(lambda: message.attachments) or [], start=1):
        name = _safe(lambda: attachment.longFilename) or _safe(lambda: attachment.shortFilename) or f"attachment[{index}]"
        count = seen[name] = seen.get(name, 0) + 1
        if count > 1:
            name = f"{name}[{count}]"
        payload = _safe(lambda: attachment.data)
        if isinstance(payload, (bytes, bytearray)):
            if len(payload) > limits.max_item_bytes:
                yield Problem(f"{base}attachments/{name}", "too_large", f"{len(payload)} bytes")
                continue
            yield child(item, f"attachments/{name}", bytes(payload), container=prefix == "!/")
        elif payload is not None and hasattr(payload, "attachments"):  # an embedded .msg
            nested = Item(locator=f"{base}attachments/{name}", name=name, data=b"", depth=item.depth + 1)
            yield from _msg_outputs(nested, payload, limits, prefix="!/")
        else:
            yield Problem(f"{base}attachments/{name}", "unsupported", "attachment kind not readable")


def _safe(getter):
    try:
        return getter()
    except Exception:  # a broken property must not lose the rest of the message
        return None
