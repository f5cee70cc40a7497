"""Finds the SFU worker that hosts a room, pinning the room to a worker in Redis.

Implements the placement described in docs/redis.md: a room lives on exactly one worker; the
first join pins it (SET NX) to the least-loaded live worker that is not draining (lowest CPU,
then fewest participants), later joins reuse the pin (even on a draining worker: the room stays
where it lives), and a pin naming a dead worker is replaced with a compare-and-set so that two
portals racing cannot split a room across workers.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis

logger = logging.getLogger(__name__)

PIN_SECONDS = 60
# CPU differences below this are noise between two samples: participants decide instead.
CPU_STEP = 0.05
_MAX_ATTEMPTS = 5
# A worker a client reports unreachable is dead once silent this long (heartbeat every 2 s).
FAILED_WORKER_SILENCE_SECONDS = 3.0

# Replace the pin only if it still names the stale worker we read (compare-and-set).
_REPLACE_STALE_PIN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


class NoWorkerAvailable(Exception):
    """No live SFU worker takes new rooms (none registered, or all draining)."""


class PlacementConflict(Exception):
    """The room's pin kept changing under us; the caller may retry later."""


@dataclass(frozen=True)
class Worker:
    worker_id: str
    url: str  # WebSocket signalling URL a browser can reach
    rooms: int
    participants: int
    cpu: float = 0.0  # fraction of one core over the last heartbeat interval
    draining: bool = False  # takes no new room (docs/pool.md)


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _int(value: str | bytes | None) -> int:
    try:
        return int(_text(value) or 0)
    except ValueError:
        return 0


def _float(value: str | None) -> float:
    try:
        number = float(value or 0)
    except ValueError:
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


class Placement:
    """Room → worker placement over one Redis client (any decode_responses setting)."""

    def __init__(self, client: redis.Redis, key_prefix: str = "", pin_seconds: int = PIN_SECONDS):
        self._redis = client
        self._prefix = key_prefix
        self._pin_seconds = pin_seconds
        self._replace_stale_pin = client.register_script(_REPLACE_STALE_PIN)

    def worker_key(self, worker_id: str) -> str:
        return f"{self._prefix}sfu:worker:{worker_id}"

    def room_key(self, room_slug: str) -> str:
        return f"{self._prefix}sfu:room:{room_slug}"

    @property
    def workers_key(self) -> str:
        return f"{self._prefix}sfu:workers"

    def worker(self, worker_id: str) -> Worker | None:
        """The worker if its heartbeat hash is still alive, else None."""
        return self._worker_from_hash(worker_id, self._redis.hgetall(self.worker_key(worker_id)))

    def live_workers(self) -> list[Worker]:
        """Workers whose heartbeat has not expired; dead members of the registry are pruned."""
        worker_ids = [_text(member) for member in self._redis.zrange(self.workers_key, 0, -1)]
        if not worker_ids:
            return []
        pipeline = self._redis.pipeline(transaction=False)
        for worker_id in worker_ids:
            pipeline.hgetall(self.worker_key(worker_id))
        live, dead = [], []
        for worker_id, fields in zip(worker_ids, pipeline.execute(), strict=True):
            worker = self._worker_from_hash(worker_id, fields)
            (live if worker else dead).append(worker or worker_id)
        if dead:
            self._redis.zrem(self.workers_key, *dead)
            logger.info("pruned dead SFU workers from the registry: %s", ", ".join(dead))
        return live

    def place(self, room_slug: str, failed_worker: str | None = None) -> Worker:
        """Return the worker hosting `room_slug`, pinning the room to one if needed.

        `failed_worker`: a client lost its connection to this worker (docs/protocol.md,
        "Reconnection"). It counts as dead before its hash expires only if its last heartbeat
        is older than FAILED_WORKER_SILENCE_SECONDS, so that no client can move a room off a
        healthy worker (which would split the room).
        """
        room_key = self.room_key(room_slug)
        silent = failed_worker if failed_worker and self._silent(failed_worker) else None
        for _ in range(_MAX_ATTEMPTS):
            pinned_id = _text(self._redis.get(room_key))
            if pinned_id is not None and pinned_id != silent:
                pinned = self.worker(pinned_id)
                if pinned is not None:
                    return pinned
            candidates = [
                worker
                for worker in self.live_workers()
                if not worker.draining and worker.worker_id != silent
            ]
            if not candidates:
                raise NoWorkerAvailable("no live SFU worker takes new rooms")
            chosen = self.choose(candidates)
            if pinned_id is None:
                won = self._redis.set(room_key, chosen.worker_id, nx=True, ex=self._pin_seconds)
            else:
                won = self._replace_stale_pin(
                    keys=[room_key], args=[pinned_id, chosen.worker_id, self._pin_seconds]
                )
                if won:
                    logger.info(
                        "room %s moved from dead worker %s to %s",
                        room_slug,
                        pinned_id,
                        chosen.worker_id,
                    )
            if won:
                logger.info("room %s pinned to worker %s", room_slug, chosen.worker_id)
                return chosen
            # Another portal pinned the room meanwhile: read its choice on the next turn.
            time.sleep(0.005)
        raise PlacementConflict(f"could not settle the placement of room {room_slug}")

    def _silent(self, worker_id: str) -> bool:
        """No heartbeat from this worker for FAILED_WORKER_SILENCE_SECONDS (or ever)."""
        beat = self._redis.zscore(self.workers_key, worker_id)
        return beat is None or time.time() - beat > FAILED_WORKER_SILENCE_SECONDS

    def choose(self, candidates: list[Worker]) -> Worker:
        """The policy: lowest CPU (in steps of CPU_STEP), then fewest participants and rooms."""
        return min(
            candidates,
            key=lambda w: (int(w.cpu / CPU_STEP), w.participants, w.rooms, w.worker_id),
        )

    @staticmethod
    def _worker_from_hash(worker_id: str, fields: dict) -> Worker | None:
        fields = {_text(k): _text(v) for k, v in (fields or {}).items()}
        if not fields.get("url"):
            return None
        return Worker(
            worker_id=worker_id,
            url=fields["url"],
            rooms=_int(fields.get("rooms")),
            participants=_int(fields.get("participants")),
            cpu=_float(fields.get("cpu")),
            draining=fields.get("draining") == "1",
        )
