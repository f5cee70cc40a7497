"""Sign-in with several ministries at once: each its own identity provider, plus a shared
federation whose claims pick the ministry (real providers from portal/devidp)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import sqlalchemy as sa

from portal.auth.models import Identity
from portal.devidp import start_idp
from portal.extensions import db
from portal.tenants.models import FederationClaim, IdentityProvider, ProviderKind, Tenant
from portal.tenants.operations import add_federation_rule, update_provider
from portal.users.models import User
from tests.fixtures.idp import (
    AGENT,
    COLLEAGUE,
    OTHER_MINISTRY_AGENT,
    TEST_PASSWORD,
    IdpAccount,
    idp_login,
    idp_logout,
    idp_test_config,
    register_idp,
)
from tests.fixtures.net import free_port
from tests.fixtures.portal import csrf_token, make_tenant, make_user


def federation_account(login: str, sub: str, name: str, **claims) -> IdpAccount:
    given_name, family_name = name.split(" ", 1)
    return IdpAccount(
        login,
        TEST_PASSWORD,
        sub,
        {
            "email": login,
            "given_name": given_name,
            "family_name": family_name,
            "name": name,
            **claims,
        },
    )


# Agents of the federation: the claims that pick their tenant, most specific first.
INTERIEUR_BY_ID = federation_account(
    "agent@interieur.gouv.fr",
    "fed-interieur-id",
    "Inès Garnier",
    organization="Préfecture de test",  # a name matching nothing: the id wins
    organization_id="TEST-INTERIEUR",  # rules compare case-insensitively
)
INTERIEUR_BY_NAME = federation_account(
    "autre@interieur.gouv.fr",
    "fed-interieur-name",
    "Karim Roux",
    organization="MINISTÈRE DE L'INTÉRIEUR (TEST)",
)
# Its e-mail domain is Outre-mer's, but its organization_id is Intérieur's: the id wins.
ID_BEATS_DOMAIN = federation_account(
    "detache@outre-mer.gouv.fr",
    "fed-detache",
    "Nadia Lopez",
    organization_id="test-interieur",
)
OUTRE_MER_BY_DOMAIN = federation_account("agent@outre-mer.gouv.fr", "fed-outre-mer", "Paul Girard")
STRANGER = federation_account(
    "personne@association.example",
    "fed-stranger",
    "Alex Inconnu",
    organization="Association sans ministère",
    organization_id="asso-42",
)
FEDERATION_ACCOUNTS = (
    INTERIEUR_BY_ID,
    INTERIEUR_BY_NAME,
    ID_BEATS_DOMAIN,
    OUTRE_MER_BY_DOMAIN,
    STRANGER,
)


@pytest.fixture(scope="module")
def idps(tmp_path_factory):
    """Three providers at once: Écologie's, Culture's and a federation."""
    logs = tmp_path_factory.mktemp("idps")
    started = {}
    try:
        for name, accounts in (
            ("ecologie", (AGENT, COLLEAGUE)),
            ("culture", (OTHER_MINISTRY_AGENT,)),
            ("federation", FEDERATION_ACCOUNTS),
        ):
            started[name] = start_idp(
                idp_test_config(accounts=accounts), log_path=logs / f"{name}.log"
            )
        yield started
    finally:
        for idp in started.values():
            idp.stop()


@pytest.fixture
def platform(live_portal, idps, portal_database_url):
    """A portal with Écologie and Culture (own providers), Intérieur and Outre-mer (reached
    through the federation only)."""
    portal = live_portal(database_url=portal_database_url)
    app = portal.app
    ecologie = make_tenant(
        app,
        slug="ecologie",
        name="Ministère de l'Écologie",
        allowed_email_domains=["ecologie.gouv.fr"],
    )
    culture = make_tenant(
        app,
        slug="culture",
        name="Ministère de la Culture",
        allowed_email_domains=["culture.gouv.fr"],
    )
    interieur = make_tenant(
        app,
        slug="interieur",
        name="Ministère de l'Intérieur",
        allowed_email_domains=["interieur.gouv.fr"],
    )
    outre_mer = make_tenant(app, slug="outre-mer", name="Ministère des Outre-mer")
    register_idp(app, idps["ecologie"], tenant=ecologie, name="Écologie")
    register_idp(app, idps["culture"], tenant=culture, name="Culture")
    federation = register_idp(
        app,
        idps["federation"],
        kind=ProviderKind.FEDERATION,
        name="Fédération de test",
        scopes="openid email profile organization",
    )
    with app.app_context():
        provider = db.session.get(IdentityProvider, federation.id)
        for claim, value, tenant in (
            (FederationClaim.ORGANIZATION_ID, "test-interieur", interieur),
            (FederationClaim.ORGANIZATION, "Ministère de l'Intérieur (test)", interieur),
            (FederationClaim.EMAIL_DOMAIN, "outre-mer.gouv.fr", outre_mer),
        ):
            add_federation_rule(provider, claim, value, db.session.get(Tenant, tenant.id))
    portal.tenants = {t.slug: t for t in (ecologie, culture, interieur, outre_mer)}
    portal.federation = federation
    return portal


def count(portal, model) -> int:
    with portal.app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def user_by_email(portal, email: str) -> tuple[User, str, Identity]:
    """The user, their tenant's slug and their identity."""
    with portal.app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        assert user is not None, f"no user {email}"
        identity = db.session.scalar(sa.select(Identity).where(Identity.user_id == user.id))
        slug = user.tenant.slug
        db.session.expunge_all()
        return user, slug, identity


