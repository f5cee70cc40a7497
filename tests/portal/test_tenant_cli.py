"""The sysadmins' command line (portal/cli.py): it creates what it says and audits it."""

from __future__ import annotations

import sqlalchemy as sa

from portal.audit.models import AuditAction, AuditEvent
from portal.audit.operations import COMMAND_LINE_ACTOR
from portal.core.crypto import decrypt_secret
from portal.extensions import db
from portal.tenants.models import FederationClaim, FederationRule, IdentityProvider, Tenant
from portal.users.models import Role, User

SECRET = "secret-client-du-ministere"  # noqa: S105


def run(app, *args, env=None):
    return app.test_cli_runner().invoke(args=list(args), env=env)


def audit_events(app, action: AuditAction) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))
        db.session.expunge_all()
        return events


def test_cli_help_is_there(app):
    for group in ("tenants", "providers", "federation", "users"):
        result = run(app, group, "--help")
        assert result.exit_code == 0 and "Usage" in result.output
    assert "--client-secret-file" in run(app, "providers", "add", "--help").output


def test_cli_tenants_create_and_list(app):
    result = run(
        app,
        "tenants",
        "create",
        "culture",
        "--name",
        "Ministère de la Culture",
        "--domain",
        "Culture.gouv.fr",
        "--domain",
        "@dac.culture.gouv.fr",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "culture"))
        assert tenant.name == "Ministère de la Culture"
        assert tenant.allowed_email_domains == ["culture.gouv.fr", "dac.culture.gouv.fr"]
        public_id = tenant.public_id
    [event] = audit_events(app, AuditAction.TENANT_CREATED)
    assert (event.actor_label, event.actor_id) == (COMMAND_LINE_ACTOR, None)
    assert event.target_id == public_id
    listing = run(app, "tenants", "list")
    assert "culture" in listing.output and "culture.gouv.fr" in listing.output


def test_cli_tenants_create_refuses_duplicates_and_bad_slugs(app):
    assert run(app, "tenants", "create", "culture", "--name", "Culture").exit_code == 0
    again = run(app, "tenants", "create", "culture", "--name", "Autre")
    assert again.exit_code == 1 and "déjà" in again.output
    bad = run(app, "tenants", "create", "Pas Un Slug", "--name", "X")
    assert bad.exit_code == 1 and "minuscules" in bad.output
    shared = run(app, "tenants", "create", "autre", "--name", "Autre", "--domain", "x.gouv.fr")
    assert shared.exit_code == 0
    taken = run(app, "tenants", "create", "encore", "--name", "Encore", "--domain", "X.gouv.fr")
    assert taken.exit_code == 1 and "x.gouv.fr" in taken.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 2


