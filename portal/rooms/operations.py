"""State changes on rooms and the issuing of join tokens (the place tests aim at)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import redis
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal.audit.models import AuditAction
from portal.audit.operations import diff, record
from portal.extensions import db
from portal.lobby.operations import ADMITTED, Lobby
from portal.media.join_tokens import sign_join_token
from portal.media.placement import Placement
from portal.media.turn import TurnSettings, ice_servers_for_join
from portal.rooms.entry import Route, Visitor
from portal.rooms.models import Room, RoomAccess, room_moderators
from portal.rooms.schedule import (
    MAX_SCHEDULE_DURATION,
    as_utc,
    french_date,
    french_time,
    schedule_of,
)
from portal.users.models import User

logger = logging.getLogger(__name__)


def create_room(owner: User, name: str, capacity: int | None = None) -> Room:
    """A room in the owner's tenant, its settings taken from the tenant's policy.

    `capacity` defaults to the policy's and may not exceed the policy's maximum.
    """
    policy = owner.tenant
    if capacity is None:
        capacity = policy.default_room_capacity
    if not 2 <= capacity <= policy.max_room_capacity:
        raise ValueError(f"capacity must be 2..{policy.max_room_capacity}")
    room = Room(
        owner=owner,
        tenant_id=owner.tenant_id,
        name=name,
        capacity=capacity,
        lobby_enabled=policy.lobby_by_default,
        audio_only_by_default=policy.audio_only_by_default,
    )
    db.session.add(room)
    db.session.commit()
    logger.info("user %s created room %s", owner.public_id, room.slug)
    return room


def rooms_owned_by(user: User) -> list[Room]:
    query = select(Room).where(Room.owner_id == user.id).order_by(Room.created_at.desc(), Room.id)
    return list(db.session.scalars(query))


def rooms_moderated_by(user: User) -> list[Room]:
    """Rooms the user owns or co-moderates, newest first."""
    co_moderated = select(room_moderators.c.room_id).where(room_moderators.c.user_id == user.id)
    query = (
        select(Room)
        .where((Room.owner_id == user.id) | Room.id.in_(co_moderated))
        .order_by(Room.created_at.desc(), Room.id)
    )
    return list(db.session.scalars(query))


def room_by_slug(slug: str) -> Room | None:
    return db.session.scalar(select(Room).where(Room.slug == slug))


@dataclass(frozen=True)
class RoomSettings:
    """Everything the settings page edits; times are UTC."""

    name: str
    access: RoomAccess
    lobby_enabled: bool
    capacity: int
    audio_only_by_default: bool
    schedule_starts_at: datetime | None
    schedule_ends_at: datetime | None
    co_moderators: Sequence[User]


def settings_of(room: Room) -> dict:
    """The room's settings as plain values, for the audit log's before/after."""
    return {
        "name": room.name,
        "access": room.access.value,
        "lobby_enabled": room.lobby_enabled,
        "capacity": room.capacity,
        "audio_only_by_default": room.audio_only_by_default,
        "schedule_starts_at": _iso(room.schedule_starts_at),
        "schedule_ends_at": _iso(room.schedule_ends_at),
        "co_moderators": sorted(user.email for user in room.co_moderators),
    }


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def update_settings(
    room: Room, settings: RoomSettings, *, actor: User, max_capacity: int
) -> dict[str, list]:
    """Apply the settings page, with an audit event in the same transaction; returns the diff.

    Raises ValueError on settings the form should have refused.
    """
    if not 2 <= settings.capacity <= max_capacity:
        raise ValueError(f"capacity must be 2..{max_capacity}")
    starts, ends = settings.schedule_starts_at, settings.schedule_ends_at
    if (starts is None) != (ends is None):
        raise ValueError("a schedule needs a start and an end")
    if starts is not None and not starts < ends <= starts + MAX_SCHEDULE_DURATION:
        raise ValueError("a schedule ends after its start, within 6 hours")
    for user in settings.co_moderators:
        if user.tenant_id != room.tenant_id:
            raise ValueError("co-moderators belong to the room's ministry")
    before = settings_of(room)
    room.name = settings.name
    room.access = settings.access
    room.lobby_enabled = settings.lobby_enabled
    room.capacity = settings.capacity
    room.audio_only_by_default = settings.audio_only_by_default
    room.schedule_starts_at, room.schedule_ends_at = starts, ends
    room.co_moderators = [user for user in settings.co_moderators if user.id != room.owner_id]
    changes = diff(before, settings_of(room))
    if changes:
        record(
            AuditAction.ROOM_SETTINGS_UPDATED,
            tenant=room.owner.tenant,
            actor=actor,
            target_type="room",
            target_id=room.slug,
            changes=changes,
        )
    db.session.commit()
    logger.info("user %s updated room %s: %s", actor.public_id, room.slug, sorted(changes))
    return changes


def agents_by_email(tenant_id: int, emails: Sequence[str]) -> tuple[list[User], list[str]]:
    """Active agents of the tenant with these addresses (case-insensitive), and the addresses
    that match none."""
    found, unknown = [], []
    for email in emails:
        user = db.session.scalar(
            select(User).where(
                User.tenant_id == tenant_id,
                User.is_active.is_(True),
                func.lower(User.email) == email.lower(),
            )
        )
        if user is None:
            unknown.append(email)
        elif user not in found:
            found.append(user)
    return found, unknown


class JoinRefused(Exception):
    """No token: `code` for scripts, `message` in French for people (docs/meetings.md)."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def room_key(prefix: str, slug: str, suffix: str) -> str:
    return f"{prefix}sfu:room:{slug}:{suffix}"


