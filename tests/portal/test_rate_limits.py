"""Abuse limits (portal/core/ratelimit.py, docs/administration.md "Abuse limits"): sign-in,
lobby knocks and polls, invitation-token guesses and room creation, counted in a real Redis so
that two portal applications (two workers) share the counts.

Windows are ended by shortening the keys' expiry in Redis, never by sleeping through them.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask

from portal.config import ConfigurationError, load_config
from portal.core import ratelimit
from portal.core.ratelimit import Limit
from portal.extensions import db
from portal.invitations import operations
from portal.rooms.models import Room
from portal.rooms.schedule import current_time
from tests.fixtures.portal import (
    csrf_token,
    dispose,
    make_room,
    make_user,
    migrated_app,
    portal_config,
    sign_in,
)
from tests.portal.meetings import make_invitation, open_invitation

WINDOW = 60
ELSEWHERE = "198.51.100.9"


@pytest.fixture
def make_app(tmp_path, redis_url, redis_client) -> Callable[..., Flask]:
    """Factory: portal applications sharing one database and one (emptied) Redis, limits on."""
    apps: list[Flask] = []

    def make(**config) -> Flask:
        config.setdefault("RATE_LIMITS_ENABLED", True)
        config.setdefault("REDIS_URL", redis_url)
        database = f"sqlite:///{tmp_path / 'limits.sqlite3'}"
        apps.append(migrated_app(portal_config(database, **config)))
        return apps[-1]

    yield make
    for app in apps:
        dispose(app)


def end_windows(redis_client) -> None:
    """Every limit's window ends now (as if its time had passed)."""
    keys = list(redis_client.scan_iter("ratelimit:*"))
    assert keys, "no rate-limit key in Redis"
    for key in keys:
        redis_client.pexpire(key, 1)
    time.sleep(0.02)


def assert_refused_page(response, message: str, window: int = WINDOW) -> None:
    assert response.status_code == 429, response.status_code
    assert 1 <= int(response.headers["Retry-After"]) <= window
    text = html.unescape(response.get_data(as_text=True))
    assert message in text
    assert 'role="alert"' in text


def assert_refused_json(response, window: int = WINDOW) -> None:
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= window
    body = response.get_json()
    assert body["error"] == "rate_limited"
    assert body["message"].startswith("Trop de demandes")


# ---------------------------------------------------------------------------------------------
# Each limit, the same way: under the limit the usual answer, over it 429, across two workers,
# until the window ends.


@dataclass
class Scenario:
    """`setup(app)` prepares data and returns `attempt(app) -> response` (one counted request)."""

    variable: str
    setup: Callable[[Flask], Callable[[Flask], object]]
    usual_status: int
    refused: Callable[[object], None]


def sign_in_scenario(app: Flask):
    return lambda app: app.test_client().get("/auth/callback?code=x&state=y")


def knock_scenario(app: Flask):
    room = make_room(app, make_user(app), lobby_enabled=True)
    token = make_invitation(app, room)
    # A new guest each time (a new browser), from the same address.
    return lambda app: open_invitation(app.test_client(), token, name="Claire Dubois")


def poll_scenario(app: Flask):
    room = make_room(app, make_user(app), lobby_enabled=True)
    return lambda app: app.test_client().get(f"/r/{room.slug}/attente/etat")


def guess_scenario(app: Flask):
    return lambda app: app.test_client().get("/i/ceci-n-est-pas-une-invitation")


def creation_scenario(app: Flask):
    user = make_user(app)

    def attempt(app: Flask):
        client = app.test_client()
        sign_in(client, user)
        token = csrf_token(client.get("/salles/nouvelle"))
        return client.post("/salles/nouvelle", data={"name": "Point", "csrf_token": token})

    return attempt


