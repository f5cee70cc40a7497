"""The retention purge deletes meeting records, audit events, unusable invitations and inactive
accounts past their retention periods, which are the privacy page's (portal/privacy/records.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.audit.models import AuditAction, AuditEvent
from portal.auth.models import Identity
from portal.extensions import db
from portal.invitations.models import Invitation, hash_token, new_invitation_token
from portal.meetings.models import Attendance, Meeting
from portal.meetings.retention import PURGERS, purge_expired
from portal.privacy.records import PURGED_RECORD_KINDS, RECORD_KINDS, retention_days
from portal.rooms.models import Room, room_moderators
from portal.users.models import User
from tests.fixtures.portal import make_room, make_tenant, make_user
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
    assert (
        "total: 2 meetings, 4 attendances, 2 audit events, 0 invitations, 0 accounts, 0 rooms "
        "would be deleted"
    ) in result.output
    assert len(remaining(app)[0]) == 5

    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output
    assert (
        "total: 2 meetings, 4 attendances, 2 audit events, 0 invitations, 0 accounts, 0 rooms "
        "deleted"
    ) in result.output
    assert remaining(app)[0] == {ids["short_recent"], ids["short_open"], ids["long_40"]}


# ---------------------------------------------------------------------------------------------
# Accounts, invitations, and the record kinds shared with the privacy page.


def set_times(app, user_id: int, *, created_at: datetime, last_login_at: datetime | None) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        user.created_at, user.last_login_at = created_at, last_login_at
        db.session.commit()


def add_invitation(app, room, **columns) -> int:
    with app.app_context():
        invitation = Invitation(
            room_id=room.id, token_hash=hash_token(new_invitation_token()), **columns
        )
        db.session.add(invitation)
        db.session.commit()
        return invitation.id


def ids_of(app, model) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(db.select(model.id)))


def orphans(app) -> list:
    """Rows whose foreign key points at nothing. PostgreSQL refuses them outright; SQLite (no
    foreign-key enforcement here) reports them on request."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return []
        return db.session.execute(db.text("PRAGMA foreign_key_check")).all()


def test_inactive_accounts_are_deleted_with_their_rooms(app):
    tenant = make_tenant(app, retention_days=30)
    gone = make_user(app, tenant=tenant, email="parti@exemple.gouv.fr")
    never = make_user(app, tenant=tenant, email="jamais@exemple.gouv.fr")
    busy = make_user(app, tenant=tenant, email="occupe@exemple.gouv.fr")
    active = make_user(app, tenant=tenant, email="present@exemple.gouv.fr")
    set_times(app, gone.id, created_at=days_ago(900), last_login_at=days_ago(800))
    set_times(app, never.id, created_at=days_ago(800), last_login_at=None)
    set_times(app, busy.id, created_at=days_ago(900), last_login_at=days_ago(800))
    set_times(app, active.id, created_at=days_ago(900), last_login_at=days_ago(10))
    gone_room = make_room(app, gone, name="Salle de l'agent parti")
    busy_room = make_room(app, busy)
    active_room = make_room(app, active)
    gone_meeting = finished_meeting(app, gone_room, 5)  # recent: goes only with its room
    open_meeting = add_meeting(app, busy_room, days_ago(1), None, 1, [(days_ago(1), None)])
    gone_invitation = add_invitation(app, gone_room)
    # Made by the departed agent as co-moderator of someone else's room: stays, unsigned.
    kept_invitation = add_invitation(app, active_room, created_by_id=gone.id)
    audit_by_gone = add_audit_event(app, tenant.id, days_ago(5))
    with app.app_context():
        db.session.get(AuditEvent, audit_by_gone).actor_id = gone.id
        db.session.execute(
            room_moderators.insert(),
            [
                {"room_id": active_room.id, "user_id": gone.id},
                {"room_id": gone_room.id, "user_id": active.id},
            ],
        )
        db.session.commit()
    before = ids_of(app, User), ids_of(app, Room), ids_of(app, Meeting)

    with app.app_context():
        dry = purge_expired(dry_run=True, now=NOW)
    assert (dry.total.accounts, dry.total.rooms) == (2, 1)
    assert (ids_of(app, User), ids_of(app, Room), ids_of(app, Meeting)) == before

    with app.app_context():
        report = purge_expired(now=NOW)
    assert report.total == dry.total, "a dry run counts exactly what a real run deletes"
    assert report.by_tenant[tenant.slug].accounts == 2
    assert (report.total.rooms, report.total.meetings, report.total.attendances) == (1, 1, 2)
    assert ids_of(app, User) == before[0] - {gone.id, never.id}
    assert ids_of(app, Room) == {busy_room.id, active_room.id}
    assert ids_of(app, Meeting) == {open_meeting}
    assert gone_meeting not in ids_of(app, Meeting)
    assert ids_of(app, Invitation) == {kept_invitation}
    with app.app_context():
        identities = set(db.session.scalars(db.select(Identity.user_id)))
        assert identities.isdisjoint({gone.id, never.id}) and active.id in identities
        assert db.session.execute(db.select(room_moderators)).all() == []
        audit = db.session.get(AuditEvent, audit_by_gone)
        # The audit log keeps who acted, as written at the time, until its own retention ends.
        assert (audit.actor_id, audit.actor_label) == (None, "admin@exemple.gouv.fr")
        assert db.session.get(Invitation, kept_invitation).created_by_id is None
    assert orphans(app) == []
    assert gone_invitation not in ids_of(app, Invitation)

    with app.app_context():
        again = purge_expired(now=NOW)
    assert not again.total


