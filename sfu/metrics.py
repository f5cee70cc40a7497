"""Prometheus metrics of one SFU worker (GET /metrics, docs/metrics.md).

The forwarding path counts with plain integer attributes of `COUNTERS` (one attribute
increment per frame, no lock, no prometheus_client call); a custom collector reads them, and the
worker's rooms and sessions, only when Prometheus scrapes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sfu.room import Rooms

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ForwardingCounters:
    """Totals since the worker started, updated on the event loop only."""

    __slots__ = (
        "forwarded_audio",
        "forwarded_video",
        "dropped_frames",
        "queue_overflows",
        "keyframe_requests",
        "silent_audio_frames",
        "join_refusals",
    )

    def __init__(self) -> None:
        self.forwarded_audio = 0  # encoded frames queued to subscribers' senders
        self.forwarded_video = 0
        self.dropped_frames = 0  # frames dropped at the fan-out (full queue, gate, overflow)
        self.queue_overflows = 0  # a subscriber's video queue flushed and re-gated
        self.keyframe_requests = 0  # PLIs sent to publishers
        # Publishers' silent audio frames not fanned out (sfu/quality/audio_gate.py).
        self.silent_audio_frames = 0
        self.join_refusals: Counter[str] = Counter()  # refusal code → count


COUNTERS = ForwardingCounters()


class WorkerCollector(Collector):
    """Reads the counters and the worker's state at scrape time."""

    def __init__(self, rooms: Rooms, events_dropped: Callable[[], int]) -> None:
        self._rooms = rooms
        self._events_dropped = events_dropped

    def collect(self) -> Iterator[Metric]:
        rooms = list(self._rooms)
        yield GaugeMetricFamily("sfu_rooms", "Rooms hosted by this worker", value=len(rooms))
        participants = GaugeMetricFamily(
            "sfu_participants", "Participants connected to this worker", labels=["mode"]
        )
        audio_only = sum(p.audio_only for room in rooms for p in room.participants.values())
        total = sum(len(room.participants) for room in rooms)
        participants.add_metric(["audio_video"], total - audio_only)
        participants.add_metric(["audio_only"], audio_only)
        yield participants
        forwarded = CounterMetricFamily(
            "sfu_forwarded_frames",
            "Encoded frames queued to subscribers (one frame is one or more RTP packets)",
            labels=["kind"],
        )
        forwarded.add_metric(["audio"], COUNTERS.forwarded_audio)
        forwarded.add_metric(["video"], COUNTERS.forwarded_video)
        yield forwarded
        yield CounterMetricFamily(
            "sfu_dropped_frames",
            "Frames dropped at the fan-out (full queue, waiting for a keyframe)",
            value=COUNTERS.dropped_frames,
        )
        yield CounterMetricFamily(
            "sfu_queue_overflows",
            "Subscriber video queues flushed because they were full",
            value=COUNTERS.queue_overflows,
        )
        yield CounterMetricFamily(
            "sfu_keyframe_requests",
            "Keyframe requests (PLI) sent to publishers",
            value=COUNTERS.keyframe_requests,
        )
        yield CounterMetricFamily(
            "sfu_silent_audio_frames",
            "Silent audio frames of publishers not forwarded in crowded rooms",
            value=COUNTERS.silent_audio_frames,
        )
        yield CounterMetricFamily(
            "sfu_events_dropped",
            "Room events not published to Redis",
            value=self._events_dropped(),
        )
        refusals = CounterMetricFamily(
            "sfu_join_refusals", "Joins refused, by error code", labels=["reason"]
        )
        for reason, count in sorted(COUNTERS.join_refusals.items()):
            refusals.add_metric([reason], count)
        yield refusals


def worker_registry(rooms: Rooms, events_dropped: Callable[[], int]) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one) with the process metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkerCollector(rooms, events_dropped))
    ProcessCollector(registry=registry)
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
