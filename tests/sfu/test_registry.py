"""The worker announces itself in Redis (docs/redis.md) and withdraws on a clean stop."""

import asyncio
import time

import pytest

from tests.sfu.helpers import close_all, join_client

pytestmark = [pytest.mark.timeout(60), pytest.mark.usefixtures("loopback_ice")]


def wait_until(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def test_worker_registers_heartbeats_and_unregisters(redis_client, sfu_worker):
    key = f"sfu:worker:{sfu_worker.worker_id}"
    info = wait_until(lambda: redis_client.hgetall(key))
    assert info["url"] == sfu_worker.url
    assert info["rooms"] == "0" and info["participants"] == "0"
    assert abs(int(info["started_at"]) - time.time()) < 60
    assert 0 < redis_client.ttl(key) <= 10
    score = redis_client.zscore("sfu:workers", sfu_worker.worker_id)
    assert score is not None and abs(score - time.time()) < 5

    # The portal pins the room to this worker; the worker keeps the pin alive while hosting it.
    redis_client.set("sfu:room:salle-d", sfu_worker.worker_id, ex=3)

    async def host_a_participant():
        alice = await join_client(sfu_worker, "salle-d", "Alice")
        try:
            await asyncio.sleep(4.5)  # two heartbeats, and past the pin's original 3 s
            return (
                redis_client.hgetall(key),
                redis_client.ttl(key),
                redis_client.ttl("sfu:room:salle-d"),
            )
        finally:
            await close_all(alice)

    info, worker_ttl, pin_ttl = asyncio.run(host_a_participant())
    assert info["rooms"] == "1" and info["participants"] == "1"
    assert worker_ttl > 6, "the worker's hash TTL is refreshed by the heartbeat"
    assert pin_ttl > 50, "the room pin's TTL is refreshed while the room is hosted"
    assert redis_client.zscore("sfu:workers", sfu_worker.worker_id) > score

    assert sfu_worker.stop() == 0
    assert not redis_client.exists(key)
    assert redis_client.zscore("sfu:workers", sfu_worker.worker_id) is None


def test_stopping_worker_closes_connections_and_unregisters(redis_client, sfu_worker):
    key = f"sfu:worker:{sfu_worker.worker_id}"
    wait_until(lambda: redis_client.exists(key))

    async def scenario():
        alice = await join_client(sfu_worker, "salle-e", "Alice")
        bob = await join_client(sfu_worker, "salle-e", "Bob")
        try:
            await asyncio.sleep(0.5)
            started = time.monotonic()
            code = await asyncio.get_running_loop().run_in_executor(None, sfu_worker.stop)
            assert code == 0
            assert time.monotonic() - started < 5
            for client in (alice, bob):
                await asyncio.wait_for(client.closed.wait(), 5)
                assert client.close_code == 1000
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())
    assert not redis_client.exists(key)
    assert redis_client.zscore("sfu:workers", sfu_worker.worker_id) is None


# --- Load history and rooms for the platform administrators' page (docs/pool.md) -------------


def make_registry(redis_url, worker_id: str = "essai-1", **kwargs):
    from sfu.registry import WorkerRegistry

    options = {
        "hosted_rooms": lambda: ["salle-a", "salle-b"],
        "participant_count": lambda: 3,
        "load": lambda: {"cpu": "0.250", "frames_per_second": "120", "draining": 0},
        "room_participants": lambda: {"salle-a": 2, "salle-b": 1},
        "history_interval": 0,
        **kwargs,
    }
    return WorkerRegistry(redis_url, worker_id, f"ws://127.0.0.1:1/{worker_id}", **options)


@pytest.fixture
def one_entry_stream_nodes(redis_client):
    """Approximate trimming (`MINID ~`) removes whole stream nodes only; with one entry per node
    it removes exactly the entries older than the bound, which a test can see."""
    before = redis_client.config_get("stream-node-max-entries")["stream-node-max-entries"]
    redis_client.config_set("stream-node-max-entries", 1)
    yield
    redis_client.config_set("stream-node-max-entries", before)


def test_heartbeat_appends_a_load_sample_per_beat(redis_url, redis_client):
    async def scenario():
        registry = make_registry(redis_url)
        try:
            await registry.heartbeat()
            await registry.heartbeat()
        finally:
            await registry.stop()

    started = time.time()
    asyncio.run(scenario())
    samples = redis_client.xrange("sfu:worker:essai-1:history")
    assert len(samples) == 2
    for entry_id, fields in samples:
        assert fields == {
            "cpu": "0.250",
            "participants": "3",
            "rooms": "2",
            "frames_per_second": "120",
        }
        assert started - 1 <= int(entry_id.split("-")[0]) / 1000 <= time.time() + 1
    assert 3590 < redis_client.ttl("sfu:worker:essai-1:history") <= 3600


