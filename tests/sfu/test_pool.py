"""The SFU worker pool (docs/pool.md): load in the heartbeat, draining, and the supervisor that
starts, restarts and scales real `python -m sfu` workers against the private Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid

import pytest

from portal.media.placement import NoWorkerAvailable, Placement
from sfu.autoscale import SCALE_DOWN, SCALE_UP, Autoscaler
from sfu.pool import PoolConfig, PoolSupervisor, read_pool_load
from sfu.workerload import CpuMeter, RateMeter
from tests.fixtures.net import free_ports, wait_for_port
from tests.fixtures.sfu import SFU_TEST_ISSUER
from tests.sfu.helpers import close_all, join_client, wait_connected
from tests.sfu.test_meetings import refused

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def wait_until(predicate, timeout: float = 10.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


# -- load publishing -------------------------------------------------------------------------


def test_cpu_meter_is_cpu_time_over_wall_time():
    meter = CpuMeter(now=100.0, cpu_seconds=10.0)
    assert meter.sample(102.0, 11.0) == pytest.approx(0.5)
    assert meter.sample(102.0, 12.0) == pytest.approx(0.5)  # no time elapsed: last value kept
    assert meter.sample(104.0, 12.0) == pytest.approx(0.5)  # (12 - 11) / (104 - 102)
    assert meter.sample(106.0, 12.0) == 0.0


def test_rate_meter():
    meter = RateMeter(now=0.0, total=100)
    assert meter.sample(2.0, 400) == pytest.approx(150)
    assert meter.sample(2.0, 500) == pytest.approx(150)  # no time elapsed: last value kept
    assert meter.sample(4.0, 500) == pytest.approx(50)


def test_worker_publishes_its_load(redis_client, sfu_worker):
    key = f"sfu:worker:{sfu_worker.worker_id}"
    info = wait_until(lambda: redis_client.hgetall(key))
    assert int(info["pid"]) == sfu_worker.process.pid
    assert info["host"] == os.uname().nodename
    assert info["draining"] == "0"
    # Idle: nothing forwarded yet.
    assert float(info["cpu"]) >= 0
    assert int(info["frames_per_second"]) == 0

    async def two_participants():
        alice = await join_client(sfu_worker, "salle-charge", "Alice")
        bob = await join_client(sfu_worker, "salle-charge", "Bob")
        try:
            await wait_connected(alice, bob)
            await asyncio.sleep(4.5)  # two heartbeats with media flowing
            return redis_client.hgetall(key)
        finally:
            await close_all(alice, bob)

    info = asyncio.run(two_participants())
    assert info["participants"] == "2" and info["rooms"] == "1"
    assert float(info["cpu"]) > 0
    # Each publishes audio and video to the other: some frames were forwarded.
    assert int(info["frames_per_second"]) > 0


# -- draining --------------------------------------------------------------------------------


def test_draining_worker_keeps_its_room_refuses_new_ones_and_exits_when_empty(
    redis_client, sfu_worker
):
    key = f"sfu:worker:{sfu_worker.worker_id}"
    wait_until(lambda: redis_client.exists(key))
    placement = Placement(redis_client)
    assert placement.place("salle-vit").worker_id == sfu_worker.worker_id

    async def scenario():
        alice = await join_client(sfu_worker, "salle-vit", "Alice")
        try:
            await wait_connected(alice)
            redis_client.set(f"sfu:worker:{sfu_worker.worker_id}:drain", "1")
            await asyncio.to_thread(
                wait_until, lambda: redis_client.hget(key, "draining") == "1", 5
            )
            # The portal keeps the living room where it is, and places no new room here.
            assert placement.place("salle-vit").worker_id == sfu_worker.worker_id
            with pytest.raises(NoWorkerAvailable):
                placement.place("salle-neuve")
            # A token issued just before the drain, for a room the worker does not host yet.
            redis_client.set("sfu:room:salle-neuve", sfu_worker.worker_id, ex=60)
            error = await refused(sfu_worker, "salle-neuve", "Bob")
            assert (error.code, error.close_code) == ("worker_draining", 4503)
            # Its pin is released, so the next join is placed on another worker.
            await asyncio.to_thread(
                wait_until, lambda: not redis_client.exists("sfu:room:salle-neuve"), 5
            )
            # Someone may still join the living room.
            carol = await join_client(sfu_worker, "salle-vit", "Carol")
            await close_all(carol)
            assert sfu_worker.process.poll() is None, "the worker left while hosting a room"
        finally:
            await close_all(alice)

    asyncio.run(scenario())
    # Empty now: the worker stops by itself, cleanly, and withdraws from Redis.
    assert sfu_worker.process.wait(timeout=10) == 0
    assert not redis_client.exists(key)
    assert not redis_client.exists(f"sfu:worker:{sfu_worker.worker_id}:drain")
    assert "draining" in sfu_worker.log()


def test_drain_time_limit_closes_participants_with_reconnect_code(
    redis_client, start_sfu_worker, monkeypatch
):
    monkeypatch.setenv("SFU_MAX_DRAIN_SECONDS", "1")
    worker = start_sfu_worker()
    wait_until(lambda: redis_client.exists(f"sfu:worker:{worker.worker_id}"))

    async def scenario():
        alice = await join_client(worker, "salle-longue", "Alice")
        try:
            await wait_connected(alice)
            started = time.monotonic()
            redis_client.set(f"sfu:worker:{worker.worker_id}:drain", "1")
            await asyncio.wait_for(alice.closed.wait(), 10)
            assert alice.close_code == 4503
            assert alice.lost, "a client must take 4503 as 'reconnect through the portal'"
            return time.monotonic() - started
        finally:
            await close_all(alice)

    elapsed = asyncio.run(scenario())
    assert elapsed < 6  # one heartbeat to notice the command, then the 1 s limit
    assert worker.process.wait(timeout=10) == 0


# -- the supervisor --------------------------------------------------------------------------


@pytest.fixture
def make_pool(redis_url, join_keys, tmp_path):
    """Factory: a PoolSupervisor (not yet running) for a fresh host id on free ports."""
    pools: list[PoolSupervisor] = []

    def make(min_workers=1, max_workers=2, **autoscale) -> PoolSupervisor:
        base_port = free_ports(max_workers, consecutive=True)[0]
        config = PoolConfig(
            host_id="h" + uuid.uuid4().hex[:6],
            min_workers=min_workers,
            max_workers=max_workers,
            base_port=base_port,
            log_dir=tmp_path,
            redis_url=redis_url,
        )
        environ = dict(
            os.environ,
            SFU_HOST="127.0.0.1",
            SFU_ICE_ADDRESSES="127.0.0.1",
            SFU_JOIN_TOKEN_PUBLIC_KEY_FILE=str(join_keys.public_path),
            SFU_JOIN_TOKEN_ISSUER=SFU_TEST_ISSUER,
            REDIS_URL=redis_url,
        )
        autoscaler = None
        if autoscale:
            settings = dict(min_workers=min_workers, max_workers=max_workers)
            autoscaler = Autoscaler(**settings, **autoscale)
        pools.append(PoolSupervisor(config, environ, autoscaler))
        return pools[-1]

    yield make
    for pool in pools:
        pool.stop_workers()
        for slot in pool.slots.values():
            log = (tmp_path / f"sfu-{slot.n}.log").read_text(errors="replace")
            assert "Traceback" not in log, log


def drive(pool: PoolSupervisor, predicate, timeout: float = 20.0):
    """Run the supervisor's loop (in this thread) until `predicate()` holds."""

    def step():
        pool.tick(time.monotonic())
        return predicate()

    return wait_until(step, timeout, step=0.2)