SCENARIOS = {
    "sign_in": Scenario(
        "RATE_LIMIT_SIGN_IN",
        sign_in_scenario,
        400,
        lambda r: assert_refused_page(r, "Trop de tentatives de connexion depuis votre adresse"),
    ),
    "lobby_knock": Scenario(
        "RATE_LIMIT_LOBBY_KNOCK",
        knock_scenario,
        302,
        lambda r: assert_refused_page(r, "Trop de demandes d'entrée dans cette réunion"),
    ),
    # Anonymous polls count too (the limit comes before the access check): 401 is usual.
    "lobby_poll": Scenario("RATE_LIMIT_LOBBY_POLL", poll_scenario, 401, assert_refused_json),
    "invitation_guess": Scenario(
        "RATE_LIMIT_INVITATION_GUESS",
        guess_scenario,
        404,
        lambda r: assert_refused_page(r, "Trop de liens d'invitation inconnus ou annulés"),
    ),
    "room_creation": Scenario(
        "RATE_LIMIT_ROOM_CREATION",
        creation_scenario,
        302,
        lambda r: assert_refused_page(r, "Vous avez créé beaucoup de salles en peu de temps"),
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_rate_limits_hold_across_two_workers_until_the_window_ends(name, make_app, redis_client):
    scenario = SCENARIOS[name]
    first = make_app(**{scenario.variable: f"3/{WINDOW}"})
    second = make_app(**{scenario.variable: f"3/{WINDOW}"})
    attempt = scenario.setup(first)

    # Under the limit, on either worker: the usual answer.
    for app in (first, second, first):
        assert attempt(app).status_code == scenario.usual_status
    # Over it, on both: 429, in French, with Retry-After.
    scenario.refused(attempt(second))
    scenario.refused(attempt(first))

    end_windows(redis_client)
    assert attempt(second).status_code == scenario.usual_status


def test_rate_limits_sign_in_counts_every_sign_in_route(make_app):
    app = make_app(RATE_LIMIT_SIGN_IN=f"3/{WINDOW}")
    client = app.test_client()
    page = client.get("/connexion")  # the page itself is not counted
    form = {"csrf_token": csrf_token(page), "email": "camille@inconnu.example"}
    assert client.post("/connexion", data=form).status_code == 400
    assert client.get("/connexion/oidc").status_code == 503  # no provider configured
    assert client.get("/auth/callback?code=x&state=y").status_code == 400

    refused = client.post("/connexion", data=form)
    assert_refused_page(refused, "Trop de tentatives de connexion depuis votre adresse.")
    # The sign-in page, with its form and the message at the top.
    assert 'id="sign-in-alert"' in refused.text and "<h1>Connexion</h1>" in refused.text
    assert "<title>Erreur — Connexion" in refused.text
    for path in ("/connexion/oidc?ministere=x", "/auth/callback?code=x&state=y"):
        assert_refused_page(client.get(path), "Réessayez dans")
    # Another address is not concerned.
    assert client.get("/auth/callback", environ_base={"REMOTE_ADDR": ELSEWHERE}).status_code == 400


def test_rate_limits_sign_in_counts_the_address_given_by_a_trusted_proxy(make_app, caplog):
    app = make_app(RATE_LIMIT_SIGN_IN=f"2/{WINDOW}", TRUSTED_PROXIES=1)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="portal.core.ratelimit")

    def attempt(address: str):
        return client.get("/auth/callback", headers={"X-Forwarded-For": address})

    assert attempt("203.0.113.7").status_code == 400
    assert attempt("203.0.113.7").status_code == 400
    assert attempt("203.0.113.7").status_code == 429
    assert attempt("203.0.113.8").status_code == 400
    # An IPv6 client stands for its /64: rotating within it does not get around the limit.
    assert attempt("2001:db8:1:2::1").status_code == 400
    assert attempt("2001:db8:1:2::ffff").status_code == 400
    assert attempt("2001:db8:1:2:aaaa::1").status_code == 429
    assert attempt("2001:db8:1:3::1").status_code == 400
    # One line per full window, naming no address.
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.core.ratelimit"]
    assert len(lines) == 2 and all("rate limit sign_in reached by" in line for line in lines)
    assert not any("203.0.113" in line or "2001:db8" in line for line in lines)


def test_rate_limits_redis_keys_hold_no_address_and_expire(make_app, redis_client):
    app = make_app(TRUSTED_PROXIES=1)
    room = make_room(app, make_user(app), lobby_enabled=True)
    token = make_invitation(app, room)
    addresses = ("203.0.113.77", "2001:db8:42::1234")
    for address in addresses:
        client = app.test_client()
        headers = {"X-Forwarded-For": address}
        client.get("/auth/callback", headers=headers)
        client.get("/i/inconnue", headers=headers)
        page = client.get(f"/i/{token}", headers=headers)
        client.post(
            f"/i/{token}",
            data={"csrf_token": csrf_token(page), "display_name": "Claire"},
            headers=headers,
        )
        client.get(f"/r/{room.slug}/attente/etat", headers=headers)

    keys = list(redis_client.scan_iter("ratelimit:*"))
    limits = {key.split(":")[1] for key in keys}
    assert limits == {"sign_in", "invitation_guess", "lobby_knock", "lobby_poll"}
    assert len(keys) == 4 * len(addresses)
    fragments = ("203.0.113", "2001:db8", "2001:0db8", "127.0.0.1", room.slug)
    for key in keys:
        assert not any(fragment in key for fragment in fragments), key
        assert not any(fragment in redis_client.get(key) for fragment in fragments)
        # Never kept beyond its window.
        assert 0 < redis_client.pttl(key) <= 3600 * 1000


# ---------------------------------------------------------------------------------------------
# Invitation guesses: failures only, per address


def test_rate_limits_invitation_valid_link_opens_after_bad_guesses_elsewhere(make_app):
    app = make_app(RATE_LIMIT_INVITATION_GUESS=f"3/{WINDOW}")
    room = make_room(app, make_user(app))
    token = make_invitation(app, room)
    guesser = app.test_client()
    for attempt in range(10):
        answer = guesser.get(f"/i/mauvais-jeton-{attempt}")
        assert answer.status_code == (404 if attempt < 3 else 429)
    # Over the limit, even a valid token does not open from the guesser's address...
    assert guesser.get(f"/i/{token}").status_code == 429
    # ...but it opens from any other address, at once.
    guest = app.test_client()
    guest.environ_base["REMOTE_ADDR"] = ELSEWHERE
    assert guest.get(f"/i/{token}").status_code == 200
    assert open_invitation(guest, token).status_code == 302


def test_rate_limits_invitation_counts_unknown_and_revoked_links_only(make_app):
    app = make_app(RATE_LIMIT_INVITATION_GUESS=f"2/{WINDOW}")
    room = make_room(app, make_user(app))
    valid = make_invitation(app, room)
    revoked = make_invitation(app, room)
    with app.app_context():
        invitation = operations.find_by_token(revoked)
        operations.revoke(invitation, actor=invitation.room.owner, now=current_time())
    client = app.test_client()
    # Valid links, opened again and again, cost nothing.
    for _ in range(5):
        assert client.get(f"/i/{valid}").status_code == 200
    assert client.get(f"/i/{revoked}").status_code == 410
    assert client.get("/i/inconnue").status_code == 404
    assert_refused_page(client.get(f"/i/{valid}"), "Trop de liens d'invitation inconnus")


# ---------------------------------------------------------------------------------------------
# Lobby


def test_rate_limits_lobby_knock_is_per_address_and_room(make_app):
    app = make_app(RATE_LIMIT_LOBBY_KNOCK=f"2/{WINDOW}")
    owner = make_user(app)
    room = make_room(app, owner, lobby_enabled=True)
    other_room = make_room(app, owner, lobby_enabled=True)
    token, other_token = make_invitation(app, room), make_invitation(app, other_room)
    for _ in range(2):
        assert open_invitation(app.test_client(), token).status_code == 302
    refused = open_invitation(app.test_client(), token)
    assert_refused_page(refused, "Trop de demandes d'entrée dans cette réunion")
    # The invitation page itself, with the name form, the message at the top.
    assert 'id="invitation-alert"' in refused.text and 'name="display_name"' in refused.text
    # Another room from the same address, the same room from another address: unaffected.
    assert open_invitation(app.test_client(), other_token).status_code == 302
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = ELSEWHERE
    assert open_invitation(elsewhere, token).status_code == 302


def test_rate_limits_lobby_poll_waiting_guest_json_and_page(make_app):
    app = make_app(RATE_LIMIT_LOBBY_POLL=f"3/{WINDOW}")
    room = make_room(app, make_user(app), lobby_enabled=True)
    guest = app.test_client()
    assert open_invitation(guest, make_invitation(app, room)).status_code == 302
    assert guest.get(f"/r/{room.slug}/attente").status_code == 200
    for _ in range(2):
        assert guest.get(f"/r/{room.slug}/attente/etat").get_json()["status"] == "waiting"
    assert_refused_json(guest.get(f"/r/{room.slug}/attente/etat"))
    page = guest.get(f"/r/{room.slug}/attente")
    assert_refused_page(page, "Trop de demandes depuis votre adresse pour cette salle d'attente")


# ---------------------------------------------------------------------------------------------
# Room creation: per user, whatever the address


def test_rate_limits_room_creation_is_per_user(make_app):
    app = make_app(RATE_LIMIT_ROOM_CREATION=f"2/{WINDOW}")
    agent, colleague = make_user(app), make_user(app)

    def create(user, name: str, address: str = "127.0.0.1"):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        sign_in(client, user)
        token = csrf_token(client.get("/salles/nouvelle"))
        return client.post("/salles/nouvelle", data={"name": name, "csrf_token": token})

    assert create(agent, "Un").status_code == 302
    assert create(agent, "Deux", ELSEWHERE).status_code == 302
    refused = create(agent, "Trois", "203.0.113.50")
    assert_refused_page(refused, "Vous avez créé beaucoup de salles en peu de temps")
    # The form again, with what was typed, and the message at the top.
    assert 'id="create-room-alert"' in refused.text and 'value="Trois"' in refused.text
    assert create(colleague, "Quatre").status_code == 302
    with app.app_context():
        names = set(db.session.scalars(db.select(Room.name)))
    assert names == {"Un", "Deux", "Quatre"}
    # The refusal is counted for the operators' dashboards, and only the refusal.
    metrics = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert 'portal_rate_limited_total{limit="room_creation"} 1.0' in metrics.text


# ---------------------------------------------------------------------------------------------
# Redis down, configuration


def test_rate_limits_fail_open_when_redis_is_down(make_app, monkeypatch, caplog):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT_SIGN_IN="1/60")
    monkeypatch.setattr(ratelimit, "_last_warning", 0.0)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="portal.core.ratelimit"):
        for _ in range(3):
            assert client.get("/auth/callback").status_code == 400
            assert client.get("/i/inconnue").status_code == 404
    warnings = [r for r in caplog.records if r.name == "portal.core.ratelimit"]
    assert len(warnings) == 1  # once a minute, not at every request
    assert "not applied: Redis unavailable" in warnings[0].getMessage()


