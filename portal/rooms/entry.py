"""Who is looking at a room and how they may enter it: the rules of docs/meetings.md, once.

A visitor is a signed-in user, or a guest whose session (from an invitation link) is bound to
this one room. Their role and their way in (directly, through the lobby, or not at all) follow
from the room's settings and from any invitation they hold. Every room page, the lobby and the
join-token endpoint ask `visitor_for()`; no view decides this on its own.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from flask import session
from flask_login import current_user

from portal.rooms.models import ParticipantRole, Room, RoomAccess
from portal.users.models import User

# Flask session keys (signed cookie).
GUEST_KEY = "guest"  # {id, room, name, role}: one guest session, for one room
PASSES_KEY = "room_passes"  # {slug: role}: invitations a signed-in agent has redeemed
WAITING_KEY = "waiting_ids"  # {slug: waiting id}: a signed-in agent's identity in a lobby
MAX_REMEMBERED_ROOMS = 10
GUEST_UID_PREFIX = "guest:"


class Route(enum.StrEnum):
    DIRECT = "direct"  # enters without waiting
    LOBBY = "lobby"  # waits for a moderator
    CLOSED = "closed"  # may not enter (an `invited` room without lobby, guests not allowed)


@dataclass(frozen=True)
class Guest:
    id: str
    room: str
    name: str
    role: ParticipantRole


@dataclass(frozen=True)
class Visitor:
    room: Room
    user: User | None
    guest: Guest | None
    role: ParticipantRole
    route: Route

    @property
    def uid(self) -> str:
        """Stable identity in this room (join token `uid`; bans apply to it)."""
        if self.user is not None:
            return self.user.public_id
        return GUEST_UID_PREFIX + self.guest.id

    @property
    def is_moderator(self) -> bool:
        return self.role is ParticipantRole.MODERATOR

    @property
    def is_room_manager(self) -> bool:
        """The owner or a co-moderator: edits settings and invitations (needs an account)."""
        return self.user is not None and self.room.is_moderator(self.user)

    @property
    def default_name(self) -> str:
        return self.user.display_name if self.user is not None else self.guest.name

    @property
    def audit_label(self) -> str | None:
        """How the audit log shows a visitor without an account."""
        return None if self.user is not None else f"invité ({self.guest.name})"

    @property
    def waiting_id(self) -> str:
        """This visitor's identity in the room's lobby."""
        if self.guest is not None:
            return self.guest.id
        ids = dict(session.get(WAITING_KEY, {}))
        if self.room.slug not in ids:
            ids[self.room.slug] = "agent-" + secrets.token_urlsafe(16)
            session[WAITING_KEY] = dict(list(ids.items())[-MAX_REMEMBERED_ROOMS:])
        return ids[self.room.slug]


def route_for(
    room: Room, *, user: User | None, invitation_role: ParticipantRole | None
) -> tuple[ParticipantRole, Route]:
    """The role and the way in (docs/meetings.md, "Rules").

    - moderators (owner, co-moderators, moderator invitation) enter directly;
    - invitation holders enter directly (guests: through the lobby if the room has one);
    - `agents` rooms: any signed-in agent enters directly;
    - `invited` rooms: other signed-in agents wait in the lobby, or may not enter without one.
    """
    if user is None and not room.owner.tenant.guests_allowed:
        return invitation_role or ParticipantRole.PARTICIPANT, Route.CLOSED
    if user is not None and room.is_moderator(user):
        return ParticipantRole.MODERATOR, Route.DIRECT
    if invitation_role is ParticipantRole.MODERATOR:
        return ParticipantRole.MODERATOR, Route.DIRECT
    if user is None:  # a guest with a participant invitation
        return ParticipantRole.PARTICIPANT, Route.LOBBY if room.lobby_enabled else Route.DIRECT
    if invitation_role is ParticipantRole.PARTICIPANT or room.access is RoomAccess.AGENTS:
        return ParticipantRole.PARTICIPANT, Route.DIRECT
    return ParticipantRole.PARTICIPANT, Route.LOBBY if room.lobby_enabled else Route.CLOSED


def current_guest() -> Guest | None:
    data = session.get(GUEST_KEY)
    if not isinstance(data, dict):
        return None
    try:
        return Guest(data["id"], data["room"], data["name"], ParticipantRole(data["role"]))
    except (KeyError, ValueError):
        return None


def start_guest_session(room: Room, name: str, role: ParticipantRole) -> Guest:
    """A new guest identity for this room only; replaces any earlier guest session."""
    guest = Guest("g-" + secrets.token_urlsafe(16), room.slug, name, role)
    session[GUEST_KEY] = {"id": guest.id, "room": guest.room, "name": name, "role": role.value}
    return guest


def grant_pass(room: Room, role: ParticipantRole) -> None:
    """A signed-in agent redeemed an invitation to this room: remember its role."""
    passes = dict(session.get(PASSES_KEY, {}))
    passes.pop(room.slug, None)
    passes[room.slug] = role.value
    session[PASSES_KEY] = dict(list(passes.items())[-MAX_REMEMBERED_ROOMS:])


def visitor_for(room: Room) -> Visitor | None:
    """The current request's visitor of `room`, or None (anonymous, or a guest of another
    room: a guest session opens one room only)."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        held = session.get(PASSES_KEY, {}).get(room.slug)
        invitation_role = ParticipantRole(held) if held in ("moderator", "participant") else None
        role, route = route_for(room, user=user, invitation_role=invitation_role)
        return Visitor(room, user, None, role, route)
    guest = current_guest()
    if guest is None or guest.room != room.slug:
        return None
    role, route = route_for(room, user=None, invitation_role=guest.role)
    return Visitor(room, None, guest, role, route)
