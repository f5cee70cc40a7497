"""POST /r/<slug>/jeton: a join token the SFU accepts, and where to present it."""

import time

import pytest

from portal.media.placement import Placement
from sfu.join_tokens import JoinTokenVerifier
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.test_placement import register_worker

ISSUER = "http://localhost"  # PORTAL_URL of the `app` fixture


def enter_prejoin(client, room, display_name="Camille Martin"):
    """Pass the pre-join page; return the room page's CSRF token."""
    token = csrf_token(client.get(f"/r/{room.slug}"))
    client.post(f"/r/{room.slug}", data={"display_name": display_name, "csrf_token": token})
    return csrf_token(client.get(f"/r/{room.slug}/salle"))


def request_token(client, room, csrf):
    return client.post(f"/r/{room.slug}/jeton", headers={"X-CSRFToken": csrf})


@pytest.fixture
def worker(redis_client):
    register_worker(redis_client, "w1")
    return "ws://127.0.0.1:811/ws"


def test_join_token_for_participant(client, create_user, create_room, join_keys, worker):
    room = create_room(create_user())
    sign_in(client, create_user(display_name="Thomas Bernard"))
    csrf = enter_prejoin(client, room, display_name="Thomas (DGALN)")
    response = request_token(client, room, csrf)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["signalling_url"] == worker
    assert body["room"] == room.slug
    assert body["ice_servers"] == []
    assert body["role"] == "participant"
    claims = JoinTokenVerifier(join_keys.public_pem, ISSUER).verify(body["token"], room=room.slug)
    assert claims.participant_id == body["participant_id"]
    assert claims.display_name == "Thomas (DGALN)"
    assert claims.role == "participant"
    assert claims.expires_at <= time.time() + 60


def test_join_token_for_owner_is_moderator(client, create_user, create_room, join_keys, worker):
    owner = create_user()
    room = create_room(owner)
    sign_in(client, owner)
    body = request_token(client, room, enter_prejoin(client, room)).get_json()
    claims = JoinTokenVerifier(join_keys.public_pem, ISSUER).verify(body["token"], room=room.slug)
    assert claims.role == "moderator"


def test_join_token_participant_id_is_new_at_each_join(client, create_user, create_room, worker):
    room = create_room(create_user())
    sign_in(client, create_user())
    csrf = enter_prejoin(client, room)
    first = request_token(client, room, csrf).get_json()
    second = request_token(client, room, csrf).get_json()
    assert first["participant_id"] != second["participant_id"]
    assert first["token"] != second["token"]
    assert first["signalling_url"] == second["signalling_url"]


def test_join_token_without_prejoin_uses_account_name(
    client, create_user, create_room, join_keys, worker
):
    room = create_room(create_user())
    sign_in(client, create_user(display_name="Julien Petit"))
    csrf = csrf_token(client.get("/salles"))
    body = request_token(client, room, csrf).get_json()
    claims = JoinTokenVerifier(join_keys.public_pem, ISSUER).verify(body["token"], room=room.slug)
    assert claims.display_name == "Julien Petit"


def test_join_token_anonymous_is_refused(client, create_user, create_room, worker):
    room = create_room(create_user())
    csrf = csrf_token(client.get("/"))
    response = request_token(client, room, csrf)
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthenticated"


def test_join_token_without_csrf_header_is_refused(client, create_user, create_room, worker):
    room = create_room(create_user())
    sign_in(client, create_user())
    enter_prejoin(client, room)
    response = client.post(f"/r/{room.slug}/jeton")
    assert response.status_code == 400
    assert response.get_json()["error"] == "csrf"


def test_join_token_unknown_room_is_404(client, create_user, worker):
    sign_in(client, create_user())
    csrf = csrf_token(client.get("/salles"))
    response = client.post("/r/aaaa-bbbb-cccc/jeton", headers={"X-CSRFToken": csrf})
    assert response.status_code == 404
    assert response.is_json


def test_join_token_without_worker_is_503_in_french(client, create_user, create_room, redis_client):
    room = create_room(create_user())
    sign_in(client, create_user())
    response = request_token(client, room, enter_prejoin(client, room))
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "no_worker"
    assert "Aucun serveur de visioconférence" in body["message"]


def test_join_token_with_redis_down_is_503(app, client, create_user, create_room):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    room = create_room(create_user())
    sign_in(client, create_user())
    response = request_token(client, room, enter_prejoin(client, room))
    assert response.status_code == 503


def test_join_token_get_is_not_allowed(client, create_user, create_room):
    room = create_room(create_user())
    sign_in(client, create_user())
    assert client.get(f"/r/{room.slug}/jeton").status_code == 405


def test_join_token_names_a_real_sfu_workers_url(
    redis_client, client, create_user, create_room, sfu_worker
):
    """The keys the SFU worker's heartbeat writes are the ones placement reads (redis.md)."""
    # redis_client (listed before sfu_worker) emptied Redis before the worker registered.
    deadline = time.monotonic() + 10
    while Placement(redis_client).worker(sfu_worker.worker_id) is None:
        assert time.monotonic() < deadline, "the SFU worker never registered in Redis"
        time.sleep(0.1)
    room = create_room(create_user())
    sign_in(client, create_user())
    response = request_token(client, room, enter_prejoin(client, room))
    assert response.status_code == 200
    assert response.get_json()["signalling_url"] == sfu_worker.url