def test_rate_limits_configuration(tmp_path):
    production = load_config({}, instance_path=str(tmp_path))
    assert production["RATE_LIMITS_ENABLED"] is True
    assert production["RATE_LIMITS"] == {
        name: Limit.parse(text) for name, text in ratelimit.DEFAULT_LIMITS.items()
    }
    # Test suites opt in: every test app shares one Redis and one address.
    assert (
        load_config({"TESTING": "1"}, instance_path=str(tmp_path))["RATE_LIMITS_ENABLED"] is False
    )
    config = load_config(
        {"RATE_LIMIT_SIGN_IN": "5/30", "RATE_LIMIT_ROOM_CREATION": "off"},
        instance_path=str(tmp_path),
    )
    assert config["RATE_LIMITS"]["sign_in"] == Limit(5, 30)
    assert config["RATE_LIMITS"]["room_creation"] is None
    for wrong in ("5", "5/0", "0/60", "cinq/60", "5/60s"):
        with pytest.raises(ConfigurationError, match="RATE_LIMIT_SIGN_IN"):
            load_config({"RATE_LIMIT_SIGN_IN": wrong}, instance_path=str(tmp_path))
    with pytest.raises(ConfigurationError, match="RATE_LIMITS_ENABLED"):
        load_config({"RATE_LIMITS_ENABLED": "peut-être"}, instance_path=str(tmp_path))


def test_rate_limits_off_limit_counts_nothing(make_app, redis_client):
    app = make_app(RATE_LIMIT_SIGN_IN="off")
    client = app.test_client()
    for _ in range(5):
        assert client.get("/auth/callback").status_code == 400
    assert list(redis_client.scan_iter("ratelimit:*")) == []


def test_rate_limits_french_durations():
    assert ratelimit.french_duration(1) == "1 seconde"
    assert ratelimit.french_duration(42) == "42 secondes"
    assert ratelimit.french_duration(60) == "1 minute"
    assert ratelimit.french_duration(61) == "2 minutes"
