"""Guests through the lobby with two HTTP clients (guest and moderator), and every refusal of
the join-token endpoint: no path skips the lobby (docs/meetings.md)."""

import jwt
import sqlalchemy as sa

from portal import create_app
from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.rooms.models import ParticipantRole, RoomAccess
from tests.fixtures.portal import dispose, portal_config, sign_in
from tests.portal.meetings import (
    install_clock,
    live_worker,
    make_invitation,
    moderator_post,
    open_invitation,
    request_token,
)


def claims_of(response) -> dict:
    return jwt.decode(response.get_json()["token"], options={"verify_signature": False})


def setup_room(app, create_user, create_room, redis_client, **settings):
    live_worker(redis_client)
    owner = create_user(display_name="Organisatrice")
    settings.setdefault("lobby_enabled", True)
    room = create_room(owner, **settings)
    moderator = app.test_client()
    sign_in(moderator, owner)
    return owner, room, moderator


def waiting_ids(moderator, room) -> list[str]:
    response = moderator.get(f"/r/{room.slug}/file")
    assert response.status_code == 200
    return [entry["id"] for entry in response.get_json()["waiting"]]


def test_lobby_guest_admitted_gets_a_token(app, create_user, create_room, redis_client):
    owner, room, moderator = setup_room(app, create_user, create_room, redis_client)
    guest = app.test_client()
    response = open_invitation(guest, make_invitation(app, room), name="Claire Dubois")
    assert response.headers["Location"] == f"/r/{room.slug}/attente"
    page = guest.get(f"/r/{room.slug}/attente")
    assert page.status_code == 200
    assert "js/lobby.js" in page.text and "<script>" not in page.text
    assert guest.get(f"/r/{room.slug}/attente/etat").get_json()["status"] == "waiting"
    # Waiting: the pre-join page sends back to the lobby, and no token.
    assert guest.get(f"/r/{room.slug}").headers["Location"] == f"/r/{room.slug}/attente"
    refused = request_token(guest, room)
    assert refused.status_code == 403 and refused.get_json()["error"] == "lobby"

    listed = moderator.get(f"/r/{room.slug}/file").get_json()["waiting"]
    assert [entry["name"] for entry in listed] == ["Claire Dubois"]
    admitted = moderator_post(moderator, f"/r/{room.slug}/file/{listed[0]['id']}/admettre")
    assert admitted.get_json() == {"ok": True}

    state = guest.get(f"/r/{room.slug}/attente/etat").get_json()
    assert state == {"status": "admitted", "next": f"/r/{room.slug}"}
    assert guest.get(f"/r/{room.slug}").status_code == 200
    response = request_token(guest, room)
    assert response.status_code == 200
    claims = claims_of(response)
    assert claims["uid"] == "guest:" + listed[0]["id"]
    assert claims["role"] == "participant" and claims["name"] == "Claire Dubois"
    assert claims["cap"] == room.capacity and claims["audio_only"] is False
    assert waiting_ids(moderator, room) == []
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOBBY_ADMITTED)
        )
        assert event.actor_id == owner.id and event.tenant_id == owner.tenant_id
        assert event.changes == {"person": "Claire Dubois"}


def test_lobby_guest_refused(app, create_user, create_room, redis_client):
    _, room, moderator = setup_room(app, create_user, create_room, redis_client)
    guest = app.test_client()
    open_invitation(guest, make_invitation(app, room))
    [waiting_id] = waiting_ids(moderator, room)
    assert moderator_post(moderator, f"/r/{room.slug}/file/{waiting_id}/refuser").status_code == 200
    assert guest.get(f"/r/{room.slug}/attente/etat").get_json()["status"] == "refused"
    assert "pas accepté votre entrée" in guest.get(f"/r/{room.slug}/attente").text
    assert request_token(guest, room).get_json()["error"] == "lobby"
    with app.app_context():
        assert db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOBBY_REFUSED)
        )


def test_lobby_admit_all(app, create_user, create_room, redis_client):
    _, room, moderator = setup_room(app, create_user, create_room, redis_client)
    token = make_invitation(app, room)
    guests = [app.test_client() for _ in range(3)]
    for number, guest in enumerate(guests):
        open_invitation(guest, token, name=f"Invité {number}")
    response = moderator_post(moderator, f"/r/{room.slug}/file/admettre-tous")
    assert response.get_json() == {"admitted": 3}
    for guest in guests:
        assert request_token(guest, room).status_code == 200
    with app.app_context():
        count = sa.select(sa.func.count()).where(AuditEvent.action == AuditAction.LOBBY_ADMITTED)
        assert db.session.scalar(count) == 3


