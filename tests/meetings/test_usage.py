"""usage_by_day: meetings, participant-minutes and peaks of one tenant per day."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.meetings.usage import DailyUsage, usage_by_day
from tests.fixtures.portal import make_tenant
from tests.meetings.helpers import add_meeting, room_in, utc

DAY1 = date(2025, 3, 10)


def test_usage_by_day_within_one_tenant(app):
    tenant, other_tenant = make_tenant(app), make_tenant(app)
    room, other_room = room_in(app, tenant), room_in(app, tenant)
    # Day 1, 10:00–11:00: 60 + 30 participant-minutes, peak 2.
    add_meeting(
        app,
        room,
        utc(2025, 3, 10, 10, 0),
        utc(2025, 3, 10, 11, 0),
        2,
        [
            (utc(2025, 3, 10, 10, 0), utc(2025, 3, 10, 11, 0)),
            (utc(2025, 3, 10, 10, 30), utc(2025, 3, 10, 11, 0)),
        ],
    )
    # Across midnight, 23:30–00:30, peak 3: 30 + 15 minutes on day 1, 30 + 15 on day 2.
    add_meeting(
        app,
        other_room,
        utc(2025, 3, 10, 23, 30),
        utc(2025, 3, 11, 0, 30),
        3,
        [
            (utc(2025, 3, 10, 23, 30), utc(2025, 3, 11, 0, 30)),
            (utc(2025, 3, 10, 23, 45), utc(2025, 3, 11, 0, 15)),
        ],
    )
    # Day 3: a meeting going on now, with one attendance still open (10 minutes so far).
    now = utc(2025, 3, 12, 12, 0)
    add_meeting(app, room, utc(2025, 3, 12, 11, 50), None, 1, [(utc(2025, 3, 12, 11, 50), None)])
    # Another tenant's big meeting on day 1 never shows.
    add_meeting(
        app,
        room_in(app, other_tenant),
        utc(2025, 3, 10, 9, 0),
        utc(2025, 3, 10, 12, 0),
        9,
        [(utc(2025, 3, 10, 9, 0), utc(2025, 3, 10, 12, 0))],
    )

    with app.app_context():
        usage = usage_by_day(tenant.id, DAY1 - timedelta(days=1), DAY1 + timedelta(days=3), now=now)

    assert usage == [
        DailyUsage(DAY1 - timedelta(days=1), 0, 0.0, 0),
        DailyUsage(DAY1, 2, 135.0, 3),
        DailyUsage(DAY1 + timedelta(days=1), 0, 45.0, 3),
        DailyUsage(DAY1 + timedelta(days=2), 1, 10.0, 1),
        DailyUsage(DAY1 + timedelta(days=3), 0, 0.0, 0),
    ]
    with app.app_context():
        [other_day1] = usage_by_day(other_tenant.id, DAY1, DAY1, now=now)
    assert other_day1 == DailyUsage(DAY1, 1, 180.0, 9)


def test_usage_by_day_in_paris_time(app):
    room = room_in(app)
    # 23:30–00:30 UTC is 00:30–01:30 in Paris (UTC+1 in March before the change): all on day 2.
    add_meeting(
        app,
        room,
        utc(2025, 3, 10, 23, 30),
        utc(2025, 3, 11, 0, 30),
        1,
        [(utc(2025, 3, 10, 23, 30), utc(2025, 3, 11, 0, 30))],
    )
    with app.app_context():
        usage = usage_by_day(
            room.tenant_id, DAY1, DAY1 + timedelta(days=1), tz=ZoneInfo("Europe/Paris")
        )
    assert [(u.meetings, u.participant_minutes) for u in usage] == [(0, 0.0), (1, 60.0)]


def test_usage_by_day_limits(app):
    with app.app_context():
        assert usage_by_day(1, DAY1, DAY1 - timedelta(days=1)) == []
        with pytest.raises(ValueError):
            usage_by_day(1, DAY1, DAY1 + timedelta(days=400))
