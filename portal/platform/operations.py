"""State changes of the platform administration. Creating tenants and providers goes through
portal/tenants/operations.py (shared with the command line); what only these pages do — editing
a tenant, removing a federation rule — is here. Every change is audited with its diff."""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from portal.admin.operations import POLICY_FIELDS, check_policy, policy_of
from portal.audit.models import AuditAction, AuditEvent
from portal.audit.operations import diff, record
from portal.extensions import db
from portal.tenants.models import TENANT_SLUG_PATTERN, FederationRule, IdentityProvider, Tenant
from portal.tenants.operations import (
    TenantConfigurationError,
    domains_taken,
    normalize_domain,
)
from portal.users.models import User

logger = logging.getLogger(__name__)

IDENTITY_FIELDS = ("name", "slug", "allowed_email_domains")


def all_tenants() -> list[Tenant]:
    return list(db.session.scalars(select(Tenant).order_by(Tenant.name, Tenant.id)))


def all_providers() -> list[IdentityProvider]:
    query = select(IdentityProvider).order_by(IdentityProvider.name, IdentityProvider.id)
    return list(db.session.scalars(query))


def providers_of(tenant: Tenant) -> list[IdentityProvider]:
    query = (
        select(IdentityProvider)
        .where(IdentityProvider.tenant_id == tenant.id)
        .order_by(IdentityProvider.name)
    )
    return list(db.session.scalars(query))


def update_tenant(actor: User, tenant: Tenant, values: dict[str, Any]) -> list[AuditEvent]:
    """Change a tenant's name, slug, e-mail domains and policy; one audit event for the
    identity fields (tenant.updated), one for the policy (tenant.policy_updated)."""
    slug = (values.get("slug") or tenant.slug).strip().lower()
    if not TENANT_SLUG_PATTERN.match(slug):
        raise TenantConfigurationError(_("Identifiant de ministère invalide."))
    if slug != tenant.slug and db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise TenantConfigurationError(
            _("Un ministère porte déjà l'identifiant %(slug)s.", slug=repr(slug))
        )
    typed = values.get("allowed_email_domains", tenant.allowed_email_domains) or []
    domains = sorted({normalize_domain(domain) for domain in typed})
    taken = domains_taken(domains, except_tenant=tenant)
    if taken:
        raise TenantConfigurationError(
            _(
                "Domaine(s) déjà attribué(s) à un autre ministère : %(domains)s.",
                domains=", ".join(taken),
            )
        )
    before_identity = {
        "name": tenant.name,
        "slug": tenant.slug,
        "allowed_email_domains": sorted(tenant.allowed_email_domains or []),
    }
    after_identity = {
        "name": (values.get("name") or tenant.name).strip(),
        "slug": slug,
        "allowed_email_domains": domains,
    }
    before_policy = policy_of(tenant)
    after_policy = {field: values.get(field, before_policy[field]) for field in POLICY_FIELDS}
    check_policy(after_policy)

    events = []
    identity_changes = diff(before_identity, after_identity)
    policy_changes = diff(before_policy, after_policy)
    for field, value in {**after_identity, **after_policy}.items():
        setattr(tenant, field, value)
    if identity_changes:
        events.append(
            record(
                AuditAction.TENANT_UPDATED,
                tenant=tenant,
                actor=actor,
                target_type="tenant",
                target_id=tenant.public_id,
                changes=identity_changes,
            )
        )
    if policy_changes:
        events.append(
            record(
                AuditAction.POLICY_UPDATED,
                tenant=tenant,
                actor=actor,
                target_type="tenant",
                target_id=tenant.public_id,
                changes=policy_changes,
            )
        )
    db.session.commit()
    if events:
        logger.info(
            "user %s changed tenant %s: %s",
            actor.public_id,
            tenant.slug,
            {**identity_changes, **policy_changes},
        )
    return events


def remove_federation_rule(actor: User, rule: FederationRule) -> AuditEvent:
    """Agents matching the rule no longer land in its tenant (existing accounts stay)."""
    provider, tenant = rule.provider, rule.tenant
    event = record(
        AuditAction.FEDERATION_RULE_REMOVED,
        tenant=tenant,
        actor=actor,
        target_type="federation_rule",
        target_id=str(rule.id),
        changes={"provider": provider.issuer, "claim": rule.claim.value, "value": rule.value},
    )
    db.session.delete(rule)
    db.session.commit()
    logger.info(
        "user %s removed federation rule %s=%s → %s of %s",
        actor.public_id,
        rule.claim.value,
        rule.value,
        tenant.slug,
        provider.issuer,
    )
    return event