def sign_in_via(portal, http, start_query: dict, account: IdpAccount) -> requests.Response:
    """Start at /connexion/oidc?<start_query>, log in at the provider, follow the callback."""
    response = http.get(
        f"{portal.url}/connexion/oidc?{urlencode(start_query)}", allow_redirects=False
    )
    assert response.status_code == 302, response.text[:500]
    back = idp_login(http, response.headers["Location"], account.login, account.password)
    assert back.status_code in (302, 303), back.text[:500]
    assert back.headers["Location"].startswith(portal.callback_url)
    return http.get(back.headers["Location"], allow_redirects=False)


def test_agents_of_two_ministries_and_a_federation_land_in_their_tenant(platform, idps):
    federation = {"fournisseur": platform.federation.public_id}
    cases = [
        ({"ministere": "ecologie"}, AGENT, "ecologie", "ecologie"),
        ({"ministere": "culture"}, OTHER_MINISTRY_AGENT, "culture", "culture"),
        (federation, INTERIEUR_BY_ID, "interieur", "federation"),
        # Picking a ministry reached through the federation starts at the federation.
        ({"ministere": "interieur"}, INTERIEUR_BY_NAME, "interieur", "federation"),
    ]
    for query, account, tenant_slug, idp_name in cases:
        with requests.Session() as http:
            response = sign_in_via(platform, http, query, account)
            assert response.status_code == 302, response.text[:500]
            assert http.get(f"{platform.url}/salles").status_code == 200
        user, slug, identity = user_by_email(platform, account.login)
        assert slug == tenant_slug, account.login
        assert (identity.issuer, identity.subject) == (idps[idp_name].issuer, account.sub)
        with platform.app.app_context():
            provider = db.session.get(IdentityProvider, identity.provider_id)
            assert provider.issuer == idps[idp_name].issuer
    assert count(platform, User) == len(cases)


def test_federation_rules_most_specific_first(platform):
    for account, tenant_slug in (
        (ID_BEATS_DOMAIN, "interieur"),  # organization_id beats email_domain
        (OUTRE_MER_BY_DOMAIN, "outre-mer"),  # only the e-mail domain matches
    ):
        with requests.Session() as http:
            query = {"fournisseur": platform.federation.public_id}
            assert sign_in_via(platform, http, query, account).status_code == 302
        assert user_by_email(platform, account.login)[1] == tenant_slug


def test_federation_claims_matching_no_tenant_are_refused(platform, caplog):
    with requests.Session() as http:
        query = {"fournisseur": platform.federation.public_id}
        response = sign_in_via(platform, http, query, STRANGER)
        assert response.status_code == 403
        assert "Votre organisation n&#39;utilise pas encore ce service" in response.text
        assert http.get(f"{platform.url}/salles", allow_redirects=False).status_code == 302
    assert count(platform, User) == 0 and count(platform, Identity) == 0
    assert "matches no tenant" in caplog.text