def test_lobby_guest_not_seen_for_20_seconds_drops_out(app, create_user, create_room, redis_client):
    clock = install_clock(app)
    _, room, moderator = setup_room(app, create_user, create_room, redis_client)
    polling, silent = app.test_client(), app.test_client()
    token = make_invitation(app, room)
    open_invitation(polling, token, name="Qui attend")
    open_invitation(silent, token, name="Parti")
    listed = moderator.get(f"/r/{room.slug}/file").get_json()["waiting"]
    silent_id = {entry["name"]: entry["id"] for entry in listed}["Parti"]
    clock.advance(seconds=15)
    polling.get(f"/r/{room.slug}/attente/etat")
    clock.advance(seconds=6)  # 21 s since the silent one was last seen
    listed = moderator.get(f"/r/{room.slug}/file").get_json()["waiting"]
    assert [entry["name"] for entry in listed] == ["Qui attend"]
    # The one who dropped out cannot be admitted any more.
    response = moderator_post(moderator, f"/r/{room.slug}/file/{silent_id}/admettre")
    assert response.status_code == 404 and response.get_json()["error"] == "not_waiting"
    # Coming back puts them in the list again.
    silent.get(f"/r/{room.slug}/attente/etat")
    assert len(waiting_ids(moderator, room)) == 2


def test_lobby_survives_a_portal_restart(
    app, portal_database_url, create_user, create_room, redis_client, redis_url, join_keys
):
    _, room, moderator = setup_room(app, create_user, create_room, redis_client)
    guest = app.test_client()
    open_invitation(guest, make_invitation(app, room), name="Patiente")
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    cookie = guest.get_cookie(cookie_name).value
    owner_cookie = moderator.get_cookie(cookie_name).value

    restarted = create_app(
        portal_config(
            portal_database_url,
            REDIS_URL=redis_url,
            JOIN_TOKEN_PRIVATE_KEY_FILE=str(join_keys.private_path),
        )
    )
    try:
        new_moderator, new_guest = restarted.test_client(), restarted.test_client()
        new_moderator.set_cookie(cookie_name, owner_cookie)
        new_guest.set_cookie(cookie_name, cookie)
        listed = new_moderator.get(f"/r/{room.slug}/file").get_json()["waiting"]
        assert [entry["name"] for entry in listed] == ["Patiente"]
        admit = f"/r/{room.slug}/file/{listed[0]['id']}/admettre"
        assert moderator_post(new_moderator, admit).get_json() == {"ok": True}
        assert new_guest.get(f"/r/{room.slug}/attente/etat").get_json()["status"] == "admitted"
        assert request_token(new_guest, room).status_code == 200
    finally:
        dispose(restarted)


def test_lobby_guest_session_is_bound_to_one_room(app, create_user, create_room, redis_client):
    _, room_a, moderator = setup_room(app, create_user, create_room, redis_client)
    room_b = create_room(create_user(), lobby_enabled=False)
    guest = app.test_client()
    open_invitation(guest, make_invitation(app, room_a))
    [waiting_id] = waiting_ids(moderator, room_a)
    moderator_post(moderator, f"/r/{room_a.slug}/file/{waiting_id}/admettre")
    assert request_token(guest, room_a).status_code == 200
    other = request_token(guest, room_b)
    assert other.status_code == 401
    assert guest.get(f"/r/{room_b.slug}").headers["Location"].startswith("/connexion")
    assert guest.get(f"/r/{room_b.slug}/attente/etat").status_code == 401


def test_lobby_endpoints_refuse_non_moderators(app, create_user, create_room, redis_client):
    _, room, _ = setup_room(app, create_user, create_room, redis_client)
    guest = app.test_client()
    open_invitation(guest, make_invitation(app, room))
    assert guest.get(f"/r/{room.slug}/file").status_code == 403
    participant = app.test_client()
    sign_in(participant, create_user())
    response = moderator_post(participant, f"/r/{room.slug}/file/admettre-tous")
    assert response.status_code == 403 and response.is_json
    # Without the CSRF header.
    owner_client = app.test_client()
    sign_in(owner_client, create_user())
    assert owner_client.post(f"/r/{room.slug}/file/admettre-tous").status_code == 400


