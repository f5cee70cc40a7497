"""Records meetings from the SFU workers' `sfu:events` stream (docs/redis.md), and closes the
meetings of workers that died without saying goodbye.

Reads with the consumer group `portal-meetings`, so several portal hosts may run the recorder:
each entry goes to one of them, is acknowledged only after its database commit, and entries
left pending by a recorder that died are claimed by another after a minute. Redelivered entries
change nothing (portal/meetings/operations.py is idempotent). Run by `flask meetings
record-events` (portal/meetings/cli.py).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy.exc import DBAPIError, OperationalError

from portal.extensions import db
from portal.meetings.models import Meeting
from portal.meetings.moderation import MODERATION, ModerationEvent, record_moderation
from portal.meetings.operations import (
    PARTICIPANT_JOINED,
    MalformedEvent,
    ParticipantEvent,
    end_meeting,
    find_attendance,
    find_room_locked,
    open_meeting,
    record_join,
    record_leave,
)
from portal.rooms.models import Room

logger = logging.getLogger(__name__)

STREAM_KEY = "sfu:events"
GROUP = "portal-meetings"
# room slug → id of the worker whose events opened the room's current meeting (recorder state).
HOSTS_KEY = "meetings:room-workers"
BATCH_SIZE = 100
BLOCK_MILLISECONDS = 2000
# Entries another recorder has held unacknowledged this long are taken over (it died).
CLAIM_IDLE_MILLISECONDS = 60_000
# Consumers without pending entries idle this long are removed from the group (old processes).
FORGET_CONSUMER_MILLISECONDS = 24 * 3600 * 1000
SWEEP_SECONDS = 15.0

# Forget the room's host only if it is still the worker we read.
_DELETE_HOST_IF = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def recorder_redis(url: str) -> redis.Redis:
    """A client whose read timeout outlasts the blocking XREADGROUP."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=2,
        socket_timeout=BLOCK_MILLISECONDS / 1000 + 5,
        health_check_interval=30,
    )


@dataclass
class RecorderStats:
    processed: int = 0  # entries acknowledged after their commit
    skipped: int = 0  # acknowledged without effect: unknown room, malformed entry
    swept: int = 0  # meetings of dead workers closed


