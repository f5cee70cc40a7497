"""OpenID Connect clients (Authlib), one per configured identity provider, built on demand.

Providers live in the database (portal/tenants/models.py), so clients cannot be registered at
start-up: `client_for(provider)` builds one the first time and keeps it per application, keyed
by the provider's id and `updated_at`, so an administrator's change takes effect at the next
sign-in. A client caches the provider's discovery document and keys once fetched.
"""

from __future__ import annotations

import threading
from datetime import datetime
from urllib.parse import urlsplit

from authlib.integrations.flask_client import FlaskIntegration
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from flask import Flask, current_app

from portal.core.crypto import decrypt_secret
from portal.tenants.models import IdentityProvider

_EXTENSION_KEY = "webconf_oidc_clients"
HTTP_TIMEOUT_SECONDS = 10


class ClientCache:
    """{provider id: (updated_at, client)} for one application."""

    def __init__(self) -> None:
        self.clients: dict[int, tuple[datetime, FlaskOAuth2App]] = {}
        self.lock = threading.Lock()


def init_oidc(app: Flask) -> None:
    app.extensions[_EXTENSION_KEY] = ClientCache()


def client_name(provider: IdentityProvider) -> str:
    """Stable per provider: Authlib keys the state it keeps in the session by this name, so a
    sign-in started before an administrator's edit still completes after it."""
    return f"idp-{provider.public_id}"


def client_for(provider: IdentityProvider) -> FlaskOAuth2App:
    """The current application's client for `provider` (built on first use or after a change).

    Raises portal.core.crypto.SecretDecryptionError when the stored secret cannot be read.
    """
    cache: ClientCache = current_app.extensions[_EXTENSION_KEY]
    with cache.lock:
        cached = cache.clients.get(provider.id)
        if cached is not None and cached[0] == provider.updated_at:
            return cached[1]
        name = client_name(provider)
        client = FlaskOAuth2App(
            FlaskIntegration(name),
            name=name,
            client_id=provider.client_id,
            client_secret=decrypt_secret(provider.client_secret_encrypted),
            # Discovery gives the endpoints and the JWKS the id_token signature is checked
            # against.
            server_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "timeout": HTTP_TIMEOUT_SECONDS,
            },
        )
        cache.clients[provider.id] = (provider.updated_at, client)
        return client


def provider_origin(provider: IdentityProvider) -> str:
    parts = urlsplit(provider.issuer)
    return f"{parts.scheme}://{parts.netloc}"
