"""Sign-in with OpenID Connect against a real provider (portal/devidp), and sign-out."""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
import sqlalchemy as sa

from portal.auth.models import Identity
from portal.extensions import db
from portal.users.models import User
from tests.fixtures.idp import AGENT, COLLEAGUE, TEST_CLIENT_ID, idp_login, idp_logout
from tests.fixtures.portal import make_user

SESSION_COOKIE = "webconf_session"


@pytest.fixture
def portal(live_portal, oidc_provider, portal_database_url):
    return live_portal(idp=oidc_provider, database_url=portal_database_url)


def count(portal, model) -> int:
    with portal.app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def users(portal) -> list[User]:
    with portal.app.app_context():
        found = list(db.session.scalars(sa.select(User).order_by(User.id)))
        db.session.expunge_all()
        return found


def start(portal, http: requests.Session, next_path: str | None = None) -> str:
    """Begin a sign-in at the portal; return the provider's authorization URL."""
    query = f"?{urlencode({'next': next_path})}" if next_path else ""
    response = http.get(f"{portal.url}/connexion/oidc{query}", allow_redirects=False)
    assert response.status_code == 302
    return response.headers["Location"]


def callback_url_after_login(portal, http, account=AGENT, next_path=None) -> str:
    """Sign in at the provider; return the callback URL it sends the browser to (not followed)."""
    response = idp_login(http, start(portal, http, next_path), account.login, account.password)
    assert response.status_code in (302, 303), response.text[:500]
    location = response.headers["Location"]
    assert location.startswith(portal.callback_url)
    return location


def sign_in(portal, http, account=AGENT, next_path=None) -> requests.Response:
    callback = callback_url_after_login(portal, http, account, next_path)
    return http.get(callback, allow_redirects=False)


def test_authorization_request_uses_pkce_state_and_nonce(portal, oidc_provider):
    with requests.Session() as http:
        query = parse_qs(urlsplit(start(portal, http)).query)
    assert query["client_id"] == [TEST_CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [portal.callback_url]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}


def test_sign_in_first_time_creates_user_and_identity(portal, oidc_provider):
    with requests.Session() as http:
        response = sign_in(portal, http, next_path="/salles/nouvelle")
        assert response.status_code == 302
        assert response.headers["Location"] == "/salles/nouvelle"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        page = http.get(f"{portal.url}/salles")
        assert page.status_code == 200
        assert "Se déconnecter" in page.text
    [user] = users(portal)
    assert (user.email, user.display_name, user.is_active) == (AGENT.login, "Camille Martin", True)
    assert user.last_login_at is not None
    with portal.app.app_context():
        identity = db.session.scalar(sa.select(Identity))
        assert (identity.issuer, identity.subject, identity.user_id) == (
            oidc_provider.issuer,
            AGENT.sub,
            user.id,
        )


def test_sign_in_again_updates_name_and_email_without_duplicate(portal, oidc_provider):
    existing = make_user(
        portal.app,
        email="ancienne@ecologie.gouv.fr",
        display_name="Ancien Nom",
        issuer=oidc_provider.issuer,
        subject=AGENT.sub,
    )
    with requests.Session() as http:
        assert sign_in(portal, http).status_code == 302
    with requests.Session() as http:
        assert sign_in(portal, http).status_code == 302
    [user] = users(portal)
    assert user.id == existing.id and user.public_id == existing.public_id
    assert (user.email, user.display_name) == (AGENT.login, "Camille Martin")
    assert count(portal, Identity) == 1


def test_two_people_get_two_users(portal, oidc_provider):
    for account in (AGENT, COLLEAGUE):
        with requests.Session() as http:
            assert sign_in(portal, http, account).status_code == 302
    assert [u.email for u in users(portal)] == [AGENT.login, COLLEAGUE.login]


def test_sign_in_with_wrong_state_is_refused(portal, oidc_provider):
    with requests.Session() as http:
        callback = callback_url_after_login(portal, http)
        parts = urlsplit(callback)
        query = parse_qs(parts.query)
        query["state"] = ["forged-state"]
        forged = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        response = http.get(forged, allow_redirects=False)
        assert response.status_code == 400
        assert "Connexion refusée" in response.text
        assert http.get(f"{portal.url}/salles", allow_redirects=False).status_code == 302
    assert count(portal, User) == 0 and count(portal, Identity) == 0


