"""A real worker, real clients, and the recorder: the call ends up as a Meeting in the database."""

from __future__ import annotations

import asyncio
import time

import pytest

from sfu.client import SfuClient
from tests.meetings.helpers import meetings_of, room_in
from tests.sfu.helpers import close_all, wait_connected
from tests.sfu.media import PatternVideoTrack, silence

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def wait_for_stream(redis_client, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while redis_client.xlen("sfu:events") < count:
        assert time.monotonic() < deadline, f"fewer than {count} events in the stream"
        time.sleep(0.05)


async def join(worker, slug: str, participant_id: str) -> SfuClient:
    client = SfuClient(
        worker.url,
        slug,
        worker.token(slug, participant_id=participant_id, name=participant_id.title()),
        audio=silence(),
        video=PatternVideoTrack(160, 120),
    )
    await client.join()
    return client


def test_call_is_recorded_as_a_meeting(app, redis_client, sfu_worker):
    room = room_in(app)
    redis_client.set(f"sfu:room:{room.slug}", sfu_worker.worker_id)  # as placement does

    async def call():
        alice = await join(sfu_worker, room.slug, "alice")
        bob = await join(sfu_worker, room.slug, "bob")
        carol = await join(sfu_worker, room.slug, "carol")
        try:
            await wait_connected(alice, bob, carol)
            await alice.close()
            await asyncio.to_thread(wait_for_stream, redis_client, 4)
            # The worker stops with Bob and Carol still there: it reports their departure.
            await asyncio.to_thread(sfu_worker.stop)
        finally:
            await close_all(bob, carol)

    asyncio.run(call())
    wait_for_stream(redis_client, 6)

    result = app.test_cli_runner().invoke(args=["meetings", "record-events", "--once"])

    assert result.exit_code == 0, result.output
    assert "6 events recorded, 0 skipped, 0 meetings" in result.output
    [meeting] = meetings_of(app, room)
    assert meeting["peak"] == 3
    assert meeting["ended_at"] is not None
    assert set(meeting["attendances"]) == {"alice", "bob", "carol"}
    for joined_at, left_at in meeting["attendances"].values():
        assert meeting["started_at"] <= joined_at < left_at <= meeting["ended_at"]
    alice_left = meeting["attendances"]["alice"][1]
    assert alice_left < meeting["ended_at"]
    assert max(left for _, left in meeting["attendances"].values()) == meeting["ended_at"]
