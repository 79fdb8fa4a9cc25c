"""Text hidden in an encoding inside text: long base64 and hex runs, percent and
``\\x`` escapes, quoted-printable.

A secret pasted as base64 into a note (``notes.txt``), a JSON field or a mail body is
one "word" to the tokeniser and matches nothing. Every text part is searched for
such runs, and each run that decodes to something readable becomes a child item,
read by its content like an archive member (``notes.txt!/base64[2]``): text, or a
format dlp reads (a zip, a PDF, a DOCX, a picture's metadata...). A decoded run is a
nested item, so the depth, size and time limits of archives hold for it (base64 of
base64 of a zip bomb ends as `too_deep`, `ratio` or `too_large`), and the same run
found twice in one scanned item is decoded once.

What a run decodes to is read only when it is plainly readable: text in some
encoding without doubt (UTF-8 if shorter than 64 bytes, as random bytes that short
can pass for UTF-16 or a legacy code page), or bytes with the magic of a format dlp
reads. Random bytes (hashes, keys, signatures, compressed data without a header) are
not a hiding place anyone can read back without a key, and are left alone: they
would otherwise be a `binary` part of every mail with a DKIM signature.

Cost on ordinary text: one compiled regular-expression pass that starts only at the
beginning of a long word; the escape and quoted-printable patterns run only when a
``%``, a ``\\x`` or a ``=`` is in the text at all.
"""

from __future__ import annotations

import binascii
import hashlib
import quopri
import re
import urllib.parse
from typing import Iterator

from ..types import Item, Part, Problem
from .base import Context
from .decoding import decode

MIN_RUN = 64  # characters of the alphabet, white space aside, before a run is decoded
_MIN_UNSURE_BYTES = 64  # shorter decoded text must be UTF-8
_MIN_ESCAPES = 11  # percent or \\x escapes in one word before it is decoded
_MIN_ESCAPED_WORDS = 8  # words the decoded word must hold (a tracking link holds none)

# base64 (standard and URL-safe): a run of at least 16 characters starting at a word's
# start, then whole lines of the alphabet (as MIME and PEM wrap it at 64 or 76)
_BASE64 = re.compile(
    r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}"
    r"(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/_-]{4,}={0,2}(?=[ \t]*(?:\r?\n|$)))*"
)
_HEX = re.compile(r"[0-9A-Fa-f]+")
# hex bytes with separators: "de ad be ef", "de:ad:be:ef", "0x48, 0x65, ...", hex dumps
_HEX_BYTES = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:0[xX])?[0-9A-Fa-f]{2}[ \t:,;\r\n-]{1,3}){31,}(?:0[xX])?[0-9A-Fa-f]{2}(?![0-9A-Za-z])"
)
# words made of percent or \x escapes: "The%20Halcyon%20coating", "\x54\x68\x65"
_ESCAPED = re.compile(r"(?<!\S)(?:[^\s%\\]*(?:%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}))+[^\s%\\]*")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|\\x[0-9A-Fa-f]{2}")
_QP = re.compile(r"=(?:[0-9A-F]{2}|\r?\n)")
_SPACE = re.compile(r"\s+")

# magic numbers of formats dlp reads, which a decoded run may carry
_MAGICS = (
    b"PK\x03\x04", b"PK\x05\x06", b"%PDF-", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\x1f\x8b\x08", b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"{\\rtf", b"II*\x00",
    b"MM\x00*",
)


def encoded_items(part: Part, parent: Item, ctx: Context) -> Iterator[Item | Problem]:
    """Child items for the encoded runs of `part` (a part of `parent`), numbered per
    kind: ``!/base64[1]``, ``!/hex[1]``, ``!/escaped[1]``, ``!/quoted-printable``."""
    text = part.text
    if not text or part.meta.get("reading"):  # an extra reading holds no run its part lacks
        return
    count = 0
    for kind, number, data in _decoded_runs(text):
        if count >= ctx.limits.max_members:
            yield Problem(part.locator, "too_many", f"more than {ctx.limits.max_members} encoded runs; the rest are not read")
            return
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest in ctx.decoded or not _readable(data):
            continue
        ctx.decoded.add(digest)
        count += 1
        ctx.budget.charge(len(data))
        name = kind if number is None else f"{kind}[{number}]"
        yield Item(locator=f"{part.locator}!/{name}", name=name, data=data, depth=parent.depth + 1,
                   meta={"embedded": kind})


def _decoded_runs(text: str) -> Iterator[tuple[str, int | None, bytes]]:
    numbers = {"base64": 0, "hex": 0, "escaped": 0}

    def numbered(kind: str, data: bytes | None):
        if data:
            numbers[kind] += 1
            yield kind, numbers[kind], data

    for match in _BASE64.finditer(text):
        compact = _SPACE.sub("", match.group())
        if len(compact) < MIN_RUN:
            continue
        if _HEX.fullmatch(compact):
            yield from numbered("hex", _unhex(compact))
        else:
            yield from numbered("base64", _unbase64(compact))
    for match in _HEX_BYTES.finditer(text):
        digits = re.sub(r"0[xX]|[^0-9A-Fa-f]", "", match.group())
        yield from numbered("hex", _unhex(digits))
    if "%" in text or "\\x" in text:
        for match in _ESCAPED.finditer(text):
            run = match.group()
            if len(_ESCAPE.findall(run)) >= _MIN_ESCAPES:
                data = _unescape(run)
                if len(data.split()) >= _MIN_ESCAPED_WORDS:  # prose, not a long link
                    yield from numbered("escaped", data)
    if "=" in text:
        escapes = sum(1 for _ in _QP.finditer(text))
        if escapes >= 16 and escapes * 80 >= len(text):  # a soft break per line at least
            decoded = quopri.decodestring(text.encode("utf-8", errors="surrogatepass"))
            if decoded:
                yield "quoted-printable", None, decoded


def _unhex(digits: str) -> bytes | None:
    try:
        return bytes.fromhex(digits[: len(digits) // 2 * 2])
    except ValueError:
        return None


def _unbase64(compact: str) -> bytes | None:
    body = compact.rstrip("=")
    if "-" in body or "_" in body:
        body = body.replace("-", "+").replace("_", "/")
    body = body[: len(body) // 4 * 4 + (len(body) % 4 if len(body) % 4 > 1 else 0)]
    try:
        return binascii.a2b_base64(body + "=" * (-len(body) % 4), strict_mode=False)
    except (binascii.Error, ValueError):
        return None


def _unescape(run: str) -> bytes:
    raw = run.encode("utf-8", errors="surrogatepass")
    raw = re.sub(rb"\\x([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return urllib.parse.unquote_to_bytes(raw)


def _readable(data: bytes) -> bool:
    """Whether decoded bytes are worth reading: a format dlp reads, or text without doubt."""
    if data.startswith(_MAGICS) or data[257:262] == b"ustar":
        return True
    if len(data) < _MIN_UNSURE_BYTES:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    decoded = decode(data)
    return decoded is not None and not decoded.doubt and bool(decoded.text.strip())
