"""State changes of signing in: find or create the user behind an identity provider account."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.auth.models import Identity
from portal.extensions import db
from portal.users.models import DISPLAY_NAME_MAX_LENGTH, EMAIL_MAX_LENGTH, User, utcnow

logger = logging.getLogger(__name__)


class SignInRefused(Exception):
    """The provider vouched for the person but the portal will not sign them in."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def display_name_from_claims(claims: Mapping[str, Any]) -> str:
    name = (claims.get("name") or "").strip()
    if not name:
        parts = [claims.get("given_name") or "", claims.get("family_name") or ""]
        name = " ".join(p.strip() for p in parts if p and p.strip())
    if not name:
        name = (claims.get("preferred_username") or claims.get("email") or "").strip()
    return name[:DISPLAY_NAME_MAX_LENGTH]


def sign_in_identity(issuer: str, claims: Mapping[str, Any]) -> User:
    """Return the active user for (issuer, sub), creating them at the first sign-in.

    Name and e-mail are refreshed from the provider at each sign-in. Nothing is written when
    the sign-in is refused.
    """
    subject = claims.get("sub")
    email = (claims.get("email") or "").strip()
    if not subject:
        raise SignInRefused("no_subject", "the provider gave no subject")
    if not email or len(email) > EMAIL_MAX_LENGTH:
        raise SignInRefused("no_email", "the provider gave no usable e-mail address")
    display_name = display_name_from_claims(claims) or email
    for attempt in range(2):
        try:
            return _sign_in_locked(issuer, subject, email, display_name)
        except IntegrityError:
            # Two first sign-ins of the same person raced; the other one created the rows.
            db.session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")


def _sign_in_locked(issuer: str, subject: str, email: str, display_name: str) -> User:
    identity = db.session.scalar(
        select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)
    )
    now = utcnow()
    if identity is None:
        user = User(email=email, display_name=display_name, last_login_at=now)
        identity = Identity(user=user, issuer=issuer, subject=subject, last_login_at=now)
        db.session.add_all([user, identity])
        db.session.commit()
        logger.info("user %s created at first sign-in from %s", user.public_id, issuer)
        return user
    user = identity.user
    if not user.is_active:
        db.session.rollback()
        logger.warning("deactivated user %s tried to sign in from %s", user.public_id, issuer)
        raise SignInRefused("deactivated", "this account is deactivated")
    user.email, user.display_name, user.last_login_at = email, display_name, now
    identity.last_login_at = now
    db.session.commit()
    logger.info("user %s signed in from %s", user.public_id, issuer)
    return user
