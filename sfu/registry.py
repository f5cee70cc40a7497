"""Announces this worker in Redis (docs/redis.md) so the portal can place rooms on it.

Every `interval` seconds: the hash `sfu:worker:{id}` (url, load, draining, host, pid, started_at)
with a 10 s TTL, the worker's score in `sfu:workers`, and the TTL of the pins of the rooms it
hosts. Each beat also looks for the drain command `sfu:worker:{id}:drain` (docs/pool.md).
`stop()` removes the worker, its drain command, and the pins that still name it.
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
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.worker_key,
                mapping={
                    "url": self._public_url,
                    "rooms": len(rooms),
                    "participants": self._participant_count(),
                    "started_at": self._started_at,
                    "host": self._host,
                    "pid": os.getpid(),
                    **self._load(),
                },
            )
            pipe.expire(self.worker_key, WORKER_TTL_SECONDS)
            pipe.zadd(self._key("sfu:workers"), {self.worker_id: now})
            for slug in rooms:
                pipe.expire(self._key(f"sfu:room:{slug}"), ROOM_PIN_TTL_SECONDS)
            pipe.exists(self.drain_key)
            results = await pipe.execute()
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
                pipe.delete(self.worker_key, self.drain_key)
                pipe.zrem(self._key("sfu:workers"), self.worker_id)
                for slug in self._hosted_rooms():
                    pipe.eval(_DELETE_IF_OURS, 1, self._key(f"sfu:room:{slug}"), self.worker_id)
                await pipe.execute()
            logger.info("worker %s unregistered", self.worker_id)
        except Exception:
            logger.warning("could not unregister worker %s", self.worker_id, exc_info=True)
        finally:
            await self._redis.aclose()
