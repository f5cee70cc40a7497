"""Helpers for meeting tests: rooms in a tenant, meeting rows, stream entries."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.extensions import db
from portal.meetings.models import Attendance, Meeting
from portal.meetings.operations import as_utc
from portal.rooms.models import Room
from portal.tenants.models import Tenant
from tests.fixtures.portal import make_room, make_user


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def room_in(app, tenant: Tenant | None = None) -> Room:
    return make_room(app, make_user(app, tenant=tenant))


def add_meeting(
    app,
    room: Room,
    started_at: datetime,
    ended_at: datetime | None,
    peak: int,
    attendances: list[tuple[datetime, datetime | None]] = (),
) -> int:
    """A meeting row with its attendances (joined_at, left_at); returns its id."""
    with app.app_context():
        meeting = Meeting(
            room_id=room.id,
            tenant_id=room.tenant_id,
            started_at=started_at,
            ended_at=ended_at,
            peak_participants=peak,
        )
        for number, (joined_at, left_at) in enumerate(attendances):
            meeting.attendances.append(
                Attendance(participant_id=f"p{number}", joined_at=joined_at, left_at=left_at)
            )
        db.session.add(meeting)
        db.session.commit()
        return meeting.id


def meetings_of(app, room: Room) -> list[dict]:
    """The room's meetings as plain data, oldest first, attendances by participant id."""
    with app.app_context():
        meetings = db.session.scalars(
            db.select(Meeting).where(Meeting.room_id == room.id).order_by(Meeting.id)
        ).all()
        return [
            {
                "started_at": as_utc(m.started_at),
                "ended_at": as_utc(m.ended_at) if m.ended_at else None,
                "peak": m.peak_participants,
                "tenant_id": m.tenant_id,
                "attendances": {
                    a.participant_id: (
                        as_utc(a.joined_at),
                        as_utc(a.left_at) if a.left_at else None,
                    )
                    for a in m.attendances
                },
            }
            for m in meetings
        ]
