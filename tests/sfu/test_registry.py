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
