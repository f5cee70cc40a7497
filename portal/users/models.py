"""The User model: one person, whatever identity provider they sign in with."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, String, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db

if TYPE_CHECKING:
    from portal.tenants.models import Tenant

EMAIL_MAX_LENGTH = 320
DISPLAY_NAME_MAX_LENGTH = 200


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_public_id() -> str:
    """An unguessable identifier safe to show in URLs and sessions (128 bits)."""
    return secrets.token_urlsafe(16)


class Role(enum.StrEnum):
    """What a user may administer; each role includes the ones before it."""

    AGENT = "agent"  # creates rooms and invites people
    TENANT_ADMIN = "tenant_admin"  # also manages their ministry's agents, policy, usage, audit
    PLATFORM_ADMIN = "platform_admin"  # also creates and configures tenants and their providers


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
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The ministry the agent belongs to; every query about them is scoped to it",
    )
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="user_role",
            native_enum=False,
            values_callable=lambda members: [member.value for member in members],
            validate_strings=True,
            length=32,
        ),
        nullable=False,
        default=Role.AGENT,
        server_default=Role.AGENT.value,
        comment="agent, tenant_admin or platform_admin",
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

    tenant: Mapped[Tenant] = relationship()

    @property
    def is_tenant_admin(self) -> bool:
        return self.role in (Role.TENANT_ADMIN, Role.PLATFORM_ADMIN)

    @property
    def is_platform_admin(self) -> bool:
        return self.role is Role.PLATFORM_ADMIN

    def get_id(self) -> str:
        # Flask-Login keeps this in the session: the public id, never the row number.
        return self.public_id

    def __repr__(self) -> str:
        return f"<User {self.public_id} {self.email}>"
