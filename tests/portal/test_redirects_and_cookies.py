"""No open redirect after sign-in, HSTS over TLS only, and the cookies as browsers receive them."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from portal import create_app
from portal.core.urls import safe_next_url
from tests.fixtures.portal import csrf_token, dispose, migrated_app, portal_config

SITE = "https://visio.example.gouv.fr"
DEFAULT = "/salles"
STATIC = "/static/css/app.css"  # a response that needs no database

# What attackers put in ?next= to leave the site: schemes, protocol-relative URLs, backslashes
# browsers read as slashes, control characters they strip, encoded forms.
HOSTILE_PIECES = [
    "//",
    "/\\",
    "\\\\",
    "\\/",
    "/\t/",
    "/\n/",
    "/\r/",
    "https:",
    "http:",
    "javascript:",
    "data:",
    "%2F%2F",
    "/%09/",
    "@",
    "evil.example",
    "/",
    ".",
    "..",
    " ",
    "\x00",
]


def where_a_browser_goes(next_url: str) -> str:
    """The origin a browser at SITE lands on after `Location: next_url` (tabs/newlines removed,
    backslashes read as slashes, as the URL standard says for special schemes)."""
    cleaned = "".join(c for c in next_url if c not in "\t\n\r").replace("\\", "/")
    target = urljoin(SITE + "/connexion", cleaned.strip("\x00 "))
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=4), max_size=6).map("".join))
@example("//evil.example/")
@example("/\\evil.example")
@example("/\t/evil.example")
@example("https://evil.example")
@example("javascript:alert(1)")
def test_next_url_never_leaves_the_site(candidate):
    chosen = safe_next_url(candidate, DEFAULT)
    assert chosen == DEFAULT or chosen.startswith("/")
    assert where_a_browser_goes(chosen) == SITE, (candidate, chosen)


@pytest.mark.parametrize("path", ["/salles", "/r/abc?x=1", "/admin/agents#liste"])
def test_next_url_keeps_paths_of_the_site(path):
    assert safe_next_url(path, DEFAULT) == path


@pytest.fixture
def public_app(tmp_path):
    """A portal configured for https://, seen directly over TLS by the test client."""
    database = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    app = migrated_app(portal_config(database, PORTAL_URL=SITE, SESSION_COOKIE_SECURE=None))
    yield app
    dispose(app)


def test_hsts_over_tls_only(public_app):
    over_tls = public_app.test_client().get("/", base_url=SITE)
    assert over_tls.headers["Strict-Transport-Security"] == "max-age=63072000"
    plain = public_app.test_client().get("/", base_url="http://visio.example.gouv.fr")
    assert "Strict-Transport-Security" not in plain.headers


@pytest.fixture
def make_app(tmp_path):
    """create_app with overrides; the apps are disposed of (their sessions removed) after."""
    apps = []

    def make(**overrides):
        app = create_app(portal_config(f"sqlite:///{tmp_path / 'x.sqlite3'}", **overrides))
        apps.append(app)
        return app

    yield make
    for app in apps:
        dispose(app)


def test_hsts_behind_a_trusted_proxy(make_app):
    client = make_app(PORTAL_URL=SITE, TRUSTED_PROXIES=1).test_client()
    plain = "http://visio.example.gouv.fr"
    forwarded = client.get(STATIC, base_url=plain, headers={"X-Forwarded-Proto": "https"})
    assert forwarded.headers["Strict-Transport-Security"] == "max-age=63072000"
    assert "Strict-Transport-Security" not in client.get(STATIC, base_url=plain).headers


def test_hsts_can_be_turned_off(make_app):
    client = make_app(PORTAL_URL=SITE, HSTS_MAX_AGE=0).test_client()
    assert "Strict-Transport-Security" not in client.get(STATIC, base_url=SITE).headers


def test_session_cookie_as_sent_is_secure_httponly_lax(public_app):
    client = public_app.test_client()
    page = client.get("/connexion", base_url=SITE)
    # Posting the sign-in form stores something in the session: the cookie is sent.
    response = client.post(
        "/connexion",
        data={"email": "agent@inconnu.example", "csrf_token": csrf_token(page)},
        base_url=SITE,
    )
    cookies = [value for name, value in response.headers.items() if name == "Set-Cookie"]
    cookies += [value for name, value in page.headers.items() if name == "Set-Cookie"]
    session = [c for c in cookies if c.startswith("webconf_session=")]
    assert session, cookies
    for cookie in session:
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly"} <= attributes, cookie
        assert "samesite=lax" in cookie.lower().replace(" ", ""), cookie
