"""Per-subscriber queues: keyframe gating, overflow, video dropped before audio."""

import asyncio

from sfu.forwarding import (
    AUDIO_BACKLOG_DROPS_VIDEO,
    VIDEO_QUEUE_FRAMES,
    SubscriberLoad,
    SubscriberTrack,
)
from sfu.passthrough import ForwardedFrame

KEY, DELTA = ForwardedFrame(b"\x10\x00", 0, "video"), ForwardedFrame(b"\x11\x00", 3000, "video")


def reading_track(kind, load=None):
    requests = []
    track = SubscriberTrack(kind, load or SubscriberLoad(), lambda: requests.append(1))
    track.reading = True
    return track, requests


def test_video_is_gated_until_a_keyframe():
    async def scenario():
        track, _ = reading_track("video")
        track.offer(DELTA)
        track.offer(KEY)
        track.offer(DELTA)
        assert [await track.recv(), await track.recv()] == [KEY, DELTA]

    asyncio.run(scenario())


def test_overflow_flushes_regates_and_requests_a_keyframe():
    async def scenario():
        track, requests = reading_track("video")
        track.offer(KEY)
        for _ in range(VIDEO_QUEUE_FRAMES):
            track.offer(DELTA)
        assert track.gated and track.overflows == 1 and requests == [1]
        assert track._queue.empty()
        track.offer(DELTA)
        assert track._queue.empty()

    asyncio.run(scenario())


def test_video_is_dropped_before_audio():
    async def scenario():
        load = SubscriberLoad()
        audio, _ = reading_track("audio", load)
        video, requests = reading_track("video", load)
        for _ in range(AUDIO_BACKLOG_DROPS_VIDEO):
            audio.offer(KEY)
        video.offer(KEY)
        assert video._queue.empty() and video.gated and requests == [1]
        assert audio._queue.qsize() == AUDIO_BACKLOG_DROPS_VIDEO

    asyncio.run(scenario())


def test_nothing_is_queued_before_the_sender_reads():
    track = SubscriberTrack("audio", SubscriberLoad(), lambda: None)
    track.offer(KEY)
    assert track._queue.empty()


def video_track_of(owner_id, load, requests):
    track = SubscriberTrack("video", load, lambda: requests.append(owner_id), owner_id)
    track.reading = True
    return track


def test_last_n_forwards_video_only_from_the_chosen_publishers():
    async def scenario():
        load, requests = SubscriberLoad(), []
        alice, bruno = video_track_of("alice", load, requests), video_track_of("bruno", load, [])
        load.video_from = frozenset({"alice"})
        for track in (alice, bruno):
            track.offer(KEY)
        assert alice._queue.qsize() == 1 and bruno._queue.empty()
        # Not a drop: nothing is owed to this subscriber, and no keyframe is asked for.
        assert bruno.dropped_frames == 0 and bruno.overflows == 0
        assert load.video_bytes == KEY.size

    asyncio.run(scenario())


def test_suspended_video_keeps_audio_flowing():
    async def scenario():
        load = SubscriberLoad()
        audio, _ = reading_track("audio", load)
        video = video_track_of("alice", load, [])
        load.video_suspended = True
        audio.offer(KEY)
        video.offer(KEY)
        assert audio._queue.qsize() == 1 and video._queue.empty()
        assert load.audio_bytes == KEY.size and load.video_bytes == 0

    asyncio.run(scenario())


def test_overflows_are_counted_for_the_subscriber():
    async def scenario():
        load = SubscriberLoad()
        video = video_track_of("alice", load, [])
        video.offer(KEY)
        for _ in range(VIDEO_QUEUE_FRAMES):
            video.offer(DELTA)
        assert load.video_overflows == 1

    asyncio.run(scenario())


def test_a_gated_track_keeps_asking_for_a_keyframe():
    """One lost PLI must not freeze the video: every frame dropped while waiting asks again
    (the publisher's KeyframeRequester coalesces them, sfu/rtcp.py)."""

    async def scenario():
        track, requests = reading_track("video")
        for _ in range(3):
            track.offer(DELTA)
        assert len(requests) == 3 and track._queue.empty()
        track.offer(KEY)
        track.offer(DELTA)
        assert len(requests) == 3 and track._queue.qsize() == 2

    asyncio.run(scenario())
