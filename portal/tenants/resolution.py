"""Finding an agent's ministry: before sign-in (from the ministry they pick or their e-mail
domain) to choose the provider, and after a federation's sign-in (from its claims)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from portal.extensions import db
from portal.tenants.models import (
    FederationClaim,
    FederationRule,
    IdentityProvider,
    ProviderKind,
    Tenant,
)
from portal.tenants.operations import email_domain

# Most specific first: an organisation's identifier beats its name, which beats a mail domain.
CLAIM_PRECEDENCE = (
    FederationClaim.ORGANIZATION_ID,
    FederationClaim.ORGANIZATION,
    FederationClaim.EMAIL_DOMAIN,
)


@dataclass(frozen=True)
class SignInChoice:
    """A ministry offered on the sign-in page, and the provider its agents go through."""

    tenant: Tenant
    provider: IdentityProvider


def enabled_providers() -> list[IdentityProvider]:
    return list(
        db.session.scalars(
            select(IdentityProvider)
            .where(IdentityProvider.enabled.is_(True))
            .order_by(IdentityProvider.name)
        )
    )


def enabled_federations() -> list[IdentityProvider]:
    return [p for p in enabled_providers() if p.kind is ProviderKind.FEDERATION]


def provider_for_tenant(tenant: Tenant) -> IdentityProvider | None:
    """The ministry's own enabled provider, else an enabled federation with a rule for it."""
    own = db.session.scalar(
        select(IdentityProvider)
        .where(
            IdentityProvider.tenant_id == tenant.id,
            IdentityProvider.kind == ProviderKind.TENANT,
            IdentityProvider.enabled.is_(True),
        )
        .order_by(IdentityProvider.id)
        .limit(1)
    )
    if own is not None:
        return own
    return db.session.scalar(
        select(IdentityProvider)
        .join(FederationRule, FederationRule.provider_id == IdentityProvider.id)
        .where(FederationRule.tenant_id == tenant.id, IdentityProvider.enabled.is_(True))
        .order_by(IdentityProvider.id)
        .limit(1)
    )


def sign_in_choices() -> list[SignInChoice]:
    """Every ministry an agent can sign in to, by name, with the provider to use."""
    choices = []
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.name)):
        provider = provider_for_tenant(tenant)
        if provider is not None:
            choices.append(SignInChoice(tenant, provider))
    return choices


def tenant_for_email_domain(domain: str) -> Tenant | None:
    """The ministry listing `domain` in its allowed e-mail domains (at most one does)."""
    domain = domain.lower()
    # Ministries are few; JSON containment is not portable across SQLite and PostgreSQL.
    for tenant in db.session.scalars(select(Tenant).order_by(Tenant.id)):
        if domain in (tenant.allowed_email_domains or []):
            return tenant
    return None


def choice_for_email(email: str) -> SignInChoice | None:
    """Where an agent who typed `email` signs in: their ministry (by allowed domain) and its
    provider, or a federation with an email_domain rule for that domain. None if unknown."""
    domain = email_domain(email)
    if domain is None:
        return None
    tenant = tenant_for_email_domain(domain)
    if tenant is not None:
        provider = provider_for_tenant(tenant)
        return SignInChoice(tenant, provider) if provider is not None else None
    rule = db.session.scalar(
        select(FederationRule)
        .join(IdentityProvider, FederationRule.provider_id == IdentityProvider.id)
        .where(
            FederationRule.claim == FederationClaim.EMAIL_DOMAIN,
            FederationRule.value == domain,
            IdentityProvider.enabled.is_(True),
        )
        .limit(1)
    )
    return SignInChoice(rule.tenant, rule.provider) if rule is not None else None


def tenant_from_federation_claims(
    provider: IdentityProvider, claims: Mapping[str, Any]
) -> Tenant | None:
    """The tenant a federation's agent belongs to, from their (mapped) claims: the first rule
    that matches in CLAIM_PRECEDENCE order, compared case-insensitively. None: no tenant."""
    wanted: dict[FederationClaim, str] = {}
    for claim in (FederationClaim.ORGANIZATION_ID, FederationClaim.ORGANIZATION):
        value = claims.get(claim.value)
        if isinstance(value, str | int) and str(value).strip():
            wanted[claim] = str(value).strip().lower()
    domain = email_domain(str(claims.get("email") or ""))
    if domain:
        wanted[FederationClaim.EMAIL_DOMAIN] = domain
    if not wanted:
        return None
    rules = db.session.scalars(
        select(FederationRule).where(
            FederationRule.provider_id == provider.id, FederationRule.claim.in_(list(wanted))
        )
    )
    by_claim: dict[FederationClaim, dict[str, FederationRule]] = {}
    for rule in rules:
        by_claim.setdefault(rule.claim, {})[rule.value.lower()] = rule
    for claim in CLAIM_PRECEDENCE:
        rule = by_claim.get(claim, {}).get(wanted.get(claim, ""))
        if rule is not None:
            return rule.tenant
    return None