def check_entry(
    visitor: Visitor, *, lobby: Lobby, client: redis.Redis, key_prefix: str, now: datetime
) -> None:
    """Raise JoinRefused unless the visitor may get a join token now. Redis errors propagate."""
    room = visitor.room
    if visitor.route is Route.CLOSED:
        raise JoinRefused(
            "invitation_required",
            _(
                "Cette salle est réservée aux personnes invitées. "
                "Demandez une invitation à l'organisateur de la réunion."
            ),
        )
    if visitor.route is Route.LOBBY and lobby.decision(visitor.waiting_id) != ADMITTED:
        raise JoinRefused(
            "lobby", _("Un modérateur doit d'abord vous faire entrer depuis la salle d'attente.")
        )
    schedule = schedule_of(room)
    if schedule is not None:
        if now < schedule.opens_at:
            raise JoinRefused(
                "schedule_not_open",
                _(
                    "La réunion n'est pas encore ouverte. Vous pourrez entrer à partir du "
                    "%(date)s à %(time)s (heure de Paris).",
                    date=french_date(schedule.opens_at),
                    time=french_time(schedule.opens_at),
                ),
            )
        if now > schedule.closes_at:
            raise JoinRefused("schedule_closed", _("Cette réunion programmée est terminée."))
    if client.sismember(room_key(key_prefix, room.slug, "banned"), visitor.uid):
        raise JoinRefused(
            "banned",
            _("Un modérateur vous a retiré de cette réunion : vous ne pouvez pas revenir."),
        )
    if not visitor.is_moderator:
        if client.get(room_key(key_prefix, room.slug, "locked")):
            raise JoinRefused(
                "room_locked",
                _("La réunion est verrouillée par un modérateur : personne ne peut plus entrer."),
            )
        if client.exists(room_key(key_prefix, room.slug, "ended")):
            raise JoinRefused(
                "meeting_ended", _("Un modérateur vient de mettre fin à la réunion pour tous.")
            )


@dataclass(frozen=True)
class JoinGrant:
    """What a browser needs to join a room: the token and where to present it."""

    token: str
    signalling_url: str
    room: str
    participant_id: str
    role: str
    ice_servers: list
    worker_id: str  # the worker hosting the room; a client that loses it reports it back

    def as_json(self) -> dict:
        return asdict(self)


def issue_join(
    visitor: Visitor,
    display_name: str,
    *,
    placement: Placement,
    lobby: Lobby,
    client: redis.Redis,
    key_prefix: str,
    now: datetime,
    private_key_pem: bytes,
    issuer: str,
    lifetime_seconds: int,
    ice_servers: list,
    turn: TurnSettings | None = None,
    failed_worker: str | None = None,
) -> JoinGrant:
    """Check the visitor may enter now, place the room on a worker and sign a single-use token
    for this one join.

    Raises JoinRefused (check_entry), NoWorkerAvailable (placement) when no SFU worker is alive.
    `failed_worker`: the worker a reconnecting client lost (Placement.place).
    """
    room = visitor.room
    check_entry(visitor, lobby=lobby, client=client, key_prefix=key_prefix, now=now)
    worker = placement.place(room.slug, failed_worker=failed_worker)
    participant_id = secrets.token_urlsafe(12)
    role = visitor.role
    schedule = schedule_of(room)
    token = sign_join_token(
        private_key_pem,
        issuer=issuer,
        room=room.slug,
        participant_id=participant_id,
        display_name=display_name,
        role=role.value,
        lifetime_seconds=lifetime_seconds,
        uid=visitor.uid,
        capacity=room.capacity,
        audio_only=room.audio_only_by_default,
        close_at=int(schedule.closes_at.timestamp()) if schedule is not None else None,
    )
    logger.info(
        "%s gets a %s join token for room %s on worker %s",
        visitor.uid,
        role.value,
        room.slug,
        worker.worker_id,
    )
    return JoinGrant(
        token=token,
        signalling_url=worker.url,
        room=room.slug,
        participant_id=participant_id,
        role=role.value,
        # TURN credentials are made for this join and expire (portal/media/turn.py).
        ice_servers=ice_servers_for_join(ice_servers, turn, participant_id, now),
        worker_id=worker.worker_id,
    )
