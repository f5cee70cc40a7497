"""Silent publishers' audio is not forwarded in crowded rooms (sfu/quality/audio_gate.py): the
gate itself, then a real worker with aiortc clients whose audio levels (RFC 6464) say who speaks."""

from __future__ import annotations

import asyncio
import time

import pytest

from sfu.client import SfuClient
from sfu.quality.audio_gate import AudioGate
from tests.sfu.helpers import close_all
from tests.sfu.media import ToneAudioTrack, TrackConsumer, silence
from tests.sfu.test_audio_only import scrape

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def test_gate_forwards_sound_and_holds_through_pauses():
    gate = AudioGate(hold=1.5)
    gate.enabled = True
    gate.observe("parle", 30, now=10.0)
    gate.observe("muet", 127, now=10.0)
    assert gate.open_for("parle", 11.0) and not gate.open_for("muet", 11.0)
    gate.observe("parle", 127, now=11.0)  # a pause between words
    assert gate.open_for("parle", 11.4) and not gate.open_for("parle", 11.6)
    gate.observe("muet", 40, now=12.0)  # unmutes and speaks: open at its first packet
    assert gate.open_for("muet", 12.0)


def test_gate_is_open_without_levels_or_when_disabled():
    gate = AudioGate()
    gate.enabled = True
    assert gate.open_for("client-sans-niveau", 5.0)  # we cannot tell: forward
    gate.observe("muet", 127, 5.0)
    assert not gate.open_for("muet", 5.0)
    gate.enabled = False
    assert gate.open_for("muet", 5.0)
    gate.enabled = True
    gate.forget("muet")
    assert gate.open_for("muet", 5.0)


async def audio_room(worker, room: str, people: int) -> list[SfuClient]:
    """`people` audio-only clients; the first one speaks (a tone), the others are silent."""
    clients = []
    for n in range(people):
        track = ToneAudioTrack() if n == 0 else silence()
        name = "orateur" if n == 0 else f"muet{n}"
        token = worker.token(room, participant_id=name, name=name)
        client = SfuClient(worker.url, room, token, audio=track)
        await client.join()
        clients.append(client)
    return clients


async def consume_audio(listener: SfuClient, publishers) -> dict[str, TrackConsumer]:
    """Read every publisher's audio at `listener` from now on (aiortc queues what is not read)."""
    consumers = {}
    for publisher in publishers:
        for _ in range(200):
            track = listener.tracks_of(publisher).get("audio")
            if track is not None:
                break
            await asyncio.sleep(0.05)
        assert track is not None, f"no audio track of {publisher}"
        consumers[publisher] = TrackConsumer(track.track)
    return consumers


async def frames_over(consumers: dict[str, TrackConsumer], seconds: float) -> dict[str, int]:
    started = time.monotonic()
    await asyncio.sleep(seconds)
    counts = {name: consumer.count_since(started) for name, consumer in consumers.items()}
    await asyncio.gather(*(consumer.stop() for consumer in consumers.values()))
    return counts


def test_crowded_room_forwards_the_speaker_not_the_silent(sfu_worker):
    async def scenario():
        clients = await audio_room(sfu_worker, "salle-six", 6)
        try:
            listener = clients[-1]
            others = [c.participant_id for c in clients[:-1]]
            consumers = await consume_audio(listener, others)
            await asyncio.sleep(2.5)  # the controller's tick enables the gate (room of six)
            counts = await frames_over(consumers, 2.0)
            assert counts["orateur"] >= 60, counts  # ~50 frames/s of a voice
            for silent in others[1:]:
                assert counts[silent] <= 5, counts
            metrics = await asyncio.to_thread(scrape, sfu_worker)
            assert metrics["sfu_silent_audio_frames_total"] > 0
        finally:
            await close_all(*clients)

    asyncio.run(scenario())


def test_room_of_five_forwards_everyone(sfu_worker):
    async def scenario():
        clients = await audio_room(sfu_worker, "salle-cinq", 5)
        try:
            listener = clients[-1]
            others = [c.participant_id for c in clients[:-1]]
            consumers = await consume_audio(listener, others)
            await asyncio.sleep(2.5)
            counts = await frames_over(consumers, 2.0)
            assert all(count >= 60 for count in counts.values()), counts
        finally:
            await close_all(*clients)

    asyncio.run(scenario())
