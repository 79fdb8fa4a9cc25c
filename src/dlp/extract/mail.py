"""Mail: RFC 822 messages (.eml) with every MIME part, transfer encoding and charset,
nested ``message/rfc822``; mbox files; Maildir folders (cur/ and new/).

Each message yields a ``headers`` part (the subject first, then every other header of
the message and of its MIME parts, attachment names included; From, To, Cc, Subject,
Message-ID and Date are in ``meta["mail"]`` for policy), one part per text body, and
the text outside the MIME parts (``preamble`` and ``epilogue``), which no mail client
shows but which leaves with the mail; attachments become child items under
``attachments/``. Locators: ``mail.eml!/body``, ``mail.eml!/preamble``,
``export.mbox!/message[17]/attachments/plan.zip``.
Encrypted bodies (S/MIME, PGP) are reported `encrypted`.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import functools
import os
import re
from email.message import Message
from typing import Any, Iterable, Iterator, Mapping

from ..types import Item, Part, Problem
from .base import Context, Output, read_bytes
from .decoding import RAW_BYTE, Decoded, decode, decode_text, printable_runs
from .text import decoded_outputs, html_outputs

_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*", re.M)
_MAIL_HEADERS = frozenset(
    b"from to cc subject date message-id received return-path mime-version delivered-to reply-to "
    b"x-mailer content-type sender x-from x-to".split()
)
_MAX_MIME_DEPTH = 64
_PGP = "-----BEGIN PGP MESSAGE-----"
_META_HEADERS = ("from", "to", "cc", "subject", "message-id", "date")


def looks_like_mail(head: bytes) -> bool:
    """At least two header lines at the very start, one of them a mail header."""
    known = 0
    position = 0
    for _ in range(40):
        match = _HEADER_LINE.match(head, position)
        if match is None:
            break
        name = head[position : head.index(b":", position)].lower()
        known += name in _MAIL_HEADERS
        position = match.end()
        if known >= 2:
            return True
    return False


class MailExtractor:
    name = "mail"

    def sniff(self, head: bytes, item: Item) -> bool:
        return item.meta.get("format") == "message" or looks_like_mail(head.lstrip(b"\r\n"))

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        data = read_bytes(item, ctx)
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        inside_mailbox = bool(item.meta.get("in_mailbox"))
        yield from message_outputs(item, message, ctx, sep="/" if inside_mailbox else "!/")


def message_outputs(item: Item, message: Message, ctx: Context, sep: str) -> Iterator[Output]:
    meta = {"mail": headers_meta({name: message.get(name) for name in _META_HEADERS})}
    base = f"{item.locator}{sep}"
    subject = meta["mail"].get("subject", "")
    nodes = list(_nodes(message, 0))
    yield Part(f"{base}headers", f"Subject: {subject}\n" + headers_text(nodes), "mail-headers", meta=meta)
    for where in ("preamble", "epilogue"):
        outside = "\n".join(_raw_text(getattr(node, where, None) or "") for node in nodes).strip()
        if outside:
            yield Part(f"{base}{where}", outside + "\n", "mail", meta=meta)
    names: dict[str, int] = {}
    bodies = 0
    for leaf, problem in _leaves(message, 0):
        ctx.budget.check_time()
        if problem is not None:
            yield Problem(item.locator, *problem)
            continue
        ctype = leaf.get_content_type()
        filename = _filename(leaf)
        if ctype == "message/rfc822" or (ctype.startswith("message/") and leaf.is_multipart()):
            inner = leaf.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else None
            label = _unique(names, f"attachments/{filename or 'message.eml'}")
            if isinstance(inner, Message):
                nested = Item(locator=f"{base}{label}", name=label, data=b"", depth=item.depth + 1)
                if nested.depth > ctx.limits.max_depth:
                    yield Problem(nested.locator, "too_deep", f"nesting deeper than {ctx.limits.max_depth}")
                else:
                    yield from message_outputs(nested, inner, ctx, sep="!/")
            continue
        if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime") and "signed-data" not in str(leaf.get("content-type", "")):
            yield Problem(item.locator, "encrypted", "S/MIME encrypted body")
            continue
        payload = _payload(leaf)
        ctx.budget.charge(len(payload))
        if ctype in ("text/plain", "text/html") and not filename and leaf.get_content_disposition() != "attachment":
            decoded = _body(payload, leaf.get_content_charset())
            if _PGP in decoded.text:
                yield Problem(item.locator, "encrypted", "PGP encrypted body")
            bodies += 1
            label = "body" if bodies == 1 else f"body[{bodies}]"
            if ctype == "text/html":
                yield from html_outputs(f"{base}{label}", decoded, "mail", item.depth, **meta)
            else:
                yield from decoded_outputs(f"{base}{label}", decoded, "mail", **meta)
            continue
        label = _unique(names, f"attachments/{filename or _fallback_name(leaf, len(names) + 1)}")
        yield Item(
            locator=f"{base}{label}", name=label, data=payload, depth=item.depth + 1,
            meta={"content_type": ctype},
        )


# Headers whose value is a list of addresses: their display names are text, the addresses
# are where the mail goes (the policy's business) and stay out of the scanned text, lest
# a recipient's own address and name look like a leaked staff record.
_ADDRESS_HEADERS = frozenset(
    "from to cc bcc reply-to sender return-path delivered-to resent-from resent-to resent-cc resent-bcc "
    "resent-sender resent-reply-to x-original-to envelope-to errors-to disposition-notification-to "
    "x-original-from x-envelope-from x-envelope-to".split()
)
_PARAM_HEADERS = frozenset({"content-type", "content-disposition"})
_ADDRESS = re.compile(r"<?[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+>?")


def headers_text(nodes: list[Message]) -> str:
    """The value of every header of the message and of its MIME parts, a line each (the
    subject is the caller's first line), then the header names on one line: custom
    ``X-`` headers, Content-Description, attachment names (RFC 2047 and RFC 2231
    decoded) and every other parameter, which a mail client shows or keeps. Display
    names of address headers are kept, email addresses everywhere are left out; the
    MIME boundary, a random token, too."""
    lines: list[str] = []
    names: dict[str, None] = {}
    for index, node in enumerate(nodes):
        for name, value in node.items():
            key = name.lower()
            names.setdefault(name)
            if index == 0 and key == "subject":
                continue
            if key in _ADDRESS_HEADERS:
                text = " ".join(shown for shown, _ in _addresses(_header_text(value)) if shown)
            elif key in _PARAM_HEADERS:
                text = " ".join(_params(node, name))
            else:
                text = _header_text(value)
            text = _ADDRESS.sub(" ", text).strip()
            if text:
                lines.append(text)
    lines.append(" ".join(names))  # after the values: a name between two would split what they hold
    return "".join(f"{line}\n" for line in lines)


def _params(node: Message, header: str) -> Iterator[str]:
    """The values of a Content-Type or Content-Disposition header (the type itself
    and every parameter but the boundary), RFC 2231 and RFC 2047 decoded."""
    try:
        params = node.get_params(header=header) or []
    except Exception:  # malformed parameters: the raw value
        yield _header_text(node.get(header))
        return
    for key, value in params:
        if key.lower() == "boundary":
            continue
        if isinstance(value, tuple):
            value = email.utils.collapse_rfc2231_value(value)
        yield _header_text(value or key)


def _nodes(part: Message, depth: int) -> Iterator[Message]:
    """Every MIME node of a message, multipart containers included, in order; nested
    messages (message/rfc822) are not entered (they are read as messages of their own)."""
    yield part
    if depth >= _MAX_MIME_DEPTH or not part.is_multipart() or part.get_content_type().startswith("message/"):
        return
    payload = part.get_payload()
    for sub in payload if isinstance(payload, list) else []:
        if isinstance(sub, Message):
            yield from _nodes(sub, depth + 1)


def _raw_text(value: str) -> str:
    """Text whose raw 8-bit bytes the parser kept as surrogates (a header, a preamble or an
    epilogue: outside the MIME parts), those bytes decoded by evidence."""
    if RAW_BYTE.search(value):
        raw = value.encode("ascii", errors="surrogateescape")
        return decode_text(raw) or raw.decode("latin-1")
    return value


def _leaves(part: Message, depth: int) -> Iterator[tuple[Message, tuple[str, str] | None]]:
    """Non-multipart parts in order (message/rfc822 parts are leaves here)."""
    if depth > _MAX_MIME_DEPTH:
        yield part, ("too_deep", f"MIME parts nest deeper than {_MAX_MIME_DEPTH}")
        return
    if part.get_content_type() == "multipart/encrypted":
        yield part, ("encrypted", "PGP/MIME encrypted body")
        return
    if part.is_multipart() and not part.get_content_type().startswith("message/"):
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                yield from _leaves(sub, depth + 1)
        return
    yield part, None


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    return b""


def _body(payload: bytes, charset: str | None) -> Decoded:
    """A text body decoded by evidence (the declared charset is a claim to check); a body
    that is not text at all is doubtful and scanned as printable runs."""
    declared = _CHARSET_ALIASES.get(charset.lower(), charset) if charset else None
    decoded = decode(payload, declared)
    if decoded is None:
        return Decoded("", "binary", "a text body that is not text in any encoding", printable_runs(payload))
    return decoded


def _decode(payload: bytes, charset: str | None) -> str:
    """A header word's text, by the same evidence as bodies; printable runs appended
    when the charset it claims does not fit."""
    decoded = _body(payload, charset)
    text = decoded.text or payload.decode("latin-1")
    return f"{text} {decoded.strings}" if decoded.strings else text


_CHARSET_ALIASES = {"unknown-8bit": "latin-1", "x-unknown": "latin-1", "ks_c_5601-1987": "cp949", "gb2312": "gb18030"}


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:  # malformed RFC 2231 parameters
        return ""
    if isinstance(name, tuple):  # RFC 2231 (charset, language, value)
        name = email.utils.collapse_rfc2231_value(name)
    return _header_text(str(name)).replace("\r", "").replace("\n", "").strip()


def _fallback_name(part: Message, index: int) -> str:
    import mimetypes

    extension = mimetypes.guess_extension(part.get_content_type()) or ".bin"
    return f"part[{index}]{extension}"


def _unique(seen: dict[str, int], label: str) -> str:
    count = seen[label] = seen.get(label, 0) + 1
    return label if count == 1 else f"{label}[{count}]"


def _header_text(value: Any) -> str:
    """A header value as text: RFC 2047 words decoded, raw 8-bit bytes guessed."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = _raw_text(str(value))  # raw 8-bit bytes kept as surrogates, decoded
    try:
        pieces = email.header.decode_header(text)
        out = []
        for piece, charset in pieces:
            if isinstance(piece, bytes):
                out.append(_decode(piece, charset))
            else:
                out.append(piece)
        text = "".join(out)
    except Exception:  # a broken encoded word: keep the raw text
        pass
    return " ".join(text.split())


@functools.lru_cache(maxsize=512)
def _addresses(text: str) -> tuple[tuple[str, str], ...]:
    """(display name, address) pairs of an address header. The standard parser is slow
    (pure Python, and it reads a header twice to validate it: 1.6 ms for a To of 200
    addresses; a sixth of the time of 1,000 Enron mails), every address header is
    read twice (for its text and for policy), and the same From and To come back in
    every mail of a thread."""
    return tuple(email.utils.getaddresses([text]))


def headers_meta(raw: Mapping[str, Any]) -> dict[str, Any]:
    """From, To, Cc, Subject, Message-ID and Date for policy: addresses as tuples."""
    meta: dict[str, Any] = {}
    for name in _META_HEADERS:
        value = raw.get(name)
        if value is None:
            continue
        text = _header_text(value)
        if name in ("to", "cc"):
            meta[name] = tuple(addr.lower() for _, addr in _addresses(text) if addr)
        elif name == "from":
            addresses = _addresses(text)
            meta[name] = addresses[0][1].lower() if addresses and addresses[0][1] else text
        else:
            meta[name] = text
    return meta


# --- mailboxes --------------------------------------------------------------------


class MboxExtractor:
    """mbox (mboxo, mboxrd, mboxcl): messages split on ``From `` lines, read as a stream."""

    name = "mbox"

    def sniff(self, head: bytes, item: Item) -> bool:
        if not head.startswith(b"From "):
            return False
        first_line_end = head.find(b"\n")
        return first_line_end > 0 and looks_like_mail(head[first_line_end + 1 :])

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        handle = item.open() if item.data is None else _BytesLines(item.data)
        with handle:
            yield from self._messages(item, handle, ctx)

    def _messages(self, item: Item, lines, ctx: Context) -> Iterator[Output]:
        count = 0
        current: list[bytes] = []
        size = 0
        oversized = False
        previous_blank = True
        for line in _with_end(lines):
            if line is None or (line.startswith(b"From ") and previous_blank):
                if current or oversized:
                    count += 1
                    locator = f"{item.locator}!/message[{count}]"
                    if count > ctx.limits.max_members:
                        yield Problem(item.locator, "too_many", f"more than {ctx.limits.max_members} messages")
                        return
                    ctx.budget.check_time()
                    if oversized:
                        yield Problem(locator, "too_large", f"message larger than {ctx.limits.max_item_bytes} bytes")
                    else:
                        ctx.budget.charge(size)
                        yield Item(
                            locator=locator, name=f"message[{count}]", data=b"".join(current),
                            depth=item.depth + 1, meta={"format": "message", "in_mailbox": True},
                        )
                current, size, oversized = [], 0, False
                if line is None:
                    return
                previous_blank = False
                continue
            previous_blank = line in (b"\n", b"\r\n")
            if oversized:
                continue
            size += len(line)
            if size > ctx.limits.max_item_bytes:
                oversized, current = True, []
                continue
            current.append(line[1:] if line.startswith(b">From ") else line)


def _with_end(lines) -> Iterator[bytes | None]:
    yield from lines
    yield None


class _BytesLines:
    def __init__(self, data: bytes) -> None:
        import io

        self._stream = io.BytesIO(data)

    def __iter__(self):
        return iter(self._stream)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._stream.close()


class MaildirExtractor:
    """A Maildir folder (cur/, new/, tmp/), one item for the whole folder; messages of
    cur/ and new/ (and of Maildir++ sub-folders) in name order."""

    name = "maildir"

    def sniff(self, head: bytes, item: Item) -> bool:
        return item.path is not None and is_maildir(item.path)

    def extract(self, item: Item, ctx: Context) -> Iterable[Output]:
        count = 0
        for relative, path in _maildir_messages(item.path):
            count += 1
            if count > ctx.limits.max_members:
                yield Problem(item.locator, "too_many", f"more than {ctx.limits.max_members} messages")
                return
            ctx.budget.check_time()
            yield Item(
                locator=f"{item.locator}!/{relative}", name=relative, path=path, depth=item.depth + 1,
                meta={"format": "message", "in_mailbox": True},
            )


def is_maildir(path: str) -> bool:
    return os.path.isdir(path) and all(os.path.isdir(os.path.join(path, sub)) for sub in ("cur", "new"))


def _maildir_messages(root: str) -> Iterator[tuple[str, str]]:
    folders = [""] + sorted(
        entry for entry in os.listdir(root) if entry.startswith(".") and is_maildir(os.path.join(root, entry))
    )
    for folder in folders:
        for sub in ("cur", "new"):
            directory = os.path.join(root, folder, sub)
            if not os.path.isdir(directory):
                continue
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    yield "/".join(p for p in (folder, sub, name) if p), path