def test_sign_in_callback_from_another_browser_is_refused(portal, oidc_provider):
    with requests.Session() as http:
        callback = callback_url_after_login(portal, http)
    with requests.Session() as other_browser:
        response = other_browser.get(callback, allow_redirects=False)
    assert response.status_code == 400
    assert count(portal, User) == 0


def test_sign_in_with_replayed_code_is_refused(portal, oidc_provider):
    with requests.Session() as http:
        callback = callback_url_after_login(portal, http)
        session_before = http.cookies.get(SESSION_COOKIE, domain="127.0.0.1")
        assert http.get(callback, allow_redirects=False).status_code == 302
        assert count(portal, User) == 1
        # Same browser, same callback again: the state was used up.
        response = http.get(callback, allow_redirects=False)
        assert response.status_code == 400
    # The session from before the first use still holds a valid state, PKCE verifier and
    # nonce: the provider itself must refuse the second use of the code.
    with requests.Session() as replay:
        replay.cookies.set(SESSION_COOKIE, session_before, domain="127.0.0.1")
        response = replay.get(callback, allow_redirects=False)
        assert response.status_code == 400
        assert "Connexion refusée" in response.text
        assert replay.get(f"{portal.url}/salles", allow_redirects=False).status_code == 302
    assert count(portal, User) == 1 and count(portal, Identity) == 1


def test_sign_in_with_bad_id_token_signature_is_refused(live_portal, start_oidc_provider):
    idp = start_oidc_provider(publish_wrong_keys=True)
    portal = live_portal(idp=idp)
    with requests.Session() as http:
        response = sign_in(portal, http)
        assert response.status_code == 401
        assert "pas pu être vérifiée" in response.text
        assert http.get(f"{portal.url}/salles", allow_redirects=False).status_code == 302
    assert count(portal, User) == 0 and count(portal, Identity) == 0


def test_sign_in_error_from_provider_is_refused(portal, oidc_provider):
    with requests.Session() as http:
        state = parse_qs(urlsplit(start(portal, http)).query)["state"][0]
        response = http.get(
            f"{portal.callback_url}?error=access_denied&state={state}", allow_redirects=False
        )
    assert response.status_code == 400
    assert "a refusé la connexion" in response.text
    assert count(portal, User) == 0


def test_sign_in_deactivated_user_is_refused(portal, oidc_provider):
    make_user(
        portal.app,
        email="ancienne@ecologie.gouv.fr",
        display_name="Ancien Nom",
        is_active=False,
        issuer=oidc_provider.issuer,
        subject=AGENT.sub,
    )
    with requests.Session() as http:
        response = sign_in(portal, http)
        assert response.status_code == 403
        assert "Compte désactivé" in response.text
        assert http.get(f"{portal.url}/salles", allow_redirects=False).status_code == 302
    [user] = users(portal)
    assert (user.email, user.last_login_at) == ("ancienne@ecologie.gouv.fr", None)


def test_sign_in_refuses_open_redirect(portal, oidc_provider):
    with requests.Session() as http:
        response = sign_in(portal, http, next_path="//evil.example/")
    assert response.headers["Location"] == "/salles"


def test_sign_out_ends_provider_session(portal, oidc_provider):
    with requests.Session() as http:
        sign_in(portal, http)
        page = http.get(f"{portal.url}/salles")
        token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        response = http.post(
            f"{portal.url}/deconnexion", data={"csrf_token": token}, allow_redirects=False
        )
        assert response.status_code == 302
        end_session = response.headers["Location"]
        assert end_session.startswith(oidc_provider.issuer)
        query = parse_qs(urlsplit(end_session).query)
        assert query["post_logout_redirect_uri"] == [f"{portal.url}/"]
        assert query["id_token_hint"][0].count(".") == 2
        # Signed out of the portal already.
        assert http.get(f"{portal.url}/salles", allow_redirects=False).status_code == 302
        back = idp_logout(http, end_session)
        assert back.headers["Location"].startswith(f"{portal.url}/")
        # Signed out at the provider too: signing in again asks for the password.
        authorize = http.get(start(portal, http), allow_redirects=True)
        assert authorize.status_code == 200 and 'name="password"' in authorize.text


def test_sign_in_page_without_provider(client):
    page = client.get("/connexion").get_data(as_text=True)
    assert "aucun" in page and "fournisseur d'identité n'est configuré" in page
    assert client.get("/connexion/oidc").status_code == 503
