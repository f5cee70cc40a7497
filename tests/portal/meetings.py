"""Helpers for the meeting tests (settings, invitations, guests, lobby, schedule): a clock the
portal reads instead of the real one, invitations, guests and join-token requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

from portal.extensions import db
from portal.invitations.operations import create_invitation
from portal.rooms.models import ParticipantRole, Room
from portal.users.models import User
from tests.fixtures.portal import csrf_token
from tests.portal.test_placement import register_worker


class FakeClock:
    """Installed as PORTAL_CLOCK: the portal's "now", moved by tests (no sleeps)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def install_clock(app: Flask, now: datetime | None = None) -> FakeClock:
    clock = FakeClock(now)
    app.config["PORTAL_CLOCK"] = clock
    return clock


def make_invitation(app: Flask, room: Room, **options) -> str:
    """An invitation created by the room's owner; returns the link's token."""
    options.setdefault("role", ParticipantRole.PARTICIPANT)
    with app.app_context():
        fresh = db.session.get(Room, room.id)
        _, token = create_invitation(fresh, created_by=fresh.owner, **options)
        return token


def open_invitation(client, token: str, name: str | None = "Claire Dubois"):
    """GET the invitation page, then POST the name (or, signed in, just continue)."""
    page = client.get(f"/i/{token}")
    if page.status_code != 200:
        return page
    data = {"csrf_token": csrf_token(page)}
    if name is not None:
        data["display_name"] = name
    return client.post(f"/i/{token}", data=data)


def request_token(client, room: Room):
    csrf = csrf_token(client.get("/"))
    return client.post(f"/r/{room.slug}/jeton", headers={"X-CSRFToken": csrf})


def moderator_post(client, url: str):
    csrf = csrf_token(client.get("/"))
    return client.post(url, headers={"X-CSRFToken": csrf})


def live_worker(redis_client) -> None:
    register_worker(redis_client, "w1")


def set_room(app: Flask, room: Room, **settings) -> None:
    with app.app_context():
        fresh = db.session.get(Room, room.id)
        for name, value in settings.items():
            setattr(fresh, name, value)
        db.session.commit()


def add_co_moderator(app: Flask, room: Room, user: User) -> None:
    with app.app_context():
        fresh = db.session.get(Room, room.id)
        fresh.co_moderators.append(db.session.get(User, user.id))
        db.session.commit()
