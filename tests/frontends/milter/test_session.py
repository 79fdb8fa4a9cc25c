"""The session state machine, driven by a recorded Postfix conversation and by hand-made sequences."""

from __future__ import annotations

import struct

import pytest

from dlp.frontends.milter import protocol as p
from dlp.frontends.milter.session import WANTED_PROTOCOL, BufferLimits, MilterSession

from .conversation import POSTFIX_OFFER, Replayer, load_recording, message_packets

RECORDING = "postfix-3.7-one-session.json"


def test_replaying_postfix_gives_exactly_the_recorded_replies():
    recording = load_recording(RECORDING)
    replayer = Replayer()
    got = []
    for side, packet in recording:
        if side == "mta":
            got.extend(replayer.send(packet))
    assert got == [packet for side, packet in recording if side == "milter"]
    assert replayer.closed


def test_recorded_session_collects_each_message_on_its_own():
    replayer = Replayer()
    replayer.send_all([packet for side, packet in load_recording(RECORDING) if side == "mta"])
    (clean, clean_data), (leak, leak_data), (hold, _) = replayer.messages
    assert clean.sender == "alice@example.com"
    assert clean.recipients == ("bob@partner.example", "carol@example.org")
    assert clean.destination.channel == "mail"
    assert clean.destination.addresses == ("bob@partner.example", "carol@example.org")
    assert clean.forged_verdict_headers == 1
    assert clean.client == "localhost[127.0.0.1]"
    assert clean.name == f"{clean.queue_id}.eml" and clean.queue_id
    assert clean_data.startswith(b"Subject: clean\r\nX-DLP-Verdict: allow\r\nX-Folded: one\r\n two\r\n")
    assert clean_data.endswith(b"\r\n\r\nclean body\r\nline two\r\n")
    # Nothing of one message reaches the next: not recipients, not forged headers, not the
    # recipient aborted with RSET between the second and the third message.
    assert leak.recipients == ("bob@partner.example",)
    assert leak.forged_verdict_headers == 0
    assert b"clean body" not in leak_data and b"LEAK body" in leak_data
    assert hold.recipients == ("erin@partner.example",)
    assert len({clean.queue_id, leak.queue_id, hold.queue_id}) == 3


def test_negotiation_asks_only_for_what_the_mta_offers():
    session = MilterSession()
    offer = p.Packet("O", struct.pack(">III", 6, int(p.ActionFlag.ADDHDRS), int(p.ProtocolFlag.NR_HDR)))
    (reply,) = session.handle(offer).replies
    assert reply == p.NegotiateReply(6, p.ActionFlag.ADDHDRS, p.ProtocolFlag.NR_HDR)


def test_negotiation_with_postfix_skips_every_intermediate_reply():
    (reply,) = MilterSession().handle(POSTFIX_OFFER).replies
    assert reply.protocol == WANTED_PROTOCOL
    assert reply.actions == p.ActionFlag.ADDHDRS | p.ActionFlag.CHGHDRS | p.ActionFlag.QUARANTINE


def test_an_mta_without_no_reply_options_gets_continue_for_every_step():
    replayer = Replayer()
    replayer.send(p.Packet("O", struct.pack(">III", 2, 0x3F, 0)))
    steps = [p.Packet("C", b"host\0U"), p.Packet("H", b"helo\0"), *message_packets("a@x", ["b@y"], [("S", "v")], b"b")]
    replies = [replayer.send(packet) for packet in steps]
    continues = [r for r in replies[:-2]]
    assert all(r == [p.Packet("c")] for r in continues)  # connect, helo, mail, rcpt, header, eoh, body
    assert replies[-2] == []  # the macro packet is never answered
    assert replies[-1][-1] == p.Packet("a")


def test_commands_before_negotiation_are_a_protocol_error():
    with pytest.raises(p.ProtocolError, match="before option negotiation"):
        MilterSession().handle(p.Packet("M", b"<a@x>\0"))


def test_a_protocol_version_below_two_is_refused():
    with pytest.raises(p.ProtocolError, match="too old"):
        MilterSession().handle(p.Packet("O", struct.pack(">III", 1, 0, 0)))


