"""Tenant (a ministry), its identity providers, and the rules mapping federation claims to it."""

from __future__ import annotations

import enum
import re
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.users.models import new_public_id, utcnow

# Platform-wide limits from the service description: about 20 people for a good experience,
# never more than 55 in one room.
PLATFORM_MAX_ROOM_CAPACITY = 55
RECOMMENDED_ROOM_CAPACITY = 20
DEFAULT_RETENTION_DAYS = 90
TENANT_SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
DEFAULT_SCOPES = "openid email profile"
# Which claim of the id_token (or userinfo) carries each piece of what we keep about a person.
DEFAULT_CLAIM_MAPPING = {
    "email": "email",
    "name": "name",
    "given_name": "given_name",
    "family_name": "family_name",
    "organization": "organization",
    "organization_id": "organization_id",
}


def enum_column(enum_class: type[enum.Enum], name: str) -> Enum:
    """Store an enum by its value, as a plain string column with a CHECK (portable, readable)."""
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
        length=32,
    )


class Tenant(db.Model):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(
            f"max_room_capacity BETWEEN 2 AND {PLATFORM_MAX_ROOM_CAPACITY}",
            name="max_capacity_within_platform_limit",
        ),
        CheckConstraint(
            "default_room_capacity BETWEEN 2 AND max_room_capacity",
            name="default_capacity_within_max",
        ),
        CheckConstraint("retention_days BETWEEN 1 AND 3650", name="retention_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    public_id: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        nullable=False,
        default=new_public_id,
        comment="Unguessable identifier used in administration URLs",
    )
    slug: Mapped[str] = mapped_column(
        String(40),
        unique=True,
        nullable=False,
        comment="Short readable name chosen by the platform administrator, e.g. 'ecologie'",
    )
    name: Mapped[str] = mapped_column(
        String(200), nullable=False, comment="Full name shown to people, e.g. 'Ministère de …'"
    )
    allowed_email_domains: Mapped[list[str]] = mapped_column(
        JSON,
        nullable=False,
        default=list,
        comment="Lower-case e-mail domains of the ministry's agents: finds the ministry of an "
        "agent who types their address on the sign-in page",
    )
    guests_allowed: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=True,
        server_default=true(),
        comment="Policy: may agents invite people from outside by link",
    )
    lobby_by_default: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=True,
        server_default=true(),
        comment="Policy: new rooms make guests wait in a lobby until a moderator admits them",
    )
    default_room_capacity: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=RECOMMENDED_ROOM_CAPACITY,
        server_default=str(RECOMMENDED_ROOM_CAPACITY),
        comment="Policy: capacity (people) proposed for a new room",
    )
    max_room_capacity: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=PLATFORM_MAX_ROOM_CAPACITY,
        server_default=str(PLATFORM_MAX_ROOM_CAPACITY),
        comment="Policy: largest capacity (people) an agent may give a room; at most 55",
    )
    audio_only_by_default: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=False,
        server_default=false(),
        comment="Policy: new rooms start participants in audio-only mode",
    )
    retention_days: Mapped[int] = mapped_column(
        Integer,
        nullable=False,
        default=DEFAULT_RETENTION_DAYS,
        server_default=str(DEFAULT_RETENTION_DAYS),
        comment="Policy: days meeting records and the audit log are kept before deletion",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        comment="When the tenant was created, UTC",
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        server_default=func.now(),
        comment="When the tenant or its policy last changed, UTC",
    )

    providers: Mapped[list[IdentityProvider]] = relationship(
        back_populates="tenant", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class ProviderKind(enum.StrEnum):
    """Whose agents an identity provider signs in."""

    TENANT = "tenant"  # the ministry's own provider: every account belongs to that tenant
    FEDERATION = "federation"  # shared by several ministries: federation rules pick the tenant


class IdentityProvider(db.Model):
    __tablename__ = "identity_providers"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'tenant' AND tenant_id IS NOT NULL) OR "
            "(kind = 'federation' AND tenant_id IS NULL)",
            name="tenant_set_iff_tenant_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    public_id: Mapped[str] = mapped_column(
        String(32),
        unique=True,
        nullable=False,
        default=new_public_id,
        comment="Unguessable identifier used in URLs (sign-in, administration)",
    )
    kind: Mapped[ProviderKind] = mapped_column(
        enum_column(ProviderKind, "provider_kind"),
        nullable=False,
        comment="'tenant': one ministry's provider; 'federation': shared, claims pick the tenant",
    )
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
        comment="The ministry a 'tenant' provider signs in; null for a federation provider",
    )
    name: Mapped[str] = mapped_column(
        String(200), nullable=False, comment="Label on the sign-in button, e.g. 'ProConnect'"
    )
    issuer: Mapped[str] = mapped_column(
        String(255),
        unique=True,
        nullable=False,
        comment="OIDC issuer URL; discovery is fetched from {issuer}/.well-known/…",
    )
    client_id: Mapped[str] = mapped_column(
        String(255), nullable=False, comment="Our client id registered at the provider"
    )
    client_secret_encrypted: Mapped[str] = mapped_column(
        Text,
        nullable=False,
        comment="Our client secret, encrypted with a key derived from SECRET_KEY "
        "(portal/core/crypto.py): the database alone does not reveal it",
    )
    scopes: Mapped[str] = mapped_column(
        String(255),
        nullable=False,
        default=DEFAULT_SCOPES,
        server_default=DEFAULT_SCOPES,
        comment="Space-separated scopes requested at sign-in",
    )
    claim_mapping: Mapped[dict[str, str]] = mapped_column(
        JSON,
        nullable=False,
        default=lambda: dict(DEFAULT_CLAIM_MAPPING),
        comment="Which provider claim gives email, name, given_name, family_name, "
        "organization and organization_id",
    )
    enabled: Mapped[bool] = mapped_column(
        Boolean,
        nullable=False,
        default=True,
        server_default=true(),
        comment="False: not offered on the sign-in page and its callbacks are refused",
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        server_default=func.now(),
        comment="When the provider was configured, UTC",
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True),
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        server_default=func.now(),
        comment="When its settings last changed, UTC",
    )

    tenant: Mapped[Tenant | None] = relationship(back_populates="providers")
    federation_rules: Mapped[list[FederationRule]] = relationship(
        back_populates="provider", passive_deletes=True, cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<IdentityProvider {self.kind} {self.issuer}>"


class FederationClaim(enum.StrEnum):
    """Which claim of a federation provider a rule matches on, most specific first."""

    ORGANIZATION_ID = "organization_id"  # e.g. the SIRET of the ministry
    ORGANIZATION = "organization"  # the organisation's name as the federation gives it
    EMAIL_DOMAIN = "email_domain"  # the part after '@' of the e-mail claim


class FederationRule(db.Model):
    """A federation provider's claim value that places an agent in a tenant."""

    __tablename__ = "federation_rules"
    __table_args__ = (UniqueConstraint("provider_id", "claim", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True, comment="Internal identifier")
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The federation provider whose claims this rule reads",
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
        comment="The tenant an agent lands in when the rule matches",
    )
    claim: Mapped[FederationClaim] = mapped_column(
        enum_column(FederationClaim, "federation_claim"),
        nullable=False,
        comment="Which claim is compared: organization_id, organization or email_domain",
    )
    value: Mapped[str] = mapped_column(
        String(255),
        nullable=False,
        comment="Value the claim must equal (compared case-insensitively, stored lower-case)",
    )

    provider: Mapped[IdentityProvider] = relationship(back_populates="federation_rules")
    tenant: Mapped[Tenant] = relationship()