def registered(redis_client, worker_id):
    return redis_client.hgetall(f"sfu:worker:{worker_id}")


def test_supervisor_starts_min_workers_and_restarts_a_killed_one(redis_client, make_pool):
    pool = make_pool(min_workers=2, max_workers=2)
    pool.tick(time.monotonic())
    ids = [f"{pool.config.host_id}-1", f"{pool.config.host_id}-2"]
    assert [slot.worker_id for slot in pool.slots.values()] == ids
    for slot in pool.slots.values():
        wait_for_port(slot.port, process=slot.process)
    first = drive(pool, lambda: registered(redis_client, ids[0]))
    assert first["url"] == f"ws://127.0.0.1:{pool.config.base_port}/ws"
    assert int(first["pid"]) == pool.slots[1].process.pid

    os.kill(int(first["pid"]), signal.SIGKILL)  # what a crash looks like
    drive(
        pool,
        lambda: (info := registered(redis_client, ids[0])) and info["pid"] != first["pid"],
    )
    assert pool.slots[1].restarts == 1 and pool.slots[1].history == [-signal.SIGKILL]
    assert len(pool.slots) == 2


def test_supervisor_scales_up_under_load_and_down_by_draining(redis_client, make_pool):
    pool = make_pool(
        min_workers=1, max_workers=2, high_water=0.7, low_water=0.3, up_after=0, down_after=0
    )
    host = pool.config.host_id
    drive(pool, lambda: registered(redis_client, f"{host}-1"))
    assert len(pool.slots) == 1

    # Another host's workers, all busy: the pool's average CPU is above the high-water mark.
    for n in (1, 2, 3):
        other = f"autre-hote-{n}"
        redis_client.hset(
            f"sfu:worker:{other}", mapping={"url": "ws://x/ws", "cpu": "0.98", "draining": "0"}
        )
        redis_client.expire(f"sfu:worker:{other}", 60)
        redis_client.zadd("sfu:workers", {other: time.time()})
    drive(pool, lambda: len(pool.slots) == 2)
    assert pool.last_decision.action == SCALE_UP
    second = pool.slots[2]
    assert second.worker_id == f"{host}-2" and second.port == pool.config.base_port + 1
    wait_for_port(second.port, process=second.process)
    drive(pool, lambda: registered(redis_client, f"{host}-2"))

    # The other host goes quiet: one of this host's workers is drained and exits, not restarted.
    for n in (1, 2, 3):
        redis_client.hset(f"sfu:worker:autre-hote-{n}", "cpu", "0.01")
    drive(pool, lambda: pool.last_decision.action == SCALE_DOWN)
    drained = pool.last_decision.worker_id
    assert drained.startswith(host)
    drive(pool, lambda: len(pool.slots) == 1, timeout=30)
    assert not registered(redis_client, drained)
    # Never below the minimum.
    for _ in range(10):
        pool.tick(time.monotonic())
    assert len(pool.slots) == 1 and pool.slots[next(iter(pool.slots))].process.poll() is None


