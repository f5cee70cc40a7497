"""Command-line administration for system administrators (`flask --app portal …`): ministries,
identity providers, federation rules and roles. Thin wrappers: the changes, their checks and
their audit events (actor "ligne de commande") live in portal/tenants/operations.py.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from portal.extensions import db
from portal.tenants import operations
from portal.tenants.models import FederationClaim, IdentityProvider, ProviderKind, Tenant
from portal.users.models import Role, User

CLIENT_SECRET_ENV = "WEBCONF_CLIENT_SECRET"  # noqa: S105 — the name of a variable

tenants_cli = AppGroup("tenants", help="Ministères (locataires) : créer, lister.")
providers_cli = AppGroup("providers", help="Fournisseurs d'identité OpenID Connect.")
federation_cli = AppGroup("federation", help="Règles d'une fédération : attribut → ministère.")
users_cli = AppGroup("users", help="Comptes des agents : rôles.")


def init_cli(app: Flask) -> None:
    for group in (tenants_cli, providers_cli, federation_cli, users_cli):
        app.cli.add_command(group)


def fail_on_configuration_error(function):
    """Turn TenantConfigurationError into a one-line error and exit status 1, nothing written."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except operations.TenantConfigurationError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc

    return wrapper


# ---------------------------------------------------------------------------------------------
# tenants


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Nom complet, p. ex. « Ministère de la Culture ».")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    help="Domaine de messagerie des agents (répétable), p. ex. culture.gouv.fr : retrouve le "
    "ministère d'un agent qui tape son adresse sur la page de connexion.",
)
@fail_on_configuration_error
def create_tenant_command(slug: str, name: str, domains: tuple[str, ...]) -> None:
    """Créer le ministère SLUG (lettres minuscules, chiffres, tirets), avec la politique par
    défaut."""
    tenant = operations.create_tenant(slug, name, email_domains=domains)
    domains_text = ", ".join(tenant.allowed_email_domains) or "aucun domaine"
    click.echo(f"Ministère créé : {tenant.slug} — {tenant.name} ({domains_text})")


@tenants_cli.command("list")
def list_tenants_command() -> None:
    """Lister les ministères, leurs domaines et leurs fournisseurs d'identité."""
    tenants = list(db.session.scalars(select(Tenant).order_by(Tenant.slug)))
    if not tenants:
        click.echo("Aucun ministère. Créez-en un : flask tenants create SLUG --name …")
        return
    for tenant in tenants:
        users = db.session.scalar(
            select(db.func.count()).select_from(User).where(User.tenant_id == tenant.id)
        )
        domains = ", ".join(tenant.allowed_email_domains or []) or "-"
        click.echo(f"{tenant.slug}\t{tenant.name}\tdomaines : {domains}\tagents : {users}")
        for provider in tenant.providers:
            state = "actif" if provider.enabled else "désactivé"
            click.echo(f"\tfournisseur : {provider.name} {provider.issuer} ({state})")


# ---------------------------------------------------------------------------------------------
# providers


def read_client_secret(path: Path | None) -> str:
    if path is not None:
        secret = (
            click.get_text_stream("stdin").read() if str(path) == "-" else path.read_text()
        ).strip()
    else:
        secret = os.environ.get(CLIENT_SECRET_ENV, "").strip()
    if not secret:
        raise click.ClickException(
            f"Secret client manquant : --client-secret-file FICHIER (ou - pour l'entrée "
            f"standard), ou la variable d'environnement {CLIENT_SECRET_ENV}."
        )
    return secret


@providers_cli.command("add")
@click.option("--tenant", "tenant_slug", help="Le ministère dont c'est le fournisseur.")
@click.option(
    "--federation", is_flag=True, help="Fournisseur partagé (ProConnect…) : règles → ministère."
)
@click.option("--issuer", required=True, help="URL de l'émetteur (issuer) OpenID Connect.")
@click.option("--client-id", required=True, help="Identifiant client du portail chez lui.")
@click.option(
    "--client-secret-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Fichier contenant le secret client (- : entrée standard). Sinon la variable "
    f"{CLIENT_SECRET_ENV}. Jamais en argument : il finirait dans l'historique du shell.",
)
@click.option("--name", default="", help="Libellé du bouton de connexion (défaut : l'émetteur).")
@click.option("--scopes", default="openid email profile", show_default=True)
@click.option(
    "--claim",
    "claims",
    multiple=True,
    metavar="CHAMP=ATTRIBUT",
    help="Correspondance d'un attribut (répétable), p. ex. organization_id=siret. Champs : "
    "email, name, given_name, family_name, organization, organization_id.",
)
@fail_on_configuration_error
def add_provider_command(
    tenant_slug: str | None,
    federation: bool,
    issuer: str,
    client_id: str,
    client_secret_file: Path | None,
    name: str,
    scopes: str,
    claims: tuple[str, ...],
) -> None:
    """Déclarer un fournisseur d'identité : celui d'un ministère (--tenant SLUG) ou une
    fédération (--federation). À déclarer chez lui : l'URI de redirection
    PORTAL_URL/auth/callback et l'URI après déconnexion PORTAL_URL/."""
    if bool(tenant_slug) == federation:
        raise click.UsageError("Indiquez soit --tenant SLUG, soit --federation.")
    mapping = {}
    for item in claims:
        field, equals, claim = item.partition("=")
        if not equals or not field.strip() or not claim.strip():
            raise click.UsageError(f"--claim attend CHAMP=ATTRIBUT, pas {item!r}.")
        mapping[field.strip()] = claim.strip()
    tenant = operations.get_tenant(tenant_slug) if tenant_slug else None
    provider = operations.add_provider(
        kind=ProviderKind.FEDERATION if federation else ProviderKind.TENANT,
        tenant=tenant,
        issuer=issuer,
        client_id=client_id,
        client_secret=read_client_secret(client_secret_file),
        name=name,
        scopes=scopes,
        claim_mapping=mapping,
    )
    owner = f"ministère {tenant.slug}" if tenant else "fédération"
    click.echo(f"Fournisseur ajouté : {provider.name} ({owner}) {provider.issuer}")


