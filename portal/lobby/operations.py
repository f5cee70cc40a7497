"""The lobby's state in Redis and the moderators' decisions (docs/meetings.md, "Redis keys").

`lobby:{slug}` (hash, 12 h): waiting id → JSON {name, since, last_seen}; a waiting page polls
every 2 s and refreshes `last_seen`; one not seen for 20 s is dropped when the list is read.
`lobby:decision:{waiting id}` (string, 10 min): "admitted" or "refused". Waiting ids are random
and belong to one room (a guest's id, or an agent's per-room id), so a decision cannot be
replayed elsewhere. Everything lives in Redis: any portal worker serves it, restarts lose nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from portal.audit.models import AuditAction
from portal.audit.operations import record
from portal.extensions import db
from portal.rooms.models import Room
from portal.users.models import User

logger = logging.getLogger(__name__)

LOBBY_SECONDS = 12 * 3600
DECISION_SECONDS = 10 * 60
STALE_SECONDS = 20
ADMITTED = "admitted"
REFUSED = "refused"
WAITING = "waiting"


@dataclass(frozen=True)
class Waiting:
    id: str
    name: str
    since: float  # unix seconds
    last_seen: float

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "since": self.since}


class Lobby:
    """One Redis client's view of every room's lobby; `clock` returns unix seconds."""

    def __init__(
        self, client: redis.Redis, key_prefix: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = client
        self._prefix = key_prefix
        self._clock = clock

    def key(self, slug: str) -> str:
        return f"{self._prefix}lobby:{slug}"

    def decision_key(self, waiting_id: str) -> str:
        return f"{self._prefix}lobby:decision:{waiting_id}"

    def wait(self, slug: str, waiting_id: str, name: str) -> None:
        """Put someone in the lobby, or say they are still there (keeps their arrival time)."""
        now = self._clock()
        previous = self._entry(slug, waiting_id)
        since = previous.since if previous is not None else now
        value = json.dumps({"name": name, "since": since, "last_seen": now})
        pipeline = self._redis.pipeline()
        pipeline.hset(self.key(slug), waiting_id, value)
        pipeline.expire(self.key(slug), LOBBY_SECONDS)
        pipeline.execute()
        if previous is None:
            logger.info("%s waits in the lobby of room %s", waiting_id, slug)

    def leave(self, slug: str, waiting_id: str) -> None:
        self._redis.hdel(self.key(slug), waiting_id)

    def waiting(self, slug: str) -> list[Waiting]:
        """Who waits, earliest first; those not seen for 20 s are dropped."""
        now = self._clock()
        present, stale = [], []
        for waiting_id, raw in self._redis.hgetall(self.key(slug)).items():
            entry = _parse(waiting_id, raw)
            if entry is None or now - entry.last_seen > STALE_SECONDS:
                stale.append(waiting_id)
            else:
                present.append(entry)
        if stale:
            self._redis.hdel(self.key(slug), *stale)
            logger.info("dropped from the lobby of room %s: %s", slug, ", ".join(stale))
        return sorted(present, key=lambda entry: (entry.since, entry.id))

    def find(self, slug: str, waiting_id: str) -> Waiting | None:
        """The person if they are still waiting (seen within 20 s)."""
        entry = self._entry(slug, waiting_id)
        if entry is None or self._clock() - entry.last_seen > STALE_SECONDS:
            return None
        return entry

    def decide(self, slug: str, waiting_id: str, decision: str) -> Waiting | None:
        """Admit or refuse someone still waiting; None if they are not (any more)."""
        assert decision in (ADMITTED, REFUSED)
        entry = self.find(slug, waiting_id)
        if entry is None:
            return None
        pipeline = self._redis.pipeline()
        pipeline.set(self.decision_key(waiting_id), decision, ex=DECISION_SECONDS)
        pipeline.hdel(self.key(slug), waiting_id)
        pipeline.execute()
        return entry

    def decision(self, waiting_id: str) -> str | None:
        return self._redis.get(self.decision_key(waiting_id))

    def _entry(self, slug: str, waiting_id: str) -> Waiting | None:
        return _parse(waiting_id, self._redis.hget(self.key(slug), waiting_id))


def _parse(waiting_id: str, raw: str | None) -> Waiting | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Waiting(
            waiting_id, str(data["name"]), float(data["since"]), float(data["last_seen"])
        )
    except (ValueError, KeyError, TypeError):
        return None


def decide(
    lobby: Lobby,
    room: Room,
    waiting_id: str,
    decision: str,
    *,
    moderator: User | None,
    moderator_label: str | None = None,
) -> Waiting | None:
    """A moderator's decision, written to Redis and to the room's ministry's audit log."""
    entry = lobby.decide(room.slug, waiting_id, decision)
    if entry is None:
        return None
    record(
        AuditAction.LOBBY_ADMITTED if decision == ADMITTED else AuditAction.LOBBY_REFUSED,
        tenant=room.owner.tenant,
        actor=moderator,
        actor_label=moderator_label,
        target_type="room",
        target_id=room.slug,
        changes={"person": entry.name},
    )
    db.session.commit()
    logger.info(
        "%s %s %s (%s) in room %s",
        moderator.public_id if moderator else moderator_label,
        decision,
        waiting_id,
        entry.name,
        room.slug,
    )
    return entry