def busy_workers_of_another_host(redis_client, count: int, cpu: str = "1.0") -> None:
    for n in range(1, count + 1):
        other = f"autre-hote-{n}"
        redis_client.hset(
            f"sfu:worker:{other}", mapping={"url": "ws://x/ws", "cpu": cpu, "draining": "0"}
        )
        redis_client.expire(f"sfu:worker:{other}", 60)
        redis_client.zadd("sfu:workers", {other: time.time()})


def test_two_hosts_seeing_a_hot_pool_add_one_worker_not_two(redis_client, make_pool):
    settings = dict(min_workers=1, max_workers=2, high_water=0.7, low_water=0.3, up_after=0)
    first, second = make_pool(**settings), make_pool(**settings)
    for pool in (first, second):
        drive(pool, lambda pool=pool: registered(redis_client, f"{pool.config.host_id}-1"))
    # Six busy workers elsewhere and the two idle ones: 6 / 8 = 0.75 > 0.7. Both hosts decide
    # to scale up at their next turn, before either new worker can register.
    busy_workers_of_another_host(redis_client, 6)
    now = time.monotonic()
    for pool in (first, second):
        pool._next_decision = 0.0
        pool.tick(now)
    assert [pool.last_decision.action for pool in (first, second)] == [SCALE_UP, SCALE_UP]
    assert sorted(len(pool.slots) for pool in (first, second)) == [1, 2]
    winner = first if len(first.slots) == 2 else second
    assert redis_client.get("sfu:pool:scale-up") == winner.config.host_id


def test_a_warming_up_worker_counts_as_idle(redis_client):
    now = time.time()

    def worker(worker_id: str, **fields) -> None:
        mapping = {"url": "ws://x/ws", "cpu": "0.95", "draining": "0", **fields}
        redis_client.hset(f"sfu:worker:{worker_id}", mapping=mapping)
        redis_client.zadd("sfu:workers", {worker_id: now})

    worker("new-and-empty", started_at=str(now - 2), rooms="0")
    worker("new-with-a-room", started_at=str(now - 2), rooms="1")
    worker("settled", started_at=str(now - 60), rooms="0")
    loads = {load.worker_id: load.cpu for load in read_pool_load(redis_client, now=now)}
    assert loads == {"new-and-empty": 0.0, "new-with-a-room": 0.95, "settled": 0.95}