def test_lobby_guest_moderator_may_admit(app, create_user, create_room, redis_client):
    _, room, _ = setup_room(app, create_user, create_room, redis_client)
    guest_moderator, guest = app.test_client(), app.test_client()
    open_invitation(guest_moderator, make_invitation(app, room, role=ParticipantRole.MODERATOR))
    open_invitation(guest, make_invitation(app, room), name="Invitée")
    [waiting_id] = waiting_ids(guest_moderator, room)
    moderator_post(guest_moderator, f"/r/{room.slug}/file/{waiting_id}/admettre")
    assert claims_of(request_token(guest_moderator, room))["role"] == "moderator"
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == AuditAction.LOBBY_ADMITTED)
        )
        assert event.actor_id is None and event.actor_label == "invité (Claire Dubois)"


def test_lobby_invited_room_agent_of_other_ministry_waits(
    app, create_tenant, create_user, create_room, redis_client
):
    _, room, moderator = setup_room(
        app, create_user, create_room, redis_client, access=RoomAccess.INVITED
    )
    outsider = app.test_client()
    sign_in(outsider, create_user(tenant=create_tenant()))
    assert outsider.get(f"/r/{room.slug}").headers["Location"] == f"/r/{room.slug}/attente"
    assert request_token(outsider, room).get_json()["error"] == "lobby"
    outsider.get(f"/r/{room.slug}/attente")
    [waiting_id] = waiting_ids(moderator, room)
    moderator_post(moderator, f"/r/{room.slug}/file/{waiting_id}/admettre")
    assert request_token(outsider, room).status_code == 200
    # With an invitation, an agent enters directly.
    invited = app.test_client()
    sign_in(invited, create_user(tenant=create_tenant()))
    assert open_invitation(invited, make_invitation(app, room), name=None).status_code == 302
    assert request_token(invited, room).status_code == 200


def test_lobby_invited_room_without_lobby_is_closed_to_others(
    app, create_user, create_room, redis_client
):
    _, room, _ = setup_room(
        app, create_user, create_room, redis_client, access=RoomAccess.INVITED, lobby_enabled=False
    )
    agent = app.test_client()
    sign_in(agent, create_user())
    assert agent.get(f"/r/{room.slug}").status_code == 403
    assert request_token(agent, room).get_json()["error"] == "invitation_required"


def test_join_token_banned_uid_refused(app, create_user, create_room, redis_client):
    _, room, _ = setup_room(app, create_user, create_room, redis_client)
    agent_user = create_user()
    agent = app.test_client()
    sign_in(agent, agent_user)
    redis_client.sadd(f"sfu:room:{room.slug}:banned", agent_user.public_id)
    response = request_token(agent, room)
    assert response.status_code == 403
    assert response.get_json()["error"] == "banned"
    assert "retiré" in response.get_json()["message"]


def test_join_token_locked_room_refuses_non_moderators(app, create_user, create_room, redis_client):
    _, room, moderator = setup_room(app, create_user, create_room, redis_client)
    redis_client.set(f"sfu:room:{room.slug}:locked", "1")
    agent = app.test_client()
    sign_in(agent, create_user())
    response = request_token(agent, room)
    assert response.status_code == 403 and response.get_json()["error"] == "room_locked"
    assert "verrouillée" in response.get_json()["message"]
    assert request_token(moderator, room).status_code == 200


def test_join_token_just_ended_refuses_non_moderators(app, create_user, create_room, redis_client):
    _, room, moderator = setup_room(app, create_user, create_room, redis_client)
    redis_client.set(f"sfu:room:{room.slug}:ended", "1", ex=60)
    agent = app.test_client()
    sign_in(agent, create_user())
    assert request_token(agent, room).get_json()["error"] == "meeting_ended"
    assert request_token(moderator, room).status_code == 200


def test_join_token_claims_for_co_moderator(app, create_user, create_room, redis_client):
    from tests.portal.meetings import add_co_moderator

    _, room, _ = setup_room(
        app, create_user, create_room, redis_client, capacity=12, audio_only_by_default=True
    )
    colleague = create_user()
    add_co_moderator(app, room, colleague)
    client = app.test_client()
    sign_in(client, colleague)
    claims = claims_of(request_token(client, room))
    assert claims["role"] == "moderator"
    assert claims["uid"] == colleague.public_id
    assert claims["cap"] == 12 and claims["audio_only"] is True
    assert "close_at" not in claims
