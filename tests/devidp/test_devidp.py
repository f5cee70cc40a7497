"""The development IdP itself, driven by Authlib's OAuth2 client against the running server."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from tests.fixtures.idp import (
    AGENT,
    TEST_CLIENT_ID,
    TEST_CLIENT_SECRET,
    idp_login,
    idp_logout,
)

REDIRECT_URI = "http://127.0.0.1:8999/auth/callback"
SCOPE = "openid email profile organization"


def discovery(idp) -> dict:
    return requests.get(idp.discovery_url, timeout=5).json()


def oauth_client(idp, *, pkce: bool = True, **options) -> OAuth2Session:
    return OAuth2Session(
        TEST_CLIENT_ID,
        TEST_CLIENT_SECRET,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256" if pkce else None,
        **options,
    )


def authorize(idp, client: OAuth2Session, *, code_verifier: str | None, nonce: str) -> str:
    url, _state = client.create_authorization_url(
        discovery(idp)["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    return url


def login_and_get_redirect(idp, client, *, code_verifier, nonce="n-0S6_WzA2Mj") -> str:
    """Log AGENT in from a fresh browser; return the redirect back to the client."""
    response = idp_login(
        requests.Session(),
        authorize(idp, client, code_verifier=code_verifier, nonce=nonce),
        AGENT.login,
        AGENT.password,
    )
    assert response.status_code in (302, 303), response.text
    return response.headers["Location"]


def fetch_token(idp, client, redirect: str, code_verifier: str) -> dict:
    return client.fetch_token(
        discovery(idp)["token_endpoint"],
        authorization_response=redirect,
        code_verifier=code_verifier,
    )


def verify_id_token(idp, id_token: str) -> dict:
    """Check the signature against the published JWKS, then iss, aud and exp."""
    jwks = requests.get(discovery(idp)["jwks_uri"], timeout=5).json()
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(id_token)["kid"]]
    return jwt.decode(
        id_token, key, algorithms=["RS256"], audience=TEST_CLIENT_ID, issuer=idp.issuer
    )


def test_discovery_document(oidc_provider):
    document = discovery(oidc_provider)
    assert document["issuer"] == oidc_provider.issuer
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
    ):
        assert document[endpoint].startswith(oidc_provider.issuer + "/")
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert {"openid", "email", "profile", "organization"} <= set(document["scopes_supported"])
    assert {"organization", "organization_id", "email"} <= set(document["claims_supported"])
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    assert "RS256" in document["id_token_signing_alg_values_supported"]


def test_code_flow_with_pkce_and_nonce_gives_verifiable_id_token(oidc_provider):
    client = oauth_client(oidc_provider)
    verifier = generate_token(48)
    redirect = login_and_get_redirect(
        oidc_provider, client, code_verifier=verifier, nonce="nonce-123"
    )
    assert redirect.startswith(REDIRECT_URI + "?")
    assert parse_qs(urlsplit(redirect).query)["iss"] == [oidc_provider.issuer]

    token = fetch_token(oidc_provider, client, redirect, verifier)

    claims = verify_id_token(oidc_provider, token["id_token"])
    assert claims["nonce"] == "nonce-123"
    assert claims["sub"] == AGENT.sub
    assert claims["organization"] == AGENT.claims["organization"]
    assert claims["organization_id"] == AGENT.claims["organization_id"]
    assert claims["email"] == AGENT.login
    userinfo = client.get(discovery(oidc_provider)["userinfo_endpoint"]).json()
    assert userinfo["organization"] == AGENT.claims["organization"]


def test_client_secret_post_is_supported(start_oidc_provider):
    method = "client_secret_post"
    idp = start_oidc_provider([REDIRECT_URI], token_endpoint_auth_method=method)
    client = oauth_client(idp, token_endpoint_auth_method=method)
    verifier = generate_token(48)
    redirect = login_and_get_redirect(idp, client, code_verifier=verifier)
    assert "id_token" in fetch_token(idp, client, redirect, verifier)


def test_wrong_password_shows_the_form_again_without_code(oidc_provider):
    client = oauth_client(oidc_provider)
    url = authorize(oidc_provider, client, code_verifier=generate_token(48), nonce="n")
    response = idp_login(requests.Session(), url, AGENT.login, "not-the-password")
    assert response.status_code == 401
    assert "incorrect" in response.text
    assert 'name="password"' in response.text
    assert "Location" not in response.headers


def test_missing_pkce_is_refused(oidc_provider):
    client = oauth_client(oidc_provider, pkce=False)
    url = authorize(oidc_provider, client, code_verifier=None, nonce="n")
    response = idp_login(requests.Session(), url, AGENT.login, AGENT.password)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "code" not in query


def test_wrong_code_verifier_is_invalid_grant(oidc_provider):
    client = oauth_client(oidc_provider)
    redirect = login_and_get_redirect(oidc_provider, client, code_verifier=generate_token(48))
    with pytest.raises(OAuthError) as error:
        fetch_token(oidc_provider, client, redirect, generate_token(48))
    assert error.value.error == "invalid_grant"


def test_replayed_code_is_invalid_grant(oidc_provider):
    client = oauth_client(oidc_provider)
    verifier = generate_token(48)
    redirect = login_and_get_redirect(oidc_provider, client, code_verifier=verifier)
    fetch_token(oidc_provider, client, redirect, verifier)
    with pytest.raises(OAuthError) as error:
        fetch_token(oidc_provider, client, redirect, verifier)
    assert error.value.error == "invalid_grant"


def test_unregistered_redirect_uri_is_refused_without_redirect(start_oidc_provider):
    idp = start_oidc_provider(["http://127.0.0.1:8999/other"])
    client = oauth_client(idp)
    url = authorize(idp, client, code_verifier=generate_token(48), nonce="n")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_publish_wrong_keys_gives_id_token_that_does_not_verify(start_oidc_provider):
    idp = start_oidc_provider(publish_wrong_keys=True)
    client = oauth_client(idp)
    verifier = generate_token(48)
    redirect = login_and_get_redirect(idp, client, code_verifier=verifier)
    token = fetch_token(idp, client, redirect, verifier)
    with pytest.raises(jwt.InvalidSignatureError):
        verify_id_token(idp, token["id_token"])


def test_id_token_ttl(start_oidc_provider):
    idp = start_oidc_provider(id_token_ttl=5)
    client = oauth_client(idp)
    verifier = generate_token(48)
    redirect = login_and_get_redirect(idp, client, code_verifier=verifier)
    claims = verify_id_token(idp, fetch_token(idp, client, redirect, verifier)["id_token"])
    assert claims["exp"] - claims["iat"] == 5


def test_logout_redirects_to_post_logout_uri_and_ends_the_idp_session(oidc_provider):
    client = oauth_client(oidc_provider)
    browser = requests.Session()
    verifier = generate_token(48)
    url = authorize(oidc_provider, client, code_verifier=verifier, nonce="n")
    redirect = idp_login(browser, url, AGENT.login, AGENT.password).headers["Location"]
    id_token = fetch_token(oidc_provider, client, redirect, verifier)["id_token"]

    end_session = (
        discovery(oidc_provider)["end_session_endpoint"]
        + "?"
        + urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": "http://127.0.0.1:8999/",
                "state": "after-logout",
            }
        )
    )
    page = browser.get(end_session, allow_redirects=False)
    # A valid id_token_hint: the page confirms itself through a same-origin script.
    assert page.status_code == 200
    assert 'src="/devidp/logout.js"' in page.text
    response = idp_logout(browser, end_session)
    assert response.status_code == 303
    assert response.headers["Location"] == "http://127.0.0.1:8999/?state=after-logout"

    # The IdP session is gone: the next authorization asks for the password again.
    next_url = authorize(oidc_provider, client, code_verifier=generate_token(48), nonce="n")
    again = browser.get(next_url)
    assert again.status_code == 200
    assert 'name="password"' in again.text
