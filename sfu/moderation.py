"""The room state moderators change that outlives a connection, kept in Redis (docs/redis.md):
bans (`sfu:room:{slug}:banned`), the lock (`…:locked`) and the "just ended" mark (`…:ended`).

The portal reads the same keys before issuing tokens. Redis is asked only at join and on a
moderator's command, never on the media path; if it fails, the worker logs it and relies on the
room's in-memory state (a ban or lock then lasts as long as the room on this worker).
"""

from __future__ import annotations

import logging

import redis.asyncio as redis

logger = logging.getLogger(__name__)

BANNED_TTL_SECONDS = 12 * 3600
ENDED_TTL_SECONDS = 60
_REDIS_TIMEOUT_SECONDS = 2.0


class RoomStore:
    """Reads and writes the moderation keys of rooms; `redis_url=None` keeps nothing."""

    def __init__(self, redis_url: str | None, key_prefix: str = "") -> None:
        self._redis = (
            redis.Redis.from_url(
                redis_url,
                decode_responses=True,
                socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
                socket_timeout=_REDIS_TIMEOUT_SECONDS,
            )
            if redis_url
            else None
        )
        self._prefix = key_prefix

    def _key(self, slug: str, what: str) -> str:
        return f"{self._prefix}sfu:room:{slug}:{what}"

    async def admission(self, slug: str, uid: str) -> tuple[bool, bool]:
        """(is `uid` banned from the room, is the room locked) — (False, False) if Redis fails."""
        if self._redis is None:
            return False, False
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.sismember(self._key(slug, "banned"), uid)
                pipe.exists(self._key(slug, "locked"))
                banned, locked = await pipe.execute()
        except Exception as exc:  # Redis down: the room's in-memory state still applies
            logger.warning("could not read the bans and lock of room %s: %r", slug, exc)
            return False, False
        return bool(banned), bool(locked)

    async def ban(self, slug: str, uid: str) -> None:
        await self._write(
            slug,
            "ban",
            lambda pipe: (
                pipe.sadd(self._key(slug, "banned"), uid),
                pipe.expire(self._key(slug, "banned"), BANNED_TTL_SECONDS),
            ),
        )

    async def set_locked(self, slug: str, locked: bool) -> None:
        key = self._key(slug, "locked")
        await self._write(
            slug, "lock", lambda pipe: pipe.set(key, "1") if locked else pipe.delete(key)
        )

    async def mark_ended(self, slug: str, *, by_moderator: bool) -> None:
        """The meeting is over: no lock any more; after a moderator's `end`, the ended mark."""

        def commands(pipe) -> None:
            pipe.delete(self._key(slug, "locked"))
            if by_moderator:
                pipe.set(self._key(slug, "ended"), "1", ex=ENDED_TTL_SECONDS)

        await self._write(slug, "end", commands)

    async def _write(self, slug: str, what: str, commands) -> None:
        if self._redis is None:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                commands(pipe)
                await pipe.execute()
        except Exception as exc:
            logger.warning("could not write the %s of room %s to Redis: %r", what, slug, exc)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
