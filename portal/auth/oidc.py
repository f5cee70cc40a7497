"""The application's OpenID Connect client (Authlib), one registry per application."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from flask import Flask, current_app

CLIENT_NAME = "oidc"
_EXTENSION_KEY = "authlib.integrations.flask_client"


def init_oidc(app: Flask) -> None:
    """Register the identity provider from OIDC_* settings; sign-in is off when unset."""
    registry = OAuth(app)
    issuer = app.config["OIDC_ISSUER"]
    if not issuer or not app.config["OIDC_CLIENT_ID"]:
        app.logger.warning("OIDC_ISSUER or OIDC_CLIENT_ID unset: sign-in is disabled")
        return
    registry.register(
        CLIENT_NAME,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        # Discovery gives the endpoints and the JWKS the id_token signature is checked against.
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["OIDC_SCOPES"],
            "code_challenge_method": "S256",
            "timeout": 10,
        },
    )


def oidc_client() -> FlaskOAuth2App | None:
    """The current application's provider client, or None when sign-in is not configured."""
    registry: OAuth = current_app.extensions[_EXTENSION_KEY]
    if CLIENT_NAME not in registry._registry:  # noqa: SLF001 — Authlib has no public accessor
        return None
    return registry.create_client(CLIENT_NAME)
