"""The forwarding sender (sfu/rtp_writer.py) sends what aiortc's own sender would send."""

import asyncio
import types
from fractions import Fraction

import av
from aiortc import RTCRtpSender
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import (
    RTCP_RTPFB_NACK,
    HeaderExtensionsMap,
    RtcpRtpfbPacket,
    RtpPacket,
    is_rtcp,
    unwrap_rtx,
)

from sfu import passthrough, rtp_writer
from sfu.forwarding import SubscriberLoad, SubscriberTrack
from sfu.passthrough import ForwardedFrame

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97}
)
EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    RTCRtpHeaderExtensionParameters(
        id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    ),
]
# A keyframe of three packets, then a frame of one.
FRAMES = [(b"\x10" + bytes(range(256)) * 12, 0), (b"\x11\x05\x06", 3000)]


class CapturingTransport:
    """Stands in for the DTLS transport: keeps what the sender would encrypt and send."""

    state = "connected"
    _stats_id = "transport"

    def __init__(self):
        self.sent: list[bytes] = []

    def _register_rtp_sender(self, *args):
        pass

    def _unregister_rtp_sender(self, *args):
        pass

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)


class PacketTrack(MediaStreamTrack):
    """What aiortc's sender is normally given: av.Packets (the reference)."""

    kind = "video"

    def __init__(self, frames):
        super().__init__()
        self._frames = list(frames)

    async def recv(self):
        if not self._frames:
            await asyncio.Event().wait()
        data, pts = self._frames.pop(0)
        packet = av.Packet(data)
        packet.pts, packet.time_base = pts, Fraction(1, 90000)
        return packet


async def _send_through(track) -> tuple[RTCRtpSender, CapturingTransport]:
    transport = CapturingTransport()
    sender = RTCRtpSender(track, transport)
    parameters = RTCRtpSendParameters(
        codecs=[VP8, RTX], headerExtensions=EXTENSIONS, muxId="7", rtcp=RTCRtcpParameters()
    )
    await sender.send(parameters)
    for _ in range(50):
        await asyncio.sleep(0.01)
        if len(transport.sent) >= 4:
            break
    return sender, transport


def _parsed(transport) -> list[RtpPacket]:
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpSendParameters(headerExtensions=EXTENSIONS))
    return [RtpPacket.parse(data, extensions) for data in transport.sent if not is_rtcp(data)]


def _subscriber_track() -> SubscriberTrack:
    track = SubscriberTrack("video", SubscriberLoad(), lambda: None)
    track.reading = True
    for number, (data, timestamp) in enumerate(FRAMES, start=1):
        track.offer(ForwardedFrame(data, timestamp, "video", number))
    return track


def test_forwarded_frames_are_sent_as_aiortc_sends_them():
    async def scenario():
        passthrough.install_passthrough()
        try:
            ours, ours_sent = await _send_through(_subscriber_track())
            reference, reference_sent = await _send_through(PacketTrack(FRAMES))
            await ours.stop()
            await reference.stop()
        finally:
            passthrough.uninstall_passthrough()
        return _parsed(ours_sent), _parsed(reference_sent), ours

    ours, reference, sender = asyncio.run(scenario())
    assert len(ours) == len(reference) == 4
    for mine, theirs in zip(ours, reference, strict=True):
        assert (mine.version, mine.payload_type, mine.marker, mine.csrc) == (
            theirs.version,
            theirs.payload_type,
            theirs.marker,
            theirs.csrc,
        )
        assert mine.extensions.mid == theirs.extensions.mid == "7"
        assert mine.extensions.abs_send_time is not None
        assert abs(mine.extensions.abs_send_time - theirs.extensions.abs_send_time) < 1 << 18
        # Same VP8 payload but for the picture id (the publisher's frame number here).
        mine_descriptor, mine_data = VpxPayloadDescriptor.parse(mine.payload)
        theirs_descriptor, theirs_data = VpxPayloadDescriptor.parse(theirs.payload)
        assert mine_data == theirs_data
        assert mine_descriptor.partition_start == theirs_descriptor.partition_start
    assert [p.sequence_number - ours[0].sequence_number for p in ours] == [0, 1, 2, 3]
    assert [(p.timestamp - ours[0].timestamp) % 2**32 for p in ours] == [0, 0, 0, 3000]
    assert {VpxPayloadDescriptor.parse(p.payload)[0].picture_id for p in ours} == {1, 2}
    # Sender reports and statistics count what was sent.
    assert sender._RTCRtpSender__packet_count == 4
    assert sender._RTCRtpSender__octet_count == sum(len(p.payload) for p in ours)
    assert sender._RTCRtpSender__rtp_timestamp == ours[-1].timestamp


def test_a_nack_is_answered_with_the_packet_wrapped_in_rtx():
    async def scenario():
        passthrough.install_passthrough()
        try:
            sender, transport = await _send_through(_subscriber_track())
            first = _parsed(transport)[1]
            nack = RtcpRtpfbPacket(
                fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=[first.sequence_number]
            )
            await sender._handle_rtcp_packet(nack)
            await sender.stop()
        finally:
            passthrough.uninstall_passthrough()
        return sender, first, _parsed(transport)

    sender, lost, sent = asyncio.run(scenario())
    rtx = sent[-1]
    assert (rtx.payload_type, rtx.ssrc) == (98, sender._rtx_ssrc)
    original = unwrap_rtx(rtx, payload_type=97, ssrc=sender._ssrc)
    assert (original.sequence_number, original.payload) == (lost.sequence_number, lost.payload)


class ReportTransport:
    state = "new"

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)


def test_paused_streams_send_no_sender_report(monkeypatch):
    """A sender whose packet count did not move sends no SR (nor its SDES); one that sent media
    does, as aiortc's own loop builds it."""
    # Reports every 0.5 + random() s: make it every 0.5 s.
    monkeypatch.setattr(rtp_writer, "random", types.SimpleNamespace(random=lambda: 0.0))

    async def scenario():
        transport = ReportTransport()
        sender = RTCRtpSender("video", transport)

        async def next_report() -> bytes:
            count = len(transport.sent)
            for _ in range(100):
                if len(transport.sent) > count:
                    return transport.sent[-1]
                await asyncio.sleep(0.05)
            raise AssertionError("no report within 5 s")

        task = asyncio.ensure_future(rtp_writer.run_rtcp(sender))
        await asyncio.sleep(1.2)  # two reports due, nothing ever sent
        assert transport.sent == []
        sender._RTCRtpSender__packet_count = 30  # media flowed
        report = await next_report()
        assert report[1] == 200  # an SR (its SDES follows in the same datagram)
        assert int.from_bytes(report[20:24], "big") == 30  # its packet count
        await asyncio.sleep(1.2)  # paused again: nothing more
        assert len(transport.sent) == 1
        sender._RTCRtpSender__packet_count = 45
        assert int.from_bytes((await next_report())[20:24], "big") == 45
        task.cancel()
        assert (await next_report())[1] == 203  # the final BYE is still sent

    asyncio.run(scenario())
