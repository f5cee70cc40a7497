"""Usage figures of a tenant per day, for its administrators: meetings, participant-minutes and
the largest meeting. Two aggregate queries, the same SQL on SQLite and PostgreSQL.

Days are calendar days in `tz` (UTC unless the caller says otherwise). Time is measured in
whole seconds in SQL (epoch seconds), so day boundaries are plain numbers and no date
arithmetic differs between databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import Integer, case, extract, func, literal, select, union_all

from portal.extensions import db
from portal.meetings.models import Attendance, Meeting

# The administration page shows at most a year at a time.
MAX_DAYS = 366


@dataclass(frozen=True)
class DailyUsage:
    day: date
    meetings: int  # meetings that started that day
    participant_minutes: float  # attendance time within that day; open attendances up to now
    peak_participants: int  # largest peak of the meetings in progress that day (0: none)


def _epoch(column):
    """Whole seconds since 1970 of a UTC timestamp column (SQLite: strftime('%s'); PostgreSQL:
    extract(epoch))."""
    return extract("epoch", column)


def _days_table(start: date, end: date, tz: tzinfo):
    """A CTE with one row per day: its index and its bounds in epoch seconds."""
    rows = []
    for index in range((end - start).days + 1):
        day = start + timedelta(days=index)
        begins = datetime.combine(day, time(), tz)
        ends = datetime.combine(day + timedelta(days=1), time(), tz)
        rows.append(
            select(
                literal(index, Integer).label("idx"),
                literal(int(begins.timestamp()), Integer).label("begins"),
                literal(int(ends.timestamp()), Integer).label("ends"),
            )
        )
    return (rows[0] if len(rows) == 1 else union_all(*rows)).cte("days")


def usage_by_day(
    tenant_id: int,
    start: date,
    end: date,
    *,
    tz: tzinfo = UTC,
    now: datetime | None = None,
) -> list[DailyUsage]:
    """One DailyUsage for every day from `start` to `end` inclusive (zeros on quiet days), for
    the meetings of `tenant_id` only."""
    if end < start:
        return []
    if (end - start).days >= MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days at a time")
    now = now or datetime.now(UTC)
    range_begins = datetime.combine(start, time(), tz).astimezone(UTC)
    range_ends = datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC)
    days = _days_table(start, end, tz)

    # Meetings of the tenant in progress at some point of the range (uses the indexes).
    meetings = (
        select(
            Meeting.id.label("id"),
            _epoch(Meeting.started_at).label("started"),
            _epoch(func.coalesce(Meeting.ended_at, now)).label("ended"),
            Meeting.peak_participants.label("peak"),
        )
        .where(
            Meeting.tenant_id == tenant_id,
            Meeting.started_at < range_ends,
            (Meeting.ended_at.is_(None)) | (Meeting.ended_at >= range_begins),
        )
        .cte("tenant_meetings")
    )
    started_that_day = (meetings.c.started >= days.c.begins) & (meetings.c.started < days.c.ends)
    per_day_meetings = db.session.execute(
        select(
            days.c.idx,
            func.count(case((started_that_day, meetings.c.id))),
            func.max(meetings.c.peak),
        )
        .select_from(days)
        .join(
            meetings,
            (meetings.c.started < days.c.ends) & (meetings.c.ended >= days.c.begins),
        )
        .group_by(days.c.idx)
    ).all()

    attendances = (
        select(
            _epoch(Attendance.joined_at).label("joined"),
            _epoch(func.coalesce(Attendance.left_at, now)).label("left"),
        )
        .join(meetings, meetings.c.id == Attendance.meeting_id)
        .cte("tenant_attendances")
    )
    overlap_begins = case(
        (attendances.c.joined > days.c.begins, attendances.c.joined), else_=days.c.begins
    )
    overlap_ends = case((attendances.c.left < days.c.ends, attendances.c.left), else_=days.c.ends)
    per_day_seconds = db.session.execute(
        select(days.c.idx, func.sum(overlap_ends - overlap_begins))
        .select_from(days)
        .join(
            attendances,
            (attendances.c.joined < days.c.ends) & (attendances.c.left > days.c.begins),
        )
        .group_by(days.c.idx)
    ).all()

    counts = {idx: (count, peak) for idx, count, peak in per_day_meetings}
    seconds = {idx: total for idx, total in per_day_seconds}
    usage = []
    for index in range((end - start).days + 1):
        count, peak = counts.get(index, (0, 0))
        usage.append(
            DailyUsage(
                day=start + timedelta(days=index),
                meetings=int(count or 0),
                participant_minutes=round(float(seconds.get(index) or 0) / 60, 2),
                peak_participants=int(peak or 0),
            )
        )
    return usage
