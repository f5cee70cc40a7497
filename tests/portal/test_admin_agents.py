"""Tenant administration of agents: search, promote, demote, deactivate, reactivate; audited."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.users.models import Role
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.tenancy import build_world, get_user, snapshot


@pytest.fixture
def world(app):
    return build_world(app)


def admin_client(app, user):
    client = app.test_client()
    sign_in(client, user)
    return client, csrf_token(client.get("/admin/agents"))


def events(app, action: AuditAction) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action)).all()
        for event in found:
            db.session.expunge(event)
        return found


def test_admin_promote_agent_tenant_admin(app, world):
    client, token = admin_client(app, world.admin_a)
    response = client.post(
        f"/admin/agents/{world.agent_a.public_id}/role",
        data={"role": "tenant_admin", "csrf_token": token},
    )
    assert response.status_code == 302
    assert get_user(app, world.agent_a.id).role is Role.TENANT_ADMIN
    [event] = events(app, AuditAction.USER_ROLE_CHANGED)
    assert event.actor_id == world.admin_a.id
    assert event.tenant_id == world.tenant_a.id
    assert event.target_id == world.agent_a.public_id
    assert event.changes == {"role": ["agent", "tenant_admin"]}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ana A est désormais administrateur du ministère." in page


def test_admin_demote_admin_tenant_admin(app, world, create_user):
    colleague = create_user(tenant=world.tenant_a, role=Role.TENANT_ADMIN)
    client, token = admin_client(app, world.admin_a)
    client.post(
        f"/admin/agents/{colleague.public_id}/role", data={"role": "agent", "csrf_token": token}
    )
    assert get_user(app, colleague.id).role is Role.AGENT
    [event] = events(app, AuditAction.USER_ROLE_CHANGED)
    assert event.changes == {"role": ["tenant_admin", "agent"]}


def test_admin_grant_platform_admin_tenant_admin_refused(app, world):
    client, token = admin_client(app, world.admin_a)
    before = snapshot(app)
    response = client.post(
        f"/admin/agents/{world.agent_a.public_id}/role",
        data={"role": "platform_admin", "csrf_token": token},
    )
    assert response.status_code == 400
    assert snapshot(app) == before


def test_admin_change_own_role_tenant_admin_refused(app, world):
    client, token = admin_client(app, world.admin_a)
    response = client.post(
        f"/admin/agents/{world.admin_a.public_id}/role",
        data={"role": "agent", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Vous ne pouvez pas modifier votre propre rôle." in response.get_data(as_text=True)
    assert get_user(app, world.admin_a.id).role is Role.TENANT_ADMIN
    assert events(app, AuditAction.USER_ROLE_CHANGED) == []


def test_admin_change_role_of_platform_admin_tenant_admin_refused(app, world, create_user):
    operator = create_user(tenant=world.tenant_a, role=Role.PLATFORM_ADMIN)
    client, token = admin_client(app, world.admin_a)
    client.post(
        f"/admin/agents/{operator.public_id}/role", data={"role": "agent", "csrf_token": token}
    )
    assert get_user(app, operator.id).role is Role.PLATFORM_ADMIN


def test_admin_deactivate_agent_tenant_admin(app, world):
    agent_client = app.test_client()
    sign_in(agent_client, world.agent_a)
    assert agent_client.get("/salles").status_code == 200
    client, token = admin_client(app, world.admin_a)
    response = client.post(
        f"/admin/agents/{world.agent_a.public_id}/desactiver", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert get_user(app, world.agent_a.id).is_active is False
    [event] = events(app, AuditAction.USER_DEACTIVATED)
    assert event.changes == {"is_active": [True, False]}
    assert event.actor_label == world.admin_a.email
    # The deactivated agent's session ends at their next request.
    assert agent_client.get("/salles").status_code == 302


def test_admin_deactivate_self_tenant_admin_refused(app, world):
    client, token = admin_client(app, world.admin_a)
    response = client.post(
        f"/admin/agents/{world.admin_a.public_id}/desactiver",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "votre propre compte" in response.get_data(as_text=True)
    assert get_user(app, world.admin_a.id).is_active is True


def test_admin_deactivate_platform_admin_tenant_admin_refused(app, world, create_user):
    operator = create_user(tenant=world.tenant_a, role=Role.PLATFORM_ADMIN)
    client, token = admin_client(app, world.admin_a)
    response = client.post(
        f"/admin/agents/{operator.public_id}/desactiver",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Seul un administrateur de la plateforme" in response.get_data(as_text=True)
    assert get_user(app, operator.id).is_active is True


def test_admin_deactivate_platform_admin_platform_admin(app, world, create_user):
    """A platform administrator acts as tenant administrator of their own ministry."""
    other_operator = create_user(tenant=world.tenant_p, role=Role.PLATFORM_ADMIN)
    client, token = admin_client(app, world.platform_admin)
    client.post(f"/admin/agents/{other_operator.public_id}/desactiver", data={"csrf_token": token})
    assert get_user(app, other_operator.id).is_active is False


def test_admin_reactivate_agent_tenant_admin(app, world):
    client, token = admin_client(app, world.admin_a)
    response = client.post(
        f"/admin/agents/{world.inactive_a.public_id}/reactiver", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert get_user(app, world.inactive_a.id).is_active is True
    [event] = events(app, AuditAction.USER_REACTIVATED)
    assert event.changes == {"is_active": [False, True]}


def test_admin_actions_without_csrf_tenant_admin_refused(app, world):
    client, _ = admin_client(app, world.admin_a)
    before = snapshot(app)
    assert client.post(f"/admin/agents/{world.agent_a.public_id}/desactiver").status_code == 400
    assert snapshot(app) == before


def test_admin_agents_search_tenant_admin(app, world, create_user):
    create_user(tenant=world.tenant_a, display_name="Zoé Durand", email="zoe.durand@a.gouv.fr")
    create_user(tenant=world.tenant_b, display_name="Zoé Bêta", email="zoe.beta@b.gouv.fr")
    client, _ = admin_client(app, world.admin_a)
    page = client.get("/admin/agents?q=zoé").get_data(as_text=True)
    assert "zoe.durand@a.gouv.fr" in page
    assert "zoe.beta@b.gouv.fr" not in page
    assert world.agent_a.email not in page
    by_email = client.get("/admin/agents?q=DURAND@A").get_data(as_text=True)
    assert "zoe.durand@a.gouv.fr" in by_email
    # LIKE wildcards typed by the administrator are plain characters.
    assert "zoe.durand" not in client.get("/admin/agents?q=%25").get_data(as_text=True)


def test_admin_agents_pagination_tenant_admin(app, world, create_user):
    for number in range(30):
        create_user(tenant=world.tenant_a, display_name=f"Agent {number:02d}")
    client, _ = admin_client(app, world.admin_a)
    first = client.get("/admin/agents").get_data(as_text=True)
    assert "page 1 sur 2" in first
    assert 'href="/admin/agents?page=2"' in first
    second = client.get("/admin/agents?page=2").get_data(as_text=True)
    assert "page 2 sur 2" in second
    assert "<caption>" in second and '<th scope="col">Nom</th>' in second
