"""The milter wire protocol, version 6: packet framing, typed commands and typed replies.

Sans-IO: nothing here touches a socket. A packet on the wire is a 4-byte big-endian
length (counting the command byte), one command byte and the payload. `PacketDecoder`
turns a byte stream cut anywhere into packets; `decode_command` turns a packet into a
typed command; every reply class encodes itself. A reply that the MTA could not accept
(an SMTP code outside 4xx/5xx, an enhanced status of the wrong class, a header name with
a colon, text with a line break) cannot be constructed.

Reference: the libmilter sources (mfdef.h, mfapi.h) of Sendmail 8.14+, which Postfix's
milter8 client implements.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass
from typing import Mapping, Union

from ...errors import DlpError

MILTER_VERSION = 6
LENGTH = struct.Struct(">I")
# Postfix sends body chunks of at most 64 KiB and headers up to header_size_limit
# (100 KiB by default); anything much larger is an error, not a message.
DEFAULT_MAX_PACKET = 512 * 1024


class ProtocolError(DlpError):
    """The MTA sent something that is not the milter protocol; the connection is closed."""


class Command(str, enum.Enum):
    """Command bytes sent by the MTA (SMFIC_*)."""

    ABORT = "A"
    BODY = "B"
    CONNECT = "C"
    MACRO = "D"
    BODYEOB = "E"
    HELO = "H"
    QUIT_NC = "K"
    HEADER = "L"
    MAIL = "M"
    EOH = "N"
    OPTNEG = "O"
    QUIT = "Q"
    RCPT = "R"
    DATA = "T"
    UNKNOWN = "U"


class ActionFlag(enum.IntFlag):
    """What the milter may do to a message (SMFIF_*), negotiated at the start."""

    ADDHDRS = 0x01
    CHGBODY = 0x02
    ADDRCPT = 0x04
    DELRCPT = 0x08
    CHGHDRS = 0x10
    QUARANTINE = 0x20
    CHGFROM = 0x40
    ADDRCPT_PAR = 0x80
    SETSYMLIST = 0x100


class ProtocolFlag(enum.IntFlag):
    """Which steps the MTA sends and which it expects no reply to (SMFIP_*)."""

    NOCONNECT = 0x01
    NOHELO = 0x02
    NOMAIL = 0x04
    NORCPT = 0x08
    NOBODY = 0x10
    NOHDRS = 0x20
    NOEOH = 0x40
    NR_HDR = 0x80
    NOUNKNOWN = 0x100
    NODATA = 0x200
    SKIP = 0x400
    RCPT_REJ = 0x800
    NR_CONN = 0x1000
    NR_HELO = 0x2000
    NR_MAIL = 0x4000
    NR_RCPT = 0x8000
    NR_DATA = 0x10000
    NR_UNKN = 0x20000
    NR_EOH = 0x40000
    NR_BODY = 0x80000
    HDR_LEADSPC = 0x100000


# ---------------------------------------------------------------------------- framing


@dataclass(frozen=True)
class Packet:
    command: str  # one character
    payload: bytes = b""

    def encode(self) -> bytes:
        code = self.command.encode("ascii")
        if len(code) != 1:
            raise ValueError(f"a command is one byte, got {self.command!r}")
        return LENGTH.pack(1 + len(self.payload)) + code + self.payload


class PacketDecoder:
    """Incremental framing: feed bytes as they arrive, get whole packets back.

    A length of zero or above `max_packet` raises `ProtocolError` before any payload is
    buffered, so a hostile length never costs memory.
    """

    def __init__(self, max_packet: int = DEFAULT_MAX_PACKET) -> None:
        self.max_packet = max_packet
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole packet."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        packets: list[Packet] = []
        while len(self._buffer) >= LENGTH.size:
            (length,) = LENGTH.unpack_from(self._buffer)
            if length == 0:
                raise ProtocolError("packet of length 0 has no command byte")
            if length > self.max_packet:
                raise ProtocolError(f"packet length {length} exceeds the limit of {self.max_packet} bytes")
            end = LENGTH.size + length
            if len(self._buffer) < end:
                break
            command = chr(self._buffer[LENGTH.size])
            payload = bytes(self._buffer[LENGTH.size + 1 : end])
            del self._buffer[:end]
            packets.append(Packet(command, payload))
        return packets


# ---------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Negotiate:
    version: int
    actions: ActionFlag
    protocol: ProtocolFlag


@dataclass(frozen=True)
class Macros:
    stage: str  # the command these macros belong to
    values: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class Connect:
    hostname: str
    family: str  # U unknown, L unix, 4 inet, 6 inet6
    port: int = 0
    address: str = ""


@dataclass(frozen=True)
class Helo:
    name: str


@dataclass(frozen=True)
class MailFrom:
    sender: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class RcptTo:
    recipient: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Header:
    name: str
    value: str


@dataclass(frozen=True)
class EndOfHeaders:
    pass


@dataclass(frozen=True)
class BodyChunk:
    data: bytes


@dataclass(frozen=True)
class EndOfMessage:
    data: bytes = b""  # a last body chunk may ride on the end-of-body packet


@dataclass(frozen=True)
class Abort:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class QuitNewConnection:
    pass


@dataclass(frozen=True)
class DataCommand:
    pass


@dataclass(frozen=True)
class UnknownSmtpCommand:
    line: str


Event = Union[
    Negotiate, Macros, Connect, Helo, MailFrom, RcptTo, Header, EndOfHeaders, BodyChunk,
    EndOfMessage, Abort, Quit, QuitNewConnection, DataCommand, UnknownSmtpCommand,
]

OPTNEG = struct.Struct(">III")
PORT = struct.Struct(">H")


def _strings(payload: bytes, what: str) -> list[str]:
    """NUL-terminated strings; the payload must end with a NUL."""
    if not payload.endswith(b"\0"):
        raise ProtocolError(f"{what}: strings are not NUL-terminated")
    return [part.decode("utf-8", "surrogateescape") for part in payload[:-1].split(b"\0")]


def _address(text: str) -> str:
    """`<user@host>` -> `user@host`; the null sender stays empty."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return text