def test_existing_user_resolved_to_another_tenant_is_refused(platform, idps, caplog):
    # The federation once placed this agent in Culture; its rules now say Intérieur.
    make_user(
        platform.app,
        email=INTERIEUR_BY_ID.login,
        display_name="Inès Garnier",
        tenant=platform.tenants["culture"],
        issuer=idps["federation"].issuer,
        subject=INTERIEUR_BY_ID.sub,
    )
    with caplog.at_level(logging.WARNING), requests.Session() as http:
        query = {"fournisseur": platform.federation.public_id}
        response = sign_in_via(platform, http, query, INTERIEUR_BY_ID)
        assert response.status_code == 403
        assert "autre ministère" in response.text
        assert http.get(f"{platform.url}/salles", allow_redirects=False).status_code == 302
    user, slug, _ = user_by_email(platform, INTERIEUR_BY_ID.login)
    assert (slug, user.last_login_at) == ("culture", None)
    assert count(platform, User) == 1
    assert "an administrator must move the account" in caplog.text


def test_disabled_provider_is_refused(platform, idps):
    with requests.Session() as http:
        start = http.get(f"{platform.url}/connexion/oidc?ministere=culture", allow_redirects=False)
        back = idp_login(http, start.headers["Location"], OTHER_MINISTRY_AGENT.login, TEST_PASSWORD)
        # Disabled while the agent was at the provider: the callback is refused.
        with platform.app.app_context():
            provider = db.session.scalar(
                sa.select(IdentityProvider).where(IdentityProvider.issuer == idps["culture"].issuer)
            )
            update_provider(provider, enabled=False)
        response = http.get(back.headers["Location"], allow_redirects=False)
        assert response.status_code == 403
        assert "désactivée" in response.text
        # And no longer offered.
        assert "ministere-culture" not in http.get(f"{platform.url}/connexion").text
        again = http.get(f"{platform.url}/connexion/oidc?ministere=culture", allow_redirects=False)
        assert again.status_code == 404
    assert count(platform, User) == 0


def test_provider_change_takes_effect_at_next_sign_in(platform, idps):
    with requests.Session() as http:
        response = sign_in_via(platform, http, {"ministere": "culture"}, OTHER_MINISTRY_AGENT)
        assert response.status_code == 302
    with platform.app.app_context():
        provider = db.session.scalar(
            sa.select(IdentityProvider).where(IdentityProvider.issuer == idps["culture"].issuer)
        )
        update_provider(provider, client_secret="plus-le-bon-secret")
    with requests.Session() as http:
        response = sign_in_via(platform, http, {"ministere": "culture"}, OTHER_MINISTRY_AGENT)
        assert response.status_code == 400
        assert "a refusé la connexion" in response.text


def test_sign_out_at_the_provider_signed_in_with(platform, idps):
    with requests.Session() as http:
        sign_in_via(platform, http, {"ministere": "culture"}, OTHER_MINISTRY_AGENT)
        page = http.get(f"{platform.url}/salles")
        # The sign-out form redirects to this provider: CSP form-action allows it.
        assert idps["culture"].issuer in page.headers["Content-Security-Policy"]
        response = http.post(
            f"{platform.url}/deconnexion",
            data={"csrf_token": csrf_token(page)},
            allow_redirects=False,
        )
        end_session = response.headers["Location"]
        assert end_session.startswith(idps["culture"].issuer + "/")
        query = parse_qs(urlsplit(end_session).query)
        assert query["post_logout_redirect_uri"] == [f"{platform.url}/"]
        assert idp_logout(http, end_session).headers["Location"].startswith(f"{platform.url}/")


# ---------------------------------------------------------------------------------------------
# The sign-in page


def test_sign_in_page_lists_ministries_with_a_way_in(platform):
    with requests.Session() as http:
        page = http.get(f"{platform.url}/connexion")
    assert page.status_code == 200
    for slug in ("ecologie", "culture", "interieur", "outre-mer"):
        assert f'id="ministere-{slug}"' in page.text
    assert "Se connecter avec Fédération de test" in page.text
    form_action = page.headers["Content-Security-Policy"].split("form-action ")[1]
    assert all(idp.issuer in form_action for idp in platform_idps(platform))


def platform_idps(portal):
    with portal.app.app_context():
        return list(db.session.scalars(sa.select(IdentityProvider)))


