"""The room settings page: owner and co-moderators edit name, access, lobby, capacity,
audio-only, schedule (Paris time in the form, UTC in the database) and co-moderators."""

from datetime import UTC, datetime

import flask_migrate
import sqlalchemy as sa

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.rooms.models import Room, RoomAccess
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.meetings import add_co_moderator

FORM = {
    "name": "Comité de pilotage",
    "access": "invited",
    "lobby_enabled": "y",
    "capacity": "12",
    "audio_only_by_default": "y",
    "schedule_starts_at": "2025-07-01T14:00",
    "schedule_ends_at": "2025-07-01T16:30",
    "co_moderators": "",
}


def post_settings(client, room, **changes):
    page = client.get(f"/r/{room.slug}/parametres")
    data = {**FORM, **changes, "csrf_token": csrf_token(page)}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(f"/r/{room.slug}/parametres", data=data)


def load(app, room) -> Room:
    with app.app_context():
        fresh = db.session.get(Room, room.id)
        fresh.co_moderators  # noqa: B018 — loaded before detaching
        db.session.expunge(fresh)
        return fresh


def test_rooms_settings_update_owner(app, client, create_user, create_room):
    owner = create_user()
    colleague = create_user(email="Collegue@exemple.gouv.fr")
    room = create_room(owner)
    sign_in(client, owner)
    assert client.get(f"/r/{room.slug}/parametres").status_code == 200
    response = post_settings(client, room, co_moderators="collegue@exemple.gouv.fr")
    assert response.status_code == 302
    saved = load(app, room)
    assert saved.name == "Comité de pilotage"
    assert saved.access is RoomAccess.INVITED
    assert saved.capacity == 12 and saved.audio_only_by_default and saved.lobby_enabled
    # 14 h 00 in Paris in July (summer time) is 12 h 00 UTC.
    assert saved.schedule_starts_at.replace(tzinfo=UTC) == datetime(2025, 7, 1, 12, 0, tzinfo=UTC)
    assert saved.schedule_ends_at.replace(tzinfo=UTC) == datetime(2025, 7, 1, 14, 30, tzinfo=UTC)
    assert [user.id for user in saved.co_moderators] == [colleague.id]
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == AuditAction.ROOM_SETTINGS_UPDATED)
        )
        assert event.actor_id == owner.id and event.target_id == room.slug
        assert event.changes["access"] == ["agents", "invited"]
        assert event.tenant_id == owner.tenant_id
    # The form shows the schedule back in Paris time.
    assert 'value="2025-07-01T14:00"' in client.get(f"/r/{room.slug}/parametres").text


def test_rooms_settings_update_co_moderator(app, client, create_user, create_room):
    owner, colleague = create_user(), create_user()
    room = create_room(owner)
    add_co_moderator(app, room, colleague)
    sign_in(client, colleague)
    response = post_settings(client, room, schedule_starts_at="", schedule_ends_at="")
    assert response.status_code == 302
    assert load(app, room).name == "Comité de pilotage"


def test_rooms_settings_schedule_longer_than_six_hours_is_a_form_error(
    app, client, create_user, create_room
):
    owner = create_user()
    room = create_room(owner)
    sign_in(client, owner)
    response = post_settings(client, room, schedule_ends_at="2025-07-01T20:01")
    assert response.status_code == 400
    assert "Une réunion programmée dure au plus 6 heures." in response.text
    assert 'aria-invalid="true"' in response.text
    assert load(app, room).schedule_starts_at is None
    exactly_six = post_settings(client, room, schedule_ends_at="2025-07-01T20:00")
    assert exactly_six.status_code == 302


def test_rooms_settings_schedule_end_before_start_and_half_schedule(
    client, create_user, create_room
):
    owner = create_user()
    room = create_room(owner)
    sign_in(client, owner)
    response = post_settings(client, room, schedule_ends_at="2025-07-01T13:00")
    assert "La fin doit être après le début." in response.text
    response = post_settings(client, room, schedule_ends_at="")
    assert "Indiquez la fin de la réunion" in response.text
    response = post_settings(client, room, schedule_starts_at="demain")
    assert "Indiquez une date et une heure valides" in response.text


def test_rooms_settings_capacity_bounded_by_tenant(client, create_tenant, create_user, create_room):
    tenant = create_tenant(max_room_capacity=30, default_room_capacity=10)
    owner = create_user(tenant=tenant)
    room = create_room(owner)
    sign_in(client, owner)
    response = post_settings(client, room, capacity="31")
    assert response.status_code == 400
    assert "entre 2 et 30" in response.text


def test_rooms_settings_co_moderator_of_another_ministry_refused(
    client, create_tenant, create_user, create_room
):
    owner = create_user()
    other = create_user(tenant=create_tenant(), email="ailleurs@autre.gouv.fr")
    room = create_room(owner)
    sign_in(client, owner)
    response = post_settings(client, room, co_moderators=other.email)
    assert response.status_code == 400
    assert "Aucun agent actif de votre ministère" in response.text
    assert "cette adresse : ailleurs@autre.gouv.fr." in response.text


def test_rooms_settings_participant_is_refused(app, client, create_user, create_room):
    room = create_room(create_user())
    sign_in(client, create_user())
    response = client.get(f"/r/{room.slug}/parametres")
    assert response.status_code == 403
    assert "réservée aux modérateurs" in response.text


def test_rooms_settings_no_change_no_audit(app, client, create_user, create_room):
    owner = create_user()
    room = create_room(owner)
    sign_in(client, owner)
    page = client.get(f"/r/{room.slug}/parametres")
    data = {
        "csrf_token": csrf_token(page),
        "name": room.name,
        "access": "agents",
        "lobby_enabled": "y",
        "capacity": str(room.capacity),
    }
    assert client.post(f"/r/{room.slug}/parametres", data=data).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_rooms_migration_0003_up_and_down_keeps_rooms(app, create_user, create_room):
    owner = create_user()
    room = create_room(owner, name="Avant la migration")
    with app.app_context():
        flask_migrate.downgrade(revision="0002_tenants")
        db.engine.dispose()
        inspector = sa.inspect(db.engine)
        assert "invitations" not in inspector.get_table_names()
        assert "room_moderators" not in inspector.get_table_names()
        assert "access" not in {column["name"] for column in inspector.get_columns("rooms")}
        flask_migrate.upgrade()
        db.engine.dispose()
        with db.engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT name, access, schedule_starts_at FROM rooms WHERE id = :id"),
                {"id": room.id},
            ).one()
        assert tuple(row) == ("Avant la migration", "agents", None)
