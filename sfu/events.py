"""Publishes participant joins and departures, and moderators' actions, to the Redis stream
`sfu:events` (docs/redis.md).

The portal records meetings from this stream. Publishing never blocks the media path: events go
into a bounded in-memory queue that a background task writes to Redis in batches. When the queue
is full or Redis fails, events are dropped, logged and counted (`dropped`); the portal's sweeper
closes what a lost departure leaves open.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as redis

logger = logging.getLogger(__name__)

STREAM_KEY = "sfu:events"
# Approximate cap (XADD MAXLEN ~): a few days of joins and departures on a busy platform.
STREAM_MAX_LENGTH = 100_000
QUEUE_SIZE = 10_000
BATCH_SIZE = 100
FORMAT_VERSION = "1"
PARTICIPANT_JOINED = "participant-joined"
PARTICIPANT_LEFT = "participant-left"
MODERATION = "moderation"
# Redis is written off the event loop's hot path, but a dead server must not hang a batch.
_REDIS_TIMEOUT_SECONDS = 5.0
_RETRY_PAUSE_SECONDS = 1.0
_DROP_LOG_INTERVAL_SECONDS = 10.0


class EventPublisher:
    """Owns the queue and the task that empties it: `start()` creates the task, `stop()` flushes
    what is queued (within a timeout) and ends it. `joined()`/`left()` run on the event loop and
    never wait."""

    def __init__(
        self,
        redis_url: str,
        worker_id: str,
        key_prefix: str = "",
        *,
        queue_size: int = QUEUE_SIZE,
        max_length: int = STREAM_MAX_LENGTH,
    ) -> None:
        self._redis = redis.Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
        )
        self.worker_id = worker_id
        self.stream_key = key_prefix + STREAM_KEY
        self._max_length = max_length
        self._queue: asyncio.Queue[dict[str, str]] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task | None = None
        self._closed = False
        self.published = 0
        self.dropped = 0
        self._last_drop_log = -_DROP_LOG_INTERVAL_SECONDS

    def joined(self, room: str, participant_id: str, count: int) -> None:
        self._publish(PARTICIPANT_JOINED, room, participant_id, count)

    def left(self, room: str, participant_id: str, count: int, reason: str = "left") -> None:
        self._publish(PARTICIPANT_LEFT, room, participant_id, count, reason=reason)

    def moderation(self, action: str, room: str, actor_uid: str, target_uid: str = "") -> None:
        """A moderator's `remove`, `promote` or `end` (target_uid empty for `end`)."""
        self._enqueue(
            {
                "v": FORMAT_VERSION,
                "type": MODERATION,
                "action": action,
                "room": room,
                "actor_uid": actor_uid,
                "target_uid": target_uid,
                "worker": self.worker_id,
                "at": f"{time.time():.3f}",
            },
            f"{action} by {actor_uid} in {room}",
        )

    def _publish(self, kind: str, room: str, participant_id: str, count: int, **extra) -> None:
        event = {
            "v": FORMAT_VERSION,
            "type": kind,
            "room": room,
            "participant": participant_id,
            "worker": self.worker_id,
            "at": f"{time.time():.3f}",
            "count": str(count),
            **extra,
        }
        self._enqueue(event, f"{kind} of {participant_id} in {room}")

    def _enqueue(self, event: dict[str, str], what: str) -> None:
        if self._closed:
            self._drop(f"{what} after the publisher stopped")
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._drop(f"{what}: queue full")

    def _drop(self, what: str, number: int = 1) -> None:
        self.dropped += number
        now = time.monotonic()
        # While Redis is down every event is dropped: say so every few seconds, not each time.
        if now - self._last_drop_log >= _DROP_LOG_INTERVAL_SECONDS:
            self._last_drop_log = now
            logger.warning("room events dropped (%d so far): %s", self.dropped, what)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_SIZE and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as exc:  # Redis down: drop this batch, keep serving rooms
                self._drop(f"{len(batch)} events not written to Redis ({exc!r})", len(batch))
                await asyncio.sleep(_RETRY_PAUSE_SECONDS)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[dict[str, str]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in batch:
                pipe.xadd(self.stream_key, event, maxlen=self._max_length, approximate=True)
            await pipe.execute()
        self.published += len(batch)

    async def stop(self, timeout: float = 3.0) -> None:
        """Write what is queued (for at most `timeout` seconds), then end the task."""
        self._closed = True
        if self._task is not None:
            try:
                await asyncio.wait_for(self._queue.join(), timeout)
            except TimeoutError:
                logger.warning("%d room events not written at shutdown", self._queue.qsize())
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._redis.aclose()
        logger.info(
            "room events of worker %s: %d published, %d dropped",
            self.worker_id,
            self.published,
            self.dropped,
        )
