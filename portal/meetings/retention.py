"""The retention purge (docs/retention.md): meeting records and audit events older than their
tenant's `retention_days` are deleted; platform-wide audit events after
PLATFORM_AUDIT_RETENTION_DAYS. Run daily by `flask retention purge`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.meetings.models import Attendance, Meeting
from portal.tenants.models import Tenant

logger = logging.getLogger(__name__)

DEFAULT_PLATFORM_AUDIT_RETENTION_DAYS = 365


@dataclass
class PurgeCounts:
    meetings: int = 0
    attendances: int = 0
    audit_events: int = 0

    def add(self, other: PurgeCounts) -> None:
        self.meetings += other.meetings
        self.attendances += other.attendances
        self.audit_events += other.audit_events


@dataclass
class PurgeReport:
    dry_run: bool
    total: PurgeCounts = field(default_factory=PurgeCounts)
    # By tenant slug; None for platform-wide audit events.
    by_tenant: dict[str | None, PurgeCounts] = field(default_factory=dict)


def _count(statement) -> int:
    return db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def _purge(query, model, dry_run: bool) -> int:
    """Delete the rows of `model` whose id `query` selects (or count them)."""
    ids = query.with_only_columns(model.id)
    if dry_run:
        return _count(ids)
    result = db.session.execute(
        delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _purge_tenant(tenant_id: int, cutoff: datetime, dry_run: bool) -> PurgeCounts:
    expired_meetings = select(Meeting.id).where(
        Meeting.tenant_id == tenant_id, Meeting.ended_at.is_not(None), Meeting.ended_at < cutoff
    )
    counts = PurgeCounts()
    # Attendances first: SQLite does not enforce ON DELETE CASCADE unless told to.
    counts.attendances = _purge(
        select(Attendance.id).where(Attendance.meeting_id.in_(expired_meetings)),
        Attendance,
        dry_run,
    )
    counts.meetings = _purge(expired_meetings, Meeting, dry_run)
    counts.audit_events = _purge(
        select(AuditEvent.id).where(
            AuditEvent.tenant_id == tenant_id, AuditEvent.created_at < cutoff
        ),
        AuditEvent,
        dry_run,
    )
    return counts


def purge_expired(*, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """Delete (or with `dry_run` only count) what has outlived its retention, and commit.
    Meetings still going on are never deleted, however old."""
    now = now or datetime.now(UTC)
    report = PurgeReport(dry_run=dry_run)
    tenants = db.session.execute(select(Tenant.id, Tenant.slug, Tenant.retention_days)).all()
    for tenant_id, slug, retention_days in tenants:
        counts = _purge_tenant(tenant_id, now - timedelta(days=retention_days), dry_run)
        report.by_tenant[slug] = counts
        report.total.add(counts)
    platform_days = int(
        current_app.config.get(
            "PLATFORM_AUDIT_RETENTION_DAYS", DEFAULT_PLATFORM_AUDIT_RETENTION_DAYS
        )
    )
    platform = PurgeCounts(
        audit_events=_purge(
            select(AuditEvent.id).where(
                AuditEvent.tenant_id.is_(None),
                AuditEvent.created_at < now - timedelta(days=platform_days),
            ),
            AuditEvent,
            dry_run,
        )
    )
    report.by_tenant[None] = platform
    report.total.add(platform)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for name, counts in report.by_tenant.items():
        if counts.meetings or counts.audit_events:
            logger.info(
                "retention%s: %s: %d meetings, %d attendances, %d audit events %s",
                " (dry run)" if dry_run else "",
                name or "platform",
                counts.meetings,
                counts.attendances,
                counts.audit_events,
                "would be deleted" if dry_run else "deleted",
            )
    return report
