"""Creating, redeeming and revoking invitations, and the invitation text (tests aim here)."""

from __future__ import annotations

import logging
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from portal.audit.models import AuditAction
from portal.audit.operations import record
from portal.extensions import db
from portal.invitations.models import Invitation, hash_token, new_invitation_token
from portal.rooms.models import ParticipantRole, Room
from portal.rooms.schedule import ENTRY_MARGIN, schedule_of
from portal.users.models import User

logger = logging.getLogger(__name__)

ROLE_LABELS = {
    ParticipantRole.PARTICIPANT: _l("participant"),
    ParticipantRole.MODERATOR: _l("modérateur"),
}


class InvitationUnusable(Exception):
    """The link no longer works; `reason` is 'revoked', 'expired' or 'used_up'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def create_invitation(
    room: Room,
    *,
    created_by: User,
    role: ParticipantRole = ParticipantRole.PARTICIPANT,
    expires_at: datetime | None = None,
    max_uses: int | None = None,
    label: str | None = None,
) -> tuple[Invitation, str]:
    """A new invitation and its token (shown once: only its hash is kept)."""
    token = new_invitation_token()
    invitation = Invitation(
        room_id=room.id,
        token_hash=hash_token(token),
        role=role,
        expires_at=expires_at,
        max_uses=max_uses,
        label=label or None,
        created_by_id=created_by.id,
    )
    db.session.add(invitation)
    db.session.flush()
    record(
        AuditAction.INVITATION_CREATED,
        tenant=room.owner.tenant,
        actor=created_by,
        target_type="invitation",
        target_id=invitation.public_id,
        changes={
            "room": room.slug,
            "role": role.value,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "max_uses": max_uses,
        },
    )
    db.session.commit()
    logger.info(
        "user %s created %s invitation %s to room %s",
        created_by.public_id,
        role.value,
        invitation.public_id,
        room.slug,
    )
    return invitation, token


def find_by_token(token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))


def redeem(invitation: Invitation, now: datetime) -> None:
    """Count one use, atomically: two people racing for the last use cannot both get it.

    Raises InvitationUnusable when the link no longer works."""
    reason = invitation.unusable_reason(now)
    if reason is not None:
        raise InvitationUnusable(reason)
    counted = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.revoked_at.is_(None),
            or_(Invitation.max_uses.is_(None), Invitation.uses < Invitation.max_uses),
        )
        .values(uses=Invitation.uses + 1)
    ).rowcount
    db.session.commit()
    if counted != 1:
        db.session.refresh(invitation)
        raise InvitationUnusable(invitation.unusable_reason(now) or "used_up")
    logger.info("invitation %s to room %s used", invitation.public_id, invitation.room.slug)


def revoke(invitation: Invitation, *, actor: User, now: datetime) -> None:
    if invitation.revoked_at is not None:
        return
    invitation.revoked_at = now
    record(
        AuditAction.INVITATION_REVOKED,
        tenant=invitation.room.owner.tenant,
        actor=actor,
        target_type="invitation",
        target_id=invitation.public_id,
        changes={"room": invitation.room.slug},
    )
    db.session.commit()
    logger.info("user %s revoked invitation %s", actor.public_id, invitation.public_id)


def invitations_of(room: Room) -> list[Invitation]:
    query = (
        select(Invitation)
        .where(Invitation.room_id == room.id)
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    )
    return list(db.session.scalars(query))


def invitation_text(room: Room, link: str, role: ParticipantRole) -> str:
    """The text a moderator pastes into an e-mail or a calendar invitation, in the moderator's
    language."""
    if role is ParticipantRole.MODERATOR:
        invited = _(
            "Vous êtes invité(e) à la réunion « %(name)s » en tant que modérateur.", name=room.name
        )
    else:
        invited = _("Vous êtes invité(e) à la réunion « %(name)s ».", name=room.name)
    lines = [_("Bonjour,"), "", invited]
    schedule = schedule_of(room)
    if schedule is not None:
        minutes = int(ENTRY_MARGIN.total_seconds() // 60)
        lines += [
            _("Elle aura lieu %(when)s.", when=schedule.describe()),
            _("La salle est ouverte %(minutes)s minutes avant le début.", minutes=minutes),
        ]
    lines += [
        "",
        _("Pour la rejoindre depuis votre navigateur, sans logiciel à installer, ouvrez ce lien :"),
        link,
        "",
        _("Ce lien vous est personnel : ne le transférez pas."),
    ]
    return "\n".join(lines)