class EventRecorder:
    """Consumes the stream inside a Flask application context (it uses `db.session`)."""

    def __init__(
        self,
        client: redis.Redis,
        key_prefix: str = "",
        consumer: str | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        claim_idle_ms: int = CLAIM_IDLE_MILLISECONDS,
    ) -> None:
        self._redis = client
        self._prefix = key_prefix
        self.consumer = consumer or default_consumer_name()
        self._batch_size = batch_size
        self._claim_idle_ms = claim_idle_ms
        self.stream_key = key_prefix + STREAM_KEY
        self.stats = RecorderStats()

    def _key(self, suffix: str) -> str:
        return self._prefix + suffix

    # -- the stream ---------------------------------------------------------------------------

    def ensure_group(self) -> None:
        """Create the consumer group at the start of the stream (events written before the first
        recorder ran are recorded too)."""
        try:
            self._redis.xgroup_create(self.stream_key, GROUP, id="0", mkstream=True)
            logger.info("consumer group %s created on %s", GROUP, self.stream_key)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, start: str = ">", block_ms: int | None = None) -> int:
        """Handle one batch: `start` ">" for new entries, "0" for our own unacknowledged ones.
        Returns how many entries were handled; stops early (leaving entries pending) if the
        database is unreachable."""
        reply = self._redis.xreadgroup(
            GROUP,
            self.consumer,
            {self.stream_key: start},
            count=self._batch_size,
            block=block_ms,
        )
        entries = reply[0][1] if reply else []
        return self._handle_all(entries)

    def claim_abandoned(self) -> int:
        """Take over entries another recorder left pending too long, and handle them."""
        handled = 0
        start = "0-0"
        while True:
            reply = self._redis.xautoclaim(
                self.stream_key,
                GROUP,
                self.consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=start,
                count=self._batch_size,
            )
            start, entries = reply[0], reply[1]
            handled += self._handle_all(entries)
            if start in ("0-0", b"0-0") or not entries:
                return handled

    def forget_old_consumers(self) -> None:
        for info in self._redis.xinfo_consumers(self.stream_key, GROUP):
            if (
                info["name"] != self.consumer
                and info["pending"] == 0
                and info["idle"] > FORGET_CONSUMER_MILLISECONDS
            ):
                self._redis.xgroup_delconsumer(self.stream_key, GROUP, info["name"])

    def _handle_all(self, entries) -> int:
        handled = 0
        for entry_id, fields in entries:
            if not fields:  # trimmed by MAXLEN while pending: nothing left to record
                self._redis.xack(self.stream_key, GROUP, entry_id)
                continue
            if not self.handle(entry_id, fields):
                break
            handled += 1
        return handled

    def handle(self, entry_id: str, fields: dict[str, str]) -> bool:
        """Record one entry, commit, then acknowledge it. False if the database failed (the
        entry stays pending and is read again)."""
        try:
            if fields.get("type") == MODERATION:
                event = ModerationEvent.from_fields(fields)
            else:
                event = ParticipantEvent.from_fields(fields)
        except MalformedEvent as exc:
            logger.warning("stream entry %s skipped: %s", entry_id, exc)
            self._redis.xack(self.stream_key, GROUP, entry_id)
            self.stats.skipped += 1
            return True
        try:
            recorded = self._record(event)
        except (OperationalError, DBAPIError) as exc:
            db.session.rollback()
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                logger.warning("database unavailable, entry %s left pending: %s", entry_id, exc)
                return False
            logger.exception("stream entry %s skipped: %s", entry_id, fields)
            recorded = False
        except Exception:
            # A bug or an impossible entry: skipping it beats retrying it forever.
            db.session.rollback()
            logger.exception("stream entry %s skipped: %s", entry_id, fields)
            recorded = False
        self._redis.xack(self.stream_key, GROUP, entry_id)
        if recorded:
            self.stats.processed += 1
        else:
            self.stats.skipped += 1
        return True

    # -- recording ----------------------------------------------------------------------------

    def _record(self, event: ParticipantEvent | ModerationEvent) -> bool:
        if isinstance(event, ModerationEvent):
            # Audit only; the meeting's end follows from the participant-left events.
            recorded = record_moderation(event)
            db.session.commit()
            return recorded
        room = find_room_locked(event.room_slug)
        if room is None:
            db.session.rollback()
            logger.warning(
                "%s of %s in unknown room %s (worker %s) ignored",
                event.kind,
                event.participant_id,
                event.room_slug,
                event.worker_id,
            )
            return False
        hosts = self._key(HOSTS_KEY)
        if event.kind == PARTICIPANT_JOINED:
            meeting = open_meeting(room)
            host = self._redis.hget(hosts, room.slug)
            if (
                meeting is not None
                and host is not None
                and host != event.worker_id
                and find_attendance(room, event.participant_id) is None
            ):
                # A room lives on one worker: joins from another mean the first one died.
                logger.info(
                    "room %s moved from worker %s to %s: its meeting ends",
                    room.slug,
                    host,
                    event.worker_id,
                )
                end_meeting(meeting, self._last_seen(host) or event.at)
            meeting = record_join(room, event)
            db.session.commit()
            if meeting is not None:
                self._redis.hset(hosts, room.slug, event.worker_id)
        else:
            ended = record_leave(room, event)
            db.session.commit()
            if ended is not None:
                self._redis.eval(_DELETE_HOST_IF, 1, hosts, room.slug, event.worker_id)
        return True

    def _last_seen(self, worker_id: str) -> datetime | None:
        """When the worker last sent a heartbeat, if the registry still remembers it."""
        score = self._redis.zscore(self._key("sfu:workers"), worker_id)
        return datetime.fromtimestamp(score, UTC) if score is not None else None

    def _room_is_live(self, slug: str, host: str | None) -> bool:
        """A live worker holds the room's pin (docs/redis.md), and it is the one that hosted the
        meeting (if we know which)."""
        pinned = self._redis.get(self._key(f"sfu:room:{slug}"))
        if pinned is None or (host is not None and pinned != host):
            return False
        return bool(self._redis.exists(self._key(f"sfu:worker:{pinned}")))

    def sweep(self, now: datetime | None = None) -> int:
        """End the open meetings of rooms no live worker hosts any more, at the time their
        worker was last seen (or now). Returns how many were ended."""
        open_rooms = db.session.execute(
            db.select(Meeting.id, Room.slug).join(Room).where(Meeting.ended_at.is_(None))
        ).all()
        db.session.rollback()
        hosts = self._key(HOSTS_KEY)
        ended = 0
        for meeting_id, slug in open_rooms:
            host = self._redis.hget(hosts, slug)
            if self._room_is_live(slug, host):
                continue
            worker = host or self._redis.get(self._key(f"sfu:room:{slug}"))
            at = (self._last_seen(worker) if worker else None) or now or datetime.now(UTC)
            room = find_room_locked(slug)
            meeting = db.session.get(Meeting, meeting_id, populate_existing=True)
            if room is None or meeting is None or meeting.ended_at is not None:
                db.session.rollback()
                continue
            end_meeting(meeting, at)
            db.session.commit()
            if host is not None:
                self._redis.eval(_DELETE_HOST_IF, 1, hosts, slug, host)
            logger.warning(
                "meeting %s in room %s closed: worker %s is gone",
                meeting.public_id,
                slug,
                worker or "(unknown)",
            )
            ended += 1
        self.stats.swept += ended
        return ended

    # -- loops ------------------------------------------------------------------------------

    def run_once(self) -> RecorderStats:
        """Handle everything pending now, sweep, and return (for `--once`, cron and tests)."""
        self.ensure_group()
        self.claim_abandoned()
        while self.read("0"):
            pass
        while self.read(">"):
            pass
        self.sweep()
        return self.stats

    def run(self, stop_requested: Callable[[], bool]) -> RecorderStats:
        """Record until `stop_requested()` is true (checked at least every 2 s)."""
        next_maintenance = 0.0
        ready = False
        while not stop_requested():
            try:
                if not ready:
                    self.ensure_group()
                    ready = True
                # Our own unacknowledged entries first (after a database outage), then new ones.
                if not self.read("0"):
                    self.read(">", BLOCK_MILLISECONDS)
                if time.monotonic() >= next_maintenance:
                    self.claim_abandoned()
                    self.sweep()
                    self.forget_old_consumers()
                    next_maintenance = time.monotonic() + SWEEP_SECONDS
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.warning("Redis unavailable, retrying in 1 s: %s", exc)
                ready = False
                time.sleep(1)
            except (OperationalError, DBAPIError) as exc:
                db.session.rollback()
                logger.warning("database unavailable, retrying in 1 s: %s", exc)
                time.sleep(1)
        return self.stats
