"""Audio-only mode enforced at the SFU: an audio-only participant receives no video and sends
none, still hears everyone, and gets video back (from a keyframe) when switching back."""

import asyncio
import time
import urllib.request

import pytest

from sfu.client import SfuClient
from sfu.forwarding import SubscriberLoad, SubscriberTrack
from sfu.signalling import AudioOnly, SignallingError, parse_client_message
from tests.fixtures.sfu import metrics_of
from tests.sfu.helpers import close_all, join_client, wait_for_tracks
from tests.sfu.media import PatternVideoTrack, silence
from tests.sfu.test_queues import DELTA, KEY

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def scrape(worker) -> dict[str, float]:
    """The worker's /metrics as {'name{labels}': value}."""
    url = f"http://127.0.0.1:{worker.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return metrics_of(response.read().decode())


async def join_audio_only(worker, room: str, name: str) -> SfuClient:
    """A participant whose token carries the room's audio-only default."""
    client = SfuClient(
        worker.url,
        room,
        worker.token(room, participant_id=name.lower(), name=name, audio_only=True),
        audio=silence(),
        video=PatternVideoTrack(320, 240),
    )
    await client.join()
    return client


def test_audio_only_message_is_parsed():
    assert parse_client_message('{"type": "audio-only", "enabled": true}', 1000) == AudioOnly(True)
    with pytest.raises(SignallingError):
        parse_client_message('{"type": "audio-only", "enabled": "yes"}', 1000)


def test_audio_only_subscriber_gets_no_video_frame_and_a_keyframe_when_back():
    async def scenario():
        requests = []
        load = SubscriberLoad(video_off=True)
        video = SubscriberTrack("video", load, lambda: requests.append(1))
        audio = SubscriberTrack("audio", load, lambda: None)
        video.reading = audio.reading = True
        for _ in range(5):
            video.offer(KEY)
            audio.offer(DELTA)
        assert (video.forwarded_frames, audio.forwarded_frames) == (0, 5)

        load.video_off = False
        video.video_switched()
        assert requests == [1]  # a keyframe is asked for at once
        video.offer(DELTA)  # gated until the keyframe
        video.offer(KEY)
        assert video.forwarded_frames == 1
        assert await video.recv() is KEY

    asyncio.run(scenario())


def test_audio_only_participant_receives_no_video_but_hears_everyone(sfu_worker):
    async def scenario():
        alice = await join_client(sfu_worker, "salle-ao1", "Alice")
        bob = await join_audio_only(sfu_worker, "salle-ao1", "Bob")
        try:
            assert bob.me["audio_only"] is True and bob.me["camera"] is False
            update = (
                alice.participants.get("bob")
                or (await alice.next_event("participant-joined")).data["participant"]
            )
            assert update["audio_only"] is True

            at_bob = await wait_for_tracks(bob, "alice")
            at_alice = await wait_for_tracks(alice, "bob")
            await at_bob["audio"].wait_for_frames(50, timeout=10)
            await at_alice["audio"].wait_for_frames(50, timeout=10)
            await asyncio.sleep(1.0)
            assert at_bob["video"].count == 0, "an audio-only participant received video"
            assert at_alice["video"].count == 0, "an audio-only participant's camera was sent"

            metrics = scrape(sfu_worker)
            # Checked at the SFU as well: not one video frame was queued to any subscriber.
            assert metrics['sfu_forwarded_frames_total{kind="video"}'] == 0
            assert metrics['sfu_forwarded_frames_total{kind="audio"}'] > 50
            assert metrics['sfu_participants{mode="audio_only"}'] == 1

            # Back to video: Alice's video reaches Bob within 2 s (gated on a keyframe).
            switched = time.monotonic()
            await bob.set_audio_only(False)
            event = await alice.next_event("participant-updated")
            assert event.data["participant"]["audio_only"] is False
            await at_bob["video"].wait_for_frames(1, timeout=2)
            assert at_bob["video"].arrivals[0] - switched < 2
            await at_alice["video"].wait_for_frames(1, timeout=3)
            assert scrape(sfu_worker)['sfu_forwarded_frames_total{kind="video"}'] > 0
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())


def test_switching_audio_only_in_the_room(sfu_worker):
    async def scenario():
        alice = await join_client(sfu_worker, "salle-ao2", "Alice")
        bob = await join_client(sfu_worker, "salle-ao2", "Bob")
        carol = await join_client(sfu_worker, "salle-ao2", "Carol")
        try:
            at_bob = await wait_for_tracks(bob, "alice")
            at_carol = await wait_for_tracks(carol, "alice")
            await at_bob["video"].wait_for_frames(5, timeout=10)

            await bob.set_audio_only(True)
            event = await alice.next_event("participant-updated")
            assert event.data["participant"]["id"] == "bob"
            assert event.data["participant"]["audio_only"] is True
            await asyncio.sleep(0.5)  # frames already in flight
            quiet_since = time.monotonic()
            await asyncio.sleep(1.5)
            assert at_bob["video"].count_since(quiet_since) == 0
            assert at_bob["audio"].count_since(quiet_since) > 30
            # Others are not affected.
            assert at_carol["video"].count_since(quiet_since) > 10

            back = time.monotonic()
            await bob.set_audio_only(False)
            deadline = back + 2
            while at_bob["video"].count_since(back) == 0:
                assert time.monotonic() < deadline, "no video 2 s after leaving audio-only"
                await asyncio.sleep(0.05)
        finally:
            await close_all(alice, bob, carol)

    asyncio.run(scenario())
