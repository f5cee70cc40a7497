"""Room placement on SFU workers through the real private Redis (docs/redis.md)."""

import random
import threading
import time

import pytest
import redis

from portal.media.placement import NoWorkerAvailable, Placement


def register_worker(
    client, worker_id, *, participants=0, rooms=0, prefix="", ttl=10, cpu=0.0, draining=False
):
    key = f"{prefix}sfu:worker:{worker_id}"
    client.hset(
        key,
        mapping={
            "url": f"ws://127.0.0.1:81{worker_id[-1]}/ws",
            "rooms": rooms,
            "participants": participants,
            "started_at": int(time.time()),
            "cpu": f"{cpu:.3f}",
            "draining": int(draining),
        },
    )
    client.expire(key, ttl)
    client.zadd(f"{prefix}sfu:workers", {worker_id: time.time()})


def kill_worker(client, worker_id, prefix=""):
    """What a crashed worker leaves: its registry entry, its hash expired."""
    client.delete(f"{prefix}sfu:worker:{worker_id}")


def test_placement_pins_room_to_least_loaded_worker(redis_client):
    register_worker(redis_client, "w1", participants=12)
    register_worker(redis_client, "w2", participants=3)
    worker = Placement(redis_client).place("abcd-efgh-jkmn")
    assert worker.worker_id == "w2"
    assert worker.url == "ws://127.0.0.1:812/ws"
    assert redis_client.get("sfu:room:abcd-efgh-jkmn") == "w2"
    assert 0 < redis_client.ttl("sfu:room:abcd-efgh-jkmn") <= 60


def test_placement_reuses_pin_even_if_worker_is_busier(redis_client):
    register_worker(redis_client, "w1", participants=50)
    register_worker(redis_client, "w2", participants=0)
    redis_client.set("sfu:room:salle", "w1", ex=60)
    assert Placement(redis_client).place("salle").worker_id == "w1"
    assert redis_client.get("sfu:room:salle") == "w1"


def test_placement_replaces_stale_pin_and_prunes_dead_worker(redis_client):
    register_worker(redis_client, "w1")
    register_worker(redis_client, "w2", participants=5)
    redis_client.set("sfu:room:salle", "w1", ex=60)
    kill_worker(redis_client, "w1")
    worker = Placement(redis_client).place("salle")
    assert worker.worker_id == "w2"
    assert redis_client.get("sfu:room:salle") == "w2"
    assert redis_client.zrange("sfu:workers", 0, -1) == ["w2"]


def test_placement_without_live_worker_fails(redis_client):
    with pytest.raises(NoWorkerAvailable):
        Placement(redis_client).place("salle")
    register_worker(redis_client, "w1")
    kill_worker(redis_client, "w1")
    with pytest.raises(NoWorkerAvailable):
        Placement(redis_client).place("salle")
    assert redis_client.get("sfu:room:salle") is None


def test_placement_honours_key_prefix(redis_client):
    register_worker(redis_client, "w1", prefix="plateforme-a:")
    register_worker(redis_client, "w2")
    worker = Placement(redis_client, key_prefix="plateforme-a:").place("salle")
    assert worker.worker_id == "w1"
    assert redis_client.get("plateforme-a:sfu:room:salle") == "w1"
    assert redis_client.get("sfu:room:salle") is None


def test_placement_works_without_decoded_responses(redis_url, redis_client):
    register_worker(redis_client, "w1")
    raw = redis.Redis.from_url(redis_url)
    try:
        assert Placement(raw).place("salle").worker_id == "w1"
    finally:
        raw.close()


class CapriciousPlacement(Placement):
    """Picks any live worker, so racing portals really do disagree before pinning."""

    def choose(self, candidates):
        return random.choice(candidates)  # noqa: S311


def race(redis_url, room, count):
    """`count` portals (own clients, own threads) place `room` at the same moment."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def place(index):
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            placement = CapriciousPlacement(client)
            barrier.wait()
            results[index] = placement.place(room).worker_id
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=place, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    return results


def test_concurrent_placements_agree_on_one_worker(redis_url, redis_client):
    # Each portal alone would pick any worker, but the room must not be split.
    for name in ("w1", "w2", "w3"):
        register_worker(redis_client, name)
    for attempt in range(20):
        room = f"salle-{attempt}"
        results = race(redis_url, room, 8)
        assert len(set(results)) == 1, results
        assert redis_client.get(f"sfu:room:{room}") == results[0]


def test_concurrent_replacements_of_stale_pin_agree(redis_url, redis_client):
    for name in ("w1", "w2", "w3"):
        register_worker(redis_client, name)
    for attempt in range(20):
        room = f"salle-{attempt}"
        redis_client.set(f"sfu:room:{room}", "w9", ex=60)  # a worker that is gone
        results = race(redis_url, room, 8)
        assert len(set(results)) == 1, results
        assert results[0] != "w9"


def test_placement_prefers_lowest_cpu_then_fewest_participants(redis_client):
    register_worker(redis_client, "w1", participants=2, cpu=0.62)
    register_worker(redis_client, "w2", participants=20, cpu=0.31)
    register_worker(redis_client, "w3", participants=9, cpu=0.33)  # same CPU step as w2
    assert Placement(redis_client).place("salle-a").worker_id == "w3"
    redis_client.hset("sfu:worker:w3", "cpu", "0.9")
    assert Placement(redis_client).place("salle-b").worker_id == "w2"


def test_placement_never_puts_a_new_room_on_a_draining_worker(redis_client):
    register_worker(redis_client, "w1", participants=0, cpu=0.0, draining=True)
    register_worker(redis_client, "w2", participants=40, cpu=0.8)
    assert Placement(redis_client).place("salle-neuve").worker_id == "w2"
    redis_client.hset("sfu:worker:w2", "draining", "1")
    with pytest.raises(NoWorkerAvailable):
        Placement(redis_client).place("salle-autre")
    assert redis_client.get("sfu:room:salle-autre") is None


def test_room_stays_on_its_worker_while_that_worker_drains(redis_client):
    register_worker(redis_client, "w1")
    register_worker(redis_client, "w2", participants=10)
    assert Placement(redis_client).place("salle").worker_id == "w1"
    redis_client.hset("sfu:worker:w1", "draining", "1")
    assert Placement(redis_client).place("salle").worker_id == "w1"


def test_concurrent_placements_skip_draining_workers_and_agree(redis_url, redis_client):
    register_worker(redis_client, "w1", draining=True)
    for name in ("w2", "w3"):
        register_worker(redis_client, name)
    for attempt in range(10):
        room = f"salle-{attempt}"
        results = race(redis_url, room, 8)
        assert len(set(results)) == 1 and results[0] != "w1", results
