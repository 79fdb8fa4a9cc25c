"""One milter connection as a state machine: commands in, replies (or a message to scan) out.

Sans-IO, so tests replay recorded packet sequences without a socket. State lives at
two levels: the connection (negotiated options, client, HELO, connection macros) and
the message (sender, recipients, headers, body). The message state is created at
MAIL FROM and handed over whole at end-of-message, or dropped on abort, so nothing of
one message can reach the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...types import Destination
from . import protocol as p
from .spool import MessageBuffer

# What the milter asks of the MTA. Everything up to end-of-message is sent without
# waiting for a reply (NR_*), so a message costs one round trip instead of a dozen.
WANTED_ACTIONS = p.ActionFlag.ADDHDRS | p.ActionFlag.CHGHDRS | p.ActionFlag.QUARANTINE
WANTED_PROTOCOL = (
    p.ProtocolFlag.NR_CONN | p.ProtocolFlag.NR_HELO | p.ProtocolFlag.NR_MAIL
    | p.ProtocolFlag.NR_RCPT | p.ProtocolFlag.NR_HDR | p.ProtocolFlag.NR_EOH
    | p.ProtocolFlag.NR_BODY | p.ProtocolFlag.NR_DATA | p.ProtocolFlag.NR_UNKN
    | p.ProtocolFlag.NODATA | p.ProtocolFlag.NOUNKNOWN
)
# Not HDR_LEADSPC: with it, Postfix also takes the header we add verbatim (`Name:value`).
NO_REPLY_FLAG: dict[type, p.ProtocolFlag] = {
    p.Connect: p.ProtocolFlag.NR_CONN,
    p.Helo: p.ProtocolFlag.NR_HELO,
    p.MailFrom: p.ProtocolFlag.NR_MAIL,
    p.RcptTo: p.ProtocolFlag.NR_RCPT,
    p.Header: p.ProtocolFlag.NR_HDR,
    p.EndOfHeaders: p.ProtocolFlag.NR_EOH,
    p.BodyChunk: p.ProtocolFlag.NR_BODY,
    p.DataCommand: p.ProtocolFlag.NR_DATA,
    p.UnknownSmtpCommand: p.ProtocolFlag.NR_UNKN,
}
CONNECTION_STAGES = frozenset({p.Command.CONNECT.value, p.Command.HELO.value})
VERDICT_HEADER = "X-DLP-Verdict"
# Bounds on what a peer can make a session hold besides the message itself (Postfix's
# own limits are far below: smtpd_recipient_limit 1000, a few dozen macros).
MAX_RECIPIENTS = 10_000
MAX_MACROS = 1_000


@dataclass(frozen=True)
class BufferLimits:
    max_message_bytes: int = 50 * 1024 * 1024
    spool_threshold: int = 1024 * 1024
    spool_dir: str | None = None


@dataclass(frozen=True)
class CollectedMessage:
    """A whole message, handed over at end-of-message. The receiver closes `content`."""

    sender: str
    recipients: tuple[str, ...]
    content: MessageBuffer
    queue_id: str | None
    client: str
    actions: p.ActionFlag  # what the MTA lets the milter do to it
    forged_verdict_headers: int  # X-DLP-Verdict headers that came from the sender

    @property
    def name(self) -> str:
        return f"{self.queue_id or 'NOQUEUE'}.eml"

    @property
    def destination(self) -> Destination:
        return Destination(addresses=self.recipients, channel="mail", sender=self.sender or None)


@dataclass(frozen=True)
class Step:
    """What to do after one command: send `replies`, scan `message`, close the connection."""

    replies: tuple[p.Reply, ...] = ()
    message: CollectedMessage | None = None
    close: bool = False


@dataclass
class _Message:
    content: MessageBuffer
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    headers_done: bool = False
    forged_verdict_headers: int = 0


class MilterSession:
    def __init__(self, limits: BufferLimits = BufferLimits(), header: str = VERDICT_HEADER) -> None:
        self.limits = limits
        self.header = header
        self.actions = p.ActionFlag(0)
        self.protocol = p.ProtocolFlag(0)
        self.negotiated = False
        self.client = ""
        self.helo = ""
        self._connection_macros: dict[str, str] = {}
        self._message_macros: dict[str, str] = {}
        self._message: _Message | None = None

    # -- the one entry point

    def handle(self, packet: p.Packet) -> Step:
        event = p.decode_command(packet)
        if not self.negotiated and not isinstance(event, p.Negotiate):
            raise p.ProtocolError(f"command {packet.command!r} before option negotiation")
        handler: Callable[[p.Event], Step] = getattr(self, "_on_" + type(event).__name__)
        step = handler(event)
        if not step.replies and not step.close and step.message is None and self._expects_reply(event):
            return Step(replies=(p.Continue(),))
        return step

    @property
    def in_message(self) -> bool:
        """True between MAIL FROM and end-of-message (or abort)."""
        return self._message is not None

    @property
    def in_content(self) -> bool:
        """True once the message's headers or body have begun: the MTA sends the rest at once."""
        return self._message is not None and self._message.content.size > 0

    def close(self) -> None:
        """Release what an unfinished message holds (its spool file)."""
        self._drop_message()

    # -- handlers, one per command

    def _on_Negotiate(self, event: p.Negotiate) -> Step:
        if event.version < 2:
            raise p.ProtocolError(f"milter protocol version {event.version} is too old")
        self.actions = event.actions & WANTED_ACTIONS
        self.protocol = event.protocol & WANTED_PROTOCOL
        self.negotiated = True
        version = min(event.version, p.MILTER_VERSION)
        return Step(replies=(p.NegotiateReply(version, self.actions, self.protocol),))

    def _on_Macros(self, event: p.Macros) -> Step:
        target = self._connection_macros if event.stage in CONNECTION_STAGES else self._message_macros
        target.update(event.values)
        if len(target) > MAX_MACROS:
            raise p.ProtocolError(f"more than {MAX_MACROS} macros")
        return Step()

    def _on_Connect(self, event: p.Connect) -> Step:
        self.client = f"{event.hostname}[{event.address}]" if event.address else event.hostname
        return Step()

    def _on_Helo(self, event: p.Helo) -> Step:
        self.helo = event.name
        return Step()

    def _on_MailFrom(self, event: p.MailFrom) -> Step:
        # The MAIL stage macros arrived just before this command: keep them.
        self._drop_message(keep_macros=True)
        self._message = self._new_message()
        self._message.sender = event.sender
        return Step()

    def _on_RcptTo(self, event: p.RcptTo) -> Step:
        recipients = self._current().recipients
        if len(recipients) >= MAX_RECIPIENTS:
            raise p.ProtocolError(f"more than {MAX_RECIPIENTS} recipients")
        recipients.append(event.recipient)
        return Step()

    def _on_Header(self, event: p.Header) -> Step:
        message = self._current()
        if event.name.strip().lower() == self.header.lower():
            message.forged_verdict_headers += 1
        line = f"{event.name}: {event.value}".replace("\r\n", "\n").replace("\n", "\r\n")
        message.content.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
        return Step()

    def _on_EndOfHeaders(self, event: p.EndOfHeaders) -> Step:
        self._end_headers(self._current())
        return Step()

    def _on_BodyChunk(self, event: p.BodyChunk) -> Step:
        message = self._current()
        self._end_headers(message)
        message.content.write(event.data)
        return Step()

    def _on_EndOfMessage(self, event: p.EndOfMessage) -> Step:
        message = self._current()
        self._end_headers(message)
        if event.data:
            message.content.write(event.data)
        macros = {**self._connection_macros, **self._message_macros}
        collected = CollectedMessage(
            sender=message.sender,
            recipients=tuple(message.recipients),
            content=message.content,
            queue_id=p.macro_lookup(macros, "i"),
            client=self.client,
            actions=self.actions,
            forged_verdict_headers=message.forged_verdict_headers,
        )
        self._message = None  # handed over: the receiver owns and closes the content
        self._message_macros.clear()
        return Step(message=collected)

    def _on_Abort(self, event: p.Abort) -> Step:
        self._drop_message()
        return Step()

    def _on_Quit(self, event: p.Quit) -> Step:
        self._drop_message()
        return Step(close=True)

    def _on_QuitNewConnection(self, event: p.QuitNewConnection) -> Step:
        # The MTA reuses this connection for another SMTP client: forget the old one.
        self._drop_message()
        self._connection_macros.clear()
        self.client = self.helo = ""
        return Step()

    def _on_DataCommand(self, event: p.DataCommand) -> Step:
        return Step()

    def _on_UnknownSmtpCommand(self, event: p.UnknownSmtpCommand) -> Step:
        return Step()

    # -- helpers

    def _expects_reply(self, event: p.Event) -> bool:
        flag = NO_REPLY_FLAG.get(type(event))
        return flag is not None and not self.protocol & flag

    def _new_message(self) -> _Message:
        limits = self.limits
        return _Message(MessageBuffer(limits.max_message_bytes, limits.spool_threshold, limits.spool_dir))

    def _current(self) -> _Message:
        if self._message is None:  # an MTA that skips MAIL FROM (SMFIP_NOMAIL elsewhere)
            self._message = self._new_message()
        return self._message

    @staticmethod
    def _end_headers(message: _Message) -> None:
        if not message.headers_done:
            message.content.write(b"\r\n")
            message.headers_done = True

    def _drop_message(self, keep_macros: bool = False) -> None:
        if self._message is not None:
            self._message.content.close()
            self._message = None
        if not keep_macros:
            self._message_macros.clear()