def post_email(portal, http, email: str) -> requests.Response:
    page = http.get(f"{portal.url}/connexion")
    return http.post(
        f"{portal.url}/connexion",
        data={"email": email, "csrf_token": csrf_token(page), "next": "/salles/nouvelle"},
        allow_redirects=False,
    )


@pytest.mark.parametrize(
    ("email", "idp_name"),
    [
        ("Quelqu.Un@Ecologie.gouv.fr", "ecologie"),  # the tenant's own provider
        ("agent@interieur.gouv.fr", "interieur"),  # allowed domain, no provider: federation
        ("agent@outre-mer.gouv.fr", "federation"),  # only a federation email_domain rule
    ],
)
def test_sign_in_page_finds_the_ministry_from_the_email_domain(platform, idps, email, idp_name):
    expected = idps["federation" if idp_name == "interieur" else idp_name].issuer
    with requests.Session() as http:
        response = post_email(platform, http, email)
    assert response.status_code == 302
    authorize = response.headers["Location"]
    assert authorize.startswith(expected + "/")
    assert parse_qs(urlsplit(authorize).query)["login_hint"] == [email]


def test_sign_in_page_unknown_domain_is_explained_next_to_the_field(platform):
    with requests.Session() as http:
        response = post_email(platform, http, "agent@inconnu.example")
    assert response.status_code == 400
    assert 'id="email-error"' in response.text
    error = response.text.split('id="email-error">')[1].split("</p>")[0]
    assert "Aucun ministère n&#39;utilise ce service avec cette adresse" in error
    assert 'aria-invalid="true"' in response.text
    assert count(platform, User) == 0


def test_sign_in_page_invalid_address_is_explained(platform):
    with requests.Session() as http:
        response = post_email(platform, http, "pas-une-adresse")
    assert response.status_code == 400
    assert "n&#39;est pas valide" in response.text.split('id="email-error">')[1]


# ---------------------------------------------------------------------------------------------
# Misconfigured or hostile providers: a clear page in French, nothing created


@pytest.fixture
def lone_portal(live_portal, portal_database_url):
    portal = live_portal(database_url=portal_database_url)
    portal.tenant = make_tenant(portal.app, slug="ecologie", name="Ministère de l'Écologie")
    return portal


def assert_nothing_created(portal) -> None:
    assert count(portal, User) == 0 and count(portal, Identity) == 0


def test_unreachable_discovery(lone_portal):
    nobody = type("Unreachable", (), {"issuer": f"http://127.0.0.1:{free_port()}"})()
    register_idp(lone_portal.app, nobody, tenant=lone_portal.tenant)
    with requests.Session() as http:
        response = http.get(
            f"{lone_portal.url}/connexion/oidc?ministere=ecologie", allow_redirects=False
        )
    assert response.status_code == 502
    assert "Fournisseur d&#39;identité injoignable" in response.text
    assert_nothing_created(lone_portal)


def test_wrong_client_secret(lone_portal, idps):
    register_idp(
        lone_portal.app, idps["ecologie"], tenant=lone_portal.tenant, client_secret="pas-le-bon"
    )
    with requests.Session() as http:
        response = sign_in_via(lone_portal, http, {"ministere": "ecologie"}, AGENT)
    assert response.status_code == 400
    assert "a refusé la connexion" in response.text
    assert_nothing_created(lone_portal)


@pytest.mark.parametrize(
    "hostile",
    [
        {"publish_wrong_keys": True},  # signed by another key than the published one
        {"tamper_id_token": {"aud": "someone-else"}},  # issued for another client
        # Expired an hour ago: well past Authlib's 120 s leeway.
        {"tamper_id_token": {"exp_offset": -3600}},
    ],
    ids=["wrong-key", "wrong-audience", "expired"],
)
def test_id_token_that_fails_verification(lone_portal, start_oidc_provider, hostile):
    idp = start_oidc_provider(**hostile)
    register_idp(lone_portal.app, idp, tenant=lone_portal.tenant)
    with requests.Session() as http:
        response = sign_in_via(lone_portal, http, {"ministere": "ecologie"}, AGENT)
        assert response.status_code == 401
        assert "pas pu être vérifiée" in response.text
        assert http.get(f"{lone_portal.url}/salles", allow_redirects=False).status_code == 302
    assert_nothing_created(lone_portal)
