"""Announces this worker in Redis (docs/redis.md) so the portal can place rooms on it.

Every `interval` seconds: the hash `sfu:worker:{id}` (url, load, draining, host, pid, started_at)
and the hash of its rooms `sfu:worker:{id}:rooms` (slug → participants), both with a 10 s TTL,
the worker's score in `sfu:workers`, and the TTL of the pins of the rooms it hosts. Every
`history_interval` seconds the beat also appends a load sample to the stream
`sfu:worker:{id}:history`, which keeps the last hour (the platform administrators' chart,
docs/pool.md). Each beat also looks for the drain command `sfu:worker:{id}:drain` (docs/pool.md).
`stop()` removes the worker, its rooms, its drain command, and the pins that still name it; the
history stays until it expires, so the chart shows when the worker went away.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

import redis.asyncio as redis

logger = logging.getLogger(__name__)

WORKER_TTL_SECONDS = 10
ROOM_PIN_TTL_SECONDS = 60
HEARTBEAT_SECONDS = 2.0
HISTORY_SECONDS = 10.0  # one load sample every 10 s: 360 in the hour kept
HISTORY_KEPT_SECONDS = 3600

# Delete a room pin only if it still names this worker (another may have taken the room over).
_DELETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class WorkerRegistry:
    def __init__(
        self,
        redis_url: str,
        worker_id: str,
        public_url: str,
        hosted_rooms: Callable[[], list[str]],
        participant_count: Callable[[], int],
        key_prefix: str = "",
        interval: float = HEARTBEAT_SECONDS,
        load: Callable[[], Mapping[str, str | int | float]] | None = None,
        on_drain_requested: Callable[[], None] | None = None,
        room_participants: Callable[[], Mapping[str, int]] | None = None,
        history_interval: float = HISTORY_SECONDS,
    ) -> None:
        self._redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.worker_id = worker_id
        self._public_url = public_url
        self._hosted_rooms = hosted_rooms
        self._participant_count = participant_count
        self._prefix = key_prefix
        self._interval = interval
        self._load = load or (lambda: {})
        self._on_drain_requested = on_drain_requested
        self._room_participants = room_participants
        self._history_interval = history_interval
        self._last_history_at: float | None = None  # wall time of the last sample written
        self._started_at = int(time.time())
        self._host = socket.gethostname()
        self._task: asyncio.Task | None = None

    def _key(self, suffix: str) -> str:
        return self._prefix + suffix

    @property
    def worker_key(self) -> str:
        return self._key(f"sfu:worker:{self.worker_id}")

    @property
    def drain_key(self) -> str:
        return self._key(f"sfu:worker:{self.worker_id}:drain")

    @property
    def rooms_key(self) -> str:
        return self._key(f"sfu:worker:{self.worker_id}:rooms")

    @property
    def history_key(self) -> str:
        return self._key(f"sfu:worker:{self.worker_id}:history")

    def _rooms_with_participants(self, rooms: list[str]) -> dict[str, int]:
        if self._room_participants is None:
            return dict.fromkeys(rooms, 0)  # counts unknown
        return {slug: int(count) for slug, count in self._room_participants().items()}

    def _history_due(self, now: float) -> bool:
        return (
            self._last_history_at is None or now - self._last_history_at >= self._history_interval
        )

    async def start(self) -> None:
        await self.heartbeat()  # registered before the first join can be placed here
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.heartbeat()
            except Exception:  # Redis down: keep serving rooms, retry next beat
                logger.warning("heartbeat of worker %s failed", self.worker_id, exc_info=True)

    async def heartbeat(self) -> None:
        rooms = self._hosted_rooms()
        room_participants = self._rooms_with_participants(rooms)
        participants = self._participant_count()
        load = self._load()  # once per beat: it measures the interval since the previous call
        now = time.time()
        history_due = self._history_due(now)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.worker_key,
                mapping={
                    "url": self._public_url,
                    "rooms": len(rooms),
                    "participants": participants,
                    "started_at": self._started_at,
                    "host": self._host,
                    "pid": os.getpid(),
                    **load,
                },
            )
            pipe.expire(self.worker_key, WORKER_TTL_SECONDS)
            # Replaced as a whole in the transaction: a reader never sees a closed room linger.
            pipe.delete(self.rooms_key)
            if room_participants:
                pipe.hset(self.rooms_key, mapping=room_participants)
                pipe.expire(self.rooms_key, WORKER_TTL_SECONDS)
            if history_due:
                pipe.xadd(
                    self.history_key,
                    {
                        "cpu": load.get("cpu", 0),
                        "participants": participants,
                        "rooms": len(rooms),
                        "frames_per_second": load.get("frames_per_second", 0),
                    },
                    minid=int((now - HISTORY_KEPT_SECONDS) * 1000),
                    approximate=True,
                )
                # A dead worker's history stays an hour, then goes by itself.
                pipe.expire(self.history_key, HISTORY_KEPT_SECONDS)
            pipe.zadd(self._key("sfu:workers"), {self.worker_id: now})
            for slug in rooms:
                pipe.expire(self._key(f"sfu:room:{slug}"), ROOM_PIN_TTL_SECONDS)
            pipe.exists(self.drain_key)
            results = await pipe.execute()
        if history_due:
            self._last_history_at = now
        if results[-1] and self._on_drain_requested is not None:
            self._on_drain_requested()

    async def release_pin(self, slug: str) -> None:
        """Delete the pin of a room this worker refused to open (it is draining), if it still
        names this worker, so that the portal places the room elsewhere on the next join."""
        try:
            await self._redis.eval(
                _DELETE_IF_OURS, 1, self._key(f"sfu:room:{slug}"), self.worker_id
            )
        except Exception:
            logger.warning("could not release the pin of room %s", slug, exc_info=True)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                # The history stays: it shows when the worker went away, then expires.
                pipe.delete(self.worker_key, self.rooms_key, self.drain_key)
                pipe.zrem(self._key("sfu:workers"), self.worker_id)
                for slug in self._hosted_rooms():
                    pipe.eval(_DELETE_IF_OURS, 1, self._key(f"sfu:room:{slug}"), self.worker_id)
                await pipe.execute()
            logger.info("worker %s unregistered", self.worker_id)
        except Exception:
            logger.warning("could not unregister worker %s", self.worker_id, exc_info=True)
        finally:
            await self._redis.aclose()
