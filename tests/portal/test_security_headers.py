"""Security headers on every response: a CSP without inline code, and the usual others."""

import re

import pytest

from portal import create_app
from portal.config import ConfigurationError
from tests.fixtures.portal import portal_config


def directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


PATHS = ["/", "/connexion", "/salles", "/r/inconnue", "/static/css/app.css"]


@pytest.mark.parametrize("path", PATHS)
def test_csp_on_every_response_without_inline_code(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["media-src"] == ["'self'", "blob:"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["connect-src"][0] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert "microphone=(self)" in response.headers["Permissions-Policy"]
    assert "display-capture=(self)" in response.headers["Permissions-Policy"]


def test_pages_have_no_inline_script_or_style(client, create_user, create_room):
    from tests.fixtures.portal import csrf_token, sign_in

    owner = create_user()
    room = create_room(owner)
    sign_in(client, owner)
    token = csrf_token(client.get(f"/r/{room.slug}"))
    client.post(f"/r/{room.slug}", data={"display_name": "C", "csrf_token": token})
    for path in ("/", "/salles", "/salles/nouvelle", f"/r/{room.slug}", f"/r/{room.slug}/salle"):
        page = client.get(path).get_data(as_text=True)
        assert "<style" not in page and " style=" not in page, path
        for line in page.splitlines():
            # A JSON data block (the scripts' texts) is data, not code: CSP does not apply.
            if "<script" in line and 'type="application/json"' not in line:
                assert " src=" in line, (path, line)
        assert not re.search(r"<[^>]+\son[a-z]+=", page), path


def test_connect_src_allows_local_sfu_websockets_by_default(client):
    csp = directives(client.get("/"))
    assert "ws://localhost:*" in csp["connect-src"]
    assert "ws://127.0.0.1:*" in csp["connect-src"]


def test_connect_src_and_form_action_from_config(tmp_path):
    app = create_app(
        portal_config(
            f"sqlite:///{tmp_path / 'x.sqlite3'}",
            PORTAL_URL="https://webconf.example.gouv.fr",
            SFU_CONNECT_SRC="wss://sfu1.example.gouv.fr wss://sfu2.example.gouv.fr",
        )
    )
    csp = directives(app.test_client().get("/static/css/app.css"))
    assert csp["connect-src"] == [
        "'self'",
        "wss://sfu1.example.gouv.fr",
        "wss://sfu2.example.gouv.fr",
    ]
    # Identity providers are added per page, where a form may redirect to them
    # (tests/portal/test_tenant_sign_in.py).
    assert csp["form-action"] == ["'self'"]


def test_session_cookie_flags(tmp_path):
    local = create_app(
        portal_config(f"sqlite:///{tmp_path / 'a.sqlite3'}", SESSION_COOKIE_SECURE=None)
    )
    assert local.config["SESSION_COOKIE_SECURE"] is False
    public = create_app(
        portal_config(
            f"sqlite:///{tmp_path / 'b.sqlite3'}",
            PORTAL_URL="https://webconf.example.gouv.fr",
            SESSION_COOKIE_SECURE=None,
        )
    )
    assert public.config["SESSION_COOKIE_SECURE"] is True
    assert public.config["SESSION_COOKIE_HTTPONLY"] is True
    assert public.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_secret_key_required_in_production(tmp_path):
    with pytest.raises(ConfigurationError):
        create_app(
            portal_config(
                f"sqlite:///{tmp_path / 'c.sqlite3'}",
                TESTING=False,
                SECRET_KEY=None,
                PORTAL_URL="https://webconf.example.gouv.fr",
            )
        )


def test_join_token_lifetime_is_bounded(tmp_path):
    with pytest.raises(ConfigurationError):
        create_app(portal_config(f"sqlite:///{tmp_path / 'd.sqlite3'}", JOIN_TOKEN_LIFETIME=120))
