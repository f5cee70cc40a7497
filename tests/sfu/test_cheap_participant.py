"""The load generator's cheapest receive side (bench/cheap_receive.py: SRTP counted from its clear
header, never decrypted) counts what the decrypting one (bench/counting.py's light receive)
counts: on a real worker, two participants of each kind in one room of four receive the same
packets/s and video frames/s from each publisher. And the parts of it that need no worker: the
RFC 7983 sorting of datagrams, loss and frames from sequence numbers and marker bits, and the
synthetic receiver reports.
"""

from __future__ import annotations

import asyncio
import statistics
import struct

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtcpPacket, RtcpRrPacket
from aiortc.sdp import SessionDescription

from bench.cheap_receive import HeaderCountingReceive, SsrcCounter, ssrcs_of_offer
from tests.sfu.congestion import (
    NOMINAL_AUDIO_PPS,
    NOMINAL_VIDEO_FPS,
    SyntheticRoom,
    wait_for_windows,
)

VIDEO, AUDIO = 0x1111, 0x2222


def rtp(ssrc: int, sequence_number: int, timestamp: int, marker: bool = False) -> bytes:
    """An SRTP-looking datagram: a clear RTP header, then bytes standing for the ciphertext."""
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, sequence_number,
                         timestamp, ssrc)  # fmt: skip
    return header + bytes(100)


def test_datagrams_sorted_by_first_byte_only_srtp_and_sender_reports_kept_from_aiortc():
    receive = HeaderCountingReceive()
    receive.streams[VIDEO] = SsrcCounter("1", "video")
    passed = []

    class Protocol:
        def datagram_received(self, data, addr):
            passed.append(data)

    protocol = Protocol()
    protocol.datagram_received = receive._intercept(protocol.datagram_received)
    stun = bytes([0x00, 0x01]) + bytes(18)  # binding request (consent freshness)
    dtls = bytes([22, 0xFE, 0xFD]) + bytes(20)  # a handshake record
    sender_report = bytes([0x80, 200]) + bytes(26)
    receiver_report = bytes([0x81, 201]) + bytes(30)  # about a stream we publish
    pli = bytes([0x81, 206]) + bytes(20)
    for datagram in (stun, dtls, sender_report, receiver_report, pli, rtp(VIDEO, 1, 0)):
        protocol.datagram_received(datagram, ("127.0.0.1", 9))
    protocol.datagram_received(rtp(0x9999, 1, 0), ("127.0.0.1", 9))

    assert passed == [stun, dtls, receiver_report, pli]
    assert receive.streams[VIDEO].packets == 1
    assert (receive.sender_reports, receive.rtcp_passed, receive.unknown_packets) == (1, 2, 1)


