"""The state of every SFU worker for the platform administrators' page (docs/pool.md).

Read from what the workers write in Redis (docs/redis.md): the heartbeat hash
`sfu:worker:{id}`, the hash of its rooms `sfu:worker:{id}:rooms` and its load history, the
stream `sfu:worker:{id}:history` (the last hour). A worker whose heartbeat hash has expired but
whose history is still there is listed as not alive, so that an operator sees it died. Missing
or malformed fields count as 0. Read-only: nothing is pruned here.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import redis

from portal.media.load import _number

HISTORY_SECONDS = 3600  # what the workers keep (sfu/registry.py)
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


class Sample(NamedTuple):
    at: float  # unix seconds (the worker's clock)
    cpu: float  # fraction of one core
    participants: int


class RoomLoad(NamedTuple):
    slug: str
    participants: int


@dataclass(frozen=True)
class WorkerStatus:
    id: str
    alive: bool  # the heartbeat hash is there (refreshed every 2 s, 10 s TTL)
    host: str = ""
    url: str = ""
    pid: int | None = None
    started_at: float | None = None  # unix seconds
    draining: bool = False
    cpu: float = 0.0  # fraction of one core, last heartbeat
    participants: int = 0
    frames_per_second: float = 0.0
    rooms: list[RoomLoad] = field(default_factory=list)  # most participants first
    history: list[Sample] = field(default_factory=list)  # oldest first, last hour only
    # Last sign of life (unix seconds): the `sfu:workers` score, else the last sample.
    last_seen: float | None = None


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _decoded(raw: dict | None) -> dict[str, str]:
    return {_text(key): _text(value) for key, value in (raw or {}).items()}


def _amount(value: str | None) -> float:
    """A non-negative number, or 0 when missing or malformed (including NaN and infinities)."""
    number = _number(value)
    return number if number is not None and math.isfinite(number) and number > 0 else 0.0


def _count(value: str | None) -> int:
    return int(_amount(value))


def _sample(entry_id: str | bytes, fields: dict) -> Sample | None:
    """A history entry; its id is `<milliseconds>-<sequence>`."""
    milliseconds = _amount(_text(entry_id).partition("-")[0])
    if not milliseconds:
        return None
    fields = _decoded(fields)
    return Sample(
        milliseconds / 1000, _amount(fields.get("cpu")), _count(fields.get("participants"))
    )


def _history_worker_ids(client: redis.Redis, key_prefix: str) -> set[str]:
    """Ids of the workers that still have a history stream (alive or dead within the hour)."""
    head = f"{key_prefix}sfu:worker:"
    pattern = _GLOB_SPECIAL.sub(r"\\\1", head) + "*:history"
    ids = set()
    for key in client.scan_iter(match=pattern, count=100):
        key = _text(key)
        worker_id = key[len(head) : -len(":history")]
        if worker_id:
            ids.add(worker_id)
    return ids


def _natural_key(worker_id: str) -> list:
    """Sort "host-2" before "host-10"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", worker_id)]


def pool_status(
    client: redis.Redis, key_prefix: str = "", now: float | None = None
) -> list[WorkerStatus]:
    """Every live worker, and every dead one whose history has not expired yet, in id order.
    Raises redis.RedisError if Redis fails."""
    now = time.time() if now is None else now
    scores = {
        _text(worker_id): score
        for worker_id, score in client.zrange(f"{key_prefix}sfu:workers", 0, -1, withscores=True)
    }
    history_ids = _history_worker_ids(client, key_prefix)
    worker_ids = sorted(scores.keys() | history_ids, key=_natural_key)
    if not worker_ids:
        return []
    since = int((now - HISTORY_SECONDS) * 1000)
    pipeline = client.pipeline(transaction=False)
    for worker_id in worker_ids:
        key = f"{key_prefix}sfu:worker:{worker_id}"
        pipeline.hgetall(key)
        pipeline.hgetall(f"{key}:rooms")
        pipeline.xrange(f"{key}:history", min=since, max="+")
    results = pipeline.execute()
    workers = []
    for index, worker_id in enumerate(worker_ids):
        fields, rooms, entries = results[3 * index : 3 * index + 3]
        fields = _decoded(fields)
        history = [
            sample
            for sample in (_sample(entry_id, values) for entry_id, values in entries or [])
            if sample is not None
        ]
        if not fields and not history:
            continue  # long dead: left in `sfu:workers` until a reader prunes it
        last_seen = scores.get(worker_id)
        if history and (last_seen is None or history[-1].at > last_seen):
            last_seen = history[-1].at
        pid = _count(fields.get("pid"))
        started_at = _amount(fields.get("started_at"))
        workers.append(
            WorkerStatus(
                id=worker_id,
                alive=bool(fields),
                host=fields.get("host", ""),
                url=fields.get("url", ""),
                pid=pid or None,
                started_at=started_at or None,
                draining=_number(fields.get("draining")) == 1,
                cpu=_amount(fields.get("cpu")),
                participants=_count(fields.get("participants")),
                frames_per_second=_amount(fields.get("frames_per_second")),
                rooms=sorted(
                    (RoomLoad(slug, _count(count)) for slug, count in _decoded(rooms).items()),
                    key=lambda room: (-room.participants, room.slug),
                ),
                history=history,
                last_seen=last_seen,
            )
        )
    return workers
