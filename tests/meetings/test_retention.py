"""The retention purge deletes meeting records and audit events past each tenant's retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.meetings.models import Attendance, Meeting
from portal.meetings.retention import purge_expired
from tests.fixtures.portal import make_tenant
from tests.meetings.helpers import add_meeting, room_in

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def days_ago(days: int, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def add_audit_event(app, tenant_id: int | None, created_at: datetime) -> int:
    with app.app_context():
        audit_event = AuditEvent(
            tenant_id=tenant_id,
            actor_label="admin@exemple.gouv.fr",
            action=AuditAction.TENANT_UPDATED,
            target_type="tenant",
            target_id="t",
            changes={},
            created_at=created_at,
        )
        db.session.add(audit_event)
        db.session.commit()
        return audit_event.id


def finished_meeting(app, room, ended_days_ago: int, now: datetime = NOW) -> int:
    ended = days_ago(ended_days_ago, now)
    started = ended - timedelta(hours=1)
    return add_meeting(app, room, started, ended, 2, [(started, ended), (started, ended)])


def remaining(app) -> tuple[set[int], int, set[int]]:
    with app.app_context():
        return (
            set(db.session.scalars(db.select(Meeting.id))),
            db.session.scalar(db.select(db.func.count(Attendance.id))),
            set(db.session.scalars(db.select(AuditEvent.id))),
        )


def populate(app, now: datetime = NOW) -> dict[str, int]:
    short = make_tenant(app, retention_days=30)
    long = make_tenant(app, retention_days=365)
    short_room, long_room = room_in(app, short), room_in(app, long)
    ids = {
        "short_old": finished_meeting(app, short_room, 40, now),
        "short_recent": finished_meeting(app, short_room, 10, now),
        # Going on for 100 days (a stuck meeting): never purged while open.
        "short_open": add_meeting(app, short_room, days_ago(100, now), None, 1, []),
        "long_40": finished_meeting(app, long_room, 40, now),
        "long_old": finished_meeting(app, long_room, 400, now),
        "audit_short_old": add_audit_event(app, short.id, days_ago(40, now)),
        "audit_short_recent": add_audit_event(app, short.id, days_ago(10, now)),
        "audit_long_40": add_audit_event(app, long.id, days_ago(40, now)),
        "audit_platform_old": add_audit_event(app, None, days_ago(400, now)),
        "audit_platform_recent": add_audit_event(app, None, days_ago(100, now)),
    }
    ids["short"], ids["long"] = short.id, long.id
    return ids


def test_purge_respects_each_tenant_retention(app):
    ids = populate(app)

    with app.app_context():
        dry = purge_expired(dry_run=True, now=NOW)
    assert (dry.total.meetings, dry.total.attendances, dry.total.audit_events) == (2, 4, 2)
    assert remaining(app) == (
        {ids[k] for k in ("short_old", "short_recent", "short_open", "long_40", "long_old")},
        8,
        {ids[k] for k in ids if k.startswith("audit_")},
    ), "a dry run deletes nothing"

    with app.app_context():
        report = purge_expired(now=NOW)

    assert (report.total.meetings, report.total.attendances, report.total.audit_events) == (2, 4, 2)
    assert report.by_tenant[None].audit_events == 1
    assert remaining(app) == (
        {ids["short_recent"], ids["short_open"], ids["long_40"]},
        4,
        {ids["audit_short_recent"], ids["audit_long_40"], ids["audit_platform_recent"]},
    )
    with app.app_context():
        again = purge_expired(now=NOW)
    assert again.total.meetings == again.total.audit_events == 0


def test_platform_audit_retention_is_a_setting(app):
    app.config["PLATFORM_AUDIT_RETENTION_DAYS"] = 30
    kept = add_audit_event(app, None, days_ago(20))
    add_audit_event(app, None, days_ago(40))
    with app.app_context():
        report = purge_expired(now=NOW)
    assert report.by_tenant[None].audit_events == 1
    assert remaining(app)[2] == {kept}


def test_purge_command(app):
    now = datetime.now(UTC)
    ids = populate(app, now)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "total: 2 meetings, 4 attendances, 2 audit events would be deleted" in result.output
    assert len(remaining(app)[0]) == 5

    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert "total: 2 meetings, 4 attendances, 2 audit events deleted" in result.output
    assert remaining(app)[0] == {ids["short_recent"], ids["short_open"], ids["long_40"]}
