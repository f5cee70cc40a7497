"""Two ministries and a platform administrator, for access and isolation tests.

Ministry A and ministry B each have an agent, an administrator, an inactive agent and a room;
the platform administrator belongs to a third ministry ("plateforme"). A has its own identity
provider; a federation provider has a rule leading to A. Names are unique strings so a page can
be searched for another tenant's data.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from portal.extensions import db
from portal.rooms.models import Room
from portal.tenants.models import (
    FederationClaim,
    FederationRule,
    IdentityProvider,
    ProviderKind,
    Tenant,
)
from portal.users.models import Role, User
from tests.fixtures.portal import make_room, make_tenant, make_user

UNREACHABLE_ISSUER = "http://127.0.0.1:1"  # nothing listens: the provider check fails fast
PROVIDER_SECRET = "secret-du-fournisseur-a"  # noqa: S105


@dataclass
class World:
    tenant_a: Tenant
    tenant_b: Tenant
    tenant_p: Tenant
    agent_a: User
    admin_a: User
    inactive_a: User
    agent_b: User
    admin_b: User
    inactive_b: User
    platform_admin: User
    room_a: Room
    room_b: Room
    provider_a_id: str
    federation_id: str
    rule_id: int
    # Invitations to room A (participant role): the guest's link, and one to revoke.
    invitation_token: str = ""
    revocable_invitation_id: str = ""

    def actor(self, name: str) -> User | None:
        return {
            "agent_a": self.agent_a,
            "admin_a": self.admin_a,
            "agent_b": self.agent_b,
            "admin_b": self.admin_b,
            "platform": self.platform_admin,
        }.get(name)

    def markers(self, tenant: Tenant) -> list[str]:
        """Strings that only pages about `tenant` may contain. Ministry names are public (the
        sign-in page lists them); people's addresses and room names are not."""
        if tenant.id == self.tenant_a.id:
            return [self.agent_a.email, self.admin_a.email, self.room_a.name]
        if tenant.id == self.tenant_b.id:
            return [self.agent_b.email, self.admin_b.email, self.room_b.name]
        return [self.platform_admin.email]


def build_world(app: Flask) -> World:
    from portal.core.crypto import encrypt_secret

    tenant_a = make_tenant(app, slug="ministere-a", name="Ministère Alpha")
    tenant_b = make_tenant(app, slug="ministere-b", name="Ministère Bêta")
    tenant_p = make_tenant(app, slug="plateforme", name="Opérateur de la plateforme")
    agent_a = make_user(app, tenant=tenant_a, email="agent.alpha@a.gouv.fr", display_name="Ana A")
    admin_a = make_user(app, tenant=tenant_a, email="admin.alpha@a.gouv.fr", role=Role.TENANT_ADMIN)
    inactive_a = make_user(app, tenant=tenant_a, email="inactif.alpha@a.gouv.fr", is_active=False)
    agent_b = make_user(app, tenant=tenant_b, email="agent.beta@b.gouv.fr", display_name="Bob B")
    admin_b = make_user(app, tenant=tenant_b, email="admin.beta@b.gouv.fr", role=Role.TENANT_ADMIN)
    inactive_b = make_user(app, tenant=tenant_b, email="inactif.beta@b.gouv.fr", is_active=False)
    platform_admin = make_user(
        app, tenant=tenant_p, email="operateur@plateforme.gouv.fr", role=Role.PLATFORM_ADMIN
    )
    room_a = make_room(app, agent_a, name="Salle confidentielle Alpha")
    room_b = make_room(app, agent_b, name="Salle confidentielle Bêta")
    with app.app_context():
        provider_a = IdentityProvider(
            kind=ProviderKind.TENANT,
            tenant_id=tenant_a.id,
            name="Annuaire Alpha",
            issuer=UNREACHABLE_ISSUER,
            client_id="portail-alpha",
            client_secret_encrypted=encrypt_secret(PROVIDER_SECRET),
        )
        federation = IdentityProvider(
            kind=ProviderKind.FEDERATION,
            name="Fédération interministérielle",
            issuer="http://127.0.0.1:2/federation",
            client_id="portail-federation",
            client_secret_encrypted=encrypt_secret("secret-de-la-federation"),
        )
        db.session.add_all([provider_a, federation])
        db.session.flush()
        rule = FederationRule(
            provider_id=federation.id,
            tenant_id=tenant_a.id,
            claim=FederationClaim.ORGANIZATION_ID,
            value="alpha-siret",
        )
        db.session.add(rule)
        db.session.commit()
        ids = provider_a.public_id, federation.public_id, rule.id
    from portal.invitations.models import Invitation, hash_token, new_invitation_token

    # Written directly, not through create_invitation: the world starts with an empty audit log.
    invitation_token = new_invitation_token()
    with app.app_context():
        revocable = Invitation(room_id=room_a.id, token_hash=hash_token(new_invitation_token()))
        db.session.add_all(
            [Invitation(room_id=room_a.id, token_hash=hash_token(invitation_token)), revocable]
        )
        db.session.commit()
        revocable_id = revocable.public_id
    return World(
        tenant_a,
        tenant_b,
        tenant_p,
        agent_a,
        admin_a,
        inactive_a,
        agent_b,
        admin_b,
        inactive_b,
        platform_admin,
        room_a,
        room_b,
        *ids,
        invitation_token,
        revocable_id,
    )


SNAPSHOT_TABLES = (
    "tenants",
    "users",
    "rooms",
    "identity_providers",
    "federation_rules",
    "audit_events",
    "meetings",
    "attendances",
    "invitations",
    "room_moderators",
)


def snapshot(app: Flask) -> dict[str, list[tuple]]:
    """Every row of the tables an administrator can change, to compare before and after."""
    with app.app_context():
        return {
            name: sorted(
                (
                    tuple(str(value) for value in row)
                    for row in db.session.execute(sa.select(db.metadata.tables[name]))
                ),
            )
            for name in SNAPSHOT_TABLES
        }


def get_user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def get_tenant(app: Flask, tenant_id: int) -> Tenant:
    with app.app_context():
        tenant = db.session.get(Tenant, tenant_id)
        db.session.expunge(tenant)
        return tenant