def test_abort_drops_the_message_and_its_spool():
    session = MilterSession(BufferLimits(max_message_bytes=10_000, spool_threshold=10))
    session.handle(POSTFIX_OFFER)
    for packet in message_packets("a@x", ["b@y"], [], b"x" * 100)[:-2]:
        session.handle(packet)
    spool = session._message.content  # noqa: SLF001 - the file the abort must close
    assert spool.spooled
    session.handle(p.Packet("A"))
    assert not session.in_message and spool._file.closed  # noqa: SLF001


def test_quit_new_connection_forgets_the_client():
    replayer = Replayer()
    replayer.send_all([POSTFIX_OFFER, p.Packet("C", b"first\x004\0\x19127.0.0.1\0"), p.Packet("K")])
    assert replayer.session.client == ""
    replayer.send_all([p.Packet("C", b"second\0U"), *message_packets("a@x", ["b@y"], [], b"b")])
    assert replayer.messages[0][0].client == "second"


def test_quit_closes_the_connection():
    replayer = Replayer()
    replayer.send_all([POSTFIX_OFFER, p.Packet("Q")])
    assert replayer.closed


def test_a_message_over_the_limit_is_not_scanned_and_is_tempfailed():
    replayer = Replayer(MilterSession(BufferLimits(max_message_bytes=50, spool_threshold=10)))
    replies = replayer.send_all([POSTFIX_OFFER, *message_packets("a@x", ["b@y"], [], b"LEAK" * 100)])
    assert replayer.messages == []
    assert replies[-1].command == "y" and replies[-1].payload.startswith(b"451 4.7.1")


def test_a_spooled_message_reads_back_whole():
    replayer = Replayer(MilterSession(BufferLimits(max_message_bytes=1 << 20, spool_threshold=64)))
    body = b"".join(b"line %d\r\n" % i for i in range(2000))
    replayer.send_all([POSTFIX_OFFER, *message_packets("a@x", ["b@y"], [("Subject", "big")], body)])
    ((message, data),) = replayer.messages
    assert data == b"Subject: big\r\n\r\n" + body


def test_end_of_message_may_carry_the_last_body_chunk():
    replayer = Replayer()
    packets = message_packets("a@x", ["b@y"], [], b"first ")
    packets[-1] = p.Packet("E", b"last")
    replayer.send_all([POSTFIX_OFFER, *packets])
    assert replayer.messages[0][1] == b"\r\nfirst last"


def test_macros_of_one_message_do_not_name_the_next():
    replayer = Replayer()
    first = message_packets("a@x", ["b@y"], [], b"one", queue_id="Q1")
    second = message_packets("a@x", ["b@y"], [], b"two")
    del second[-2]  # no queue id macro this time
    replayer.send_all([POSTFIX_OFFER, *first, p.Packet("A"), *second])
    assert [m.queue_id for m, _ in replayer.messages] == ["Q1", None]
    assert replayer.messages[1][0].name == "NOQUEUE.eml"


@pytest.mark.parametrize("flood, message", [
    ([p.Packet("R", f"<r{i}@x>\0".encode()) for i in range(10_001)], "more than 10000 recipients"),
    ([p.Packet("D", b"M" + f"{{m{i}}}\0v\0".encode()) for i in range(1_001)], "more than 1000 macros"),
], ids=["recipients", "macros"])
def test_a_peer_cannot_make_a_session_grow_without_bound(flood, message):
    session = MilterSession()
    session.handle(POSTFIX_OFFER)
    session.handle(p.Packet("M", b"<a@x>\0"))
    with pytest.raises(p.ProtocolError, match=message):
        for packet in flood:
            session.handle(packet)


def test_a_forged_verdict_header_with_odd_spacing_is_still_counted():
    replayer = Replayer()
    replayer.send(POSTFIX_OFFER)
    replayer.send_all(message_packets("a@x", ["b@y"], [("x-dlp-verdict ", "allow"), ("Subject", "s")], b"body"))
    [(message, _)] = replayer.messages
    assert message.forged_verdict_headers == 1
