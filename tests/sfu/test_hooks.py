"""Fails loudly if a private aiortc/aioice name the SFU hooks has moved (aiortc is pinned)."""

import asyncio
from fractions import Fraction

import aioice.ice
import aiortc
import aiortc.rtcrtpreceiver
import av
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

from sfu import ice, passthrough
from sfu.passthrough import ForwardedFrame, HookPointMissing, check_hook_points, is_keyframe
from sfu.rtcp import watch_keyframe_requests


def test_installed_aiortc_is_the_pinned_version():
    assert aiortc.__version__ == "1.16.0", "re-check every name in sfu.passthrough.HOOK_POINTS"


def test_every_hook_point_exists():
    check_hook_points()


def test_a_moved_hook_point_is_named(monkeypatch):
    monkeypatch.delattr(RTCRtpReceiver, "_send_rtcp_pli")
    with pytest.raises(HookPointMissing, match="_send_rtcp_pli"):
        check_hook_points()


def test_receivers_hand_frames_to_their_track_without_a_decoder_thread():
    async def scenario():
        receiver = RTCRtpReceiver("video", transport=_FakeTransport())
        receiver._track = RemoteStreamTrack(kind="video")  # as RTCPeerConnection does
        codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
        await receiver.receive(RTCRtpReceiveParameters(codecs=[codec]))
        queue = receiver._RTCRtpReceiver__decoder_queue
        assert isinstance(queue, passthrough.InlineFrameQueue)
        assert not receiver._RTCRtpReceiver__decoder_thread.is_alive()
        queue.put((codec, JitterFrame(b"\x10\x02\x00", timestamp=3000)))
        frame = receiver.track._queue.get_nowait()  # there already: no thread, no wake-up
        assert (frame.data, frame.timestamp, frame.keyframe) == (b"\x10\x02\x00", 3000, True)
        await receiver.stop()
        assert receiver.track._queue.get_nowait() is None  # the track ends

    passthrough.install_passthrough()
    try:
        asyncio.run(scenario())
    finally:
        passthrough.uninstall_passthrough()
    assert aiortc.rtcrtpreceiver.decoder_worker is passthrough.ORIGINAL_DECODER_WORKER


def test_a_frame_is_cut_into_payloads_once_as_aiortc_packs_it():
    data = b"\x10" + bytes(range(256)) * 12
    frame = ForwardedFrame(data, 9000, "video", number=5)
    vp8 = get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000))
    vp8.picture_id = 5
    packet = av.Packet(data)
    packet.pts, packet.time_base = 9000, Fraction(1, 90000)
    payloads, timestamp = vp8.pack(packet)
    assert frame.payloads() == payloads and len(payloads) > 1 and timestamp == frame.timestamp
    assert frame.payloads() is frame.payloads()  # shared by every subscriber
    assert ForwardedFrame(b"\xfc\x01", 960, "audio").payloads() == [b"\xfc\x01"]


def test_vp8_keyframes_are_recognised():
    assert is_keyframe("video", b"\x10\x02\x00\x9d\x01\x2a")
    assert not is_keyframe("video", b"\x11\x02\x00")
    assert not is_keyframe("video", b"")
    assert is_keyframe("audio", b"\x11")


def test_keyframe_requests_are_seen_and_still_handled_by_the_sender():
    async def scenario():
        sender = RTCRtpSender("video", transport=_FakeTransport())
        handled, seen = [], []

        async def original(packet):
            handled.append(packet)

        sender._handle_rtcp_packet = original
        watch_keyframe_requests(sender, lambda: seen.append(True))
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=sender._ssrc)
        await sender._handle_rtcp_packet(pli)
        assert seen == [True] and handled == [pli]

    asyncio.run(scenario())


class _FakeTransport:
    state = "new"

    def _register_rtp_sender(self, *args):
        pass

    def _register_rtp_receiver(self, *args):
        pass

    def _unregister_rtp_receiver(self, *args):
        pass


def test_host_addresses_are_configurable():
    ice.use_host_addresses(["127.0.0.1", "::1"])
    try:
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    finally:
        ice.use_host_addresses([])
    assert "127.0.0.1" not in aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)


def test_no_third_party_ice_server_by_default():
    assert ice.rtc_configuration().iceServers == []
