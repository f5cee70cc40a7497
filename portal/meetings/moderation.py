"""Moderation events from the SFU (`type=moderation` on `sfu:events`, docs/meetings.md) written
to the audit log of the room's ministry by the recorder."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from portal.audit.models import AuditAction
from portal.audit.operations import record
from portal.extensions import db
from portal.meetings.operations import MalformedEvent
from portal.rooms.models import Room
from portal.users.models import User

logger = logging.getLogger(__name__)

MODERATION = "moderation"
GUEST_UID_PREFIX = "guest:"
GUEST_LABEL = "invité"
ACTIONS = {
    "remove": AuditAction.PARTICIPANT_REMOVED,
    "promote": AuditAction.PARTICIPANT_PROMOTED,
    "end": AuditAction.MEETING_ENDED,
}


@dataclass(frozen=True)
class ModerationEvent:
    action: str  # remove, promote, end
    room_slug: str
    actor_uid: str
    target_uid: str  # empty for `end`
    at: datetime  # UTC

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ModerationEvent:
        try:
            event = cls(
                action=fields["action"],
                room_slug=fields["room"],
                actor_uid=fields.get("actor_uid", ""),
                target_uid=fields.get("target_uid", ""),
                at=datetime.fromtimestamp(float(fields["at"]), UTC),
            )
        except (KeyError, ValueError, OverflowError) as exc:
            raise MalformedEvent(f"malformed moderation event {fields!r}: {exc}") from exc
        if event.action not in ACTIONS or not event.room_slug:
            raise MalformedEvent(f"unknown moderation event {fields!r}")
        if event.action != "end" and not event.target_uid:
            raise MalformedEvent(f"moderation event without target {fields!r}")
        return event


def _user(uid: str) -> User | None:
    if not uid or uid.startswith(GUEST_UID_PREFIX):
        return None
    return db.session.scalar(select(User).where(User.public_id == uid))


def _label(uid: str) -> str:
    """How someone without an account (or unknown) is shown: guests as "invité"."""
    return GUEST_LABEL if not uid or uid.startswith(GUEST_UID_PREFIX) else "participant inconnu"


def record_moderation(event: ModerationEvent) -> bool:
    """Add the audit event (the caller commits). False if the room is unknown."""
    room = db.session.scalar(select(Room).where(Room.slug == event.room_slug))
    if room is None:
        logger.warning("moderation %s in unknown room %s ignored", event.action, event.room_slug)
        return False
    actor = _user(event.actor_uid)
    target = _user(event.target_uid)
    changes = {"at": event.at.isoformat()}
    if event.action != "end":
        changes["participant"] = target.email if target is not None else _label(event.target_uid)
    added = record(
        ACTIONS[event.action],
        tenant=room.owner.tenant,
        actor=actor,
        actor_label=None if actor is not None else _label(event.actor_uid),
        target_type="room" if event.action == "end" else "participant",
        target_id=room.slug if event.action == "end" else event.target_uid[:64],
        changes=changes,
    )
    added.created_at = event.at
    return True
