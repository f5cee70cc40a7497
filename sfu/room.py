"""Rooms and participants hosted by this worker: who is there, what they publish, their mute state.

Pure state plus broadcast; media and negotiation live in forwarding.py and peer.py. Runs on the
event loop only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sfu.forwarding import Publication
    from sfu.peer import Peer

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class Participant:
    id: str
    name: str
    role: str
    send: Send
    microphone: bool = True
    camera: bool = True
    peer: Peer | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "microphone": self.microphone,
            "camera": self.camera,
        }


@dataclass(eq=False)
class Room:
    slug: str
    participants: dict[str, Participant] = field(default_factory=dict)
    # (owner participant id, kind) → publication
    publications: dict[tuple[str, str], Publication] = field(default_factory=dict)

    def others(self, participant_id: str) -> list[Participant]:
        return [p for p in self.participants.values() if p.id != participant_id]

    async def broadcast(self, message: dict[str, Any], *, exclude: str | None = None) -> None:
        for participant in list(self.participants.values()):
            if participant.id == exclude:
                continue
            try:
                await participant.send(message)
            except Exception:  # one dead socket must not stop the others' updates
                logger.debug("could not send %s to %s", message.get("type"), participant.id)

    def renegotiate_others(self, participant_id: str) -> None:
        for participant in self.others(participant_id):
            if participant.peer is not None:
                participant.peer.request_negotiation()


class Rooms:
    """All rooms this worker hosts right now."""

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}

    def get_or_create(self, slug: str) -> Room:
        room = self._rooms.get(slug)
        if room is None:
            room = self._rooms[slug] = Room(slug)
            logger.info("room %s opened", slug)
        return room

    def discard_if_empty(self, room: Room) -> None:
        if not room.participants and self._rooms.get(room.slug) is room:
            del self._rooms[room.slug]
            logger.info("room %s closed", room.slug)

    def __iter__(self):
        return iter(list(self._rooms.values()))

    @property
    def slugs(self) -> list[str]:
        return list(self._rooms)

    @property
    def participant_count(self) -> int:
        return sum(len(room.participants) for room in self._rooms.values())
