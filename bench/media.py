"""Pre-encoded media for the load generator: a VP8 + Opus clip made once, replayed as av.Packets.

The clip is synthetic (FFmpeg's ``testsrc2`` pattern and a sine tone through PyAV's lavfi input),
encoded once and cached under ``bench/.cache/``. Replay tracks return the encoded packets from
``recv()``; aiortc's ``RTCRtpSender`` then only packetizes them (``pack()``), so a publisher costs
almost nothing and the load generator measures the SFU, not itself.

Keyframe requests (PLI/FIR from the SFU) are answered by jumping to the clip's next keyframe: the
next packet the track returns is that keyframe, with timestamps still advancing at the real-time
rate, so the receiver sees a clean cut (exactly what a camera encoder forced to a keyframe does).
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import struct
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

logger = logging.getLogger(__name__)

CACHE_DIR = Path(__file__).resolve().parent / ".cache"

VIDEO_CLOCK_RATE = 90_000
AUDIO_CLOCK_RATE = 48_000


@dataclass(frozen=True)
class ClipSpec:
    """What to encode. Changing any field makes a new cache file."""

    seconds: int = 10
    width: int = 640
    height: int = 480
    fps: int = 30
    video_bitrate: int = 1_000_000
    # A keyframe every 75 frames = 2.5 s; the clip length is a multiple so the loop starts on one.
    keyframe_interval: int = 75
    audio_bitrate: int = 32_000
    audio_frame_samples: int = 960  # 20 ms at 48 kHz

    def cache_name(self) -> str:
        digest = hashlib.sha256(repr(self).encode()).hexdigest()[:12]
        return f"clip-{digest}"


@dataclass(frozen=True)
class EncodedFrame:
    """One encoded frame of the clip: its index in the clip and whether it is a keyframe."""

    data: bytes
    keyframe: bool


@dataclass(frozen=True)
class Clip:
    """The encoded clip: one list of frames per kind, all at a constant frame rate."""

    video: list[EncodedFrame]
    audio: list[EncodedFrame]
    spec: ClipSpec

    @property
    def video_bitrate(self) -> float:
        """Measured average video bitrate, bit/s."""
        return sum(len(f.data) for f in self.video) * 8 / self.spec.seconds


_RECORD = struct.Struct("<BI")  # keyframe flag, length


def _write_frames(path: Path, frames: list[EncodedFrame]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for frame in frames:
            out.write(_RECORD.pack(int(frame.keyframe), len(frame.data)))
            out.write(frame.data)
    tmp.replace(path)


def _read_frames(path: Path) -> list[EncodedFrame]:
    data = path.read_bytes()
    frames, pos = [], 0
    while pos < len(data):
        keyframe, length = _RECORD.unpack_from(data, pos)
        pos += _RECORD.size
        frames.append(EncodedFrame(data[pos : pos + length], bool(keyframe)))
        pos += length
    return frames


def _encode_video(spec: ClipSpec) -> list[EncodedFrame]:
    source = av.open(
        f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}:duration={spec.seconds}",
        format="lavfi",
    )
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = spec.width, spec.height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, spec.fps)
    encoder.framerate = Fraction(spec.fps, 1)
    encoder.bit_rate = spec.video_bitrate
    encoder.gop_size = spec.keyframe_interval
    encoder.options = {
        # One packet per input frame (no alt-ref / lag), CBR like a real-time camera encoder.
        "lag-in-frames": "0",
        "auto-alt-ref": "0",
        "deadline": "good",
        "cpu-used": "2",
        "minrate": str(spec.video_bitrate),
        "maxrate": str(spec.video_bitrate),
        "keyint_min": str(spec.keyframe_interval),
    }
    frames: list[EncodedFrame] = []
    for index, frame in enumerate(source.decode(video=0)):
        frame = frame.reformat(format="yuv420p")
        frame.pts = index
        frame.time_base = encoder.time_base
        if index % spec.keyframe_interval == 0:
            frame.pict_type = av.video.frame.PictureType.I
        else:
            frame.pict_type = av.video.frame.PictureType.NONE
        for packet in encoder.encode(frame):
            frames.append(EncodedFrame(bytes(packet), packet.is_keyframe))
    for packet in encoder.encode(None):
        frames.append(EncodedFrame(bytes(packet), packet.is_keyframe))
    source.close()
    return frames


def _encode_audio(spec: ClipSpec) -> list[EncodedFrame]:
    source = av.open(
        f"sine=frequency=440:sample_rate={AUDIO_CLOCK_RATE}:duration={spec.seconds}",
        format="lavfi",
    )
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = AUDIO_CLOCK_RATE
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.bit_rate = spec.audio_bitrate
    encoder.time_base = Fraction(1, AUDIO_CLOCK_RATE)
    encoder.options = {"frame_duration": "20", "application": "voip"}
    resampler = av.AudioResampler(
        format="s16", layout="stereo", rate=AUDIO_CLOCK_RATE, frame_size=spec.audio_frame_samples
    )
    frames: list[EncodedFrame] = []
    pts = 0
    decoded = list(source.decode(audio=0))
    for frame in [*decoded, None]:
        for chunk in resampler.resample(frame):
            chunk.pts = pts
            pts += chunk.samples
            for packet in encoder.encode(chunk):
                frames.append(EncodedFrame(bytes(packet), True))
    for packet in encoder.encode(None):
        frames.append(EncodedFrame(bytes(packet), True))
    source.close()
    # Keep a whole number of 20 ms frames for the clip length so the loop does not drift.
    wanted = spec.seconds * AUDIO_CLOCK_RATE // spec.audio_frame_samples
    return frames[:wanted]


def load_clip(spec: ClipSpec | None = None, cache_dir: Path = CACHE_DIR) -> Clip:
    """Return the encoded clip, encoding it first if it is not cached yet (a few seconds)."""
    spec = spec or ClipSpec()
    cache_dir.mkdir(parents=True, exist_ok=True)
    video_path = cache_dir / f"{spec.cache_name()}.vp8"
    audio_path = cache_dir / f"{spec.cache_name()}.opus"
    if not (video_path.exists() and audio_path.exists()):
        started = time.monotonic()
        _write_frames(video_path, _encode_video(spec))
        _write_frames(audio_path, _encode_audio(spec))
        logger.info("encoded bench clip in %.1f s into %s", time.monotonic() - started, cache_dir)
    clip = Clip(_read_frames(video_path), _read_frames(audio_path), spec)
    if not clip.video or not clip.video[0].keyframe:
        raise RuntimeError(f"bench clip {video_path} does not start with a keyframe")
    return clip


class ReplayTrack(MediaStreamTrack):
    """Loops pre-encoded frames in real time; ``recv()`` returns ``av.Packet`` (RTP clock pts).

    ``request_keyframe()`` makes the next returned frame the clip's next keyframe.
    """

    def __init__(self, kind: str, frames: list[EncodedFrame], frame_ticks: int, clock_rate: int):
        super().__init__()
        self.kind = kind
        self._frames = frames
        self._keyframe_indexes = [i for i, f in enumerate(frames) if f.keyframe]
        self._frame_ticks = frame_ticks
        self._time_base = Fraction(1, clock_rate)
        self._frame_seconds = frame_ticks / clock_rate
        self._position = 0  # index in the clip of the next frame
        self._sent = 0  # frames returned so far: drives pts and pacing
        self._started_at: float | None = None
        self._keyframe_wanted = False
        self.keyframe_requests = 0

    def request_keyframe(self) -> None:
        """Answer a PLI/FIR: jump to the next keyframe of the loop."""
        self.keyframe_requests += 1
        self._keyframe_wanted = True

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._started_at is None:
            self._started_at = now
        due = self._started_at + self._sent * self._frame_seconds
        if due > now:
            await asyncio.sleep(due - now)
        if self._keyframe_wanted:
            self._keyframe_wanted = False
            self._position = self._next_keyframe_index(self._position)
        frame = self._frames[self._position]
        self._position = (self._position + 1) % len(self._frames)
        packet = av.Packet(frame.data)
        packet.pts = self._sent * self._frame_ticks
        packet.time_base = self._time_base
        self._sent += 1
        return packet

    def _next_keyframe_index(self, position: int) -> int:
        i = bisect.bisect_left(self._keyframe_indexes, position)
        return self._keyframe_indexes[i] if i < len(self._keyframe_indexes) else 0


def video_track(clip: Clip) -> ReplayTrack:
    """A 30 fps VP8 replay track (pts in the 90 kHz RTP clock)."""
    return ReplayTrack("video", clip.video, VIDEO_CLOCK_RATE // clip.spec.fps, VIDEO_CLOCK_RATE)


def audio_track(clip: Clip) -> ReplayTrack:
    """A 50 packets/s Opus replay track (pts in the 48 kHz RTP clock)."""
    return ReplayTrack("audio", clip.audio, clip.spec.audio_frame_samples, AUDIO_CLOCK_RATE)