def test_loss_frames_and_timestamps_from_headers_across_wraparound():
    video = SsrcCounter("1", "video")
    # Frames of two packets (marker on the second) from sequence number 65530 on, one packet
    # lost (65535, the end of the third frame) and one whole frame lost (4, 5).
    sequence_numbers = [(65530 + i) & 0xFFFF for i in range(16)]
    lost = {65535, 4, 5}
    for index, sequence_number in enumerate(sequence_numbers):
        if sequence_number not in lost:
            video.add(0x80 * (index % 2) | 96, sequence_number, 3000 * (index // 2), 1200)
    assert video.packets == 13 and video.expected == 16 and video.lost == 3
    # Frames ending at 65531, 65533, (65535 lost), 1, 3, (5 lost), 7, 9: six seen, two of
    # them with a gap inside since the previous end (1: 65535 missing; 7: 4 and 5 missing).
    assert (video.frames, video.incomplete) == (6, 2)

    audio = SsrcCounter("2", "audio")
    for frame in (0, 1, 2, 5, 6):  # frames 3, 4 never sent (an SFU drop: no sequence gap)
        audio.add(96, 100 + (frame if frame < 3 else frame - 2), 2**32 - 1920 + 960 * frame, 80)
    assert audio.lost == 0 and audio.frames_sent(960) == 7


def test_receiver_reports_carry_the_interval_loss_for_each_media_stream():
    receive = HeaderCountingReceive()
    receive.streams[VIDEO] = SsrcCounter("1", "video")
    receive.streams[AUDIO] = SsrcCounter("2", "audio")
    receive.streams[0x3333] = SsrcCounter("1", "video", rtx=True)
    for sequence_number in range(100):
        if sequence_number % 10 != 9:  # 10 % lost
            receive.streams[VIDEO].add(96, sequence_number, 0, 100)
        receive.streams[AUDIO].add(111, sequence_number, 960 * sequence_number, 80)
    receive.streams[0x3333].add(97, 1, 0, 100)

    (datagram,) = receive.receiver_reports(reporter_ssrc=42)
    (packet,) = RtcpPacket.parse(datagram)
    assert isinstance(packet, RtcpRrPacket) and packet.ssrc == 42
    blocks = {block.ssrc: block for block in packet.reports}
    assert set(blocks) == {VIDEO, AUDIO}  # not the RTX stream
    # Expected 99 (0…98: the last loss is past the highest), lost 9.
    assert blocks[VIDEO].packets_lost == 9 and blocks[VIDEO].fraction_lost == (9 << 8) // 99
    assert blocks[VIDEO].highest_sequence == 98 and blocks[AUDIO].fraction_lost == 0
    # The next report covers only what arrived since: 99 lost, 100…109 received.
    for sequence_number in range(100, 110):
        receive.streams[VIDEO].add(96, sequence_number, 0, 100)
    (datagram,) = receive.receiver_reports(reporter_ssrc=42)
    (video_block,) = [b for b in RtcpPacket.parse(datagram)[0].reports if b.ssrc == VIDEO]
    assert video_block.fraction_lost == (1 << 8) // 11 and video_block.packets_lost == 10


def test_ssrcs_of_an_aiortc_offer_with_rtx():
    async def offer() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            pc.addTransceiver("audio", direction="sendonly")
            pc.addTransceiver("video", direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            return pc.localDescription.sdp
        finally:
            await pc.close()

    sdp = asyncio.run(offer())
    found = ssrcs_of_offer(sdp)
    assert sorted(kind for _, kind, rtx in found.values() if not rtx) == ["audio", "video"]
    assert [kind for _, kind, rtx in found.values() if rtx] == ["video"]
    # The same as aiortc's own parser reads.
    parsed = SessionDescription.parse(sdp)
    assert found == {
        ssrc.ssrc: (media.rtp.muxId, media.kind, any(
            g.semantic == "FID" and g.items[1] == ssrc.ssrc for g in media.ssrc_group))
        for media in parsed.media
        for ssrc in media.ssrc
    }  # fmt: skip


@pytest.mark.timeout(60)
def test_cheap_and_decrypting_participants_count_the_same(sfu_worker, join_keys, tmp_path):
    cheap, light = ["cheap1", "cheap2"], ["light1", "light2"]
    everyone = [*cheap, *light]
    with SyntheticRoom(
        sfu_worker, "salle-mesure", join_keys.private_path, tmp_path,
        video_kbit=300, video_size="320x240",
    ) as room:  # fmt: skip
        room.add(cheap, options=["--receive", "cheap"])
        room.add(light, options=["--receive", "light"])
        room.wait_ready(20)
        room.wait_receiving(video=everyone, timeout=20)

        def problems(windows):
            found = []
            for name, window in windows.items():
                for publisher in everyone:
                    if publisher == name:
                        continue
                    fps, pps = window.video_fps(publisher), window.audio_pps(publisher)
                    if fps < 0.8 * NOMINAL_VIDEO_FPS or pps < 0.8 * NOMINAL_AUDIO_PPS:
                        found.append(f"{name} from {publisher}: {fps:.1f} fps, {pps:.1f} audio/s")
            return found

        # Once everyone receives everyone at (nearly) full rate (the comparison is about
        # counting, not about a busy machine's hiccups), one window with the same edges in
        # both processes: a stall in one would otherwise shift a burst across an edge.
        wait_for_windows(room, everyone, 3, problems, timeout=20)
        windows = room.measure(5)

    for publisher in everyone:
        rates = {}
        for kind, receivers in (("cheap", cheap), ("light", light)):
            subscribers = [windows[n] for n in receivers if n != publisher]
            rates[kind] = {
                "video fps": statistics.mean(w.video_fps(publisher) for w in subscribers),
                "video pkt/s": statistics.mean(
                    w._sum("video", "packets", publisher) / w.seconds for w in subscribers
                ),
                "audio pkt/s": statistics.mean(w.audio_pps(publisher) for w in subscribers),
            }
        for measure, value in rates["cheap"].items():
            reference = rates["light"][measure]
            assert abs(value - reference) <= 0.05 * reference, (publisher, measure, rates)
    for name in cheap:
        window = windows[name]
        assert window.audio_network_loss() == 0.0 and window.audio_loss() < 0.02, name
        header = room.process_of[name].latest()["participants"][name]["header"]
        # No stray SSRC; the SFU's sender reports dropped; our receiver reports sent.
        assert header["unknown_packets"] == 0, header
        assert header["sender_reports_dropped"] > 0 and header["receiver_reports_sent"] > 0
