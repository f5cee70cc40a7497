"""Frame pass-through: encoded frames go from publishers' receivers to subscribers' senders.

aiortc receives, depacketizes and reassembles (jitter buffer, NACK, REMB and receiver reports
stay aiortc's), then hands every frame to a decoder thread, which hands it back to the event
loop. An SFU decodes nothing, and that hand-off cost a thread per published track and two
wake-ups of the loop per frame (17 % of a loaded worker's time, docs/performance.md). Once
`install_passthrough()` has run, each receiver's decoder queue is an `InlineFrameQueue`: the
receiver, on the event loop, puts a `ForwardedFrame` straight into its track's queue, and no
decoder thread runs. On the way out, sfu/rtp_writer.py writes RTP packets from these frames.

Nothing is ever transcoded, so outgoing transceivers must be restricted to the publisher's
codec (`FORWARDED_CODECS`).

aiortc is pinned (pyproject.toml): every private name used by the SFU is listed in
`HOOK_POINTS` and checked by `check_hook_points()` at start-up and in tests/sfu/test_hooks.py.
"""

from __future__ import annotations

import asyncio
import inspect
import logging

import aiortc.rtcrtpreceiver
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

from sfu import rtp_writer

logger = logging.getLogger(__name__)

# The only codecs the SFU forwards: what every publisher must send and every subscriber receives.
FORWARDED_CODECS = {"audio": ("audio/opus",), "video": ("video/vp8", "video/rtx")}

VP8_PICTURE_IDS = 1 << 15


class HookPointMissing(RuntimeError):
    """The installed aiortc no longer has a private name the SFU relies on."""


def is_keyframe(kind: str, data: bytes) -> bool:
    """VP8: the P bit (lowest bit of the first byte) is 0 on key frames. Audio: always."""
    if kind != "video":
        return True
    return bool(data) and not data[0] & 0x01


class ForwardedFrame:
    """One encoded frame of a publication, shared by every subscriber it is forwarded to.

    `timestamp` is the publisher's RTP timestamp relative to its first frame (each sender adds
    its own random origin). The RTP payloads are cut once, for all subscribers: a VP8 frame's
    picture id is the publisher's frame number, so every subscriber's copy is the same bytes.
    """

    __slots__ = ("data", "timestamp", "keyframe", "_number", "_video", "_payloads")

    def __init__(self, data: bytes, timestamp: int, kind: str, number: int = 0) -> None:
        self.data = data
        self.timestamp = timestamp
        self.keyframe = is_keyframe(kind, data)
        self._number = number
        self._video = kind == "video"
        self._payloads: list[bytes] | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def payloads(self) -> list[bytes]:
        if self._payloads is None:
            if self._video:
                # aiortc's own VP8 packetizer, with a picture id per frame of this publisher.
                self._payloads = Vp8Encoder._packetize(self.data, self._number % VP8_PICTURE_IDS)
            else:
                self._payloads = [self.data]  # Opus: one frame, one packet
        return self._payloads


