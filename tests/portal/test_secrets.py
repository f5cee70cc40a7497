"""Client secrets are stored encrypted with a key derived from SECRET_KEY (portal/core/crypto)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.core.crypto import SecretDecryptionError, decrypt_secret, encrypt_secret
from portal.extensions import db
from portal.tenants.models import IdentityProvider, ProviderKind
from portal.tenants.operations import add_provider, update_provider

SECRET = "tres-secret-client-1234"  # noqa: S105


def stored_column(app) -> list[str]:
    with app.app_context():
        query = sa.text("SELECT client_secret_encrypted FROM identity_providers")
        return list(db.session.scalars(query))


def test_database_never_holds_the_plaintext_secret(app):
    with app.app_context():
        provider = add_provider(
            kind=ProviderKind.FEDERATION,
            issuer="https://federation.example.gouv.fr",
            client_id="webconf",
            client_secret=SECRET,
            name="Fédération",
        )
        provider_id = provider.id
    [stored] = stored_column(app)
    assert SECRET not in stored
    with app.app_context():
        assert decrypt_secret(stored) == SECRET
        update_provider(db.session.get(IdentityProvider, provider_id), client_secret="x" + SECRET)
    [stored] = stored_column(app)
    assert SECRET not in stored
    with app.app_context():
        assert decrypt_secret(stored) == "x" + SECRET


def test_encryption_is_randomised_and_tied_to_the_secret_key():
    first, second = encrypt_secret(SECRET, "key-a"), encrypt_secret(SECRET, "key-a")
    assert first != second
    assert decrypt_secret(first, "key-a") == decrypt_secret(second, "key-a") == SECRET
    with pytest.raises(SecretDecryptionError, match="SECRET_KEY changed"):
        decrypt_secret(first, "key-b")
    with pytest.raises(SecretDecryptionError):
        decrypt_secret("pas du tout chiffré", "key-a")