@providers_cli.command("list")
def list_providers_command() -> None:
    """Lister les fournisseurs d'identité."""
    providers = list(db.session.scalars(select(IdentityProvider).order_by(IdentityProvider.name)))
    if not providers:
        click.echo("Aucun fournisseur d'identité : la connexion est impossible.")
    for provider in providers:
        owner = provider.tenant.slug if provider.tenant else "fédération"
        state = "actif" if provider.enabled else "désactivé"
        click.echo(f"{provider.name}\t{owner}\t{provider.issuer}\t{provider.client_id}\t{state}")
        for rule in provider.federation_rules:
            click.echo(f"\t{rule.claim.value} = {rule.value} → {rule.tenant.slug}")


@providers_cli.command("disable")
@click.argument("issuer")
@fail_on_configuration_error
def disable_provider_command(issuer: str) -> None:
    """Désactiver le fournisseur ISSUER : plus proposé, ses retours de connexion refusés."""
    provider = operations.update_provider(operations.get_provider(issuer), enabled=False)
    click.echo(f"Fournisseur désactivé : {provider.issuer}")


@providers_cli.command("enable")
@click.argument("issuer")
@fail_on_configuration_error
def enable_provider_command(issuer: str) -> None:
    """Réactiver le fournisseur ISSUER."""
    provider = operations.update_provider(operations.get_provider(issuer), enabled=True)
    click.echo(f"Fournisseur réactivé : {provider.issuer}")


# ---------------------------------------------------------------------------------------------
# federation


@federation_cli.command("map")
@click.option("--provider", "issuer", required=True, help="Émetteur de la fédération.")
@click.option(
    "--claim",
    required=True,
    type=click.Choice([claim.value for claim in FederationClaim]),
    help="Attribut comparé ; à la connexion organization_id prime sur organization, qui prime "
    "sur email_domain.",
)
@click.option("--value", required=True, help="Valeur (comparée sans tenir compte de la casse).")
@click.option("--tenant", "tenant_slug", required=True, help="Ministère d'arrivée.")
@fail_on_configuration_error
def map_federation_command(issuer: str, claim: str, value: str, tenant_slug: str) -> None:
    """Les agents de la fédération dont l'attribut CLAIM vaut VALUE arrivent dans le ministère
    TENANT."""
    provider = operations.get_provider(issuer)
    tenant = operations.get_tenant(tenant_slug)
    rule = operations.add_federation_rule(provider, claim, value, tenant)
    click.echo(f"Règle : {rule.claim.value} = {rule.value} → {tenant.slug} ({provider.issuer})")


# ---------------------------------------------------------------------------------------------
# users


@users_cli.command("promote")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice([role.value for role in Role]), help="Nouveau rôle."
)
@click.option(
    "--tenant", "tenant_slug", help="Ministère du compte, si l'adresse existe dans plusieurs."
)
@fail_on_configuration_error
def promote_user_command(email: str, role: str, tenant_slug: str | None) -> None:
    """Donner le rôle ROLE au compte d'adresse EMAIL (créé à sa première connexion)."""
    query = select(User).where(db.func.lower(User.email) == email.strip().lower())
    if tenant_slug:
        query = query.where(User.tenant_id == operations.get_tenant(tenant_slug).id)
    users = list(db.session.scalars(query))
    if not users:
        raise click.ClickException(
            f"Aucun compte pour {email}"
            + (f" dans le ministère {tenant_slug}" if tenant_slug else "")
            + " : un compte est créé à la première connexion de l'agent."
        )
    if len(users) > 1:
        slugs = ", ".join(sorted(user.tenant.slug for user in users))
        raise click.ClickException(
            f"{email} existe dans plusieurs ministères ({slugs}) : précisez --tenant SLUG."
        )
    [user] = users
    before = user.role
    operations.change_role(user, role)
    click.echo(f"{user.email} ({user.tenant.slug}) : {before.value} → {user.role.value}")
