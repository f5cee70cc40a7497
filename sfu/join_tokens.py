"""Verifies join tokens with the portal's public key; a worker can check tokens, never mint them.

The claims are documented in docs/join-tokens.md.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

JOIN_TOKEN_AUDIENCE = "webconf-sfu"  # noqa: S105 - an audience name, not a secret
ROLES = frozenset({"moderator", "participant"})
# Room capacity when the token does not say (docs/meetings.md: never above 55).
DEFAULT_CAPACITY = 55
MAX_CAPACITY = 55
GUEST_UID_PREFIX = "guest:"
# Generous bound on how many token ids can be seen within one token lifetime.
_REPLAY_CACHE_SIZE = 100_000
_CLOCK_SKEW_SECONDS = 5


class JoinTokenError(Exception):
    """A token was refused; `reason` is a short machine-readable code, str() explains."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class JoinClaims:
    room: str
    participant_id: str
    display_name: str
    role: str
    expires_at: int
    # Stable identity in this room (bans apply to it); the token's `sub` when it has no `uid`.
    uid: str = ""
    capacity: int = DEFAULT_CAPACITY
    audio_only: bool = False
    # Unix seconds at which the SFU ends the meeting (schedule end + 5 min), if scheduled.
    close_at: float | None = None

    @property
    def guest(self) -> bool:
        return self.uid.startswith(GUEST_UID_PREFIX)


class JoinTokenVerifier:
    """Checks signature, issuer, audience, expiry, room and single use of join tokens."""

    def __init__(self, public_key_pem: bytes, issuer: str):
        self._public_key = public_key_pem
        self._issuer = issuer
        self._seen_token_ids: OrderedDict[str, int] = OrderedDict()

    def verify(self, token: str, room: str, now: float | None = None) -> JoinClaims:
        now = time.time() if now is None else now
        try:
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=["EdDSA"],
                audience=JOIN_TOKEN_AUDIENCE,
                issuer=self._issuer,
                leeway=_CLOCK_SKEW_SECONDS,
                options={
                    "require": ["exp", "iat", "sub", "aud", "iss", "jti"],
                    "verify_exp": False,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise JoinTokenError("bad_signature", "join token signature is not valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise JoinTokenError("wrong_audience", "join token is not meant for an SFU") from exc
        except jwt.InvalidIssuerError as exc:
            raise JoinTokenError("wrong_issuer", "join token comes from another portal") from exc
        except jwt.PyJWTError as exc:
            raise JoinTokenError("malformed", f"join token is malformed: {exc}") from exc
        # PyJWT checks types only of what it verifies: the rest is ours (a token signed by a
        # buggy portal must be refused, not raise TypeError in the worker).
        exp = claims["exp"]
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise JoinTokenError("malformed", "join token's exp is not a number")
        if not isinstance(claims["jti"], str) or not isinstance(claims["sub"], str):
            raise JoinTokenError("malformed", "join token's jti and sub must be strings")
        # Expiry is checked here rather than by PyJWT so that tests can pass `now`.
        if exp + _CLOCK_SKEW_SECONDS < now:
            raise JoinTokenError("expired", "join token has expired")
        if claims.get("room") != room:
            raise JoinTokenError("wrong_room", "join token is for another room")
        role = claims.get("role")
        name = claims.get("name")
        if role not in ROLES or not isinstance(name, str) or not name.strip():
            raise JoinTokenError("malformed", "join token lacks a valid role or name")
        meeting = _meeting_claims(claims)
        self._remember_once(claims["jti"], claims["exp"], now)
        return JoinClaims(
            room=room,
            participant_id=claims["sub"],
            display_name=name,
            role=role,
            expires_at=claims["exp"],
            **meeting,
        )

    def _remember_once(self, token_id: str, expires_at: int, now: float) -> None:
        while self._seen_token_ids:
            oldest_id, oldest_exp = next(iter(self._seen_token_ids.items()))
            if (
                oldest_exp + _CLOCK_SKEW_SECONDS >= now
                and len(self._seen_token_ids) < _REPLAY_CACHE_SIZE
            ):
                break
            del self._seen_token_ids[oldest_id]
        if token_id in self._seen_token_ids:
            raise JoinTokenError("replayed", "join token has already been used")
        self._seen_token_ids[token_id] = expires_at


def _meeting_claims(claims: dict) -> dict:
    """The optional meeting claims (docs/join-tokens.md), with their defaults when absent."""
    uid = claims.get("uid", claims["sub"])
    capacity = claims.get("cap", DEFAULT_CAPACITY)
    audio_only = claims.get("audio_only", False)
    close_at = claims.get("close_at")
    if not isinstance(uid, str) or not uid.strip() or len(uid) > 200:
        raise JoinTokenError("malformed", "join token has an invalid uid")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise JoinTokenError("malformed", "join token has an invalid cap")
    if not isinstance(audio_only, bool):
        raise JoinTokenError("malformed", "join token has an invalid audio_only")
    if close_at is not None and (
        isinstance(close_at, bool) or not isinstance(close_at, int | float)
    ):
        raise JoinTokenError("malformed", "join token has an invalid close_at")
    return {
        "uid": uid,
        "capacity": min(capacity, MAX_CAPACITY),
        "audio_only": audio_only,
        "close_at": float(close_at) if close_at is not None else None,
    }
