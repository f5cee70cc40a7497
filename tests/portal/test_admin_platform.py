"""Platform administration: tenants, identity providers (secret write-only, stored encrypted),
federation rules and the configuration check; every change audited."""

from __future__ import annotations

import json

import pytest

from portal.audit.models import AuditAction, AuditEvent
from portal.core.crypto import decrypt_secret
from portal.extensions import db
from portal.tenants.models import FederationRule, IdentityProvider, ProviderKind, Tenant
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.tenancy import PROVIDER_SECRET, build_world, snapshot

NEW_SECRET = "nouveau-secret-tres-confidentiel"  # noqa: S105


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.fixture
def operator(app, world):
    client = app.test_client()
    sign_in(client, world.platform_admin)
    client.token = csrf_token(client.get("/plateforme/"))
    return client


def audit(app) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id)).all()
        for event in events:
            db.session.expunge(event)
        return events


def tenant_form(**changes) -> dict:
    form = {
        "name": "Ministère des Essais",
        "slug": "essais",
        "allowed_email_domains": "essais.gouv.fr\nEssais.FR",
        "default_room_capacity": "15",
        "max_room_capacity": "40",
        "retention_days": "180",
        "lobby_by_default": "y",
        "guests_allowed": "y",
    }
    form.update(changes)
    return form


