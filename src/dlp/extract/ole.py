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
from .text import printable_strings

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
        for name in sorted(streams):
            if name.startswith(("\x05", "\x01")):
                continue  # property sets and OLE plumbing
            size = ole.get_size(name)
            if size > limits.max_item_bytes:
                outputs.append(Problem(f"{item.locator}!/{name}", "too_large", f"stream of {size} bytes"))
                continue
            text = printable_strings(ole.openstream(name).read())
            if text:
                outputs.append(Part(f"{item.locator}!/{name}", text, "ole-strings", binary=True))
        return outputs


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
    from .mail import headers_meta
    from .text import html_to_text

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
            if isinstance(html, bytes):
                html = html.decode("utf-8", errors="replace")
            yield Part(f"{base}body", html_to_text(html), "mail", meta=meta)
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
