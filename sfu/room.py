"""Rooms and participants hosted by this worker: who is there, what they publish, their mute state,
raised hands, the room's lock and mute-all, and the timer that ends a meeting that runs too long.

Pure state plus broadcast; media and negotiation live in forwarding.py and peer.py, moderation
(who may do what, Redis) in session.py and moderation.py. Runs on the event loop only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sfu.negotiation_budget import NegotiationBudget
from sfu.quality.audio_gate import AudioGate
from sfu.quality.speakers import ActiveSpeakers

if TYPE_CHECKING:
    from sfu.forwarding import Publication
    from sfu.peer import Peer

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]

MODERATOR = "moderator"
# Longest meeting, from its first participant (docs/meetings.md).
MAX_MEETING_SECONDS = 6 * 3600
# Why a meeting ended (`ended {reason}`).
ENDED_BY_MODERATOR = "moderator"
ENDED_BY_SCHEDULE = "schedule"
ENDED_BY_MAX_DURATION = "max_duration"


async def _no_close(code: int, reason: str) -> None:
    return None


@dataclass(eq=False)
class Participant:
    id: str
    name: str
    role: str
    send: Send
    # Stable identity in the room (the token's `uid`); bans apply to it.
    uid: str = ""
    guest: bool = False
    close: Close = _no_close
    microphone: bool = True
    camera: bool = True
    screen: bool = False
    hand: bool = False
    # Muted by a moderator: the SFU drops this participant's audio until they unmute.
    audio_blocked: bool = False
    # Audio-only mode: the SFU forwards no video to this participant and none of theirs.
    audio_only: bool = False
    peer: Peer | None = None

    @property
    def is_moderator(self) -> bool:
        return self.role == MODERATOR

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "guest": self.guest,
            "microphone": self.microphone,
            "camera": self.camera,
            "screen": self.screen,
            "hand": self.hand,
            "audio_only": self.audio_only,
        }


@dataclass(eq=False)
class Room:
    slug: str
    participants: dict[str, Participant] = field(default_factory=dict)
    # (owner participant id, source: "audio" | "video" | "screen") → publication
    publications: dict[tuple[str, str], Publication] = field(default_factory=dict)
    locked: bool = False
    mute_all: bool = False  # a mute-all is in force: non-moderators arrive muted
    allow_unmute: bool = True
    hands: list[str] = field(default_factory=list)  # participant ids, in raising order
    # uids removed by a moderator (also in Redis; kept here in case Redis is unavailable).
    banned: set[str] = field(default_factory=set)
    ended: bool = False
    # Pinned for everyone by a moderator: their video survives the congestion policy's last-N.
    pinned: set[str] = field(default_factory=set)
    # Fed with the RTP audio levels of every publication (sfu/audio_receive.py).
    speakers: ActiveSpeakers = field(default_factory=ActiveSpeakers)
    # Which publishers' audio is silent (not forwarded in crowded rooms).
    audio_gate: AudioGate = field(default_factory=AudioGate)
    # Turns for the CPU-heavy part of negotiations: the worker's, shared by its rooms (`Rooms`).
    negotiations: NegotiationBudget = field(default_factory=NegotiationBudget, repr=False)
    started_at: float | None = None
    close_at: float | None = None
    max_seconds: float = MAX_MEETING_SECONDS
    _on_deadline: Callable[[str], Awaitable[None]] | None = field(default=None, repr=False)
    _timer: asyncio.Task | None = field(default=None, repr=False)

    # -- the meeting's deadline -------------------------------------------------------------

    def start(
        self, on_deadline: Callable[[str], Awaitable[None]], now: float | None = None
    ) -> None:
        """Start the timer that calls `on_deadline(reason)` at the end of the meeting."""
        self.started_at = time.time() if now is None else now
        self._on_deadline = on_deadline
        self._schedule()

    def set_close_at(self, close_at: float | None) -> None:
        """The latest token's `close_at` wins (the portal knows the current schedule)."""
        if close_at is None or close_at == self.close_at:
            return
        self.close_at = close_at
        if self._on_deadline is not None:
            self._schedule()

    def deadline(self) -> tuple[float, str]:
        """When the meeting must end and why."""
        longest = (self.started_at or time.time()) + self.max_seconds
        if self.close_at is not None and self.close_at <= longest:
            return self.close_at, ENDED_BY_SCHEDULE
        return longest, ENDED_BY_MAX_DURATION

    def stop(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None

    def _schedule(self) -> None:
        self.stop()
        at, reason = self.deadline()
        self._timer = asyncio.get_running_loop().create_task(self._end_at(at, reason))

    async def _end_at(self, at: float, reason: str) -> None:
        delay = at - time.time()
        if delay > 0 and math.isfinite(delay):
            await asyncio.sleep(delay)
        self._timer = None  # ending the meeting stops the room: not this task
        logger.info("room %s reached its end (%s)", self.slug, reason)
        await self._on_deadline(reason)

    # -- participants -------------------------------------------------------------------------

    def others(self, participant_id: str) -> list[Participant]:
        return [p for p in self.participants.values() if p.id != participant_id]

    def unmute_forbidden(self, participant: Participant) -> bool:
        return self.mute_all and not self.allow_unmute and not participant.is_moderator

    def set_audio_blocked(self, participant: Participant, blocked: bool) -> None:
        """Stop (or resume) forwarding the participant's audio at the fan-out."""
        participant.audio_blocked = blocked
        publication = self.publications.get((participant.id, "audio"))
        if publication is not None:
            publication.paused = blocked

    def set_audio_only(self, participant: Participant, enabled: bool) -> None:
        """Audio-only mode at the fan-out: no video to the participant, none of their camera."""
        participant.audio_only = enabled
        if enabled:
            participant.camera = False
        if participant.peer is not None:
            participant.peer.set_audio_only(enabled)
        publication = self.publications.get((participant.id, "video"))
        if publication is not None:
            publication.set_paused(enabled)

    def set_hand(self, participant: Participant, raised: bool) -> bool:
        """Raise or lower a hand; True if the queue changed."""
        participant.hand = raised
        if raised and participant.id not in self.hands:
            self.hands.append(participant.id)
            return True
        if not raised and participant.id in self.hands:
            self.hands.remove(participant.id)
            return True
        return False

    def describe(self) -> dict[str, Any]:
        """The room's shared state, as in `room-updated`."""
        return {
            "locked": self.locked,
            "mute_all": {"active": self.mute_all, "allow_unmute": self.allow_unmute},
            "pinned": sorted(self.pinned),
        }

    async def broadcast(self, message: dict[str, Any], *, exclude: str | None = None) -> None:
        for participant in list(self.participants.values()):
            if participant.id == exclude:
                continue
            try:
                await participant.send(message)
            except Exception:  # one dead socket must not stop the others' updates
                logger.debug("could not send %s to %s", message.get("type"), participant.id)

    async def broadcast_participant(self, participant: Participant) -> None:
        await self.broadcast({"type": "participant-updated", "participant": participant.describe()})

    async def broadcast_hands(self) -> None:
        await self.broadcast({"type": "hands", "queue": list(self.hands)})

    def renegotiate_others(self, participant_id: str) -> None:
        for participant in self.others(participant_id):
            if participant.peer is not None:
                participant.peer.request_negotiation()


class Rooms:
    """All rooms this worker hosts right now."""

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self.negotiations = NegotiationBudget()  # sfu/negotiation_budget.py
        # Set while the worker drains (docs/pool.md): called with the slug of a room this worker
        # does not host, it raises the refusal; rooms already hosted stay open.
        self.refuse_new_room: Callable[[str], None] | None = None

    def get_or_create(self, slug: str) -> Room:
        room = self._rooms.get(slug)
        # An ended room whose participants are still being closed is not joined: a new one is.
        if room is None or room.ended:
            if self.refuse_new_room is not None:
                self.refuse_new_room(slug)
            room = self._rooms[slug] = Room(slug, negotiations=self.negotiations)
            logger.info("room %s opened", slug)
        return room

    def find(self, slug: str) -> Room | None:
        return self._rooms.get(slug)

    def discard_if_empty(self, room: Room) -> None:
        if not room.participants and self._rooms.get(room.slug) is room:
            del self._rooms[room.slug]
            room.stop()
            logger.info("room %s closed", room.slug)

    def __iter__(self):
        return iter(list(self._rooms.values()))

    @property
    def slugs(self) -> list[str]:
        return list(self._rooms)

    @property
    def participant_count(self) -> int:
        return sum(len(room.participants) for room in self._rooms.values())
