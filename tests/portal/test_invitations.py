"""Invitations: created and revoked by the room's moderators, opened by guests and agents;
expired, revoked and used-up links say so (410)."""

from datetime import timedelta

import sqlalchemy as sa

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.invitations.models import Invitation, hash_token
from portal.rooms.models import ParticipantRole
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.meetings import install_clock, make_invitation, open_invitation


def test_invitations_create_owner_shows_link_and_text_once(app, client, create_user, create_room):
    owner = create_user()
    room = create_room(owner, name="Revue de projet")
    sign_in(client, owner)
    page = client.get(f"/r/{room.slug}/invitations")
    assert page.status_code == 200
    response = client.post(
        f"/r/{room.slug}/invitations",
        data={
            "csrf_token": csrf_token(page),
            "role": "participant",
            "label": "Préfecture",
            "max_uses": "3",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    text = response.text
    assert "http://localhost/i/" in text
    assert "Vous êtes invité(e) à la réunion « Revue de projet »" in text
    assert "Préfecture" in text and "0 sur 3" in text
    token = text.split("http://localhost/i/")[1].split('"')[0].split("\n")[0]
    with app.app_context():
        invitation = db.session.scalar(sa.select(Invitation))
        # Only the hash is stored.
        assert invitation.token_hash == hash_token(token) and token not in invitation.token_hash
        assert db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == AuditAction.INVITATION_CREATED)
        )
    # The link is not shown again.
    assert token not in client.get(f"/r/{room.slug}/invitations").text


def test_invitations_text_mentions_schedule(app, create_user, create_room):
    from datetime import UTC, datetime

    from portal.invitations.operations import invitation_text

    start = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
    room = create_room(
        create_user(),
        name="Point",
        schedule_starts_at=start,
        schedule_ends_at=start + timedelta(hours=1),
    )
    text = invitation_text(room, "http://localhost/i/abc", ParticipantRole.PARTICIPANT)
    assert "le lundi 10 mars 2025 de 14 h 00 à 15 h 00 (heure de Paris)" in text
    assert "ouverte 5 minutes avant" in text
    assert "http://localhost/i/abc" in text


def test_invitations_manage_participant_is_refused(client, create_user, create_room):
    room = create_room(create_user())
    sign_in(client, create_user())
    assert client.get(f"/r/{room.slug}/invitations").status_code == 403


def test_invitations_guest_name_errors_in_french(app, client, create_user, create_room):
    room = create_room(create_user())
    token = make_invitation(app, room)
    response = open_invitation(client, token, name="")
    assert response.status_code == 400
    assert "Indiquez votre nom." in response.text
    response = open_invitation(client, token, name="x" * 81)
    assert "entre 2 et 80 caractères" in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(Invitation.uses)) == 0


def test_invitations_expired_revoked_used_up_say_so(app, client, create_user, create_room):
    owner = create_user()
    room = create_room(owner)
    clock = install_clock(app)
    expiring = make_invitation(app, room, expires_at=clock.now + timedelta(hours=1))
    once = make_invitation(app, room, max_uses=1)
    revoked = make_invitation(app, room)
    clock.advance(hours=2)
    page = client.get(f"/i/{expiring}")
    assert page.status_code == 410
    assert "Cette invitation a expiré." in page.text

    assert open_invitation(client, once).status_code == 302
    other = app.test_client()
    page = other.get(f"/i/{once}")
    assert page.status_code == 410
    assert "nombre de fois prévu" in page.text

    sign_in(client, owner)
    with app.app_context():
        public_id = db.session.scalar(
            sa.select(Invitation.public_id).where(Invitation.token_hash == hash_token(revoked))
        )
    csrf = csrf_token(client.get(f"/r/{room.slug}/invitations"))
    response = client.post(
        f"/r/{room.slug}/invitations/{public_id}/revoquer", data={"csrf_token": csrf}
    )
    assert response.status_code == 302
    page = app.test_client().get(f"/i/{revoked}")
    assert page.status_code == 410
    assert "annulée" in page.text
    with app.app_context():
        assert db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == AuditAction.INVITATION_REVOKED)
        )


def test_invitations_unknown_token_is_404(client):
    assert client.get("/i/nimportequoi").status_code == 404


def test_invitations_guests_not_allowed_by_tenant(
    app, client, create_tenant, create_user, create_room
):
    tenant = create_tenant(guests_allowed=False)
    room = create_room(create_user(tenant=tenant))
    token = make_invitation(app, room)
    page = client.get(f"/i/{token}")
    assert page.status_code == 403
    assert "n'accepte pas d'invités extérieurs" in page.text.replace("&#39;", "'")
    # An agent may still use it.
    sign_in(client, create_user())
    assert open_invitation(client, token, name=None).status_code == 302


def test_invitations_guest_without_lobby_goes_to_prejoin(app, client, create_user, create_room):
    room = create_room(create_user(), lobby_enabled=False)
    response = open_invitation(client, make_invitation(app, room))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/r/{room.slug}"
    page = client.get(f"/r/{room.slug}")
    assert page.status_code == 200
    assert 'value="Claire Dubois"' in page.text


def test_invitations_moderator_invitation_skips_lobby(app, client, create_user, create_room):
    room = create_room(create_user(), lobby_enabled=True)
    token = make_invitation(app, room, role=ParticipantRole.MODERATOR)
    response = open_invitation(client, token)
    assert response.headers["Location"] == f"/r/{room.slug}"
