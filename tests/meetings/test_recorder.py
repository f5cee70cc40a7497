"""The recorder turns `sfu:events` stream entries into Meeting and Attendance rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from portal.meetings.recorder import GROUP, STREAM_KEY, EventRecorder
from tests.meetings.helpers import meetings_of, room_in, utc

T0 = utc(2025, 3, 10, 9, 0)
LIVE_WORKER = "sfu-vivant"


def event(redis_client, kind, room, participant, count, at: datetime, worker=LIVE_WORKER) -> str:
    return redis_client.xadd(
        STREAM_KEY,
        {
            "v": "1",
            "type": f"participant-{kind}",
            "room": room.slug if hasattr(room, "slug") else room,
            "participant": participant,
            "worker": worker,
            "at": f"{at.timestamp():.3f}",
            "count": str(count),
        },
    )


def host_live(redis_client, room, worker=LIVE_WORKER) -> None:
    """What the registry shows while `worker` is alive and hosts the room."""
    redis_client.hset(f"sfu:worker:{worker}", mapping={"url": "ws://127.0.0.1:1/ws"})
    redis_client.zadd("sfu:workers", {worker: datetime.now().timestamp()})
    redis_client.set(f"sfu:room:{room.slug}", worker)


def record(app, redis_client, **options):
    with app.app_context():
        return EventRecorder(redis_client, consumer="test", **options).run_once()


def pending(redis_client) -> int:
    return redis_client.xpending(STREAM_KEY, GROUP)["pending"]


def test_meeting_follows_joins_and_departures(app, redis_client):
    room = room_in(app)
    host_live(redis_client, room)
    event(redis_client, "joined", room, "alice", 1, T0)
    event(redis_client, "joined", room, "bob", 2, T0 + timedelta(minutes=1))
    event(redis_client, "joined", room, "carol", 3, T0 + timedelta(minutes=2))
    event(redis_client, "left", room, "alice", 2, T0 + timedelta(minutes=5))

    stats = record(app, redis_client)

    assert stats.processed == 4 and stats.skipped == 0 and stats.swept == 0
    [meeting] = meetings_of(app, room)
    assert meeting["started_at"] == T0 and meeting["ended_at"] is None
    assert meeting["peak"] == 3 and meeting["tenant_id"] == room.tenant_id
    assert meeting["attendances"] == {
        "alice": (T0, T0 + timedelta(minutes=5)),
        "bob": (T0 + timedelta(minutes=1), None),
        "carol": (T0 + timedelta(minutes=2), None),
    }

    event(redis_client, "left", room, "bob", 1, T0 + timedelta(minutes=20))
    event(redis_client, "left", room, "carol", 0, T0 + timedelta(minutes=30))
    record(app, redis_client)

    [meeting] = meetings_of(app, room)
    assert meeting["ended_at"] == T0 + timedelta(minutes=30)
    assert meeting["peak"] == 3
    assert meeting["attendances"]["bob"][1] == T0 + timedelta(minutes=20)
    assert meeting["attendances"]["carol"][1] == T0 + timedelta(minutes=30)
    assert pending(redis_client) == 0

    # The room is used again later: a new meeting.
    event(redis_client, "joined", room, "dan", 1, T0 + timedelta(hours=2))
    record(app, redis_client)
    first, second = meetings_of(app, room)
    assert first["ended_at"] == T0 + timedelta(minutes=30)
    assert second["started_at"] == T0 + timedelta(hours=2) and second["ended_at"] is None
    assert second["peak"] == 1 and list(second["attendances"]) == ["dan"]


def test_redelivered_entries_change_nothing(app, redis_client):
    room = room_in(app)
    host_live(redis_client, room)
    entries = [
        ("joined", "alice", 1, T0),
        ("joined", "bob", 2, T0 + timedelta(minutes=1)),
        ("left", "alice", 1, T0 + timedelta(minutes=4)),
        ("left", "bob", 0, T0 + timedelta(minutes=9)),
    ]
    with app.app_context():
        EventRecorder(redis_client, consumer="test").ensure_group()
    for kind, participant, count, at in entries:
        event(redis_client, kind, room, participant, count, at)
    # Another recorder read them and died before acknowledging: they stay pending for it.
    redis_client.xreadgroup(GROUP, "recorder-mort", {STREAM_KEY: ">"}, count=10)
    assert pending(redis_client) == 4

    stats = record(app, redis_client, claim_idle_ms=0)  # takes them over
    assert stats.processed == 4 and pending(redis_client) == 0
    expected = meetings_of(app, room)
    assert len(expected) == 1 and expected[0]["ended_at"] == T0 + timedelta(minutes=9)

    # The same entries delivered again (e.g. the first recorder committed but never acked).
    for kind, participant, count, at in entries:
        event(redis_client, kind, room, participant, count, at)
    stats = record(app, redis_client)
    assert stats.processed == 4
    assert meetings_of(app, room) == expected


def test_unknown_room_and_malformed_entries_are_acknowledged(app, redis_client):
    event(redis_client, "joined", "pas-une-salle", "alice", 1, T0)
    redis_client.xadd(STREAM_KEY, {"type": "participant-joined", "room": "x"})
    redis_client.xadd(STREAM_KEY, {"type": "autre-chose"})

    stats = record(app, redis_client)

    assert stats.processed == 0 and stats.skipped == 3
    assert pending(redis_client) == 0


def test_events_of_another_prefix_are_not_read(app, redis_client):
    room = room_in(app)
    event(redis_client, "joined", room, "alice", 1, T0)
    with app.app_context():
        stats = EventRecorder(redis_client, "autre:", consumer="test").run_once()
    assert stats.processed == 0 and meetings_of(app, room) == []


def test_sweeper_closes_meetings_of_a_dead_worker(app, redis_client):
    dead_room, live_room = room_in(app), room_in(app)
    host_live(redis_client, live_room)
    # The dead worker's hash expired; its pin and its last heartbeat score remain.
    last_seen = T0 + timedelta(minutes=7)
    redis_client.set(f"sfu:room:{dead_room.slug}", "sfu-mort")
    redis_client.zadd("sfu:workers", {"sfu-mort": last_seen.timestamp()})
    event(redis_client, "joined", dead_room, "alice", 1, T0, worker="sfu-mort")
    event(redis_client, "joined", dead_room, "bob", 2, T0 + timedelta(minutes=1), worker="sfu-mort")
    event(redis_client, "left", dead_room, "bob", 1, T0 + timedelta(minutes=2), worker="sfu-mort")
    event(redis_client, "joined", live_room, "carol", 1, T0)

    stats = record(app, redis_client)

    assert stats.swept == 1
    [dead] = meetings_of(app, dead_room)
    assert dead["ended_at"] == last_seen
    assert dead["attendances"] == {
        "alice": (T0, last_seen),
        "bob": (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)),
    }
    [live] = meetings_of(app, live_room)
    assert live["ended_at"] is None

    # A departure reported late (e.g. by the clean stop that raced the sweeper) changes nothing.
    event(redis_client, "left", dead_room, "alice", 0, T0 + timedelta(minutes=9), worker="sfu-mort")
    record(app, redis_client)
    assert meetings_of(app, dead_room) == [dead]


def test_sweeper_without_any_trace_of_the_worker_ends_now(app, redis_client):
    room = room_in(app)
    event(redis_client, "joined", room, "alice", 1, T0, worker="sfu-disparu")
    before = datetime.now().astimezone()

    record(app, redis_client)

    [meeting] = meetings_of(app, room)
    assert before - timedelta(seconds=1) <= meeting["ended_at"] <= datetime.now().astimezone()


def test_joins_from_a_new_worker_end_the_meeting_of_the_old_one(app, redis_client):
    room = room_in(app)
    redis_client.zadd("sfu:workers", {"sfu-ancien": (T0 + timedelta(minutes=3)).timestamp()})
    event(redis_client, "joined", room, "alice", 1, T0, worker="sfu-ancien")
    with app.app_context():
        recorder = EventRecorder(redis_client, consumer="test")
        recorder.ensure_group()
        while recorder.read(">"):
            pass
    # The old worker died; the portal placed the room on a new one, where Alice comes back.
    host_live(redis_client, room, "sfu-nouveau")
    event(
        redis_client, "joined", room, "alice-2", 1, T0 + timedelta(minutes=5), worker="sfu-nouveau"
    )

    record(app, redis_client)

    old, new = meetings_of(app, room)
    assert old["ended_at"] == T0 + timedelta(minutes=3)
    assert old["attendances"] == {"alice": (T0, T0 + timedelta(minutes=3))}
    assert new["started_at"] == T0 + timedelta(minutes=5) and new["ended_at"] is None
    assert list(new["attendances"]) == ["alice-2"]


@pytest.mark.timeout(30)
def test_record_events_command_once(app, redis_client):
    room = room_in(app)
    event(redis_client, "joined", room, "alice", 1, T0)
    event(redis_client, "left", room, "alice", 0, T0 + timedelta(minutes=3))

    result = app.test_cli_runner().invoke(args=["meetings", "record-events", "--once"])

    assert result.exit_code == 0, result.output
    assert "2 events recorded, 0 skipped" in result.output
    [meeting] = meetings_of(app, room)
    assert meeting["ended_at"] == T0 + timedelta(minutes=3)


@pytest.mark.timeout(60)
def test_record_events_process_stops_on_sigterm(app, redis_url, redis_client, tmp_path):
    """The long-running recorder, as the demo and systemd run it."""
    room = room_in(app)
    host_live(redis_client, room)
    env = dict(
        os.environ,
        FLASK_APP="portal",
        SECRET_KEY="test",
        PORTAL_URL="http://localhost",
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=redis_url,
    )
    log_path = tmp_path / "recorder.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "meetings", "record-events"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        event(redis_client, "joined", room, "alice", 1, T0)
        deadline = time.monotonic() + 20
        while not meetings_of(app, room):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "1 events recorded" in log_path.read_text()
    assert "Traceback" not in log_path.read_text()
