"""The tenant policy: edited by its administrators (French errors, nothing saved when wrong),
audited, and applied to the rooms created afterwards."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.rooms.models import Room
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.tenancy import build_world, get_tenant, snapshot

GOOD = {
    "default_room_capacity": "12",
    "max_room_capacity": "30",
    "retention_days": "30",
    "guests_allowed": "y",
    "audio_only_by_default": "y",
}


@pytest.fixture
def world(app):
    return build_world(app)


def post_policy(app, user, **changes):
    client = app.test_client()
    sign_in(client, user)
    token = csrf_token(client.get("/admin/regles"))
    data = {**GOOD, **changes, "csrf_token": token}
    return client.post("/admin/regles", data={k: v for k, v in data.items() if v is not None})


def test_admin_policy_page_shows_limits_tenant_admin(app, world):
    client = app.test_client()
    sign_in(client, world.admin_a)
    page = client.get("/admin/regles").get_data(as_text=True)
    assert "20 participants sont recommandés" in page
    assert "ne peut jamais dépasser 55 personnes" in page
    assert 'name="max_room_capacity"' in page and 'max="55"' in page
    assert 'value="20"' in page and 'value="55"' in page


def test_admin_policy_edit_tenant_admin(app, world):
    response = post_policy(app, world.admin_a)
    assert response.status_code == 302
    tenant = get_tenant(app, world.tenant_a.id)
    assert (tenant.default_room_capacity, tenant.max_room_capacity) == (12, 30)
    assert tenant.retention_days == 30
    assert tenant.audio_only_by_default is True
    assert tenant.lobby_by_default is False  # unchecked box
    with app.app_context():
        [event] = db.session.scalars(db.select(AuditEvent)).all()
        assert event.action is AuditAction.POLICY_UPDATED
        assert event.tenant_id == world.tenant_a.id
        assert event.changes == {
            "audio_only_by_default": [False, True],
            "default_room_capacity": [20, 12],
            "lobby_by_default": [True, False],
            "max_room_capacity": [55, 30],
            "retention_days": [90, 30],
        }
    # Tenant B is untouched.
    assert get_tenant(app, world.tenant_b.id).max_room_capacity == 55


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_room_capacity", "56", "entre 2 et 55 personnes (limite de la plateforme)"),
        ("max_room_capacity", "1", "entre 2 et 55 personnes (limite de la plateforme)"),
        ("default_room_capacity", "31", "ne peut pas dépasser la capacité maximale (30)"),
        ("default_room_capacity", "1", "Indiquez une capacité entre 2 et 55 personnes."),
        ("default_room_capacity", "douze", "Indiquez un nombre entier."),
        ("retention_days", "0", "Indiquez une durée entre 1 et 3650 jours."),
        ("retention_days", "3651", "Indiquez une durée entre 1 et 3650 jours."),
        ("retention_days", "", "Indiquez un nombre entier."),
    ],
)
def test_admin_policy_edit_bad_value_tenant_admin(app, world, field, value, message):
    before = snapshot(app)
    response = post_policy(app, world.admin_a, **{field: value})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = f'<p class="field__error" id="{field}-error">'
    assert error in page
    assert message in page.split(error, 1)[1].split("</p>", 1)[0]
    assert f'aria-describedby="{field}-hint {field}-error"' in page
    assert 'aria-invalid="true"' in page
    assert "<title>Erreur — " in page
    assert snapshot(app) == before  # nothing saved, no audit event


def test_admin_policy_unchanged_is_not_audited_tenant_admin(app, world):
    same = {
        "default_room_capacity": "20",
        "max_room_capacity": "55",
        "retention_days": "90",
        "guests_allowed": "y",
        "lobby_by_default": "y",
        "audio_only_by_default": None,
    }
    assert post_policy(app, world.admin_a, **same).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == 0


def create_room(app, user, **fields):
    client = app.test_client()
    sign_in(client, user)
    form_page = client.get("/salles/nouvelle")
    response = client.post("/salles/nouvelle", data={**fields, "csrf_token": csrf_token(form_page)})
    return form_page, response


def test_room_create_uses_policy_after_admin_change_agent(app, world):
    assert post_policy(app, world.admin_a).status_code == 302
    form_page, response = create_room(app, world.agent_a, name="Après la nouvelle règle")
    page = form_page.get_data(as_text=True)
    assert 'name="capacity"' in page and 'value="12"' in page and 'max="30"' in page
    assert "Entre 2 et 30 personnes" in page
    assert response.status_code == 302
    with app.app_context():
        room = db.session.scalar(db.select(Room).where(Room.name == "Après la nouvelle règle"))
        assert room.capacity == 12
        assert room.audio_only_by_default is True
        assert room.lobby_enabled is False
    # Ministry B's agents keep B's policy.
    create_room(app, world.agent_b, name="Salle de B")
    with app.app_context():
        room_b = db.session.scalar(db.select(Room).where(Room.name == "Salle de B"))
        assert room_b.capacity == 20 and room_b.lobby_enabled is True


def test_room_create_with_chosen_capacity_agent(app, world):
    _, response = create_room(app, world.agent_a, name="Grande réunion", capacity="55")
    assert response.status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(db.select(Room.capacity).where(Room.name == "Grande réunion")) == 55
        )


def test_room_create_above_policy_max_shows_french_error_agent(app, world):
    post_policy(app, world.admin_a)
    before = snapshot(app)
    _, response = create_room(app, world.agent_a, name="Trop grande", capacity="31")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (
        '<p class="field__error" id="capacity-error">'
        "Indiquez un nombre de participants entre 2 et 30.</p>" in page
    )
    assert 'aria-describedby="capacity-hint capacity-error"' in page
    assert snapshot(app) == before
