"""The Room model and the roles a participant can hold in it."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.tenants.models import enum_column
from portal.users.models import User, utcnow

# 32 symbols (5 bits each) without the look-alikes l, o, 0, 1: easy to read out and type.
SLUG_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
SLUG_GROUPS = (4, 4, 4)  # "abcd-efgh-jkmn": 12 symbols, 60 bits of entropy
ROOM_NAME_MAX_LENGTH = 120


def new_room_slug() -> str:
    """An unguessable, readable room identifier such as "k7dq-m2xa-pw9e"."""
    return "-".join(
        "".join(secrets.choice(SLUG_ALPHABET) for _ in range(size)) for size in SLUG_GROUPS
    )


class ParticipantRole(enum.StrEnum):
    """What a participant may do in a room; carried in the join token's `role` claim."""

    MODERATOR = "moderator"
    PARTICIPANT = "participant"


class RoomAccess(enum.StrEnum):
    """Who enters a room without waiting in the lobby (docs/meetings.md)."""

    AGENTS = "agents"  # any signed-in agent holding the link
    INVITED = "invited"  # only invitation holders and moderators


# Co-moderators: agents of the room's ministry the owner named; moderators when they join.
room_moderators = Table(
    "room_moderators",
    db.metadata,
    Column(
        "room_id",
        ForeignKey("rooms.id", ondelete="CASCADE"),
        primary_key=True,
        comment="The room",
    ),
    Column(
        "user_id",
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
        comment="An agent of the room's ministry who moderates it with the owner",
    ),
)


class Room(db.Model):
    __tablename__ = "rooms"
    __table_args__ = (
        CheckConstraint("capacity BETWEEN 2 AND 55", name="capacity_range"),
        CheckConstraint(
            "(schedule_starts_at IS NULL) = (schedule_ends_at IS NULL)",
            name="schedule_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    slug: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        nullable=False,
        default=new_room_slug,
        comment="Unguessable public identifier used in the room's URL and by the SFU",
    )
    name: Mapped[str] = mapped_column(
        String(ROOM_NAME_MAX_LENGTH), nullable=False, comment="Name chosen by the owner"
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The owner's ministry; only its agents and admins see the room in lists",
    )
    capacity: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=20,
        server_default="20",
        comment="Most people in the room at once; within the tenant's maximum, never above 55",
    )
    lobby_enabled: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=True,
        server_default=true(),
        comment="Guests wait in a lobby until a moderator admits them",
    )
    audio_only_by_default: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=False,
        server_default=false(),
        comment="Participants enter in audio-only mode unless they choose otherwise",
    )
    access: Mapped[RoomAccess] = mapped_column(
        enum_column(RoomAccess, "room_access"),
        nullable=False,
        default=RoomAccess.AGENTS,
        server_default=RoomAccess.AGENTS.value,
        comment="'agents': signed-in agents enter directly; 'invited': invitation holders only",
    )
    schedule_starts_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="Scheduled start, UTC; entry opens 5 min before; null: no schedule",
    )
    schedule_ends_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="Scheduled end, UTC (at most 6 h after the start); entry closes 5 min after",
    )
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The user who created the room; moderator when they join",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        comment="When the room was created, UTC",
    )

    owner: Mapped[User] = relationship()
    co_moderators: Mapped[list[User]] = relationship(secondary=room_moderators, order_by=User.email)

    def is_moderator(self, user: User) -> bool:
        """The owner and the co-moderators (an invitation may also make someone moderator:
        see portal/rooms/entry.py)."""
        return user.id == self.owner_id or any(m.id == user.id for m in self.co_moderators)

    def role_of(self, user: User) -> ParticipantRole:
        if self.is_moderator(user):
            return ParticipantRole.MODERATOR
        return ParticipantRole.PARTICIPANT

    def __repr__(self) -> str:
        return f"<Room {self.slug} {self.name!r}>"
