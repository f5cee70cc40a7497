"""Meeting (one continuous use of a room) and Attendance (one participant's presence in it).

Attendance deliberately records no user: usage figures need counts and durations, not who
attended (minimal personal data). Both are deleted after the tenant's retention period.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.users.models import new_public_id


class Meeting(db.Model):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    public_id: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        nullable=False,
        default=new_public_id,
        comment="Unguessable identifier used in URLs",
    )
    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The room the meeting took place in",
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The room's tenant, copied so usage and retention queries stay within a tenant",
    )
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        index=True,
        comment="When the first participant joined, UTC",
    )
    ended_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="When the last participant left, UTC; null while the meeting goes on",
    )
    peak_participants: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="Largest number of people present at once",
    )

    attendances: Mapped[list[Attendance]] = relationship(
        back_populates="meeting", passive_deletes=True, cascade="all, delete-orphan"
    )


class Attendance(db.Model):
    __tablename__ = "attendances"
    __table_args__ = (UniqueConstraint("meeting_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The meeting attended",
    )
    participant_id: Mapped[str] = mapped_column(
        String(64),
        nullable=False,
        comment="Random participant id of this join (the join token's sub); not a user id",
    )
    joined_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, comment="When the SFU admitted them, UTC"
    )
    left_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="When they left, UTC; null while present",
    )

    meeting: Mapped[Meeting] = relationship(back_populates="attendances")
