"""Recording meetings from the SFU's participant events: the functions that change Meeting and
Attendance rows. They add to the session; the caller commits (portal/meetings/recorder.py).

Every function is idempotent: an event delivered twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from portal.extensions import db
from portal.meetings.models import Attendance, Meeting
from portal.rooms.models import Room

logger = logging.getLogger(__name__)

PARTICIPANT_JOINED = "participant-joined"
PARTICIPANT_LEFT = "participant-left"


class MalformedEvent(ValueError):
    """A stream entry that is not a participant event of a format we know."""


@dataclass(frozen=True)
class ParticipantEvent:
    """One entry of the `sfu:events` stream (docs/redis.md)."""

    kind: Literal["participant-joined", "participant-left"]
    room_slug: str
    participant_id: str
    worker_id: str
    at: datetime  # UTC
    count: int  # people in the room on that worker after the event

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ParticipantEvent:
        try:
            kind = fields["type"]
            if kind not in (PARTICIPANT_JOINED, PARTICIPANT_LEFT):
                raise MalformedEvent(f"unknown event type {kind!r}")
            event = cls(
                kind=kind,
                room_slug=fields["room"],
                participant_id=fields["participant"],
                worker_id=fields["worker"],
                at=datetime.fromtimestamp(float(fields["at"]), UTC),
                count=int(fields["count"]),
            )
        except (KeyError, ValueError, OverflowError) as exc:
            raise MalformedEvent(f"malformed event {fields!r}: {exc}") from exc
        if not event.room_slug or not event.participant_id or event.count < 0:
            raise MalformedEvent(f"malformed event {fields!r}")
        return event


def as_utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; everything stored here is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def find_room_locked(slug: str) -> Room | None:
    """The room, its row locked until commit (PostgreSQL) so that two recorders handling events
    of the same room one after the other cannot open two meetings."""
    return db.session.scalar(db.select(Room).where(Room.slug == slug).with_for_update())


def open_meeting(room: Room) -> Meeting | None:
    return db.session.scalar(
        db.select(Meeting)
        .where(Meeting.room_id == room.id, Meeting.ended_at.is_(None))
        .order_by(Meeting.started_at.desc(), Meeting.id.desc())
        .limit(1)
    )


def find_attendance(room: Room, participant_id: str) -> Attendance | None:
    """Participant ids are random per join, so one id has at most one attendance in a room."""
    return db.session.scalar(
        db.select(Attendance)
        .join(Meeting)
        .where(Meeting.room_id == room.id, Attendance.participant_id == participant_id)
        .limit(1)
    )


def record_join(room: Room, event: ParticipantEvent) -> Meeting | None:
    """Add the participant's attendance, opening a meeting if none is open. Returns the meeting,
    or None for a join already recorded."""
    if find_attendance(room, event.participant_id) is not None:
        logger.debug("join of %s in room %s already recorded", event.participant_id, room.slug)
        return None
    meeting = open_meeting(room)
    if meeting is None:
        meeting = Meeting(
            room_id=room.id, tenant_id=room.tenant_id, started_at=event.at, peak_participants=0
        )
        db.session.add(meeting)
        logger.info("meeting started in room %s (tenant %s)", room.slug, room.tenant_id)
    meeting.attendances.append(Attendance(participant_id=event.participant_id, joined_at=event.at))
    meeting.peak_participants = max(meeting.peak_participants or 0, event.count)
    return meeting


def record_leave(room: Room, event: ParticipantEvent) -> Meeting | None:
    """Close the participant's attendance; when the room is empty, end its meeting. Returns the
    meeting that ended, if one did."""
    attendance = find_attendance(room, event.participant_id)
    if attendance is None:
        # Its join was lost (Redis was down) or came after the sweeper closed the meeting.
        logger.info("departure of %s from room %s without a join", event.participant_id, room.slug)
        meeting = open_meeting(room) if event.count == 0 else None
    else:
        if attendance.left_at is None:
            attendance.left_at = max(event.at, as_utc(attendance.joined_at))
        meeting = attendance.meeting
    if meeting is not None and event.count == 0 and meeting.ended_at is None:
        end_meeting(meeting, event.at)
        return meeting
    return None


def end_meeting(meeting: Meeting, at: datetime) -> None:
    """End the meeting at `at` (never before anyone joined it), closing attendances still open."""
    latest = max(
        [as_utc(meeting.started_at)]
        + [as_utc(a.left_at or a.joined_at) for a in meeting.attendances]
    )
    ended_at = max(as_utc(at), latest)
    for attendance in meeting.attendances:
        if attendance.left_at is None:
            attendance.left_at = ended_at
    meeting.ended_at = ended_at
    logger.info(
        "meeting %s ended (room %s, peak %d)",
        meeting.public_id,
        meeting.room_id,
        meeting.peak_participants,
    )
