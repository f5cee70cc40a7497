"""The room's deadline and its timer (sfu/room.py), without a worker."""

import asyncio

from sfu.room import MAX_MEETING_SECONDS, Room


def test_deadline_is_the_earlier_of_close_at_and_the_longest_meeting():
    room = Room("salle-r")
    room.started_at = 1000.0
    assert room.deadline() == (1000.0 + MAX_MEETING_SECONDS, "max_duration")
    room.close_at = 2000.0
    assert room.deadline() == (2000.0, "schedule")
    room.close_at = 1000.0 + MAX_MEETING_SECONDS + 60
    assert room.deadline() == (1000.0 + MAX_MEETING_SECONDS, "max_duration")


def test_timer_fires_once_and_stop_cancels_it():
    async def scenario():
        reasons = []

        async def on_deadline(reason):
            reasons.append(reason)

        room = Room("salle-r", max_seconds=0.05)
        room.start(on_deadline)
        await asyncio.sleep(0.2)
        assert reasons == ["max_duration"]

        stopped = Room("salle-s", max_seconds=0.05)
        stopped.start(on_deadline)
        stopped.stop()
        await asyncio.sleep(0.2)
        assert reasons == ["max_duration"]

    asyncio.run(scenario())