def decode_command(packet: Packet) -> Event:
    """One packet from the MTA as a typed command. Raises `ProtocolError` when malformed."""
    command, payload = packet.command, packet.payload
    try:
        kind = Command(command)
    except ValueError:
        raise ProtocolError(f"unknown command byte {command!r}") from None
    if kind is Command.OPTNEG:
        if len(payload) < OPTNEG.size:
            raise ProtocolError(f"option negotiation needs {OPTNEG.size} bytes, got {len(payload)}")
        version, actions, protocol = OPTNEG.unpack_from(payload)
        return Negotiate(version, ActionFlag(actions), ProtocolFlag(protocol))
    if kind is Command.MACRO:
        if not payload:
            raise ProtocolError("macro packet without a command code")
        stage = chr(payload[0])
        strings = _strings(payload[1:], "macros") if len(payload) > 1 else []
        if len(strings) % 2:
            raise ProtocolError("macros: a name without a value")
        return Macros(stage, tuple(zip(strings[0::2], strings[1::2])))
    if kind is Command.CONNECT:
        end = payload.find(b"\0")
        if end < 0 or end + 1 >= len(payload):
            raise ProtocolError("connect: missing hostname or address family")
        hostname = payload[:end].decode("utf-8", "surrogateescape")
        family = chr(payload[end + 1])
        rest = payload[end + 2 :]
        if family == "U" or not rest:
            return Connect(hostname, family)
        if len(rest) < PORT.size + 1:
            raise ProtocolError("connect: truncated port and address")
        (port,) = PORT.unpack_from(rest)
        (address,) = _strings(rest[PORT.size :], "connect address")[:1]
        return Connect(hostname, family, port, address)
    if kind is Command.HELO:
        return Helo(_strings(payload, "helo")[0])
    if kind in (Command.MAIL, Command.RCPT):
        strings = _strings(payload, kind.name.lower())
        address, args = _address(strings[0]), tuple(strings[1:])
        return MailFrom(address, args) if kind is Command.MAIL else RcptTo(address, args)
    if kind is Command.HEADER:
        strings = _strings(payload, "header")
        if len(strings) != 2:
            raise ProtocolError(f"header: expected name and value, got {len(strings)} strings")
        return Header(strings[0], strings[1])
    if kind is Command.EOH:
        return EndOfHeaders()
    if kind is Command.BODY:
        return BodyChunk(payload)
    if kind is Command.BODYEOB:
        return EndOfMessage(payload)
    if kind is Command.ABORT:
        return Abort()
    if kind is Command.QUIT:
        return Quit()
    if kind is Command.QUIT_NC:
        return QuitNewConnection()
    if kind is Command.DATA:
        return DataCommand()
    return UnknownSmtpCommand(payload.rstrip(b"\0").decode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------- replies

_ENHANCED = re.compile(r"[45]\.\d{1,3}\.\d{1,3}")
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without colon or space (RFC 5322 ftext)
_REPLY_TEXT_MAX = 400


@dataclass(frozen=True)
class SmtpReply:
    """A final SMTP reply the MTA gives its client: `550 5.7.1 text`.

    Only 4xx and 5xx can be set by a milter, the enhanced status must share the
    class of the code, and the text is one line of printable ASCII without `%`
    (Sendmail expands it), so a reply that would break the SMTP dialogue cannot exist.
    """

    code: int
    status: str
    text: str

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise ValueError(f"a milter reply code must be 4xx or 5xx, got {self.code}")
        if not _ENHANCED.fullmatch(self.status) or self.status[0] != str(self.code)[0]:
            raise ValueError(f"enhanced status {self.status!r} does not match reply code {self.code}")
        if len(self.text) > _REPLY_TEXT_MAX or any(not " " <= c <= "~" or c == "%" for c in self.text):
            raise ValueError("reply text must be at most 400 printable ASCII characters without '%'")

    @property
    def line(self) -> str:
        return f"{self.code} {self.status} {self.text}"


def reply_text(text: str) -> str:
    """Make arbitrary text safe for `SmtpReply.text` (never raises)."""
    cleaned = "".join(c if " " <= c <= "~" and c != "%" else "?" for c in " ".join(text.split()))
    return cleaned[:_REPLY_TEXT_MAX]


def _z(text: str) -> bytes:
    return text.encode("utf-8") + b"\0"


@dataclass(frozen=True)
class Accept:
    """Accept the message (or connection) without looking further."""

    def packet(self) -> Packet:
        return Packet("a")


@dataclass(frozen=True)
class Continue:
    def packet(self) -> Packet:
        return Packet("c")


@dataclass(frozen=True)
class Discard:
    def packet(self) -> Packet:
        return Packet("d")


@dataclass(frozen=True)
class Respond:
    """Reject or tempfail with this SMTP reply (SMFIR_REPLYCODE)."""

    reply: SmtpReply

    def packet(self) -> Packet:
        return Packet("y", _z(self.reply.line))


def _check_header(name: str, value: str) -> None:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if any(c in value for c in "\0\r\n"):
        raise ValueError("a header value must be one line")


@dataclass(frozen=True)
class AddHeader:
    name: str
    value: str

    def __post_init__(self) -> None:
        _check_header(self.name, self.value)

    def packet(self) -> Packet:
        return Packet("h", _z(self.name) + _z(self.value))


@dataclass(frozen=True)
class ChangeHeader:
    """Replace the `index`-th (1-based) header called `name`; an empty value deletes it."""

    index: int
    name: str
    value: str = ""

    def __post_init__(self) -> None:
        _check_header(self.name, self.value)
        if self.index < 1:
            raise ValueError("header index is 1-based")

    def packet(self) -> Packet:
        return Packet("m", LENGTH.pack(self.index) + _z(self.name) + _z(self.value))


@dataclass(frozen=True)
class Quarantine:
    """Hold the message (Postfix: hold queue) with this reason."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason or any(c in self.reason for c in "\0\r\n"):
            raise ValueError("a quarantine reason is one non-empty line")

    def packet(self) -> Packet:
        return Packet("q", _z(self.reason))


@dataclass(frozen=True)
class NegotiateReply:
    version: int
    actions: ActionFlag
    protocol: ProtocolFlag

    def packet(self) -> Packet:
        return Packet("O", OPTNEG.pack(self.version, int(self.actions), int(self.protocol)))


Reply = Union[Accept, Continue, Discard, Respond, AddHeader, ChangeHeader, Quarantine, NegotiateReply]
FINAL_REPLIES = (Accept, Continue, Discard, Respond)


def encode_replies(replies: "tuple[Reply, ...] | list[Reply]") -> bytes:
    """All replies as one buffer, so they leave in one write (and one TCP segment)."""
    return b"".join(reply.packet().encode() for reply in replies)


def macro_lookup(macros: Mapping[str, str], name: str) -> str | None:
    """A macro by name, whether the MTA sent it as `i` or `{i}`."""
    bare = name.strip("{}")
    for key in (bare, "{" + bare + "}"):
        if key in macros:
            return macros[key]
    return None
