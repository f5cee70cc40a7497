"""Encryption of secrets kept in the database (identity providers' client secrets).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from SECRET_KEY by HKDF-SHA256 under a
fixed label, so the database alone never reveals a secret, and the same SECRET_KEY on every
portal process decrypts it. Changing SECRET_KEY makes stored secrets unreadable: see
docs/configuration.md for what to do then.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

# Changing the label changes the key: every stored secret would have to be entered again.
KEY_LABEL = b"webconf/identity-provider-client-secret/v1"


class SecretDecryptionError(RuntimeError):
    """A stored secret cannot be decrypted: SECRET_KEY changed since it was stored."""


def _fernet(secret_key: str | bytes | None) -> Fernet:
    if secret_key is None:
        secret_key = current_app.config["SECRET_KEY"]
    if isinstance(secret_key, str):
        secret_key = secret_key.encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_LABEL).derive(
        secret_key
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(plaintext: str, secret_key: str | bytes | None = None) -> str:
    """The encrypted form of `plaintext` (ASCII, safe to store); the current app's key unless
    `secret_key` is given."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode("ascii")


def decrypt_secret(ciphertext: str, secret_key: str | bytes | None = None) -> str:
    """The plaintext of `ciphertext`; SecretDecryptionError if this SECRET_KEY did not
    encrypt it."""
    try:
        return _fernet(secret_key).decrypt(ciphertext.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SecretDecryptionError(
            "a stored client secret cannot be decrypted: SECRET_KEY changed since it was "
            "stored. Restore the previous SECRET_KEY, or enter the client secret again "
            "(see docs/configuration.md)"
        ) from exc
