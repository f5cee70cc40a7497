"""Fan-out of one published track's encoded frames to bounded per-subscriber queues.

One reader task per published track (on the event loop) pulls encoded frames (`ForwardedFrame`,
sfu/passthrough.py) from the publisher's receiver and pushes them to each subscriber's queue.
Video subscribers are gated until a keyframe: a new subscriber, or one whose queue overflowed
(flushed, re-gated, keyframe requested). Video is dropped before audio: a video frame is refused
as soon as the same subscriber's audio is backing up, while audio is only dropped when its own
queue is full. A paused publication (a participant muted by a moderator) is still read but
forwarded to no one. A subscriber in audio-only mode (`SubscriberLoad.video_off`, one flag per
subscriber checked for every video frame) receives no video; when it turns video back on, its
video tracks are gated again and a keyframe is requested from each publisher. The congestion
policy (sfu/quality/) uses the same gate with its own fields: `video_suspended` (no video: its
audio-only step) and `video_from` (video only from these participants: its last-N step). Silent
publishers' audio stops before this, at the receiver (sfu/audio_receive.py).

Counting on this path uses plain integer attributes (sfu/metrics.py), never prometheus_client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError

from sfu.metrics import COUNTERS
from sfu.passthrough import ForwardedFrame
from sfu.quality.levers import RembCap
from sfu.rtcp import KeyframeRequester

logger = logging.getLogger(__name__)

AUDIO_QUEUE_FRAMES = 50  # 1 s of 20 ms Opus frames
VIDEO_QUEUE_FRAMES = 30  # 1 s at 30 fps
# Queued audio frames from which the same subscriber's video is dropped (video before audio).
AUDIO_BACKLOG_DROPS_VIDEO = 15


class SubscriberLoad:
    """State of one subscriber shared by the tracks it receives: queue depths, what video it may
    receive, and the counters the congestion policy samples (plain integers: this is the
    per-frame path)."""

    def __init__(self, video_off: bool = False) -> None:
        self.audio_backlog = 0
        # Audio-only mode chosen by the participant: every video frame for them is dropped.
        self.video_off = video_off
        # Set by the congestion policy: no video at all, or only from these participants.
        self.video_suspended = False
        self.video_from: frozenset[str] | None = None
        self.video_bytes = 0
        self.audio_bytes = 0
        self.video_overflows = 0

    def receives_video_from(self, owner_id: str) -> bool:
        if self.video_off or self.video_suspended:
            return False
        return self.video_from is None or owner_id in self.video_from


class SubscriberTrack(MediaStreamTrack):
    """The track an outgoing RTCRtpSender reads: encoded frames of one publication."""

    # Its sender writes these frames as RTP itself (sfu/rtp_writer.py).
    encoded_frames = True

    def __init__(
        self,
        kind: str,
        load: SubscriberLoad,
        on_keyframe_needed: Callable[[], None],
        owner_id: str = "",
    ) -> None:
        super().__init__()
        self.kind = kind
        self.owner_id = owner_id  # the publisher
        self._load = load
        self._on_keyframe_needed = on_keyframe_needed
        limit = VIDEO_QUEUE_FRAMES if kind == "video" else AUDIO_QUEUE_FRAMES
        self._queue: asyncio.Queue[ForwardedFrame | None] = asyncio.Queue(maxsize=limit)
        # Nothing is queued before the sender starts reading (the connection may take a while).
        self.reading = False
        self.gated = kind == "video"
        self.dropped_frames = 0
        self.overflows = 0
        self.forwarded_frames = 0  # frames queued for this subscriber (per-subscriber check)

    async def recv(self) -> ForwardedFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if not self.reading:
            self.reading = True
            if self.gated and self._load.receives_video_from(self.owner_id):
                self._on_keyframe_needed()
        packet = await self._queue.get()
        if self.kind == "audio":
            self._load.audio_backlog = self._queue.qsize()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet

    def offer(self, packet: ForwardedFrame) -> None:
        """Queue `packet` or drop it; never blocks (called by the publication's reader)."""
        if not self.reading or self.readyState != "live":
            return
        if self.kind == "audio":
            if self._queue.full():
                self._queue.get_nowait()  # drop the oldest: late audio is useless
                self.dropped_frames += 1
                COUNTERS.dropped_frames += 1
            self._queue.put_nowait(packet)
            self.forwarded_frames += 1
            COUNTERS.forwarded_audio += 1
            self._load.audio_backlog = self._queue.qsize()
            self._load.audio_bytes += packet.size
            return
        if not self._load.receives_video_from(self.owner_id):
            return  # audio-only, or degraded by the policy: not a drop, nothing is owed
        if self.gated:
            if not packet.keyframe:
                self.dropped_frames += 1
                COUNTERS.dropped_frames += 1
                # Ask again while waiting: one lost PLI must not freeze this video for good
                # (the requester sends at most one per 0.25 s per publisher).
                self._on_keyframe_needed()
                return
            self.gated = False
        if self._queue.full() or self._load.audio_backlog >= AUDIO_BACKLOG_DROPS_VIDEO:
            self._overflow()
            return
        self._queue.put_nowait(packet)
        self.forwarded_frames += 1
        COUNTERS.forwarded_video += 1
        self._load.video_bytes += packet.size

    def _overflow(self) -> None:
        self.overflows += 1
        self._load.video_overflows += 1
        COUNTERS.queue_overflows += 1
        self._flush()
        self.gated = True
        self._on_keyframe_needed()

    def _flush(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
            self.dropped_frames += 1
            COUNTERS.dropped_frames += 1

    def video_switched(self) -> None:
        """Whether this subscriber receives this track's video may have changed (the fields of
        `SubscriberLoad` are already set).

        Off: what is queued is dropped. Back on: wait for the next keyframe, and ask for one
        now rather than at the publisher's next periodic keyframe.
        """
        if self.kind != "video":
            return
        self._flush()
        self.gated = True
        if self.reading and self._load.receives_video_from(self.owner_id):
            self._on_keyframe_needed()

    def end(self) -> None:
        """Make the reading sender stop after what is queued is dropped."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        if not self.reading:
            self.stop()


class Publication:
    """One track a participant sends to the SFU, and the subscribers it is forwarded to."""

    def __init__(
        self,
        owner_id: str,
        kind: str,
        track: MediaStreamTrack,
        receiver: RTCRtpReceiver,
        source: str | None = None,
    ) -> None:
        self.owner_id = owner_id
        self.kind = kind  # media kind: "audio" or "video"
        # What subscribers are told (`tracks[mid].kind`): "audio", "video" or "screen".
        self.source = source or kind
        # Checked for every frame: forward nothing while True (moderator mute).
        self.paused = False
        self._track = track
        self._receiver = receiver
        self.keyframes = KeyframeRequester(receiver) if kind == "video" else None
        # Step 1 of the congestion policy: a ceiling on the REMB this publisher is sent.
        self.remb_cap = RembCap(receiver) if kind == "video" else None
        self._subscribers: dict[str, SubscriberTrack] = {}
        self._task: asyncio.Task | None = None
        self.frames_received = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def request_keyframe(self) -> None:
        if self.keyframes is not None:
            self.keyframes.request()

    def set_paused(self, paused: bool) -> None:
        """Stop or resume forwarding; resumed video waits for (and asks for) a keyframe."""
        if paused == self.paused:
            return
        self.paused = paused
        if not paused and self.kind == "video":
            for subscriber in self._subscribers.values():
                subscriber.gated = True
            self.request_keyframe()

    def subscribe(self, subscriber_id: str, load: SubscriberLoad) -> SubscriberTrack:
        track = SubscriberTrack(self.kind, load, self.request_keyframe, self.owner_id)
        self._subscribers[subscriber_id] = track
        return track

    def unsubscribe(self, subscriber_id: str) -> None:
        track = self._subscribers.pop(subscriber_id, None)
        if track is not None:
            track.end()

    async def _run(self) -> None:
        while True:
            try:
                packet = await self._track.recv()
            except MediaStreamError:
                logger.info("%s track of %s ended", self.source, self.owner_id)
                return
            self.frames_received += 1
            if self.paused:
                continue
            if self.keyframes is not None and self.keyframes.media_ssrc is None:
                # The answer announced no SSRC: use the only source seen, if it is unambiguous.
                sources = self._receiver.getSynchronizationSources()
                if len(sources) == 1:
                    self.keyframes.media_ssrc = sources[0].source
            for subscriber in self._subscribers.values():
                subscriber.offer(packet)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for subscriber_id in list(self._subscribers):
            self.unsubscribe(subscriber_id)
        if self.keyframes is not None:
            self.keyframes.close()
