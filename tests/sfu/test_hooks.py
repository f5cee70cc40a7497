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
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket

from sfu import ice, passthrough
from sfu.passthrough import HookPointMissing, check_hook_points, is_keyframe
from sfu.rtcp import watch_keyframe_requests


def test_installed_aiortc_is_the_pinned_version():
    assert aiortc.__version__ == "1.16.0", "re-check every name in sfu.passthrough.HOOK_POINTS"


def test_every_hook_point_exists():
    check_hook_points()


def test_a_moved_hook_point_is_named(monkeypatch):
    monkeypatch.delattr(RTCRtpReceiver, "_send_rtcp_pli")
    with pytest.raises(HookPointMissing, match="_send_rtcp_pli"):
        check_hook_points()


def test_passthrough_replaces_the_receiver_decoder_lookup():
    passthrough.install_passthrough()
    try:
        assert aiortc.rtcrtpreceiver.get_decoder is passthrough.passthrough_get_decoder
        codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
        decoder = aiortc.rtcrtpreceiver.get_decoder(codec)
        [packet] = decoder.decode(JitterFrame(b"\x10\x02\x00", timestamp=3000))
        assert isinstance(packet, av.Packet)
        assert (bytes(packet), packet.pts, packet.time_base) == (
            b"\x10\x02\x00",
            3000,
            Fraction(1, 90000),
        )
    finally:
        passthrough.uninstall_passthrough()


def test_encoders_pack_encoded_packets():
    vp8 = get_encoder(RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000))
    packet = av.Packet(b"\x10" + b"\x00" * 3000)
    packet.pts, packet.time_base = 9000, Fraction(1, 90000)
    payloads, timestamp = vp8.pack(packet)
    assert len(payloads) > 1 and timestamp == 9000
    opus = get_encoder(RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2))
    packet = av.Packet(b"\xfc\x01\x02")
    packet.pts, packet.time_base = 960, Fraction(1, 48000)
    assert opus.pack(packet) == ([b"\xfc\x01\x02"], 960)


def test_vp8_keyframes_are_recognised():
    assert is_keyframe("video", av.Packet(b"\x10\x02\x00\x9d\x01\x2a"))
    assert not is_keyframe("video", av.Packet(b"\x11\x02\x00"))
    assert is_keyframe("audio", av.Packet(b"\x11"))


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
