"""Synthetic media for SFU test clients, and a consumer that counts what comes back."""

from __future__ import annotations

import array
import asyncio
import math
import time
from dataclasses import dataclass, field

import av
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError


class PatternVideoTrack(VideoStreamTrack):
    """30 fps frames of `width`x`height` with a moving bar, so that frames differ."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._index = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        x = (self._index * 4) % self.width
        self._index += 1
        luma, chroma_u, chroma_v = frame.planes
        row = bytearray(b"\x20" * luma.line_size)
        row[x : x + 16] = b"\xe0" * len(row[x : x + 16])
        luma.update(bytes(row) * self.height)
        chroma_u.update(b"\x80" * chroma_u.buffer_size)
        chroma_v.update(b"\x80" * chroma_v.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def silence() -> MediaStreamTrack:
    return AudioStreamTrack()


class ToneAudioTrack(AudioStreamTrack):
    """A 400 Hz tone at about -10 dBov: someone speaking, as RFC 6464 audio levels see it."""

    async def recv(self) -> av.AudioFrame:
        frame = await super().recv()  # 20 ms of silence, with the right timing and pts
        if frame.format.name != "s16" or frame.layout.name != "mono":
            return frame  # not what aiortc gives today: stay silent rather than garble
        # 400 Hz divides 8, 16 and 48 kHz: every 20 ms frame holds whole periods and starts
        # at phase 0, so frames join without a click.
        rate, samples = frame.sample_rate, frame.samples
        wave = (int(10000 * math.sin(2 * math.pi * 400 * n / rate)) for n in range(samples))
        frame.planes[0].update(array.array("h", wave).tobytes())
        return frame


@dataclass
class TrackConsumer:
    """Reads a received track in the background, recording arrival times and video sizes."""

    track: MediaStreamTrack
    arrivals: list[float] = field(default_factory=list)
    sizes: set[tuple[int, int]] = field(default_factory=set)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.arrivals.append(time.monotonic())
                if isinstance(frame, av.VideoFrame):
                    self.sizes.add((frame.width, frame.height))
        except MediaStreamError:
            pass
        finally:
            self.ended.set()

    @property
    def count(self) -> int:
        return len(self.arrivals)

    def count_since(self, moment: float) -> int:
        return sum(1 for t in self.arrivals if t >= moment)

    async def wait_for_frames(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.count}/{count} frames after {timeout} s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
