"""GET /metrics on an SFU worker: the named metrics, counted from real traffic."""

import asyncio

import pytest

from sfu.client import SfuClient, SfuError
from tests.sfu.helpers import close_all, join_client, wait_for_tracks
from tests.sfu.test_audio_only import scrape

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def test_worker_metrics(sfu_worker):
    async def scenario():
        refused = SfuClient(sfu_worker.url, "salle-met", "not-a-token")
        with pytest.raises(SfuError):
            await refused.join()
        await refused.close()
        alice = await join_client(sfu_worker, "salle-met", "Alice")
        bob = await join_client(sfu_worker, "salle-met", "Bob")
        try:
            at_bob = await wait_for_tracks(bob, "alice")
            await at_bob["video"].wait_for_frames(10, timeout=10)
            await at_bob["audio"].wait_for_frames(10, timeout=10)
            metrics = await asyncio.to_thread(scrape, sfu_worker)
        finally:
            await close_all(alice, bob)
        assert metrics["sfu_rooms"] == 1
        assert metrics['sfu_participants{mode="audio_video"}'] == 2
        assert metrics['sfu_participants{mode="audio_only"}'] == 0
        assert metrics['sfu_forwarded_frames_total{kind="video"}'] >= 10
        assert metrics['sfu_forwarded_frames_total{kind="audio"}'] >= 10
        assert metrics['sfu_join_refusals_total{reason="invalid_token"}'] == 1
        assert metrics["sfu_keyframe_requests_total"] >= 1
        for name in ("sfu_dropped_frames_total", "sfu_queue_overflows_total"):
            assert name in metrics
        assert metrics["sfu_events_dropped_total"] == 0
        assert metrics["process_cpu_seconds_total"] > 0

    asyncio.run(scenario())
