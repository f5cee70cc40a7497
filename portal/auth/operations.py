"""State changes of signing in: find or create the user behind an identity provider account,
in the ministry (tenant) the provider or the federation rules gave."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.auth.models import Identity
from portal.extensions import db
from portal.tenants.models import DEFAULT_CLAIM_MAPPING, IdentityProvider, Tenant
from portal.users.models import DISPLAY_NAME_MAX_LENGTH, EMAIL_MAX_LENGTH, User, utcnow

logger = logging.getLogger(__name__)


class SignInRefused(Exception):
    """The provider vouched for the person but the portal will not sign them in.

    `reason` is one of: no_subject, no_email, no_id_token, userinfo_mismatch, wrong_issuer,
    provider_unknown, provider_disabled, no_tenant, deactivated, other_tenant.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim named `path`; a dotted path reads nested objects ("org.siret")."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def mapped_claims(provider: IdentityProvider, claims: Mapping[str, Any]) -> dict[str, Any]:
    """What we keep about a person, read through the provider's claim mapping:
    {email, name, given_name, family_name, organization, organization_id} (None if absent)."""
    mapping = {**DEFAULT_CLAIM_MAPPING, **(provider.claim_mapping or {})}
    result: dict[str, Any] = {}
    for field, claim_name in mapping.items():
        value = claim_at(claims, claim_name) if claim_name else None
        result[field] = value.strip() if isinstance(value, str) else value
    return result


def display_name_from_claims(claims: Mapping[str, Any]) -> str:
    name = (claims.get("name") or "").strip()
    if not name:
        parts = [claims.get("given_name") or "", claims.get("family_name") or ""]
        name = " ".join(p.strip() for p in parts if p and p.strip())
    if not name:
        name = (claims.get("email") or "").strip()
    return name[:DISPLAY_NAME_MAX_LENGTH]


def sign_in_identity(
    provider: IdentityProvider, tenant: Tenant, subject: str, person: Mapping[str, Any]
) -> User:
    """Return the active user for (provider's issuer, `subject`), creating them in `tenant` at
    the first sign-in. `person` holds the mapped claims (see mapped_claims).

    Name and e-mail are refreshed at each sign-in. Refused (SignInRefused, nothing written):
    a deactivated user, or an existing user who belongs to another tenant than `tenant` —
    moving an agent between ministries is an administrator's decision, never a side effect of
    signing in.
    """
    email = (person.get("email") or "").strip() if isinstance(person.get("email"), str) else ""
    if not subject:
        raise SignInRefused("no_subject", "the provider gave no subject")
    if not email or "@" not in email or len(email) > EMAIL_MAX_LENGTH:
        raise SignInRefused("no_email", "the provider gave no usable e-mail address")
    display_name = display_name_from_claims(person) or email
    for attempt in range(2):
        try:
            return _sign_in_locked(provider, tenant, subject, email, display_name)
        except IntegrityError:
            # Two first sign-ins of the same person raced; the other one created the rows.
            db.session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _sign_in_locked(
    provider: IdentityProvider, tenant: Tenant, subject: str, email: str, display_name: str
) -> User:
    issuer = provider.issuer
    identity = db.session.scalar(
        select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)
    )
    now = utcnow()
    if identity is None:
        user = User(tenant_id=tenant.id, email=email, display_name=display_name, last_login_at=now)
        identity = Identity(
            user=user, provider_id=provider.id, issuer=issuer, subject=subject, last_login_at=now
        )
        db.session.add_all([user, identity])
        db.session.commit()
        logger.info(
            "user %s created in tenant %s at first sign-in from %s",
            user.public_id,
            tenant.slug,
            issuer,
        )
        return user
    user = identity.user
    if not user.is_active:
        db.session.rollback()
        logger.warning("deactivated user %s tried to sign in from %s", user.public_id, issuer)
        raise SignInRefused("deactivated", "this account is deactivated")
    if user.tenant_id != tenant.id:
        current_slug = user.tenant.slug
        db.session.rollback()
        logger.warning(
            "user %s of tenant %s signed in from %s, which now places them in tenant %s: "
            "refused, an administrator must move the account",
            user.public_id,
            current_slug,
            issuer,
            tenant.slug,
        )
        raise SignInRefused("other_tenant", "the identity now resolves to another tenant")
    user.email, user.display_name, user.last_login_at = email, display_name, now
    identity.last_login_at = now
    identity.provider_id = provider.id
    db.session.commit()
    logger.info("user %s signed in from %s", user.public_id, issuer)
    return user