def test_account_inactivity_is_a_setting(app):
    app.config["ACCOUNT_INACTIVITY_DAYS"] = 30
    tenant = make_tenant(app, retention_days=365)
    old, recent = make_user(app, tenant=tenant), make_user(app, tenant=tenant)
    set_times(app, old.id, created_at=days_ago(100), last_login_at=days_ago(40))
    set_times(app, recent.id, created_at=days_ago(100), last_login_at=days_ago(20))
    with app.app_context():
        report = purge_expired(now=NOW)
    assert report.total.accounts == 1
    assert ids_of(app, User) == {recent.id}


def test_unusable_invitations_are_deleted_after_tenant_retention(app):
    short = make_tenant(app, retention_days=30)
    long = make_tenant(app, retention_days=365)
    room, long_room = room_in(app, short), room_in(app, long)
    young, old = days_ago(10), days_ago(40)
    expected_gone = {
        add_invitation(app, room, revoked_at=old),
        add_invitation(app, room, expires_at=old),
        add_invitation(app, room, max_uses=1, uses=1, created_at=old),
    }
    kept = {
        add_invitation(app, room, revoked_at=young),
        add_invitation(app, room, expires_at=young),
        add_invitation(app, room, expires_at=NOW + timedelta(days=5), created_at=old),
        add_invitation(app, room, max_uses=1, uses=1, created_at=young),
        add_invitation(app, room, max_uses=3, uses=1, created_at=days_ago(400)),
        add_invitation(app, room, created_at=days_ago(400)),  # no limit, still usable
        add_invitation(app, long_room, revoked_at=old),  # the other ministry keeps a year
    }

    with app.app_context():
        report = purge_expired(now=NOW)

    assert report.by_tenant[short.slug].invitations == 3
    assert report.by_tenant[long.slug].invitations == 0
    assert ids_of(app, Invitation) == kept
    assert ids_of(app, Invitation).isdisjoint(expected_gone)


def test_purge_covers_every_record_kind_with_a_period(app):
    """The purge deletes exactly the kinds of records the privacy page lists with a period."""
    with app.app_context():
        report = purge_expired(dry_run=True, now=NOW)
    assert report.record_kinds == tuple(kind.key for kind in PURGED_RECORD_KINDS)
    assert set(report.record_kinds) == set(PURGERS)
    assert {kind.key for kind in RECORD_KINDS if kind.period} == set(PURGERS)


def test_purge_uses_the_periods_the_privacy_page_shows(app):
    """Change a tenant's period and the platform settings: the purge follows the numbers of
    portal.privacy.records.retention_days, the same function the page prints."""
    app.config["PLATFORM_AUDIT_RETENTION_DAYS"] = 50
    app.config["ACCOUNT_INACTIVITY_DAYS"] = 60
    tenant = make_tenant(app, retention_days=20)
    room = room_in(app, tenant)
    with app.app_context():
        days = {kind.key: retention_days(kind, app.config, 20) for kind in PURGED_RECORD_KINDS}
    assert days == {
        "accounts": 60,
        "invitations": 20,
        "meeting_records": 20,
        "audit_log": 20,
        "platform_audit_log": 50,
    }
    just_kept = {
        "meeting": finished_meeting(app, room, 19),
        "audit": add_audit_event(app, tenant.id, days_ago(19)),
        "platform": add_audit_event(app, None, days_ago(49)),
    }
    finished_meeting(app, room, 21)
    add_audit_event(app, tenant.id, days_ago(21))
    add_audit_event(app, None, days_ago(51))
    with app.app_context():
        report = purge_expired(now=NOW)
    assert (report.total.meetings, report.total.audit_events) == (1, 2)
    assert ids_of(app, Meeting) == {just_kept["meeting"]}
    assert ids_of(app, AuditEvent) == {just_kept["audit"], just_kept["platform"]}
