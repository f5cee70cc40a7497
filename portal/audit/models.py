"""AuditEvent: one administrative action, kept for the tenant's retention period."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.tenants.models import Tenant, enum_column
from portal.users.models import User, utcnow


class AuditAction(enum.StrEnum):
    TENANT_CREATED = "tenant.created"
    TENANT_UPDATED = "tenant.updated"
    POLICY_UPDATED = "tenant.policy_updated"
    PROVIDER_CREATED = "provider.created"
    PROVIDER_UPDATED = "provider.updated"
    FEDERATION_RULE_ADDED = "federation_rule.added"
    FEDERATION_RULE_REMOVED = "federation_rule.removed"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    # Meetings (docs/meetings.md). The column is a plain string without a CHECK constraint
    # (native_enum=False, no create_constraint), so new members need no migration; ≤ 32 chars.
    ROOM_SETTINGS_UPDATED = "room.settings_updated"
    INVITATION_CREATED = "invitation.created"
    INVITATION_REVOKED = "invitation.revoked"
    LOBBY_ADMITTED = "lobby.admitted"
    LOBBY_REFUSED = "lobby.refused"
    PARTICIPANT_REMOVED = "participant.removed"
    PARTICIPANT_PROMOTED = "participant.promoted"
    MEETING_ENDED = "meeting.ended"


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
        comment="Tenant concerned; null for platform-wide actions (a federation provider)",
    )
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
        comment="Who acted; null for the command line or once the actor's account is deleted",
    )
    actor_label: Mapped[str] = mapped_column(
        String(320),
        nullable=False,
        comment="How the actor is shown: their e-mail at the time, or 'ligne de commande'",
    )
    action: Mapped[AuditAction] = mapped_column(
        enum_column(AuditAction, "audit_action"), nullable=False, comment="What was done"
    )
    target_type: Mapped[str] = mapped_column(
        String(40), nullable=False, comment="Kind of object acted on: tenant, provider, user…"
    )
    target_id: Mapped[str] = mapped_column(
        String(64), nullable=False, comment="Public identifier of the object acted on"
    )
    changes: Mapped[dict[str, Any]] = mapped_column(
        JSON,
        nullable=False,
        default=dict,
        comment="What changed, {field: [before, after]}; secrets are never recorded",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        index=True,
        comment="When the action happened, UTC",
    )

    tenant: Mapped[Tenant | None] = relationship()
    actor: Mapped[User | None] = relationship()
