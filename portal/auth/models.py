"""The Identity model: a user's account at one identity provider (issuer + subject)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.users.models import User, utcnow


class Identity(db.Model):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The user this identity signs in as",
    )
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
        comment="The configured provider that vouched for it; null if since removed",
    )
    issuer: Mapped[str] = mapped_column(
        String(255), nullable=False, comment="OIDC issuer URL of the identity provider (iss)"
    )
    subject: Mapped[str] = mapped_column(
        String(255),
        nullable=False,
        comment="Stable identifier of the person at that provider (sub)",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        comment="When this identity was first used, UTC",
    )
    last_login_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True),
        nullable=True,
        comment="When this identity was last used to sign in, UTC",
    )

    user: Mapped[User] = relationship(backref=db.backref("identities", passive_deletes=True))

    def __repr__(self) -> str:
        return f"<Identity {self.issuer} {self.subject}>"