def test_cli_providers_add_for_a_tenant_with_a_secret_file(app, create_tenant, tmp_path):
    create_tenant(slug="culture")
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    result = run(
        app,
        "providers",
        "add",
        "--tenant",
        "culture",
        "--issuer",
        "https://idp.culture.gouv.fr/realms/agents/",
        "--client-id",
        "webconf",
        "--client-secret-file",
        str(secret_file),
        "--name",
        "Compte Culture",
        "--claim",
        "organization_id=siret",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        provider = db.session.scalar(sa.select(IdentityProvider))
        assert provider.issuer == "https://idp.culture.gouv.fr/realms/agents"
        assert (provider.kind.value, provider.tenant.slug) == ("tenant", "culture")
        assert provider.claim_mapping["organization_id"] == "siret"
        assert provider.client_secret_encrypted != SECRET
        assert decrypt_secret(provider.client_secret_encrypted) == SECRET
    [event] = audit_events(app, AuditAction.PROVIDER_CREATED)
    assert event.actor_label == COMMAND_LINE_ACTOR
    assert SECRET not in str(event.changes)


def test_cli_providers_add_federation_with_secret_from_environment(app):
    result = run(
        app,
        "providers",
        "add",
        "--federation",
        "--issuer",
        "https://proconnect.example.gouv.fr",
        "--client-id",
        "webconf",
        "--name",
        "ProConnect",
        env={"WEBCONF_CLIENT_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        provider = db.session.scalar(sa.select(IdentityProvider))
        assert (provider.kind.value, provider.tenant_id, provider.name) == (
            "federation",
            None,
            "ProConnect",
        )


def test_cli_providers_add_refuses_unclear_requests(app, create_tenant):
    create_tenant(slug="culture")
    common = ["--issuer", "https://idp.example.gouv.fr", "--client-id", "webconf"]
    neither = run(app, "providers", "add", *common, env={"WEBCONF_CLIENT_SECRET": SECRET})
    assert neither.exit_code == 2 and "--tenant" in neither.output
    both = run(
        app,
        "providers",
        "add",
        "--tenant",
        "culture",
        "--federation",
        *common,
        env={"WEBCONF_CLIENT_SECRET": SECRET},
    )
    assert both.exit_code == 2
    no_secret = run(app, "providers", "add", "--tenant", "culture", *common)
    assert no_secret.exit_code == 1 and "Secret client manquant" in no_secret.output
    unknown = run(
        app, "providers", "add", "--tenant", "nulle-part", *common,
        env={"WEBCONF_CLIENT_SECRET": SECRET},
    )  # fmt: skip
    assert unknown.exit_code == 1 and "nulle-part" in unknown.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IdentityProvider)) == 0


def add_federation(app):
    return run(
        app,
        "providers",
        "add",
        "--federation",
        "--issuer",
        "https://federation.example.gouv.fr",
        "--client-id",
        "webconf",
        env={"WEBCONF_CLIENT_SECRET": SECRET},
    )


def test_cli_federation_map(app, create_tenant):
    create_tenant(slug="interieur")
    assert add_federation(app).exit_code == 0
    result = run(
        app,
        "federation",
        "map",
        "--provider",
        "https://federation.example.gouv.fr/",
        "--claim",
        "organization_id",
        "--value",
        "SIRET-110-000",
        "--tenant",
        "interieur",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        rule = db.session.scalar(sa.select(FederationRule))
        assert (rule.claim, rule.value, rule.tenant.slug) == (
            FederationClaim.ORGANIZATION_ID,
            "siret-110-000",
            "interieur",
        )
    [event] = audit_events(app, AuditAction.FEDERATION_RULE_ADDED)
    assert event.actor_label == COMMAND_LINE_ACTOR
    bad_claim = run(
        app, "federation", "map", "--provider", "https://federation.example.gouv.fr",
        "--claim", "siret", "--value", "1", "--tenant", "interieur",
    )  # fmt: skip
    assert bad_claim.exit_code == 2


def test_cli_federation_map_refuses_a_tenant_provider(app, create_tenant):
    create_tenant(slug="culture")
    run(
        app, "providers", "add", "--tenant", "culture", "--issuer", "https://idp.culture.gouv.fr",
        "--client-id", "w", env={"WEBCONF_CLIENT_SECRET": SECRET},
    )  # fmt: skip
    result = run(
        app, "federation", "map", "--provider", "https://idp.culture.gouv.fr",
        "--claim", "organization", "--value", "x", "--tenant", "culture",
    )  # fmt: skip
    assert result.exit_code == 1 and "pas une fédération" in result.output


def test_cli_users_promote(app, create_tenant, create_user):
    culture, ecologie = create_tenant(slug="culture"), create_tenant(slug="ecologie")
    create_user(email="camille@gouv.fr", tenant=culture)
    create_user(email="Camille@gouv.fr", tenant=ecologie)
    ambiguous = run(app, "users", "promote", "camille@gouv.fr", "--role", "tenant_admin")
    assert ambiguous.exit_code == 1 and "--tenant" in ambiguous.output
    result = run(
        app, "users", "promote", "camille@gouv.fr", "--role", "tenant_admin", "--tenant", "ecologie"
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        roles = {user.tenant.slug: user.role for user in db.session.scalars(sa.select(User))}
    assert roles == {"culture": Role.AGENT, "ecologie": Role.TENANT_ADMIN}
    [event] = audit_events(app, AuditAction.USER_ROLE_CHANGED)
    assert event.actor_label == COMMAND_LINE_ACTOR
    assert event.changes == {"role": ["agent", "tenant_admin"]}
    nobody = run(app, "users", "promote", "personne@gouv.fr", "--role", "agent")
    assert nobody.exit_code == 1 and "première connexion" in nobody.output