def test_platform_tenant_create_platform_admin(app, operator):
    form_page = operator.get("/plateforme/ministeres/nouveau").get_data(as_text=True)
    assert 'name="default_room_capacity"' in form_page and 'value="20"' in form_page
    response = operator.post(
        "/plateforme/ministeres/nouveau", data={**tenant_form(), "csrf_token": operator.token}
    )
    assert response.status_code == 302
    with app.app_context():
        tenant = db.session.scalar(db.select(Tenant).where(Tenant.slug == "essais"))
        assert tenant.allowed_email_domains == ["essais.fr", "essais.gouv.fr"]
        assert (tenant.default_room_capacity, tenant.max_room_capacity) == (15, 40)
        assert tenant.retention_days == 180
    [event] = audit(app)
    assert event.action is AuditAction.TENANT_CREATED
    assert event.tenant_id == tenant.id
    assert event.changes["slug"] == [None, "essais"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Essais Ministère", "lettres minuscules, chiffres et tirets"),
        ("slug", "-essais", "lettres minuscules, chiffres et tirets"),
        ("name", "", "Indiquez le nom du ministère."),
        ("allowed_email_domains", "pas un domaine", "Domaine de messagerie invalide"),
        ("max_room_capacity", "60", "entre 2 et 55 personnes"),
    ],
)
def test_platform_tenant_create_bad_value_platform_admin(app, operator, field, value, message):
    before = snapshot(app)
    response = operator.post(
        "/plateforme/ministeres/nouveau",
        data={**tenant_form(**{field: value}), "csrf_token": operator.token},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = f'<p class="field__error" id="{field}-error">'
    assert error in page and message in page.split(error, 1)[1].split("</p>", 1)[0]
    assert snapshot(app) == before


def test_platform_tenant_create_taken_slug_platform_admin(app, operator, world):
    before = snapshot(app)
    response = operator.post(
        "/plateforme/ministeres/nouveau",
        data={**tenant_form(slug="ministere-a"), "csrf_token": operator.token},
    )
    assert response.status_code == 400
    assert "Un ministère porte déjà l&#39;identifiant" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_platform_tenant_edit_platform_admin(app, operator, world):
    url = f"/plateforme/ministeres/{world.tenant_b.public_id}"
    page = operator.get(url).get_data(as_text=True)
    assert 'value="ministere-b"' in page
    response = operator.post(
        url,
        data={
            **tenant_form(name="Ministère Bêta renommé", slug="ministere-b"),
            "allowed_email_domains": "b.gouv.fr",
            "csrf_token": operator.token,
        },
    )
    assert response.status_code == 302
    updated, policy = audit(app)
    assert updated.action is AuditAction.TENANT_UPDATED
    assert updated.changes == {
        "allowed_email_domains": [[], ["b.gouv.fr"]],
        "name": ["Ministère Bêta", "Ministère Bêta renommé"],
    }
    assert policy.action is AuditAction.POLICY_UPDATED
    assert policy.changes["max_room_capacity"] == [55, 40]
    assert updated.tenant_id == policy.tenant_id == world.tenant_b.id
    # Ministry B's administrators see it in their log, in French.
    admin_b = app.test_client()
    sign_in(admin_b, world.admin_b)
    log = admin_b.get("/admin/journal").get_data(as_text=True)
    assert "Ministère modifié" in log and "Domaines de messagerie : — → b.gouv.fr" in log


def test_platform_tenant_edit_unknown_platform_admin(operator):
    assert operator.get("/plateforme/ministeres/inconnu").status_code == 404


def provider_form(**changes) -> dict:
    form = {
        "name": "Annuaire des Essais",
        "issuer": "https://annuaire.essais.example",
        "client_id": "portail-essais",
        "client_secret": NEW_SECRET,
        "scopes": "openid email profile",
        "claim_email": "mail",
        "enabled": "y",
    }
    form.update(changes)
    return form


def test_platform_provider_create_platform_admin(app, operator, world):
    response = operator.post(
        "/plateforme/fournisseurs/nouveau",
        data={**provider_form(tenant=world.tenant_b.public_id), "csrf_token": operator.token},
    )
    assert response.status_code == 302
    with app.app_context():
        provider = db.session.scalar(
            db.select(IdentityProvider).where(IdentityProvider.client_id == "portail-essais")
        )
        assert provider.kind is ProviderKind.TENANT and provider.tenant_id == world.tenant_b.id
        assert NEW_SECRET not in provider.client_secret_encrypted
        assert decrypt_secret(provider.client_secret_encrypted) == NEW_SECRET
        assert provider.claim_mapping["email"] == "mail"
        assert provider.claim_mapping["name"] == "name"
    [event] = audit(app)
    assert event.action is AuditAction.PROVIDER_CREATED and event.tenant_id == world.tenant_b.id
    assert NEW_SECRET not in json.dumps(event.changes)
    # The edit page never shows the secret, encrypted or not.
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert NEW_SECRET not in page and provider.client_secret_encrypted not in page
    assert 'type="password"' in page


def test_platform_provider_create_federation_platform_admin(app, operator):
    response = operator.post(
        "/plateforme/fournisseurs/nouveau",
        data={**provider_form(tenant=""), "csrf_token": operator.token},
    )
    assert response.status_code == 302
    with app.app_context():
        provider = db.session.scalar(
            db.select(IdentityProvider).where(IdentityProvider.client_id == "portail-essais")
        )
        assert provider.kind is ProviderKind.FEDERATION and provider.tenant_id is None


def test_platform_provider_create_without_secret_platform_admin(app, operator, world):
    before = snapshot(app)
    response = operator.post(
        "/plateforme/fournisseurs/nouveau",
        data={
            **provider_form(tenant=world.tenant_b.public_id, client_secret=""),
            "csrf_token": operator.token,
        },
    )
    assert response.status_code == 400
    assert (
        '<p class="field__error" id="client_secret-error">Indiquez le secret client.</p>'
        in response.get_data(as_text=True)
    )
    assert snapshot(app) == before


def test_platform_provider_edit_blank_secret_keeps_it_platform_admin(app, operator, world):
    url = f"/plateforme/fournisseurs/{world.provider_a_id}"
    data = provider_form(client_secret="", name="Annuaire Alpha v2")
    del data["issuer"]
    assert operator.post(url, data={**data, "csrf_token": operator.token}).status_code == 302
    with app.app_context():
        provider = db.session.scalar(
            db.select(IdentityProvider).where(IdentityProvider.public_id == world.provider_a_id)
        )
        assert decrypt_secret(provider.client_secret_encrypted) == PROVIDER_SECRET
        assert provider.name == "Annuaire Alpha v2"
    [event] = audit(app)
    assert event.action is AuditAction.PROVIDER_UPDATED and "client_secret" not in event.changes
    assert event.changes["name"] == ["Annuaire Alpha", "Annuaire Alpha v2"]


def test_platform_provider_edit_new_secret_platform_admin(app, operator, world):
    url = f"/plateforme/fournisseurs/{world.provider_a_id}"
    data = provider_form(name="Annuaire Alpha")
    del data["issuer"]
    operator.post(url, data={**data, "csrf_token": operator.token})
    with app.app_context():
        provider = db.session.scalar(
            db.select(IdentityProvider).where(IdentityProvider.public_id == world.provider_a_id)
        )
        assert decrypt_secret(provider.client_secret_encrypted) == NEW_SECRET
    [event] = audit(app)
    assert event.changes["client_secret"] == "(modifié)"
    assert NEW_SECRET not in json.dumps(event.changes)
    log = app.test_client()
    sign_in(log, world.admin_a)
    assert "Secret client : (modifié)" in log.get("/admin/journal").get_data(as_text=True)


def test_platform_federation_rule_add_and_remove_platform_admin(app, operator, world):
    url = f"/plateforme/fournisseurs/{world.federation_id}"
    response = operator.post(
        f"{url}/regles",
        data={
            "claim": "email_domain",
            "value": "B.Gouv.FR",
            "tenant": world.tenant_b.public_id,
            "csrf_token": operator.token,
        },
    )
    assert response.status_code == 302
    with app.app_context():
        rule = db.session.scalar(
            db.select(FederationRule).where(FederationRule.tenant_id == world.tenant_b.id)
        )
        assert rule.value == "b.gouv.fr"
        rule_id = rule.id
    page = operator.get(url).get_data(as_text=True)
    assert "b.gouv.fr" in page and "alpha-siret" in page
    response = operator.post(
        f"{url}/regles/{rule_id}/supprimer", data={"csrf_token": operator.token}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(FederationRule, rule_id) is None
    added, removed = audit(app)
    assert added.action is AuditAction.FEDERATION_RULE_ADDED
    assert removed.action is AuditAction.FEDERATION_RULE_REMOVED
    assert added.tenant_id == removed.tenant_id == world.tenant_b.id
    assert removed.changes["value"] == "b.gouv.fr"


def test_platform_federation_rule_of_other_provider_is_404_platform_admin(app, operator, world):
    before = snapshot(app)
    response = operator.post(
        f"/plateforme/fournisseurs/{world.provider_a_id}/regles/{world.rule_id}/supprimer",
        data={"csrf_token": operator.token},
    )
    assert response.status_code == 404
    assert snapshot(app) == before


def test_platform_federation_rule_empty_value_platform_admin(app, operator, world):
    response = operator.post(
        f"/plateforme/fournisseurs/{world.federation_id}/regles",
        data={
            "claim": "organization",
            "value": "",
            "tenant": world.tenant_b.public_id,
            "csrf_token": operator.token,
        },
    )
    assert response.status_code == 400
    assert "Indiquez la valeur de l&#39;attribut." in response.get_data(as_text=True)


def test_platform_provider_check_dev_idp_platform_admin(app, operator, world, oidc_provider):
    with app.app_context():
        provider = db.session.scalar(
            db.select(IdentityProvider).where(IdentityProvider.public_id == world.provider_a_id)
        )
        provider.issuer = oidc_provider.issuer
        db.session.commit()
    response = operator.post(
        f"/plateforme/fournisseurs/{world.provider_a_id}/verifier",
        data={"csrf_token": operator.token},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "La configuration du fournisseur est correcte." in page
    assert 'value="portail-alpha"' in page  # the stored settings, not the check's form


def test_platform_provider_check_unreachable_platform_admin(operator, world):
    page = operator.post(
        f"/plateforme/fournisseurs/{world.provider_a_id}/verifier",
        data={"csrf_token": operator.token},
    ).get_data(as_text=True)
    assert "finding--error" in page and "injoignable" in page
