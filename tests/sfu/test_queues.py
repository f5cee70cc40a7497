"""Per-subscriber queues: keyframe gating, overflow, video dropped before audio."""

import asyncio

import av

from sfu.forwarding import (
    AUDIO_BACKLOG_DROPS_VIDEO,
    VIDEO_QUEUE_FRAMES,
    SubscriberLoad,
    SubscriberTrack,
)

KEY, DELTA = av.Packet(b"\x10\x00"), av.Packet(b"\x11\x00")


def reading_track(kind, load=None):
    requests = []
    track = SubscriberTrack(kind, load or SubscriberLoad(), lambda: requests.append(1))
    track.reading = True
    return track, requests


def test_video_is_gated_until_a_keyframe():
    async def scenario():
        track, _ = reading_track("video")
        track.offer(DELTA, keyframe=False)
        track.offer(KEY, keyframe=True)
        track.offer(DELTA, keyframe=False)
        assert [await track.recv(), await track.recv()] == [KEY, DELTA]

    asyncio.run(scenario())


def test_overflow_flushes_regates_and_requests_a_keyframe():
    async def scenario():
        track, requests = reading_track("video")
        track.offer(KEY, keyframe=True)
        for _ in range(VIDEO_QUEUE_FRAMES):
            track.offer(DELTA, keyframe=False)
        assert track.gated and track.overflows == 1 and requests == [1]
        assert track._queue.empty()
        track.offer(DELTA, keyframe=False)
        assert track._queue.empty()

    asyncio.run(scenario())


def test_video_is_dropped_before_audio():
    async def scenario():
        load = SubscriberLoad()
        audio, _ = reading_track("audio", load)
        video, requests = reading_track("video", load)
        for _ in range(AUDIO_BACKLOG_DROPS_VIDEO):
            audio.offer(KEY, keyframe=True)
        video.offer(KEY, keyframe=True)
        assert video._queue.empty() and video.gated and requests == [1]
        assert audio._queue.qsize() == AUDIO_BACKLOG_DROPS_VIDEO

    asyncio.run(scenario())


def test_nothing_is_queued_before_the_sender_reads():
    track = SubscriberTrack("audio", SubscriberLoad(), lambda: None)
    track.offer(KEY, keyframe=True)
    assert track._queue.empty()
