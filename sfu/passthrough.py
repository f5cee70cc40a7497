"""Frame pass-through: aiortc receivers hand out encoded frames instead of decoded pictures.

aiortc's receiver decoder thread calls `aiortc.rtcrtpreceiver.get_decoder(codec)` at run time.
We replace that name with a factory whose decoders return the reassembled encoded frame as an
`av.Packet` (pts = RTP timestamp, time_base = 1/clock rate); depacketising, the jitter buffer,
NACK, REMB and receiver reports stay aiortc's. On the way out, `RTCRtpSender` packs an
`av.Packet` with the codec's `pack()` instead of encoding it. Nothing is ever transcoded, so
outgoing transceivers must be restricted to the publisher's codec (`FORWARDED_CODECS`).

aiortc is pinned (pyproject.toml): every private name used by the SFU is listed in
`HOOK_POINTS` and checked by `check_hook_points()` at start-up and in tests/sfu/test_hooks.py.
"""

from __future__ import annotations

import inspect
import logging
from fractions import Fraction

import aiortc.rtcrtpreceiver
import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_decoder as aiortc_get_decoder
from aiortc.codecs import get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

logger = logging.getLogger(__name__)

# The only codecs the SFU forwards: what every publisher must send and every subscriber receives.
FORWARDED_CODECS = {"audio": ("audio/opus",), "video": ("video/vp8", "video/rtx")}


class HookPointMissing(RuntimeError):
    """The installed aiortc no longer has a private name the SFU relies on."""


class PassthroughDecoder:
    """Returns each reassembled frame, still encoded, as an `av.Packet`."""

    def __init__(self, clock_rate: int) -> None:
        self._time_base = Fraction(1, clock_rate)

    def decode(self, encoded_frame: JitterFrame) -> list[av.Packet]:
        packet = av.Packet(encoded_frame.data)
        packet.pts = encoded_frame.timestamp
        packet.time_base = self._time_base
        return [packet]


def passthrough_get_decoder(codec: RTCRtpCodecParameters):
    return PassthroughDecoder(codec.clockRate)


def install_passthrough() -> None:
    """Make every aiortc receiver in this process yield encoded frames (process-wide)."""
    check_hook_points()
    aiortc.rtcrtpreceiver.get_decoder = passthrough_get_decoder
    logger.info("aiortc receivers switched to frame pass-through")


def uninstall_passthrough() -> None:
    aiortc.rtcrtpreceiver.get_decoder = aiortc_get_decoder


def is_keyframe(kind: str, packet: av.Packet) -> bool:
    """VP8: the P bit (lowest bit of the first byte) is 0 on key frames. Audio: always."""
    if kind != "video":
        return True
    data = bytes(packet)
    return bool(data) and not data[0] & 0x01


def forwarded_codec_capabilities(kind: str) -> list[RTCRtpCodecCapability]:
    """Capabilities to pass to `setCodecPreferences` so that only forwardable codecs are offered."""
    wanted = FORWARDED_CODECS[kind]
    return [
        codec
        for codec in RTCRtpSender.getCapabilities(kind).codecs
        if codec.mimeType.lower() in wanted
    ]


def _has_param(function, name: str) -> bool:
    return name in inspect.signature(function).parameters


# name → check. Each entry is a private (or undocumented) aiortc detail the SFU depends on.
HOOK_POINTS = {
    # passthrough.py: the decoder thread looks this name up in the receiver module.
    "aiortc.rtcrtpreceiver.get_decoder (looked up by decoder_worker)": lambda: (
        hasattr(aiortc.rtcrtpreceiver, "get_decoder")
        and "get_decoder(" in inspect.getsource(aiortc.rtcrtpreceiver.decoder_worker)
    ),
    # passthrough.py: the sender packs av.Packet with the encoder's pack().
    "RTCRtpSender._next_encoded_frame packs av.Packet": lambda: (
        ".pack(" in inspect.getsource(RTCRtpSender._next_encoded_frame)
    ),
    "VP8 and Opus encoders have pack()": lambda: all(
        hasattr(get_encoder(RTCRtpCodecParameters(mimeType=m, clockRate=r, channels=c)), "pack")
        for m, r, c in (("video/VP8", 90000, None), ("audio/opus", 48000, 2))
    ),
    # rtcp.py: incoming RTCP reaches a sender through this coroutine, looked up per instance.
    "RTCRtpSender._handle_rtcp_packet(packet)": lambda: (
        inspect.iscoroutinefunction(getattr(RTCRtpSender, "_handle_rtcp_packet", None))
        and _has_param(RTCRtpSender._handle_rtcp_packet, "packet")
    ),
    "RTCDtlsTransport dispatches RTCP via recipient._handle_rtcp_packet": lambda: (
        "._handle_rtcp_packet(" in inspect.getsource(aiortc.rtcdtlstransport.RTCDtlsTransport)
    ),
    # rtcp.py: keyframe requests toward a publisher.
    "RTCRtpReceiver._send_rtcp_pli(media_ssrc)": lambda: (
        inspect.iscoroutinefunction(getattr(RTCRtpReceiver, "_send_rtcp_pli", None))
        and _has_param(RTCRtpReceiver._send_rtcp_pli, "media_ssrc")
    ),
    # ice.py: aioice looks this name up when gathering host candidates.
    "aioice.ice.get_host_addresses(use_ipv4, use_ipv6)": lambda: (
        _has_param(aioice_ice().get_host_addresses, "use_ipv4")
        and "get_host_addresses(" in inspect.getsource(aioice_ice().Connection.gather_candidates)
    ),
}


def aioice_ice():
    import aioice.ice

    return aioice.ice


def check_hook_points() -> None:
    """Raise HookPointMissing naming every hook point the installed aiortc/aioice lacks."""
    import aiortc.rtcdtlstransport  # noqa: F401  (used by a check)

    missing = []
    for name, check in HOOK_POINTS.items():
        try:
            ok = check()
        except Exception:  # noqa: BLE001 - any failure means the hook point moved
            ok = False
        if not ok:
            missing.append(name)
    if missing:
        raise HookPointMissing(
            f"aiortc {aiortc.__version__} lacks SFU hook points: " + "; ".join(missing)
        )
