"""The retention purge (docs/retention.md), run daily by `flask retention purge`.

It deletes every kind of record that `portal.privacy.records` gives a retention period, with the
number of days that module gives, so the privacy page and the purge cannot disagree:
- meeting records (meetings and their attendances) that ended, and tenant audit events created,
  more than the tenant's `retention_days` ago; invitations unusable (expired, revoked or used
  up) for that long;
- platform-wide audit events after PLATFORM_AUDIT_RETENTION_DAYS;
- accounts without a sign-in for ACCOUNT_INACTIVITY_DAYS, with their identities, their rooms and
  what hangs from those (meetings, invitations, co-moderators).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, func, or_, select, update

from portal.audit.models import AuditEvent
from portal.auth.models import Identity
from portal.extensions import db
from portal.invitations.models import Invitation
from portal.meetings.models import Attendance, Meeting
from portal.privacy.records import (
    ACCOUNTS,
    AUDIT_LOG,
    DEFAULT_PLATFORM_AUDIT_RETENTION_DAYS,  # noqa: F401 — kept importable from here
    INVITATIONS,
    MEETING_RECORDS,
    PLATFORM_AUDIT_LOG,
    PURGED_RECORD_KINDS,
    Period,
    RecordKind,
    retention_days,
)
from portal.rooms.models import Room, room_moderators
from portal.tenants.models import Tenant
from portal.users.models import User

logger = logging.getLogger(__name__)

# Accounts are deleted this many at a time (bounded IN lists, short transactions' worth).
ACCOUNT_BATCH = 500


@dataclass
class PurgeCounts:
    """Rows deleted (or, in a dry run, that would be)."""

    meetings: int = 0
    attendances: int = 0
    audit_events: int = 0
    invitations: int = 0
    accounts: int = 0  # users, each with their identities
    rooms: int = 0  # rooms of deleted accounts

    def add(self, other: PurgeCounts) -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


@dataclass
class PurgeReport:
    dry_run: bool
    total: PurgeCounts = field(default_factory=PurgeCounts)
    # By tenant slug; None for platform-wide audit events.
    by_tenant: dict[str | None, PurgeCounts] = field(default_factory=dict)
    # The record kinds purged (keys of portal.privacy.records.RecordKind), in order.
    record_kinds: tuple[str, ...] = ()


def _purge(query, model) -> int:
    """Delete the rows of `model` whose id `query` selects; returns how many."""
    ids = query.with_only_columns(model.id)
    result = db.session.execute(
        delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _purge_meetings(meetings) -> PurgeCounts:
    """Delete the meetings whose id `meetings` (a select of Meeting.id) gives, attendances first:
    SQLite does not enforce ON DELETE CASCADE unless told to."""
    counts = PurgeCounts()
    counts.attendances = _purge(
        select(Attendance.id).where(Attendance.meeting_id.in_(meetings)), Attendance
    )
    counts.meetings = _purge(meetings, Meeting)
    return counts


def purge_meeting_records(tenant_id: int | None, cutoff: datetime) -> PurgeCounts:
    """Meetings that ended before `cutoff`; meetings going on are kept, however old."""
    return _purge_meetings(
        select(Meeting.id).where(
            Meeting.tenant_id == tenant_id,
            Meeting.ended_at.is_not(None),
            Meeting.ended_at < cutoff,
        )
    )


def purge_audit_log(tenant_id: int | None, cutoff: datetime) -> PurgeCounts:
    """Audit events of the tenant (None: platform-wide ones) created before `cutoff`."""
    tenant_matches = (
        AuditEvent.tenant_id.is_(None) if tenant_id is None else AuditEvent.tenant_id == tenant_id
    )
    return PurgeCounts(
        audit_events=_purge(
            select(AuditEvent.id).where(tenant_matches, AuditEvent.created_at < cutoff),
            AuditEvent,
        )
    )


def purge_invitations(tenant_id: int | None, cutoff: datetime) -> PurgeCounts:
    """Invitations of the tenant's rooms that can no longer be used, and have not been since
    before `cutoff`: revoked or expired before it; used up and created before it (the moment of
    the last use is not kept, so a used-up invitation waits from its creation)."""
    unusable_since_cutoff = or_(
        Invitation.revoked_at < cutoff,
        Invitation.expires_at < cutoff,
        and_(
            Invitation.max_uses.is_not(None),
            Invitation.uses >= Invitation.max_uses,
            Invitation.created_at < cutoff,
        ),
    )
    rooms = select(Room.id).where(Room.tenant_id == tenant_id)
    return PurgeCounts(
        invitations=_purge(
            select(Invitation.id).where(Invitation.room_id.in_(rooms), unusable_since_cutoff),
            Invitation,
        )
    )


def inactive_accounts(tenant_id: int, cutoff: datetime):
    """Select the ids of the tenant's users not signed in since `cutoff` (never signed in:
    counted from the account's creation). An account owning a room where a meeting is going on
    waits for the meeting to end."""
    last_seen = func.coalesce(User.last_login_at, User.created_at)
    meeting_going_on = exists(
        select(Meeting.id)
        .join(Room, Room.id == Meeting.room_id)
        .where(Room.owner_id == User.id, Meeting.ended_at.is_(None))
    )
    return select(User.id).where(User.tenant_id == tenant_id, last_seen < cutoff, ~meeting_going_on)


def _delete_accounts(user_ids: Sequence[int]) -> PurgeCounts:
    """Delete these users and what belongs to them, children first (SQLite enforces no foreign
    keys here, so ON DELETE CASCADE / SET NULL are done by hand; PostgreSQL gets the same)."""
    counts = PurgeCounts()
    rooms = select(Room.id).where(Room.owner_id.in_(user_ids))
    counts.add(_purge_meetings(select(Meeting.id).where(Meeting.room_id.in_(rooms))))
    counts.invitations = _purge(
        select(Invitation.id).where(Invitation.room_id.in_(rooms)), Invitation
    )
    db.session.execute(
        delete(room_moderators).where(
            or_(room_moderators.c.room_id.in_(rooms), room_moderators.c.user_id.in_(user_ids))
        )
    )
    counts.rooms = _purge(rooms, Room)
    db.session.execute(
        delete(Identity)
        .where(Identity.user_id.in_(user_ids))
        .execution_options(synchronize_session=False)
    )
    # The audit log keeps the actor's e-mail at the time (actor_label) until its own retention
    # ends; only the link to the account goes. Invitations they made stay with their rooms.
    db.session.execute(
        update(AuditEvent)
        .where(AuditEvent.actor_id.in_(user_ids))
        .values(actor_id=None)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Invitation)
        .where(Invitation.created_by_id.in_(user_ids))
        .values(created_by_id=None)
        .execution_options(synchronize_session=False)
    )
    counts.accounts = (
        db.session.execute(
            delete(User).where(User.id.in_(user_ids)).execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
    return counts


def purge_accounts(tenant_id: int | None, cutoff: datetime) -> PurgeCounts:
    """Accounts of the tenant not signed in since `cutoff`, deleted with their identities and
    rooms (and the rooms' meetings, invitations and co-moderators). Nothing is kept to anonymise:
    an agent who comes back signs in again and gets a new account."""
    user_ids = list(db.session.scalars(inactive_accounts(tenant_id, cutoff)))
    counts = PurgeCounts()
    for start in range(0, len(user_ids), ACCOUNT_BATCH):
        counts.add(_delete_accounts(user_ids[start : start + ACCOUNT_BATCH]))
    return counts


Purger = Callable[[int | None, datetime], PurgeCounts]
# How each kind of record with a retention period is purged. Every purged kind of the privacy
# records must have one (checked by purge_expired): the page lists what the purge deletes.
PURGERS: dict[str, Purger] = {
    ACCOUNTS.key: purge_accounts,
    INVITATIONS.key: purge_invitations,
    MEETING_RECORDS.key: purge_meeting_records,
    AUDIT_LOG.key: purge_audit_log,
    PLATFORM_AUDIT_LOG.key: purge_audit_log,
}


def _is_per_tenant(kind: RecordKind) -> bool:
    """Platform audit events belong to no tenant; every other purged kind is purged tenant by
    tenant (accounts with a platform-wide period, but each belongs to a tenant)."""
    return kind.period is not Period.PLATFORM_AUDIT


def purge_expired(*, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """Delete what has outlived its retention, and commit; with `dry_run`, delete the same in
    the transaction and roll it back, so the counts are exactly what a real run would delete.
    Meetings still going on are never deleted, however old."""
    missing = {kind.key for kind in PURGED_RECORD_KINDS} ^ PURGERS.keys()
    if missing:
        raise RuntimeError(f"record kinds and purgers disagree: {sorted(missing)}")
    now = now or datetime.now(UTC)
    config = current_app.config
    report = PurgeReport(
        dry_run=dry_run, record_kinds=tuple(kind.key for kind in PURGED_RECORD_KINDS)
    )
    tenants = db.session.execute(select(Tenant.id, Tenant.slug, Tenant.retention_days)).all()
    for tenant_id, slug, tenant_days in tenants:
        counts = PurgeCounts()
        for kind in filter(_is_per_tenant, PURGED_RECORD_KINDS):
            cutoff = now - timedelta(days=retention_days(kind, config, tenant_days))
            counts.add(PURGERS[kind.key](tenant_id, cutoff))
        report.by_tenant[slug] = counts
        report.total.add(counts)
    platform = PurgeCounts()
    for kind in PURGED_RECORD_KINDS:
        if not _is_per_tenant(kind):
            cutoff = now - timedelta(days=retention_days(kind, config))
            platform.add(PURGERS[kind.key](None, cutoff))
    report.by_tenant[None] = platform
    report.total.add(platform)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for name, counts in report.by_tenant.items():
        if counts:
            logger.info(
                "retention%s: %s: %d meetings, %d attendances, %d audit events, "
                "%d invitations, %d accounts, %d rooms %s",
                " (dry run)" if dry_run else "",
                name or "platform",
                counts.meetings,
                counts.attendances,
                counts.audit_events,
                counts.invitations,
                counts.accounts,
                counts.rooms,
                "would be deleted" if dry_run else "deleted",
            )
    return report