def test_heartbeat_samples_history_every_history_interval(redis_url, redis_client):
    async def scenario():
        registry = make_registry(redis_url, history_interval=3600)
        try:
            for _ in range(3):
                await registry.heartbeat()
        finally:
            await registry.stop()

    asyncio.run(scenario())
    assert redis_client.xlen("sfu:worker:essai-1:history") == 1


def test_heartbeat_trims_history_to_the_last_hour(redis_url, redis_client, one_entry_stream_nodes):
    old = int((time.time() - 3700) * 1000)
    recent = int((time.time() - 3000) * 1000)
    redis_client.xadd("sfu:worker:essai-1:history", {"cpu": "0.9"}, id=f"{old}-0")
    redis_client.xadd("sfu:worker:essai-1:history", {"cpu": "0.8"}, id=f"{recent}-0")

    async def scenario():
        registry = make_registry(redis_url)
        try:
            await registry.heartbeat()
        finally:
            await registry.stop()

    asyncio.run(scenario())
    ids = [entry_id for entry_id, _ in redis_client.xrange("sfu:worker:essai-1:history")]
    assert f"{old}-0" not in ids, "a sample older than an hour is trimmed"
    assert ids[0] == f"{recent}-0" and len(ids) == 2


def test_heartbeat_replaces_the_rooms_hash(redis_url, redis_client):
    hosted = {"salle-a": 2, "salle-b": 1}

    async def scenario():
        registry = make_registry(
            redis_url, hosted_rooms=lambda: list(hosted), room_participants=lambda: dict(hosted)
        )
        try:
            await registry.heartbeat()
            first = redis_client.hgetall("sfu:worker:essai-1:rooms")
            ttl = redis_client.ttl("sfu:worker:essai-1:rooms")
            del hosted["salle-b"]
            hosted["salle-a"] = 5
            await registry.heartbeat()
            second = redis_client.hgetall("sfu:worker:essai-1:rooms")
            hosted.clear()
            await registry.heartbeat()
            emptied = redis_client.exists("sfu:worker:essai-1:rooms")
            return first, ttl, second, emptied
        finally:
            await registry.stop()

    first, ttl, second, emptied = asyncio.run(scenario())
    assert first == {"salle-a": "2", "salle-b": "1"}
    assert 0 < ttl <= 10, "the rooms hash lives as long as the worker hash"
    assert second == {"salle-a": "5"}, "a closed room leaves the hash at the next beat"
    assert not emptied


def test_heartbeat_without_room_counts_lists_rooms_with_zero(redis_url, redis_client):
    async def scenario():
        registry = make_registry(redis_url, room_participants=None)
        try:
            await registry.heartbeat()
            return redis_client.hgetall("sfu:worker:essai-1:rooms")
        finally:
            await registry.stop()

    assert asyncio.run(scenario()) == {"salle-a": "0", "salle-b": "0"}


def test_stop_removes_the_rooms_hash_and_keeps_the_history(redis_url, redis_client):
    async def scenario():
        registry = make_registry(redis_url)
        await registry.heartbeat()
        assert redis_client.exists("sfu:worker:essai-1:rooms")
        await registry.stop()

    asyncio.run(scenario())
    assert not redis_client.exists("sfu:worker:essai-1", "sfu:worker:essai-1:rooms")
    assert redis_client.xlen("sfu:worker:essai-1:history") == 1
    assert redis_client.ttl("sfu:worker:essai-1:history") > 3500


def test_real_worker_publishes_its_rooms_with_participants(redis_client, sfu_worker):
    rooms_key = f"sfu:worker:{sfu_worker.worker_id}:rooms"
    wait_until(lambda: redis_client.exists(f"sfu:worker:{sfu_worker.worker_id}"))

    async def scenario():
        alice = await join_client(sfu_worker, "salle-f", "Alice")
        bob = await join_client(sfu_worker, "salle-f", "Bob")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, wait_until, lambda: redis_client.hgetall(rooms_key) == {"salle-f": "2"}
            )
        finally:
            await close_all(alice, bob)

    assert asyncio.run(scenario())
    history = redis_client.xrange(f"sfu:worker:{sfu_worker.worker_id}:history")
    assert history and set(history[0][1]) == {"cpu", "participants", "rooms", "frames_per_second"}
    assert sfu_worker.stop() == 0
    assert not redis_client.exists(rooms_key)
    assert redis_client.exists(f"sfu:worker:{sfu_worker.worker_id}:history")
