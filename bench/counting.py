"""Subscriber side of the load generator: receive without decoding, count what arrives.

`install_counting_receivers()` replaces `aiortc.rtcrtpreceiver.get_decoder` (looked up at run time
by the receiver's decoder thread) with a decoder that hands the reassembled encoded frame straight
to the track, so a subscriber costs no codec time. Everything else on receive stays aiortc's:
SRTP, depacketizing, jitter buffer, NACK, receiver reports. Only for load-generator processes.

`receive_light()` goes further for processes hosting many subscribers: it replaces a receiver's
RTP handling with counting (statistics, REMB, NACK and PLI kept; no jitter buffer, no decoder
thread), 2.5 times cheaper per subscriber.

A subscriber's "received packets" are the RTP packets its receivers accepted (media and RTX
SSRCs, after SRTP), summed over its receivers; summed over subscribers that is the SFU's forwarded
packets less what loopback lost (normally nothing).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field

import aiortc.rtcrtpreceiver
from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.codecs import is_rtx
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci, unwrap_rtx


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
    bytes: int = 0  # encoded frame bytes


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
        counters.bytes += len(frame.data)
        # VP8 payload header: P bit (lowest bit of the first byte) is 0 on keyframes.
        if is_video and frame.data and not frame.data[0] & 0x01:
            counters.keyframes += 1


class RtpCounters:
    """RTP packets one receiver accepted (after SRTP, before the jitter buffer), counted by
    `tap_rtp()`: packets and payload bytes over all SSRCs (RTX included), and for a single-SSRC
    stream with fixed-duration frames (Opus, 20 ms) how many the RTP timestamps say were sent.

    Sequence numbers reveal packets lost on the network (`rtp_packets_lost()`); timestamps also
    reveal frames an SFU dropped before sending (its sequence numbers have no gap then).
    """

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0  # payload + padding
        self.retransmissions = 0  # of them, RTX packets (answers to NACKs)
        self._first_timestamp: int | None = None
        self._highest_timestamp = 0  # unwrapped, relative to the first
        self._last_timestamp = 0

    def add(self, packet, retransmission: bool = False) -> None:
        self.packets += 1
        self.bytes += len(packet.payload) + packet.padding_size
        if retransmission:
            self.retransmissions += 1
            return
        if self._first_timestamp is None:
            self._first_timestamp = self._last_timestamp = packet.timestamp
            return
        step = (packet.timestamp - self._last_timestamp) & 0xFFFFFFFF
        if step >= 0x80000000:
            return  # older than the highest seen (reordered or a retransmission)
        self._last_timestamp = packet.timestamp
        self._highest_timestamp += step

    def frames_sent(self, frame_ticks: int) -> int:
        """Frames the sender produced up to the newest received (timestamps / frame_ticks)."""
        if self._first_timestamp is None:
            return 0
        return self._highest_timestamp // frame_ticks + 1


def tap_rtp(receiver: RTCRtpReceiver) -> RtpCounters:
    """Count every RTP packet `receiver` accepts (wraps its `_handle_rtp_packet`, aiortc 1.16)."""
    counters = RtpCounters()
    handle = receiver._handle_rtp_packet  # noqa: SLF001

    async def counting_handle(packet, arrival_time_ms: int) -> None:
        codec = receiver._RTCRtpReceiver__codecs.get(packet.payload_type)  # noqa: SLF001
        counters.add(packet, retransmission=codec is not None and codec.name.lower() == "rtx")
        await handle(packet, arrival_time_ms)

    receiver._handle_rtp_packet = counting_handle  # noqa: SLF001
    return counters


# --- light receive: count frames at the RTP level, no jitter buffer, no decoder thread ---------

_PRIVATE = "_RTCRtpReceiver__"
_LIGHT_NEEDS = ("codecs", "remote_streams", "rtx_ssrc", "nack_generator",
                "remote_bitrate_estimator", "rtcp_ssrc")  # fmt: skip
GIVE_UP_SECONDS = 1.0  # a frame still incomplete after this is lost (NACK had its chance)
PLI_INTERVAL = 2.0  # seconds between keyframe requests while a video track stays broken


NACK_RETRY_SECONDS = 0.1  # a missing packet is asked for again after this…
NACK_MAX_TRIES = 10  # …this many times at most (libwebrtc's kMaxNackRetries)
NACK_MAX_AGE = 128  # packets behind the newest that are no longer asked for


class NackRequester:
    """Which missing video packets to NACK now, the way a browser asks: each missing sequence
    number when first seen missing, then again every NACK_RETRY_SECONDS, NACK_MAX_TRIES times at
    most. (aiortc's receiver re-sends the whole missing list at every new gap: on a lossy link
    that multiplies retransmissions several times over.)"""

    def __init__(self) -> None:
        self.highest: int | None = None
        self.missing: dict[int, tuple[float, int]] = {}  # sequence number → (last asked, tries)

    def add(self, sequence_number: int, now: float) -> list[int]:
        """Note a received packet (RTX unwrapped); returns the sequence numbers to NACK now."""
        if self.highest is None:
            self.highest = sequence_number
            return []
        due = []
        gap = (sequence_number - self.highest) & 0xFFFF
        if 0 < gap < 0x8000:  # newer than the highest: what lies between is missing
            for offset in range(1, min(gap, NACK_MAX_AGE)):
                seq = (self.highest + offset) & 0xFFFF
                self.missing[seq] = (now, 1)
                due.append(seq)
            self.highest = sequence_number
        else:
            self.missing.pop(sequence_number, None)
        for seq, (asked, tries) in list(self.missing.items()):
            if (self.highest - seq) & 0xFFFF >= NACK_MAX_AGE or tries >= NACK_MAX_TRIES:
                del self.missing[seq]
            elif now - asked >= NACK_RETRY_SECONDS:
                self.missing[seq] = (now, tries + 1)
                due.append(seq)
        return sorted(due)


@dataclass
class _PendingFrame:
    first_arrival: float
    sequence_numbers: set[int] = field(default_factory=set)
    start: int | None = None  # sequence number of the packet starting partition 0
    end: int | None = None  # sequence number of the packet with the marker bit
    keyframe: bool = False
    size: int = 0


class VideoFrameCounter:
    """Completes VP8 frames from RTP packets (after RTX unwrapping) and counts what a decoder
    could show: complete frames from a keyframe on, until a frame is lost (incomplete after
    GIVE_UP_SECONDS); then a keyframe is asked for (PLI, again every PLI_INTERVAL until one
    arrives) and frames count again from it.

    `counters.frames`/`keyframes`/`bytes` count those decodable frames; `broken` the complete
    frames that arrived after a loss, before the next keyframe; `incomplete` the frames given up.
    """

    def __init__(self, counters: KindCounters) -> None:
        self.counters = counters
        self.broken = 0
        self.incomplete = 0
        self._pending: dict[int, _PendingFrame] = {}  # RTP timestamp → frame
        self._completed: collections.deque[int] = collections.deque(maxlen=64)
        self._decodable = False  # the chain from the last keyframe is intact
        self._last_pli = 0.0

    def add(self, packet, payload: bytes, now: float) -> bool:
        """Count `packet` (its VP8 payload); True when a keyframe should be requested."""
        timestamp = packet.timestamp
        if timestamp in self._completed:
            return False  # a late duplicate
        frame = self._pending.get(timestamp)
        if frame is None:
            frame = self._pending[timestamp] = _PendingFrame(now)
        if packet.sequence_number in frame.sequence_numbers:
            return False
        frame.sequence_numbers.add(packet.sequence_number)
        try:
            descriptor, data = VpxPayloadDescriptor.parse(payload)
        except ValueError:
            return False
        frame.size += len(data)
        if descriptor.partition_start and descriptor.partition_id == 0:
            frame.start = packet.sequence_number
            frame.keyframe = bool(data) and not data[0] & 0x01  # VP8 P bit 0: keyframe
        if packet.marker:
            frame.end = packet.sequence_number
        if (
            frame.start is not None
            and frame.end is not None
            and len(frame.sequence_numbers) == ((frame.end - frame.start) & 0xFFFF) + 1
        ):
            del self._pending[timestamp]
            self._completed.append(timestamp)
            self._complete(frame, now)
        return self._give_up(now)

    def _complete(self, frame: _PendingFrame, now: float) -> None:
        if frame.keyframe:
            self._decodable = True
        if not self._decodable:
            self.broken += 1
            return
        counters = self.counters
        if counters.first_frame_at is None:
            counters.first_frame_at = time.monotonic()
        counters.frames += 1
        counters.bytes += frame.size
        counters.keyframes += frame.keyframe

    def _give_up(self, now: float) -> bool:
        stale = [t for t, f in self._pending.items() if now - f.first_arrival > GIVE_UP_SECONDS]
        for timestamp in stale:
            del self._pending[timestamp]
            self.incomplete += 1
        if not stale:
            return False
        # A keyframe is asked for when the chain breaks, then every PLI_INTERVAL while it
        # stays broken (the keyframe itself may be lost), as a browser's decoder would.
        ask = self._decodable or now - self._last_pli >= PLI_INTERVAL
        self._decodable = False
        if ask:
            self._last_pli = now
        return ask


class FastRateCounter:
    """aiortc.rate.RateCounter's figures (the amount received over the last `window_size` ms,
    as the remote bitrate estimator behind REMB reads it) at a fraction of its cost.

    aiortc's counter keeps 1 ms buckets and clears them one by one (a Python loop of up to
    `window_size` iterations per packet after a pause) and rebuilds its 1000 buckets at every
    reset, i.e. each time a paused video (last-N) resumes: 12 % of a load generator's CPU,
    profiled. This keeps only the milliseconds that received something. Same `add`, `rate`
    and `reset`, same results for non-decreasing times (the receiver's arrival clock).
    """

    def __init__(self, window_size: int, scale: int = 8000) -> None:
        self._window_size = window_size
        self._scale = scale
        self.reset()

    def add(self, value: int, now_ms: int) -> None:
        if self._origin_ms is None:
            self._origin_ms = now_ms
        else:
            self._erase_old(now_ms)
        if self._entries and self._entries[-1][0] == now_ms:
            self._entries[-1][1] += value
            self._entries[-1][2] += 1
        else:
            self._entries.append([now_ms, value, 1])
        self._count += 1
        self._value += value

    def rate(self, now_ms: int) -> int | None:
        if self._origin_ms is not None:
            self._erase_old(now_ms)
            active_window_size = now_ms - self._origin_ms + 1
            if self._count > 0 and active_window_size > 1:
                return round(self._scale * self._value / active_window_size)
        return None

    def reset(self) -> None:
        self._entries: collections.deque[list[int]] = collections.deque()  # [ms, value, count]
        self._origin_ms: int | None = None
        self._count = 0
        self._value = 0

    def _erase_old(self, now_ms: int) -> None:
        new_origin_ms = now_ms - self._window_size + 1
        if self._origin_ms >= new_origin_ms:
            return
        entries = self._entries
        while entries and entries[0][0] < new_origin_ms:
            _, value, count = entries.popleft()
            self._value -= value
            self._count -= count
        self._origin_ms = new_origin_ms


@dataclass
class LightReceive:
    """What `receive_light()` counts for one receiver."""

    rtp: RtpCounters
    frames: KindCounters
    video: VideoFrameCounter | None


def receive_light(receiver: RTCRtpReceiver, kind: str) -> LightReceive:
    """Replace `receiver`'s RTP handling by counting, for load generators that must stay cheap.

    Kept from aiortc's handler (aiortc 1.16, private names): the statistics behind receiver
    reports, REMB, NACK for video (browser-like: NackRequester; RTX unwrapped and used), a PLI
    when a video frame is lost.
    Dropped: depayloading into the jitter buffer and the per-track decoder thread — 60 % of a
    subscriber's CPU, measured. Replaced: the REMB estimator's rate counter (FastRateCounter,
    same figures, cheaper). Audio frames are counted per packet (one Opus frame each);
    video frames by VideoFrameCounter. Nothing reaches the track: do not `recv()` from it.
    """
    missing = [name for name in _LIGHT_NEEDS if not hasattr(receiver, _PRIVATE + name)]
    if missing:
        raise RuntimeError(f"aiortc receiver lacks {missing}: update bench/counting.py")

    def private(name: str):
        return getattr(receiver, _PRIVATE + name)

    counted = LightReceive(RtpCounters(), KindCounters(), None)
    nack = NackRequester()
    if kind == "video":
        counted.video = VideoFrameCounter(counted.frames)
    streams, rtx_ssrc = private("remote_streams"), private("rtx_ssrc")

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        codec = private("codecs").get(packet.payload_type)
        if codec is None or not receiver._enabled:  # noqa: SLF001
            return
        rtx = is_rtx(codec)
        counted.rtp.add(packet, retransmission=rtx)
        estimator = private("remote_bitrate_estimator")
        if estimator is not None and packet.extensions.abs_send_time is not None:
            if type(estimator.incoming_bitrate) is not FastRateCounter:
                estimator.incoming_bitrate = FastRateCounter(1000, 8000)  # same figures
            remb = estimator.add(
                abs_send_time=packet.extensions.abs_send_time,
                arrival_time_ms=arrival_time_ms,
                payload_size=len(packet.payload) + packet.padding_size,
                ssrc=packet.ssrc,
            )
            if remb is not None and private("rtcp_ssrc") is not None:
                fci = pack_remb_fci(*remb)
                await receiver._send_rtcp(  # noqa: SLF001
                    RtcpPsfbPacket(
                        fmt=RTCP_PSFB_APP, ssrc=private("rtcp_ssrc"), media_ssrc=0, fci=fci
                    )
                )
        if packet.ssrc not in streams:
            streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        streams[packet.ssrc].add(packet)
        if counted.video is None:
            counted.frames.frames += 1
            counted.frames.bytes += len(packet.payload)
            if counted.frames.first_frame_at is None:
                counted.frames.first_frame_at = time.monotonic()
            return
        if rtx:
            original_ssrc = rtx_ssrc.get(packet.ssrc)
            if original_ssrc is None or len(packet.payload) < 2:
                return
            packet = unwrap_rtx(packet, payload_type=codec.parameters["apt"], ssrc=original_ssrc)
        now = time.monotonic()
        if private("nack_generator") is not None:  # NACK was negotiated
            lost = nack.add(packet.sequence_number, now)
            if lost:
                await receiver._send_rtcp_nack(packet.ssrc, lost)  # noqa: SLF001
        if packet.payload and counted.video.add(packet, packet.payload, now):
            await receiver._send_rtcp_pli(packet.ssrc)  # noqa: SLF001

    receiver._handle_rtp_packet = handle  # noqa: SLF001
    return counted
