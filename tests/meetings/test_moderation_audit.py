"""The recorder writes the SFU's moderation events (remove, promote, end) to the audit log of
the room's ministry (docs/meetings.md, "Events for the audit log")."""

import sqlalchemy as sa

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.meetings.recorder import STREAM_KEY, EventRecorder
from tests.fixtures.portal import make_room, make_tenant, make_user
from tests.meetings.helpers import utc

AT = utc(2025, 3, 10, 9, 30)


def moderation(redis_client, action, room, actor_uid, target_uid=""):
    redis_client.xadd(
        STREAM_KEY,
        {
            "v": "1",
            "type": "moderation",
            "action": action,
            "room": room.slug,
            "actor_uid": actor_uid,
            "target_uid": target_uid,
            "at": f"{AT.timestamp():.3f}",
        },
    )


def audit_rows(app):
    with app.app_context():
        return [
            (
                e.action,
                e.tenant_id,
                e.actor_id,
                e.actor_label,
                e.target_type,
                e.target_id,
                e.changes,
            )
            for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]


def test_moderation_events_become_audit_events(app, redis_client):
    tenant = make_tenant(app)
    owner = make_user(app, tenant=tenant, email="orga@a.gouv.fr")
    target = make_user(app, email="cible@b.gouv.fr")
    room = make_room(app, owner)
    moderation(redis_client, "remove", room, owner.public_id, "guest:g-abc")
    moderation(redis_client, "promote", room, owner.public_id, target.public_id)
    moderation(redis_client, "end", room, "guest:g-mod")
    moderation(redis_client, "remove", room, "", "")  # malformed: no target
    with app.app_context():
        stats = EventRecorder(redis_client, consumer="test").run_once()
    assert stats.processed == 3 and stats.skipped == 1
    rows = audit_rows(app)
    assert [row[0] for row in rows] == [
        AuditAction.PARTICIPANT_REMOVED,
        AuditAction.PARTICIPANT_PROMOTED,
        AuditAction.MEETING_ENDED,
    ]
    assert all(row[1] == tenant.id for row in rows)
    removed, promoted, ended = rows
    assert removed[2] == owner.id and removed[3] == "orga@a.gouv.fr"
    assert removed[4:6] == ("participant", "guest:g-abc")
    assert removed[6]["participant"] == "invité"
    assert promoted[6]["participant"] == "cible@b.gouv.fr"
    assert ended[2] is None and ended[3] == "invité"
    assert ended[4:6] == ("room", room.slug)
