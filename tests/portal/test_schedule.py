"""A room's schedule at token issue: entry opens 5 min before the start and closes 5 min after
the end (docs/meetings.md); the token carries close_at."""

from datetime import UTC, datetime, timedelta

import pytest

from sfu.join_tokens import JoinTokenVerifier
from tests.fixtures.portal import sign_in
from tests.portal.meetings import install_clock, live_worker, request_token

START = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)  # 14 h 00 in Paris (winter time)
END = START + timedelta(hours=1)


@pytest.fixture
def scheduled(app, client, create_user, create_room, redis_client):
    live_worker(redis_client)
    room = create_room(create_user(), schedule_starts_at=START, schedule_ends_at=END)
    sign_in(client, create_user())
    return room


def at(app, moment):
    install_clock(app, moment)


def test_schedule_six_minutes_before_start_is_refused_with_opening_time(app, client, scheduled):
    at(app, START - timedelta(minutes=6))
    response = request_token(client, scheduled)
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "schedule_not_open"
    assert "lundi 10 mars 2025 à 13 h 55" in body["message"]
    assert "heure de Paris" in body["message"]


def test_schedule_four_minutes_before_start_is_allowed(app, client, scheduled, join_keys):
    at(app, START - timedelta(minutes=4))
    response = request_token(client, scheduled)
    assert response.status_code == 200
    claims = JoinTokenVerifier(join_keys.public_pem, "http://localhost").verify(
        response.get_json()["token"], room=scheduled.slug
    )
    assert claims.close_at == (END + timedelta(minutes=5)).timestamp()


def test_schedule_four_minutes_after_end_is_allowed(app, client, scheduled):
    at(app, END + timedelta(minutes=4))
    assert request_token(client, scheduled).status_code == 200


def test_schedule_six_minutes_after_end_is_refused(app, client, scheduled):
    at(app, END + timedelta(minutes=6))
    response = request_token(client, scheduled)
    assert response.status_code == 403
    assert response.get_json()["error"] == "schedule_closed"
    assert "terminée" in response.get_json()["message"]


def test_schedule_applies_to_the_owner_too(app, client, create_user, create_room, redis_client):
    live_worker(redis_client)
    owner = create_user()
    room = create_room(owner, schedule_starts_at=START, schedule_ends_at=END)
    sign_in(client, owner)
    at(app, START - timedelta(minutes=30))
    assert request_token(client, room).get_json()["error"] == "schedule_not_open"


def test_unscheduled_room_has_no_close_at(app, client, create_user, create_room, redis_client):
    live_worker(redis_client)
    room = create_room(create_user())
    sign_in(client, create_user())
    token = request_token(client, room).get_json()["token"]
    import jwt

    assert "close_at" not in jwt.decode(token, options={"verify_signature": False})
