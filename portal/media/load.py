"""The SFU pool's load as the pre-join page shows it, read from the workers' Redis heartbeats.

A worker's load is its `cpu` field (fraction of one core: a worker is one event loop, so one
core is all it can use) when it publishes one, else its participants over its capacity
(`capacity` field, else SFU_PARTICIPANTS_PER_WORKER). The pool's load is the mean over the live
workers that take new rooms (draining ones are left out), between 0 and 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

DEFAULT_PARTICIPANTS_PER_WORKER = 90  # docs/performance.md: ≈ 90 audio+video streams per core


@dataclass(frozen=True)
class PoolLoad:
    level: float  # 0..1 of the pool's capacity
    workers: int  # live workers taking new rooms
    participants: int  # connected to those workers


def _number(value: str | bytes | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.decode() if isinstance(value, bytes) else value)
    except ValueError:
        return None


def worker_level(fields: dict, participants_per_worker: int) -> float:
    """One worker's load from its heartbeat hash (0..1)."""
    cpu = _number(fields.get("cpu"))
    if cpu is not None:
        return min(max(cpu, 0.0), 1.0)
    capacity = _number(fields.get("capacity")) or participants_per_worker
    participants = _number(fields.get("participants")) or 0.0
    return min(participants / max(capacity, 1.0), 1.0)


def pool_load(
    client: redis.Redis,
    key_prefix: str = "",
    participants_per_worker: int = DEFAULT_PARTICIPANTS_PER_WORKER,
) -> PoolLoad:
    """Read every live worker's hash (one pipeline); raises redis.RedisError if Redis fails."""
    worker_ids = client.zrange(f"{key_prefix}sfu:workers", 0, -1)
    pipeline = client.pipeline(transaction=False)
    for worker_id in worker_ids:
        worker_id = worker_id.decode() if isinstance(worker_id, bytes) else worker_id
        pipeline.hgetall(f"{key_prefix}sfu:worker:{worker_id}")
    levels, participants = [], 0
    for raw in pipeline.execute() if worker_ids else []:
        fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in (raw or {}).items()}
        if not fields.get("url") or _number(fields.get("draining")) == 1:
            continue  # expired (dead) or leaving the pool
        levels.append(worker_level(fields, participants_per_worker))
        participants += int(_number(fields.get("participants")) or 0)
    level = sum(levels) / len(levels) if levels else 0.0
    return PoolLoad(level=round(level, 3), workers=len(levels), participants=participants)
