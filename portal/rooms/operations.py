"""State changes on rooms and the issuing of join tokens (the place tests aim at)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import select

from portal.extensions import db
from portal.media.join_tokens import sign_join_token
from portal.media.placement import Placement
from portal.rooms.models import Room
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


def room_by_slug(slug: str) -> Room | None:
    return db.session.scalar(select(Room).where(Room.slug == slug))


@dataclass(frozen=True)
class JoinGrant:
    """What a browser needs to join a room: the token and where to present it."""

    token: str
    signalling_url: str
    room: str
    participant_id: str
    role: str
    ice_servers: list

    def as_json(self) -> dict:
        return asdict(self)


def issue_join(
    room: Room,
    user: User,
    display_name: str,
    *,
    placement: Placement,
    private_key_pem: bytes,
    issuer: str,
    lifetime_seconds: int,
    ice_servers: list,
) -> JoinGrant:
    """Place the room on a worker and sign a single-use token for this one join.

    Raises NoWorkerAvailable (placement) when no SFU worker is alive.
    """
    worker = placement.place(room.slug)
    participant_id = secrets.token_urlsafe(12)
    role = room.role_of(user)
    token = sign_join_token(
        private_key_pem,
        issuer=issuer,
        room=room.slug,
        participant_id=participant_id,
        display_name=display_name,
        role=role.value,
        lifetime_seconds=lifetime_seconds,
    )
    logger.info(
        "user %s gets a %s join token for room %s on worker %s",
        user.public_id,
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
        ice_servers=ice_servers,
    )
