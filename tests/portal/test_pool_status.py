"""The media server pool's state as the platform page reads it (portal/media/pool_status.py),
from what real SFU worker registries write, and the load chart built from it
(portal/platform/load_chart.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from portal.media.pool_status import RoomLoad, Sample, pool_status
from portal.platform import load_chart
from portal.platform.load_chart import (
    BOTTOM,
    LEFT,
    RIGHT,
    TOP,
    build_chart,
    cpu_summary,
    segments_of,
    style_of,
)
from sfu.registry import WorkerRegistry


def registry(redis_url, worker_id: str, *, rooms=None, cpu="0.250", draining=0, **kwargs):
    rooms = {"salle-a": 2, "salle-b": 1} if rooms is None else rooms
    return WorkerRegistry(
        redis_url,
        worker_id,
        f"ws://127.0.0.1:1/{worker_id}",
        hosted_rooms=lambda: list(rooms),
        participant_count=lambda: sum(rooms.values()),
        load=lambda: {"cpu": cpu, "frames_per_second": "240", "draining": draining},
        room_participants=lambda: dict(rooms),
        history_interval=0,
        **kwargs,
    )


def beat(*registries, times: int = 1, stop=()) -> None:
    """`times` heartbeats of every registry, then a clean stop of those in `stop`; the others'
    Redis clients are closed without unregistering (as if the process went on)."""

    async def scenario():
        for _ in range(times):
            for each in registries:
                await each.heartbeat()
        for each in registries:
            if each in stop:
                await each.stop()
            else:
                await each._redis.aclose()

    asyncio.run(scenario())


def by_id(workers):
    return {worker.id: worker for worker in workers}


def test_pool_status_lists_live_draining_and_dead_workers(redis_url, redis_client):
    live = registry(redis_url, "hote-10")
    draining = registry(redis_url, "hote-2", rooms={"salle-c": 4}, cpu="0.900", draining=1)
    stopped = registry(redis_url, "hote-3", rooms={})
    started = time.time()
    beat(live, draining, stopped, times=2, stop=(stopped,))
    redis_client.zadd("sfu:workers", {"fantome": time.time() - 3000})  # no hash, no history

    workers = pool_status(redis_client)
    assert [worker.id for worker in workers] == ["hote-2", "hote-3", "hote-10"]
    status = by_id(workers)

    alive = status["hote-10"]
    assert alive.alive and not alive.draining
    assert alive.url == "ws://127.0.0.1:1/hote-10" and alive.host and alive.pid
    assert alive.started_at == pytest.approx(started, abs=2)
    assert (alive.cpu, alive.participants, alive.frames_per_second) == (0.25, 3, 240.0)
    assert alive.rooms == [RoomLoad("salle-a", 2), RoomLoad("salle-b", 1)]
    assert len(alive.history) == 2
    assert all(isinstance(sample, Sample) for sample in alive.history)
    assert alive.history[0].at == pytest.approx(started, abs=2)
    assert alive.history[-1][1:] == (0.25, 3)
    assert alive.last_seen == pytest.approx(time.time(), abs=2)

    assert status["hote-2"].alive and status["hote-2"].draining
    assert status["hote-2"].rooms == [RoomLoad("salle-c", 4)]

    dead = status["hote-3"]
    assert not dead.alive, "a stopped worker's history keeps it on the page for an hour"
    assert (dead.url, dead.rooms, dead.participants) == ("", [], 0)
    assert len(dead.history) == 2
    assert dead.last_seen == dead.history[-1].at


def test_pool_status_worker_whose_hash_expired(redis_url, redis_client):
    """A worker killed without unregistering: its hash expires, its score and history stay."""
    beat(registry(redis_url, "hote-1"))
    redis_client.delete("sfu:worker:hote-1", "sfu:worker:hote-1:rooms")
    redis_client.zadd("sfu:workers", {"hote-1": time.time() + 5})
    [worker] = pool_status(redis_client)
    assert not worker.alive and worker.rooms == []
    assert worker.last_seen == pytest.approx(time.time() + 5, abs=1)


def test_pool_status_keeps_the_last_hour_only(redis_url, redis_client):
    beat(registry(redis_url, "hote-1"), registry(redis_url, "hote-2"), stop=())
    redis_client.delete("sfu:worker:hote-2")
    workers = pool_status(redis_client, now=time.time() + 3700)
    assert [(worker.id, worker.history) for worker in workers] == [("hote-1", [])]


def test_pool_status_reads_malformed_fields_as_zero(redis_client):
    redis_client.hset(
        "sfu:worker:abime",
        mapping={
            "url": "ws://127.0.0.1:1/abime",
            "cpu": "beaucoup",
            "participants": "nan",
            "frames_per_second": "inf",
            "pid": "-3",
            "started_at": "hier",
            "draining": "peut-être",
        },
    )
    redis_client.zadd("sfu:workers", {"abime": time.time()})
    redis_client.hset("sfu:worker:abime:rooms", mapping={"salle-a": "x", "salle-b": "-2"})
    redis_client.xadd("sfu:worker:abime:history", {"cpu": "?", "participants": "1e400"})
    [worker] = pool_status(redis_client)
    assert worker.alive and not worker.draining
    assert (worker.cpu, worker.participants, worker.frames_per_second) == (0.0, 0, 0.0)
    assert (worker.pid, worker.started_at) == (None, None)
    assert worker.rooms == [RoomLoad("salle-a", 0), RoomLoad("salle-b", 0)]
    assert [sample[1:] for sample in worker.history] == [(0.0, 0)]


def test_pool_status_key_prefix(redis_url, redis_client):
    beat(registry(redis_url, "hote-1", key_prefix="p?:"), registry(redis_url, "autre"))
    # Would match the pattern if the prefix's "?" were not escaped.
    redis_client.xadd("px:sfu:worker:intrus:history", {"cpu": "0.5"})
    assert [worker.id for worker in pool_status(redis_client, key_prefix="p?:")] == ["hote-1"]
    assert [worker.id for worker in pool_status(redis_client)] == ["autre"]


def test_pool_status_without_workers(redis_client):
    assert pool_status(redis_client) == []


# --- The chart ---------------------------------------------------------------------------------

NOW = 1_741_600_000.0


def test_chart_maps_time_and_cpu_to_points():
    history = [(NOW - 3600, 0.0, 1), (NOW - 3590, 0.5, 1), (NOW, 1.0, 2)]
    [[start, middle], [end]] = segments_of(history, NOW)
    assert start == f"{LEFT:.1f},{BOTTOM:.1f}"
    x = LEFT + 10 / 3600 * (RIGHT - LEFT)
    assert middle == f"{x:.1f},{(BOTTOM + TOP) / 2:.1f}"
    assert end == f"{RIGHT:.1f},{TOP:.1f}"


def test_chart_breaks_lines_where_samples_are_more_than_30_s_apart():
    at = [NOW - 200, NOW - 190, NOW - 160, NOW - 129.5, NOW - 60, NOW - 50]
    segments = segments_of([(moment, 0.2, 0) for moment in reversed(at)], NOW)
    assert [len(segment) for segment in segments] == [3, 1, 2]
    segments = segments_of([(NOW - 30, 0.2, 0), (NOW, 0.2, 0)], NOW)
    assert [len(segment) for segment in segments] == [2], "30 s apart exactly is no gap"


def test_chart_clips_cpu_to_one_core_and_drops_samples_older_than_the_hour():
    segments = segments_of([(NOW - 4000, 0.5, 0), (NOW - 10, 1.7, 0), (NOW, -0.2, 0)], NOW)
    [[above, below]] = segments
    assert above.endswith(f",{TOP:.1f}") and below.endswith(f",{BOTTOM:.1f}")


def test_chart_with_empty_histories():
    chart = build_chart([("hote-1", []), ("hote-2", [])], NOW, 0.7)
    assert [series.segments for series in chart.series] == [[], []]
    assert "2 serveur(s) média" in chart.label
    assert "aucun serveur média" in build_chart([], NOW, 0.7).label


def test_chart_axes_and_high_water_mark():
    chart = build_chart([("hote-1", [(NOW - 5, 0.3, 1)])], NOW, 0.7)
    assert [tick.label for tick in chart.x_ticks] == [
        "\u221260 min",
        "\u221245 min",
        "\u221230 min",
        "\u221215 min",
        "maintenant",
    ]
    assert [tick.position for tick in chart.x_ticks] == [LEFT, 212.0, 368.0, 524.0, RIGHT]
    assert [(tick.position, tick.label) for tick in chart.y_ticks] == [
        (BOTTOM, "0 %"),
        ((BOTTOM + TOP) / 2, "50 %"),
        (TOP, "100 %"),
    ]
    assert chart.high_water.position == pytest.approx(BOTTOM - 0.7 * (BOTTOM - TOP), abs=0.1)
    assert chart.high_water.label == "seuil 70 %"
    assert "70 %" in chart.label and "tableau" in chart.label


def _contrast_with_white(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def test_chart_series_differ_by_colour_and_dash():
    assert all(_contrast_with_white(colour) >= 3 for colour, _ in load_chart.PALETTE)
    assert _contrast_with_white(load_chart.HIGH_WATER_COLOUR) >= 3
    assert len({colour for colour, _ in load_chart.PALETTE}) == len(load_chart.PALETTE)
    assert len({dash for _, dash in load_chart.PALETTE}) == len(load_chart.PALETTE)
    styles = [style_of(index) for index in range(36)]
    assert len(set(styles)) == 36
    chart = build_chart([(f"hote-{n}", []) for n in range(3)], NOW, 0.7)
    assert [(s.colour, s.dash) for s in chart.series] == list(load_chart.PALETTE[:3])


def test_cpu_summary():
    summary = cpu_summary([(NOW - 20, 0.2, 1), (NOW - 10, 0.6, 1), (NOW, 1.3, 2)])
    assert (summary.minimum, summary.maximum, summary.samples) == (0.2, 1.3, 3)
    assert summary.mean == pytest.approx(0.7)
    assert cpu_summary([]) is None
