"""The milter codec: framing, command decoding, reply encoding and validation."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlp.frontends.milter import protocol as p

COMMAND_BYTES = st.sampled_from([c.value for c in p.Command])
PACKETS = st.builds(p.Packet, COMMAND_BYTES, st.binary(max_size=300))


@settings(max_examples=300, deadline=None)
@given(packets=st.lists(PACKETS, max_size=12), cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=20))
def test_framing_survives_any_cut_of_the_stream(packets, cuts):
    stream = b"".join(packet.encode() for packet in packets)
    bounds = sorted({0, len(stream), *(c for c in cuts if c <= len(stream))})
    decoder = p.PacketDecoder()
    decoded = []
    for start, end in zip(bounds, bounds[1:]):
        decoded.extend(decoder.feed(stream[start:end]))
    assert decoded == packets
    assert decoder.pending == 0


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=2000))
def test_arbitrary_bytes_yield_packets_or_a_protocol_error(garbage):
    decoder = p.PacketDecoder(max_packet=1024)
    try:
        packets = decoder.feed(garbage)
    except p.ProtocolError:
        return
    for packet in packets:
        try:
            p.decode_command(packet)
        except p.ProtocolError:
            pass


def test_oversized_length_is_refused_before_the_payload_arrives():
    decoder = p.PacketDecoder(max_packet=1024)
    with pytest.raises(p.ProtocolError, match="exceeds the limit"):
        decoder.feed(struct.pack(">I", 0xFFFFFFFF))


def test_zero_length_is_refused():
    with pytest.raises(p.ProtocolError, match="length 0"):
        p.PacketDecoder().feed(b"\0\0\0\0")


@pytest.mark.parametrize(
    "packet, event",
    [
        (p.Packet("O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)),
         p.Negotiate(6, p.ActionFlag(0x1FF), p.ProtocolFlag(0x1FFFFF))),
        (p.Packet("D", b"Cj\0mx.example\0{daemon_name}\0smtpd\0"),
         p.Macros("C", (("j", "mx.example"), ("{daemon_name}", "smtpd")))),
        (p.Packet("D", b"N"), p.Macros("N", ())),
        (p.Packet("C", b"localhost\x004\xae\xe0127.0.0.1\0"), p.Connect("localhost", "4", 44768, "127.0.0.1")),
        (p.Packet("C", b"unknown\0U"), p.Connect("unknown", "U")),
        (p.Packet("H", b"client.example\0"), p.Helo("client.example")),
        (p.Packet("M", b"<alice@example.com>\0size=83\0"), p.MailFrom("alice@example.com", ("size=83",))),
        (p.Packet("M", b"<>\0"), p.MailFrom("", ())),
        (p.Packet("R", b"<bob@partner.example>\0"), p.RcptTo("bob@partner.example", ())),
        (p.Packet("L", b"X-Folded\0one\n two\0"), p.Header("X-Folded", "one\n two")),
        (p.Packet("N"), p.EndOfHeaders()),
        (p.Packet("B", b"body\r\n"), p.BodyChunk(b"body\r\n")),
        (p.Packet("E"), p.EndOfMessage(b"")),
        (p.Packet("E", b"tail\r\n"), p.EndOfMessage(b"tail\r\n")),
        (p.Packet("A"), p.Abort()),
        (p.Packet("Q"), p.Quit()),
        (p.Packet("K"), p.QuitNewConnection()),
        (p.Packet("T"), p.DataCommand()),
        (p.Packet("U", b"XFOO bar\0"), p.UnknownSmtpCommand("XFOO bar")),
    ],
)
def test_commands_decode(packet, event):
    assert p.decode_command(packet) == event


@pytest.mark.parametrize(
    "packet, message",
    [
        (p.Packet("O", b"\0\0\0\6"), "option negotiation needs 12 bytes"),
        (p.Packet("D"), "without a command code"),
        (p.Packet("D", b"Mname\0"), "a name without a value"),
        (p.Packet("C", b"host-without-nul"), "missing hostname"),
        (p.Packet("C", b"host\x004\x01"), "truncated port"),
        (p.Packet("H", b"no-nul"), "not NUL-terminated"),
        (p.Packet("L", b"Subject\0"), "expected name and value"),
        (p.Packet("L", b"a\0b\0c\0"), "expected name and value"),
        (p.Packet("Z", b""), "unknown command byte"),
    ],
)
def test_malformed_commands_raise_protocol_errors(packet, message):
    with pytest.raises(p.ProtocolError, match=message):
        p.decode_command(packet)


@pytest.mark.parametrize(
    "reply, wire",
    [
        (p.Accept(), b"\0\0\0\x01a"),
        (p.Continue(), b"\0\0\0\x01c"),
        (p.Discard(), b"\0\0\0\x01d"),
        (p.Respond(p.SmtpReply(550, "5.7.1", "no")), b"\0\0\0\x0ey550 5.7.1 no\0"),
        (p.AddHeader("X-A", "b"), b"\0\0\0\x07hX-A\0b\0"),
        (p.ChangeHeader(2, "X-A"), b"\0\0\0\x0am\0\0\0\x02X-A\0\0"),
        (p.Quarantine("why"), b"\0\0\0\x05qwhy\0"),
        (p.NegotiateReply(6, p.ActionFlag.ADDHDRS, p.ProtocolFlag.NR_HDR),
         b"\0\0\0\x0dO\0\0\0\x06\0\0\0\x01\0\0\0\x80"),
    ],
)
def test_replies_encode(reply, wire):
    assert reply.packet().encode() == wire


def test_replies_of_one_batch_leave_as_one_buffer():
    assert p.encode_replies([p.AddHeader("X-A", "b"), p.Accept()]) == b"\0\0\0\x07hX-A\0b\0\0\0\0\x01a"


@pytest.mark.parametrize(
    "code, status, text",
    [
        (250, "2.0.0", "ok"),  # a milter cannot accept with a reply code
        (550, "4.7.1", "class mismatch"),
        (451, "5.7.1", "class mismatch"),
        (550, "5.7", "short status"),
        (550, "5.7.1", "two\r\nlines"),
        (550, "5.7.1", "100% sure"),
        (550, "5.7.1", "x" * 401),
        (550, "5.7.1", "caf\u00e9"),
    ],
)
def test_impossible_smtp_replies_cannot_be_built(code, status, text):
    with pytest.raises(ValueError):
        p.SmtpReply(code, status, text)


@pytest.mark.parametrize(
    "build",
    [
        lambda: p.AddHeader("X Bad", "v"),
        lambda: p.AddHeader("X-Bad:", "v"),
        lambda: p.AddHeader("X-Ok", "two\nlines"),
        lambda: p.ChangeHeader(0, "X-Ok"),
        lambda: p.Quarantine(""),
        lambda: p.Quarantine("a\nb"),
    ],
)
def test_invalid_header_edits_cannot_be_built(build):
    with pytest.raises(ValueError):
        build()


@given(st.text(max_size=600))
def test_reply_text_always_makes_a_valid_reply(text):
    p.SmtpReply(550, "5.7.1", p.reply_text(text))


def test_macro_lookup_accepts_both_spellings():
    assert p.macro_lookup({"i": "Q1"}, "i") == "Q1"
    assert p.macro_lookup({"{i}": "Q1"}, "i") == "Q1"
    assert p.macro_lookup({}, "{i}") is None
