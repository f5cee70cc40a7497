"""State changes of tenants and their identity providers: creating a ministry, configuring its
provider or a federation, mapping federation claims to tenants, and changing a user's role.

Every change records an audit event (portal/audit) committed with it. `actor` is the
administrator acting, or None for the command line ("ligne de commande").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select

from portal.audit.models import AuditAction
from portal.audit.operations import record
from portal.core.crypto import encrypt_secret
from portal.extensions import db
from portal.tenants.models import (
    DEFAULT_CLAIM_MAPPING,
    DEFAULT_SCOPES,
    TENANT_SLUG_PATTERN,
    FederationClaim,
    FederationRule,
    IdentityProvider,
    ProviderKind,
    Tenant,
)
from portal.users.models import Role, User

logger = logging.getLogger(__name__)

DOMAIN_MAX_LENGTH = 253


class TenantConfigurationError(ValueError):
    """What an administrator asked for cannot be done; the message says why (in the language
    of the request; French on the command line)."""


def normalize_issuer(issuer: str) -> str:
    """Issuer URLs are compared without a trailing slash."""
    issuer = (issuer or "").strip().rstrip("/")
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TenantConfigurationError(
            _("L'émetteur doit être une adresse http(s) : %(issuer)s.", issuer=repr(issuer))
        )
    return issuer


def normalize_domain(domain: str) -> str:
    """'@Ecologie.Gouv.FR ' → 'ecologie.gouv.fr'; refuses what cannot be an e-mail domain."""
    value = (domain or "").strip().lstrip("@").rstrip(".").lower()
    labels = value.split(".")
    if (
        not value
        or len(value) > DOMAIN_MAX_LENGTH
        or len(labels) < 2
        or not all(label and label.replace("-", "").isalnum() for label in labels)
    ):
        raise TenantConfigurationError(
            _("Domaine de messagerie invalide : %(domain)s.", domain=repr(domain))
        )
    return value


def email_domain(email: str) -> str | None:
    """The lower-case part after the last '@', or None when `email` has none."""
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local or not domain:
        return None
    return domain.rstrip(".").lower()


def get_tenant(slug: str) -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == (slug or "").strip().lower()))
    if tenant is None:
        raise TenantConfigurationError(
            _("Aucun ministère ne porte l'identifiant %(slug)s.", slug=repr(slug))
        )
    return tenant


def get_provider(issuer: str) -> IdentityProvider:
    provider = db.session.scalar(
        select(IdentityProvider).where(IdentityProvider.issuer == normalize_issuer(issuer))
    )
    if provider is None:
        raise TenantConfigurationError(
            _("Aucun fournisseur d'identité pour l'émetteur %(issuer)s.", issuer=repr(issuer))
        )
    return provider


def create_tenant(
    slug: str,
    name: str,
    *,
    email_domains: Iterable[str] = (),
    actor: User | None = None,
    **policy: Any,
) -> Tenant:
    """A new ministry with the default policy unless `policy` (Tenant columns) says otherwise."""
    slug = (slug or "").strip().lower()
    name = (name or "").strip()
    if not TENANT_SLUG_PATTERN.match(slug):
        raise TenantConfigurationError(
            _(
                "L'identifiant d'un ministère fait 1 à 40 caractères : lettres minuscules, "
                "chiffres et tirets, sans tiret au début ni à la fin (%(slug)s).",
                slug=repr(slug),
            )
        )
    if not name:
        raise TenantConfigurationError(_("Le nom du ministère est obligatoire."))
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise TenantConfigurationError(
            _("Un ministère porte déjà l'identifiant %(slug)s.", slug=repr(slug))
        )
    domains = sorted({normalize_domain(domain) for domain in email_domains})
    taken = domains_taken(domains)
    if taken:
        raise TenantConfigurationError(
            _(
                "Domaine(s) déjà attribué(s) à un autre ministère : %(domains)s.",
                domains=", ".join(taken),
            )
        )
    tenant = Tenant(slug=slug, name=name, allowed_email_domains=domains, **policy)
    db.session.add(tenant)
    db.session.flush()
    record(
        AuditAction.TENANT_CREATED,
        tenant=tenant,
        actor=actor,
        target_type="tenant",
        target_id=tenant.public_id,
        changes={"slug": [None, slug], "name": [None, name], "allowed_email_domains": domains},
    )
    db.session.commit()
    return tenant


def domains_taken(domains: Iterable[str], *, except_tenant: Tenant | None = None) -> list[str]:
    """Which of `domains` another tenant already lists: a domain finds at most one ministry."""
    wanted = set(domains)
    taken: set[str] = set()
    for tenant in db.session.scalars(select(Tenant)):
        if except_tenant is not None and tenant.id == except_tenant.id:
            continue
        taken |= wanted & set(tenant.allowed_email_domains or [])
    return sorted(taken)


def add_provider(
    *,
    kind: ProviderKind,
    issuer: str,
    client_id: str,
    client_secret: str,
    name: str,
    tenant: Tenant | None = None,
    scopes: str = DEFAULT_SCOPES,
    claim_mapping: Mapping[str, str] | None = None,
    enabled: bool = True,
    actor: User | None = None,
) -> IdentityProvider:
    """Configure an OpenID Connect provider: a ministry's own (`tenant`) or a federation.

    The client secret is stored encrypted (portal/core/crypto.py), never in clear.
    """
    kind = ProviderKind(kind)
    issuer = normalize_issuer(issuer)
    if kind is ProviderKind.TENANT and tenant is None:
        raise TenantConfigurationError(
            _("Un fournisseur de ministère doit désigner son ministère.")
        )
    if kind is ProviderKind.FEDERATION and tenant is not None:
        raise TenantConfigurationError(_("Une fédération n'appartient à aucun ministère."))
    if not (client_id or "").strip() or not client_secret:
        raise TenantConfigurationError(_("L'identifiant client et le secret client sont requis."))
    scope_list = scopes.split()
    if "openid" not in scope_list:
        raise TenantConfigurationError(_("Les scopes doivent comprendre « openid »."))
    if db.session.scalar(select(IdentityProvider.id).where(IdentityProvider.issuer == issuer)):
        raise TenantConfigurationError(
            _("Un fournisseur est déjà configuré pour %(issuer)s.", issuer=issuer)
        )
    mapping = {**DEFAULT_CLAIM_MAPPING, **(claim_mapping or {})}
    unknown = set(mapping) - set(DEFAULT_CLAIM_MAPPING)
    if unknown:
        raise TenantConfigurationError(
            _(
                "Champs de correspondance inconnus : %(fields)s.",
                fields=", ".join(sorted(unknown)),
            )
        )
    provider = IdentityProvider(
        kind=kind,
        tenant_id=tenant.id if tenant is not None else None,
        name=(name or "").strip() or issuer,
        issuer=issuer,
        client_id=client_id.strip(),
        client_secret_encrypted=encrypt_secret(client_secret),
        scopes=" ".join(scope_list),
        claim_mapping=mapping,
        enabled=enabled,
    )
    db.session.add(provider)
    db.session.flush()
    record(
        AuditAction.PROVIDER_CREATED,
        tenant=tenant,
        actor=actor,
        target_type="provider",
        target_id=provider.public_id,
        changes={
            "kind": [None, kind.value],
            "name": [None, provider.name],
            "issuer": [None, issuer],
            "client_id": [None, provider.client_id],
            "client_secret": "(défini)",
            "scopes": [None, provider.scopes],
            "enabled": [None, enabled],
        },
    )
    db.session.commit()
    return provider


def update_provider(
    provider: IdentityProvider,
    *,
    actor: User | None = None,
    client_secret: str | None = None,
    **fields: Any,
) -> IdentityProvider:
    """Change a provider's settings (name, client_id, scopes, claim_mapping, enabled) and/or its
    client secret. Sign-in picks the change up at the next request (the client is rebuilt)."""
    allowed = {"name", "client_id", "scopes", "claim_mapping", "enabled"}
    unknown = set(fields) - allowed
    if unknown:
        raise TenantConfigurationError(
            _("Champs inconnus : %(fields)s.", fields=", ".join(sorted(unknown)))
        )
    before = {field: getattr(provider, field) for field in fields}
    for field, value in fields.items():
        setattr(provider, field, value)
    changes: dict[str, Any] = {
        field: [before[field], value] for field, value in fields.items() if before[field] != value
    }
    if client_secret:
        provider.client_secret_encrypted = encrypt_secret(client_secret)
        changes["client_secret"] = "(modifié)"
    if changes:
        record(
            AuditAction.PROVIDER_UPDATED,
            tenant=provider.tenant,
            actor=actor,
            target_type="provider",
            target_id=provider.public_id,
            changes=changes,
        )
    db.session.commit()
    return provider


def add_federation_rule(
    provider: IdentityProvider,
    claim: FederationClaim | str,
    value: str,
    tenant: Tenant,
    *,
    actor: User | None = None,
) -> FederationRule:
    """Agents of federation `provider` whose `claim` equals `value` land in `tenant`."""
    if provider.kind is not ProviderKind.FEDERATION:
        raise TenantConfigurationError(
            _(
                "%(issuer)s est le fournisseur d'un ministère, pas une fédération : tous ses "
                "agents vont dans ce ministère.",
                issuer=provider.issuer,
            )
        )
    try:
        claim = FederationClaim(claim)
    except ValueError as exc:
        choices = ", ".join(member.value for member in FederationClaim)
        raise TenantConfigurationError(
            _("Attribut inconnu %(claim)s (parmi %(choices)s).", claim=repr(claim), choices=choices)
        ) from exc
    value = (value or "").strip()
    value = normalize_domain(value) if claim is FederationClaim.EMAIL_DOMAIN else value.lower()
    if not value:
        raise TenantConfigurationError(_("La valeur de la règle est obligatoire."))
    existing = db.session.scalar(
        select(FederationRule).where(
            FederationRule.provider_id == provider.id,
            FederationRule.claim == claim,
            FederationRule.value == value,
        )
    )
    if existing is not None:
        if existing.tenant_id == tenant.id:
            return existing
        raise TenantConfigurationError(
            _(
                "%(claim)s = %(value)s mène déjà au ministère %(slug)s.",
                claim=claim.value,
                value=repr(value),
                slug=repr(existing.tenant.slug),
            )
        )
    rule = FederationRule(provider=provider, tenant_id=tenant.id, claim=claim, value=value)
    db.session.add(rule)
    db.session.flush()
    record(
        AuditAction.FEDERATION_RULE_ADDED,
        tenant=tenant,
        actor=actor,
        target_type="federation_rule",
        target_id=str(rule.id),
        changes={"provider": provider.issuer, "claim": claim.value, "value": value},
    )
    db.session.commit()
    return rule


def change_role(user: User, role: Role | str, *, actor: User | None = None) -> User:
    """Give `user` a role (agent, tenant_admin, platform_admin) within their ministry."""
    role = Role(role)
    if user.role is role:
        return user
    before = user.role
    user.role = role
    record(
        AuditAction.USER_ROLE_CHANGED,
        tenant=user.tenant,
        actor=actor,
        target_type="user",
        target_id=user.public_id,
        changes={"role": [before.value, role.value]},
    )
    db.session.commit()
    return user
