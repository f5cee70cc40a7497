"""Subscriber side of the load generator: receive without decoding, count what arrives.

`install_counting_receivers()` replaces `aiortc.rtcrtpreceiver.get_decoder` (looked up at run time
by the receiver's decoder thread) with a decoder that hands the reassembled encoded frame straight
to the track, so a subscriber costs no codec time. Everything else on receive stays aiortc's:
SRTP, depacketizing, jitter buffer, NACK, receiver reports. Only for load-generator processes.

A subscriber's "received packets" are the RTP packets its receivers accepted (media and RTX
SSRCs, after SRTP), summed over its receivers; summed over subscribers that is the SFU's forwarded
packets less what loopback lost (normally nothing).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiortc.rtcrtpreceiver
from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError


class _EncodedFrameDecoder:
    """A "decoder" that returns the encoded frame itself (a JitterFrame: data, timestamp)."""

    def decode(self, encoded_frame: JitterFrame) -> list[JitterFrame]:
        return [encoded_frame]


def _get_encoded_frame_decoder(codec) -> _EncodedFrameDecoder:
    return _EncodedFrameDecoder()


def install_counting_receivers() -> None:
    """Make every aiortc receiver in this process skip decoding (process-wide, irreversible)."""
    if not hasattr(aiortc.rtcrtpreceiver, "get_decoder"):
        raise RuntimeError("aiortc.rtcrtpreceiver.get_decoder is gone: update bench/counting.py")
    aiortc.rtcrtpreceiver.get_decoder = _get_encoded_frame_decoder


def _remote_streams(receiver: RTCRtpReceiver) -> list:
    return list(receiver._RTCRtpReceiver__remote_streams.values())  # noqa: SLF001


def rtp_packets_lost(receiver: RTCRtpReceiver) -> int:
    """RTP packets missing so far by sequence number, over all SSRCs (as in receiver reports)."""
    return sum(stream.packets_lost for stream in _remote_streams(receiver))


def rtp_packets_received(receiver: RTCRtpReceiver) -> int:
    """RTP packets this receiver accepted, over all SSRCs (media + RTX).

    getStats() would report only one SSRC (its inbound-rtp id is shared across SSRCs), so this
    reads the receiver's per-SSRC statistics directly (private name, aiortc 1.16).
    """
    return sum(stream.packets_received for stream in _remote_streams(receiver))


@dataclass
class KindCounters:
    """Frames of one kind received by one subscriber."""

    frames: int = 0
    keyframes: int = 0
    first_frame_at: float | None = None


@dataclass
class SubscriberCounters:
    """What one subscriber has received so far; snapshot() it at the window's edges."""

    name: str
    video: KindCounters = field(default_factory=KindCounters)
    audio: KindCounters = field(default_factory=KindCounters)
    receivers: list[RTCRtpReceiver] = field(default_factory=list)

    def snapshot(self) -> dict[str, float]:
        return {
            "video_frames": self.video.frames,
            "video_keyframes": self.video.keyframes,
            "audio_packets": self.audio.frames,
            "rtp_packets": sum(rtp_packets_received(r) for r in self.receivers),
            "rtp_packets_lost": sum(rtp_packets_lost(r) for r in self.receivers),
            "at": time.monotonic(),
        }


async def count_frames(track: MediaStreamTrack, counters: KindCounters) -> None:
    """Consume `track` until it ends, counting frames (and VP8 keyframes for video)."""
    is_video = track.kind == "video"
    while True:
        try:
            frame = await track.recv()
        except (MediaStreamError, asyncio.CancelledError):
            return
        if counters.first_frame_at is None:
            counters.first_frame_at = time.monotonic()
        counters.frames += 1
        # VP8 payload header: P bit (lowest bit of the first byte) is 0 on keyframes.
        if is_video and frame.data and not frame.data[0] & 0x01:
            counters.keyframes += 1
