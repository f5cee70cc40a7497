"""The "Vérifier la configuration" check against the real development IdP and hostile servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.platform.provider_check import check_provider
from tests.fixtures.net import free_port


class FakeProvider:
    """A tiny HTTP server serving whatever discovery document and JWKS a test wants."""

    def __init__(self) -> None:
        self.discovery: object = None
        self.raw_discovery: bytes | None = None
        self.jwks: object = {"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}]}
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 — http.server's name
                time.sleep(fake.delay)
                if self.path == "/.well-known/openid-configuration":
                    body = fake.raw_discovery or json.dumps(fake.discovery).encode()
                elif self.path == "/jwks":
                    body = json.dumps(fake.jwks).encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.discovery = self.good_document()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def good_document(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    yield provider
    provider.stop()


def errors(findings) -> list[str]:
    return [finding.message for finding in findings if finding.level == "error"]


def test_provider_check_dev_idp_is_correct(oidc_provider):
    findings = check_provider(oidc_provider.issuer, "openid email profile")
    assert errors(findings) == []
    assert findings[0].level == "ok"
    assert findings[0].message == "La configuration du fournisseur est correcte."


def test_provider_check_dev_idp_unsupported_scope(oidc_provider):
    findings = check_provider(oidc_provider.issuer, "openid email carte_agent")
    assert errors(findings) == [
        "Scopes demandés que le fournisseur ne prend pas en charge : carte_agent."
    ]


def test_provider_check_unreachable():
    issuer = f"http://127.0.0.1:{free_port()}"
    [finding] = check_provider(issuer)
    assert finding.level == "error"
    assert "injoignable" in finding.message and issuer in finding.message


def test_provider_check_timeout(fake_provider):
    fake_provider.delay = 1.0
    [finding] = check_provider(fake_provider.issuer, timeout=0.3)
    assert "ne répond pas dans le délai de 0.3 s" in finding.message


def test_provider_check_fake_good_provider(fake_provider):
    assert errors(check_provider(fake_provider.issuer, "openid email")) == []


def test_provider_check_not_json(fake_provider):
    fake_provider.raw_discovery = b"<html>Bienvenue</html>"
    [finding] = check_provider(fake_provider.issuer)
    assert finding.message.startswith("Le document de découverte n'est pas un document JSON")


def test_provider_check_not_found():
    fake = FakeProvider()
    try:
        [finding] = check_provider(fake.issuer + "/mauvais-chemin")
        assert "code HTTP 404" in finding.message
    finally:
        fake.stop()


def test_provider_check_issuer_mismatch(fake_provider):
    fake_provider.discovery["issuer"] = "https://autre-fournisseur.example"
    [message] = errors(check_provider(fake_provider.issuer))
    assert "« https://autre-fournisseur.example » diffère de l'émetteur configuré" in message


def test_provider_check_issuer_trailing_slash(fake_provider):
    fake_provider.discovery["issuer"] = fake_provider.issuer + "/"
    [message] = errors(check_provider(fake_provider.issuer))
    assert "barre oblique finale" in message


def test_provider_check_missing_endpoints(fake_provider):
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        del fake_provider.discovery[key]
    messages = errors(check_provider(fake_provider.issuer))
    assert messages == [
        "Le document ne donne pas l'adresse d'autorisation (authorization_endpoint).",
        "Le document ne donne pas l'adresse de délivrance des jetons (token_endpoint).",
        "Le document ne donne pas l'adresse des clés de signature (jwks_uri).",
    ]


def test_provider_check_empty_jwks(fake_provider):
    fake_provider.jwks = {"keys": []}
    [message] = errors(check_provider(fake_provider.issuer))
    assert "JWKS) est vide" in message


def test_provider_check_jwks_unreachable(fake_provider):
    fake_provider.discovery["jwks_uri"] = f"http://127.0.0.1:{free_port()}/jwks"
    [message] = errors(check_provider(fake_provider.issuer))
    assert message.startswith("Le jeu de clés de signature (JWKS) est injoignable")


def test_provider_check_no_pkce_no_code(fake_provider):
    fake_provider.discovery["code_challenge_methods_supported"] = ["plain"]
    fake_provider.discovery["response_types_supported"] = ["id_token"]
    messages = errors(check_provider(fake_provider.issuer))
    assert any("PKCE « S256 »" in message for message in messages)
    assert any("type de réponse « code »" in message for message in messages)


def test_provider_check_scopes_not_published_is_a_warning(fake_provider):
    del fake_provider.discovery["scopes_supported"]
    findings = check_provider(fake_provider.issuer)
    assert errors(findings) == []
    assert [f.level for f in findings] == ["ok", "warning"]
