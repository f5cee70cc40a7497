"""Join tokens signed by the portal and verified by an SFU worker."""

import time

import jwt
import pytest

from portal.media.join_tokens import generate_keypair, sign_join_token
from sfu.join_tokens import JoinTokenError, JoinTokenVerifier

ISSUER = "https://portail.example.gouv.fr"


def make_token(private_pem, **overrides):
    fields = dict(
        issuer=ISSUER,
        room="salle-abc",
        participant_id="p-1",
        display_name="Camille",
        role="participant",
    )
    fields.update(overrides)
    return sign_join_token(private_pem, **fields)


def test_valid_token_gives_its_claims(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    claims = verifier.verify(make_token(join_keys.private_pem), room="salle-abc")
    assert (claims.room, claims.participant_id, claims.display_name, claims.role) == (
        "salle-abc",
        "p-1",
        "Camille",
        "participant",
    )
    assert claims.expires_at <= time.time() + 60


def assert_refused(verifier, token, room, reason):
    with pytest.raises(JoinTokenError) as excinfo:
        verifier.verify(token, room=room)
    assert excinfo.value.reason == reason
    assert str(excinfo.value)


def test_expired_token_is_refused(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    token = make_token(join_keys.private_pem, now=time.time() - 120)
    assert_refused(verifier, token, "salle-abc", "expired")


def test_token_for_another_room_is_refused(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    assert_refused(verifier, make_token(join_keys.private_pem), "autre-salle", "wrong_room")


def test_tampered_token_is_refused(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    header, payload, signature = make_token(join_keys.private_pem).split(".")
    claims = jwt.decode(make_token(join_keys.private_pem), options={"verify_signature": False})
    claims["role"] = "moderator"
    forged_payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode()).decode()
    assert_refused(verifier, f"{header}.{forged_payload}.{signature}", "salle-abc", "bad_signature")


def test_token_signed_by_another_key_is_refused(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    other_private, _ = generate_keypair()
    assert_refused(verifier, make_token(other_private), "salle-abc", "bad_signature")


def test_token_from_another_issuer_is_refused(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    token = make_token(join_keys.private_pem, issuer="https://ailleurs.example")
    assert_refused(verifier, token, "salle-abc", "wrong_issuer")


def test_token_is_single_use(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    token = make_token(join_keys.private_pem)
    verifier.verify(token, room="salle-abc")
    assert_refused(verifier, token, "salle-abc", "replayed")


def test_unsigned_token_is_refused(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    claims = jwt.decode(make_token(join_keys.private_pem), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_refused(verifier, unsigned, "salle-abc", "malformed")


def test_portal_refuses_to_sign_long_lived_tokens(join_keys):
    with pytest.raises(ValueError):
        make_token(join_keys.private_pem, lifetime_seconds=3600)


def sign_claims(private_pem, **claims):
    """A token carrying the meeting claims as given (the portal may not sign them yet)."""
    from cryptography.hazmat.primitives import serialization

    now = int(time.time())
    fields = {
        "iss": ISSUER,
        "aud": "webconf-sfu",
        "sub": "p-1",
        "room": "salle-abc",
        "name": "Camille",
        "role": "participant",
        "iat": now,
        "exp": now + 60,
        "jti": f"jti-{time.monotonic_ns()}",
        **claims,
    }
    key = serialization.load_pem_private_key(private_pem, password=None)
    return jwt.encode(fields, key, algorithm="EdDSA")


def test_meeting_claims_default_when_absent(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    claims = verifier.verify(make_token(join_keys.private_pem), room="salle-abc")
    assert (claims.uid, claims.capacity, claims.audio_only, claims.close_at) == (
        "p-1",
        55,
        False,
        None,
    )
    assert claims.guest is False


def test_meeting_claims_are_read(join_keys):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    token = sign_claims(
        join_keys.private_pem, uid="guest:g-7", cap=12, audio_only=True, close_at=1_900_000_000
    )
    claims = verifier.verify(token, room="salle-abc")
    assert (claims.uid, claims.capacity, claims.audio_only, claims.close_at) == (
        "guest:g-7",
        12,
        True,
        1_900_000_000.0,
    )
    assert claims.guest is True
    capped = verifier.verify(sign_claims(join_keys.private_pem, cap=500), room="salle-abc")
    assert capped.capacity == 55


@pytest.mark.parametrize(
    "bad",
    [{"uid": ""}, {"uid": 3}, {"cap": 0}, {"cap": True}, {"audio_only": "yes"}, {"close_at": "x"}],
)
def test_malformed_meeting_claims_are_refused(join_keys, bad):
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    assert_refused(verifier, sign_claims(join_keys.private_pem, **bad), "salle-abc", "malformed")


@pytest.mark.parametrize(
    "bad", [{"exp": "soon"}, {"exp": True}, {"exp": None}, {"jti": 7}, {"sub": ["p-1"]}]
)
def test_wrongly_typed_core_claims_are_refused(join_keys, bad):
    """Signed by the portal's key yet wrongly typed (a buggy portal): refused, never a crash."""
    verifier = JoinTokenVerifier(join_keys.public_pem, ISSUER)
    assert_refused(verifier, sign_claims(join_keys.private_pem, **bad), "salle-abc", "malformed")