class InlineFrameQueue:
    """Stands in for a receiver's decoder queue: its `put`, called by the receiver on the event
    loop with `(codec, JitterFrame)` or `None` (stop), puts a `ForwardedFrame` (or `None`)
    into the receiver's track queue at once."""

    def __init__(self, track_queue: asyncio.Queue) -> None:
        self._track_queue = track_queue
        self._frames = 0
        self._codec: RTCRtpCodecParameters | None = None  # of the previous frame, and its kind
        self._kind = "audio"

    def put(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:
            self._track_queue.put_nowait(None)  # the track ends, as after a decoder thread
            return
        codec, encoded = item
        self._frames += 1
        if codec is not self._codec:
            self._codec = codec
            self._kind = "video" if codec.mimeType.lower().startswith("video/") else "audio"
        self._track_queue.put_nowait(
            ForwardedFrame(encoded.data, encoded.timestamp, self._kind, self._frames)
        )


ORIGINAL_DECODER_WORKER = aiortc.rtcrtpreceiver.decoder_worker
ORIGINAL_RECEIVE = RTCRtpReceiver.receive


def _decoder_worker(loop, input_q, output_q, decode_error) -> None:
    # aiortc still starts its thread; for an inline queue it has nothing to do and ends at once.
    if isinstance(input_q, InlineFrameQueue):
        return
    ORIGINAL_DECODER_WORKER(loop, input_q, output_q, decode_error)


async def _receive_inline(self: RTCRtpReceiver, parameters) -> None:
    if not self._RTCRtpReceiver__started:
        self._RTCRtpReceiver__decoder_queue = InlineFrameQueue(self._track._queue)
    await ORIGINAL_RECEIVE(self, parameters)


def install_passthrough() -> None:
    """Make every aiortc receiver in this process hand out encoded frames without a decoder
    thread, and every sender of a `SubscriberTrack` write them as RTP (process-wide)."""
    check_hook_points()
    aiortc.rtcrtpreceiver.decoder_worker = _decoder_worker
    RTCRtpReceiver.receive = _receive_inline
    rtp_writer.install()
    logger.info("aiortc receivers and senders switched to frame pass-through")


def uninstall_passthrough() -> None:
    aiortc.rtcrtpreceiver.decoder_worker = ORIGINAL_DECODER_WORKER
    RTCRtpReceiver.receive = ORIGINAL_RECEIVE
    rtp_writer.uninstall()


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
    # passthrough.py: receive() starts the decoder thread with this module global and the
    # receiver's decoder queue, which _handle_rtp_packet feeds with (codec, frame) on the loop.
    "RTCRtpReceiver.receive starts decoder_worker on __decoder_queue": lambda: (
        hasattr(aiortc.rtcrtpreceiver, "decoder_worker")
        and "target=decoder_worker" in inspect.getsource(ORIGINAL_RECEIVE)
        and "self.__decoder_queue," in inspect.getsource(ORIGINAL_RECEIVE)
        and "self.__started" in inspect.getsource(ORIGINAL_RECEIVE)
        and "self._track._queue" in inspect.getsource(ORIGINAL_RECEIVE)
        and "self.__decoder_queue.put((codec, encoded_frame))"
        in inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    ),
    # rtp_writer.py: send() starts the sender loops as self._run_rtp(codec) and
    # self._run_rtcp(); NACKs call
    # self._retransmit; the loop's private fields are named in rtp_writer.SENDER_FIELDS.
    "RTCRtpSender.send runs self._run_rtp(codec) and _run_rtcp(), NACK calls _retransmit": lambda: (
        "self._run_rtp(parameters.codecs[0])" in inspect.getsource(RTCRtpSender.send)
        and "self._run_rtcp()" in inspect.getsource(RTCRtpSender.send)
        and "await self._retransmit(" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
        and all(
            "self." + name.removeprefix("_RTCRtpSender") in inspect.getsource(RTCRtpSender)
            for name in rtp_writer.SENDER_FIELDS
        )
    ),
    "RTCRtpSender's header extension map keeps its ids in __ids": lambda: (
        "self.__ids" in inspect.getsource(aiortc.rtp.HeaderExtensionsMap)
    ),
    "VP8 packetizer Vp8Encoder._packetize(buffer, picture_id)": lambda: _has_param(
        Vp8Encoder._packetize, "picture_id"
    ),
    # audio_receive.py: RTP reaches a receiver through this coroutine, looked up per instance;
    # the handler keeps the receiver's statistics in its private fields.
    "RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms), __codecs, __remote_streams": (
        lambda: (
            "._handle_rtp_packet(" in inspect.getsource(aiortc.rtcdtlstransport.RTCDtlsTransport)
            and _has_param(RTCRtpReceiver._handle_rtp_packet, "arrival_time_ms")
            and all(
                "self." + name.removeprefix("_RTCRtpReceiver") in inspect.getsource(RTCRtpReceiver)
                for name in _audio_receive().RECEIVER_FIELDS
            )
        )
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


def _audio_receive():
    from sfu import audio_receive  # it imports this module

    return audio_receive


def aioice_ice():
    import aioice.ice

    return aioice.ice


def check_hook_points() -> None:
    """Raise HookPointMissing naming every hook point the installed aiortc/aioice lacks."""
    import aiortc.rtcdtlstransport  # noqa: F401  (used by a check)
    import aiortc.rtp  # noqa: F401  (used by a check)

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
