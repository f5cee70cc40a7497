"""The worker appends participant joins and departures to the `sfu:events` stream (redis.md)."""

import asyncio
import time

import pytest

from sfu.events import EventPublisher
from tests.sfu.helpers import close_all, join_client, wait_connected

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("loopback_ice")]


def stream_events(redis_client, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
    """The stream's entries once there are at least `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        entries = [fields for _, fields in redis_client.xrange("sfu:events")]
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def summary(events: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    return [(e["type"], e["room"], e["participant"], e["count"]) for e in events]


def test_joins_and_departures_are_published(redis_client, sfu_worker):
    async def call():
        alice = await join_client(sfu_worker, "salle-e", "Alice")
        bob = await join_client(sfu_worker, "salle-e", "Bob")
        await alice.close()
        await asyncio.sleep(0.3)  # Alice's departure first, then Bob's
        await bob.close()

    before = time.time()
    asyncio.run(call())
    events = stream_events(redis_client, 4)

    assert summary(events) == [
        ("participant-joined", "salle-e", "alice", "1"),
        ("participant-joined", "salle-e", "bob", "2"),
        ("participant-left", "salle-e", "alice", "1"),
        ("participant-left", "salle-e", "bob", "0"),
    ]
    for event in events:
        assert event["v"] == "1"
        assert event["worker"] == sfu_worker.worker_id
        assert before - 1 < float(event["at"]) < time.time() + 1
    assert [e.get("reason") for e in events[2:]] == ["left", "left"]
    assert float(events[0]["at"]) <= float(events[1]["at"]) <= float(events[3]["at"])


def test_clean_stop_publishes_departures_of_everyone_still_there(redis_client, sfu_worker):
    async def call_interrupted():
        alice = await join_client(sfu_worker, "salle-f", "Alice")
        bob = await join_client(sfu_worker, "salle-g", "Bob")
        carol = await join_client(sfu_worker, "salle-g", "Carol")
        try:
            assert len(stream_events(redis_client, 3)) == 3
            await wait_connected(alice, bob, carol)
            await asyncio.to_thread(sfu_worker.stop)
        finally:
            await close_all(alice, bob, carol)

    asyncio.run(call_interrupted())
    assert sfu_worker.process.returncode == 0
    events = stream_events(redis_client, 6)

    departures = [e for e in events if e["type"] == "participant-left"]
    assert sorted((e["room"], e["participant"]) for e in departures) == [
        ("salle-f", "alice"),
        ("salle-g", "bob"),
        ("salle-g", "carol"),
    ]
    assert {e["room"]: e["count"] for e in departures if e["count"] == "0"} == {
        "salle-f": "0",
        "salle-g": "0",
    }
    assert sorted(e["count"] for e in departures if e["room"] == "salle-g") == ["0", "1"]
    assert {e["reason"] for e in departures} <= {"left", "worker-stopped"}
    assert "6 published, 0 dropped" in sfu_worker.log()


def test_publisher_drops_and_counts_when_redis_is_unreachable():
    async def publish_to_nowhere():
        publisher = EventPublisher("redis://127.0.0.1:1/0", "sfu-test", queue_size=2)
        publisher.start()
        for number in range(5):  # never waits, whatever Redis does
            publisher.joined("salle-h", f"p{number}", number + 1)
        await publisher.stop(timeout=10)
        return publisher

    publisher = asyncio.run(publish_to_nowhere())
    assert publisher.published == 0
    assert publisher.dropped == 5


def test_stream_key_honours_the_prefix(redis_client, redis_url):
    async def publish_one():
        publisher = EventPublisher(redis_url, "sfu-test", key_prefix="plateforme-b:")
        publisher.start()
        publisher.joined("salle-i", "p1", 1)
        publisher.left("salle-i", "p1", 0)
        await publisher.stop()
        return publisher

    publisher = asyncio.run(publish_one())
    assert publisher.published == 2 and publisher.dropped == 0
    assert redis_client.xlen("plateforme-b:sfu:events") == 2
    assert not redis_client.exists("sfu:events")
