"""The User model: one person, whatever identity provider they sign in with."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, String, func, true
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

EMAIL_MAX_LENGTH = 320
DISPLAY_NAME_MAX_LENGTH = 200


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """An unguessable identifier safe to show in URLs and sessions (128 bits)."""
    return secrets.token_urlsafe(16)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(
        primary_key=True, comment="Internal identifier; never shown outside the database"
    )
    public_id: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        nullable=False,
        default=new_public_id,
        comment="Unguessable identifier used in sessions and URLs",
    )
    email: Mapped[str] = mapped_column(
        String(EMAIL_MAX_LENGTH),
        nullable=False,
        index=True,
        comment="E-mail address given by the identity provider at the last sign-in",
    )
    display_name: Mapped[str] = mapped_column(
        String(DISPLAY_NAME_MAX_LENGTH),
        nullable=False,
        comment="Full name given by the identity provider at the last sign-in",
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=True,
        server_default=true(),
        comment="False when an administrator deactivated the account: sign-in is refused",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        comment="When the account was created (first sign-in), UTC",
    )
    last_login_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="When the user last signed in successfully, UTC; null if never",
    )

    def get_id(self) -> str:
        # Flask-Login keeps this in the session: the public id, never the row number.
        return self.public_id

    def __repr__(self) -> str:
        return f"<User {self.public_id} {self.email}>"
