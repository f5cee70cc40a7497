"""Signs the short-lived join tokens that let a browser into one room of one SFU worker.

The portal holds the Ed25519 private key; SFU workers hold only the public key, so a
compromised worker cannot mint tokens. The claims are documented in docs/join-tokens.md.
"""

from __future__ import annotations

import secrets
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

JOIN_TOKEN_AUDIENCE = "webconf-sfu"
JOIN_TOKEN_ALGORITHM = "EdDSA"
MAX_LIFETIME_SECONDS = 60


def sign_join_token(
    private_key_pem: bytes,
    *,
    issuer: str,
    room: str,
    participant_id: str,
    display_name: str,
    role: str,
    lifetime_seconds: int = MAX_LIFETIME_SECONDS,
    now: float | None = None,
    uid: str | None = None,
    capacity: int | None = None,
    audio_only: bool | None = None,
    close_at: int | None = None,
) -> str:
    """Return a signed token admitting one participant to one room for at most a minute.

    The meeting claims (docs/meetings.md) are added when given: `uid` (stable identity in the
    room: user public id or "guest:<id>"), `cap` (capacity), `audio_only`, `close_at` (epoch s).
    """
    if not 0 < lifetime_seconds <= MAX_LIFETIME_SECONDS:
        raise ValueError(f"join token lifetime must be 1..{MAX_LIFETIME_SECONDS} s")
    issued_at = int(now if now is not None else time.time())
    claims = {
        "iss": issuer,
        "aud": JOIN_TOKEN_AUDIENCE,
        "sub": participant_id,
        "room": room,
        "name": display_name,
        "role": role,
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
        # The SFU refuses a jti it has already seen, so a token is good for one join.
        "jti": secrets.token_urlsafe(16),
    }
    if uid is not None:
        claims["uid"] = uid
    if capacity is not None:
        claims["cap"] = int(capacity)
    if audio_only is not None:
        claims["audio_only"] = bool(audio_only)
    if close_at is not None:
        claims["close_at"] = int(close_at)
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    return jwt.encode(claims, key, algorithm=JOIN_TOKEN_ALGORITHM)


def generate_keypair() -> tuple[bytes, bytes]:
    """Return a new (private PEM, public PEM) Ed25519 pair."""
    private_key = Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem
