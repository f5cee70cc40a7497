"""The Invitation model: one link /i/<token> to one room. Only the token's hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.rooms.models import ParticipantRole, Room
from portal.tenants.models import enum_column
from portal.users.models import User, new_public_id, utcnow

INVITATION_LABEL_MAX_LENGTH = 120


def new_invitation_token() -> str:
    """256 random bits, URL-safe: the secret part of an invitation link."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 of the token, hex. A plain hash is enough: the token has 256 bits of entropy, so
    nothing can be guessed from the hash (a slow, salted hash protects low-entropy passwords);
    and it lets the link be found with one indexed lookup."""
    return hashlib.sha256(token.encode()).hexdigest()


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; everything stored here is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Invitation(db.Model):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    public_id: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        nullable=False,
        default=new_public_id,
        comment="Identifier used on the management page (revocation); not the link's secret",
    )
    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The room the invitation lets people into",
    )
    token_hash: Mapped[str] = mapped_column(
        String(64),
        unique=True,
        nullable=False,
        comment="SHA-256 (hex) of the link's token; the token itself is never stored",
    )
    role: Mapped[ParticipantRole] = mapped_column(
        enum_column(ParticipantRole, "invitation_role"),
        nullable=False,
        default=ParticipantRole.PARTICIPANT,
        server_default=ParticipantRole.PARTICIPANT.value,
        comment="Role given to whoever comes with it: participant or moderator",
    )
    label: Mapped[str | None] = mapped_column(
        String(INVITATION_LABEL_MAX_LENGTH),
        nullable=True,
        comment="Note for the moderators: whom the link was sent to",
    )
    expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="After this moment (UTC) the link no longer works; null: no expiry",
    )
    max_uses: Mapped[int | None] = mapped_column(
        Integer, nullable=True, comment="How many times the link may be used; null: no limit"
    )
    uses: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=0,
        server_default="0",
        comment="How many times the link has been used (a name given, or an agent let in)",
    )
    revoked_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="When a moderator revoked the link, UTC; null while it is valid",
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
        comment="The moderator who created it; null for a guest moderator or a deleted account",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        comment="When the invitation was created, UTC",
    )

    room: Mapped[Room] = relationship()
    created_by: Mapped[User | None] = relationship()

    def unusable_reason(self, now: datetime) -> str | None:
        """'revoked', 'expired' or 'used_up' when the link no longer works, else None."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and as_utc(self.expires_at) <= now:
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used_up"
        return None

    def __repr__(self) -> str:
        return f"<Invitation {self.public_id} room={self.room_id} {self.role.value}>"
