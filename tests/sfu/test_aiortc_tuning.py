"""The hooks sfu/aiortc_tuning.py and sfu/rtcp.py put in aiortc 1.16.0: each test fails if the
aiortc internal it relies on moves or changes meaning."""

from __future__ import annotations

import asyncio
import random

import aiortc
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcdtlstransport import RTCCertificate, certificate_digest

from sfu import aiortc_tuning
from sfu.aiortc_tuning import LazyRemoteBitrateEstimator, SfuPeerConnection
from sfu.peer import media_ssrc_of


def test_written_for_this_aiortc():
    """Re-check every hook below against a new aiortc before changing this."""
    assert aiortc.__version__ == aiortc_tuning.AIORTC_VERSION


async def offer_and_answer(answer_edit=lambda sdp: sdp):
    """An SfuPeerConnection offering audio + video to a plain aiortc answerer."""
    server = SfuPeerConnection(RTCConfiguration(iceServers=[]))
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        server.addTransceiver("audio", direction="recvonly")
        server.addTransceiver("video", direction="recvonly")
        await server.setLocalDescription(await server.createOffer())
        await client.setRemoteDescription(server.localDescription)
        for transceiver in client.getTransceivers():
            transceiver.direction = "sendonly"
        await client.setLocalDescription(await client.createAnswer())
        answer = answer_edit(client.localDescription.sdp)
        await server.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return server, answer
    finally:
        await client.close()


def test_answer_is_checked_on_aiortcs_parse_before_it_is_applied():
    async def scenario():
        server, answer = await offer_and_answer()
        # The parse kept is aiortc's: the SSRC the answerer announced for its video is read there.
        assert server.remote_description is not None
        video_mid = server.getTransceivers()[1].mid
        assert media_ssrc_of(server.remote_description, video_mid) is not None
        assert f"a=ssrc:{media_ssrc_of(server.remote_description, video_mid)} " in answer
        await server.close()

        def no_fingerprint(sdp: str) -> str:
            return "".join(line for line in sdp.splitlines(True) if "a=fingerprint" not in line)

        with pytest.raises(ValueError, match="no DTLS fingerprint"):
            await offer_and_answer(no_fingerprint)

    asyncio.run(scenario())


def test_refused_answer_changes_nothing():
    async def scenario():
        server = SfuPeerConnection(RTCConfiguration(iceServers=[]))
        client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        server.addTransceiver("video", direction="recvonly")
        await server.setLocalDescription(await server.createOffer())
        await client.setRemoteDescription(server.localDescription)
        await client.setLocalDescription(await client.createAnswer())
        bad = client.localDescription.sdp + "a=ssrc:99999999999999999999 cname:x\r\n"
        with pytest.raises(ValueError, match="32 bits"):
            await server.setRemoteDescription(RTCSessionDescription(bad, "answer"))
        assert server.signalingState == "have-local-offer"
        assert server.remote_description is None
        await asyncio.gather(server.close(), client.close())

    asyncio.run(scenario())


def test_receivers_build_their_bitrate_estimator_on_the_first_packet():
    async def scenario():
        server = SfuPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = server.addTransceiver("video", direction="sendonly")
        estimator = transceiver.receiver._RTCRtpReceiver__remote_bitrate_estimator
        assert isinstance(estimator, LazyRemoteBitrateEstimator)
        assert not estimator.built and not hasattr(estimator, "incoming_bitrate")
        await server.close()

    asyncio.run(scenario())


def test_lazy_estimator_estimates_as_aiortcs():
    lazy, original = LazyRemoteBitrateEstimator(), RemoteBitrateEstimator()
    rng = random.Random(7)
    arrival, send_time = 1_000, 0
    for _ in range(2_000):
        arrival += rng.choice((0, 1, 5, 33, 66))
        send_time = (send_time + rng.randint(50, 300)) & 0xFFFFFF
        size = rng.randint(200, 1200)
        assert lazy.add(arrival, send_time, size, 1234) == original.add(
            arrival, send_time, size, 1234
        )
    assert lazy.built


def test_fingerprints_are_computed_once_per_certificate(monkeypatch):
    aiortc_tuning.install()
    certificate = RTCCertificate.generateCertificate()
    first = certificate.getFingerprints()
    assert [(f.algorithm, f.value) for f in first] == [
        (f.algorithm, certificate_digest(certificate._cert, f.algorithm)) for f in first
    ]
    calls = []
    monkeypatch.setattr(
        "aiortc.rtcdtlstransport.certificate_digest", lambda *a: calls.append(a) or "x"
    )
    again = certificate.getFingerprints()
    assert calls == []
    assert [(f.algorithm, f.value) for f in again] == [(f.algorithm, f.value) for f in first]
    assert again[0] is not first[0]  # callers get their own objects, as from aiortc
