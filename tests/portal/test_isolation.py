"""Strict isolation between ministries: nobody reads or changes another tenant's data, and
another tenant's objects are "not found" (404), never "forbidden" (403)."""

from __future__ import annotations

import re

import pytest

from portal.admin import operations
from portal.extensions import db
from portal.users.models import User
from tests.fixtures.portal import csrf_token, sign_in
from tests.portal.tenancy import build_world, snapshot


@pytest.fixture
def world(app):
    return build_world(app)


@pytest.mark.parametrize("action", ["role", "desactiver", "reactiver"])
@pytest.mark.parametrize("target", ["agent_a", "admin_a", "inactive_a"])
def test_isolation_post_on_other_tenant_user_admin_b(app, world, action, target):
    client = app.test_client()
    sign_in(client, world.admin_b)
    token = csrf_token(client.get("/admin/agents"))
    before = snapshot(app)
    user = getattr(world, target)
    response = client.post(
        f"/admin/agents/{user.public_id}/{action}",
        data={"role": "tenant_admin", "csrf_token": token},
    )
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_isolation_unknown_and_foreign_users_look_the_same_admin_b(app, world):
    client = app.test_client()
    sign_in(client, world.admin_b)
    token = csrf_token(client.get("/admin/agents"))
    foreign = client.post(
        f"/admin/agents/{world.agent_a.public_id}/desactiver", data={"csrf_token": token}
    )
    unknown = client.post("/admin/agents/n-existe-pas/desactiver", data={"csrf_token": token})
    assert foreign.status_code == unknown.status_code == 404
    # The language switch links back to the page asked for: the only allowed difference.
    back_to_page = re.compile(rb"(/langue/[a-z]+)\?next=[^\"]*")
    assert back_to_page.sub(rb"\1", foreign.get_data()) == back_to_page.sub(
        rb"\1", unknown.get_data()
    )


def test_isolation_agent_search_other_tenant_email_admin_b(app, world):
    client = app.test_client()
    sign_in(client, world.admin_b)
    page = client.get(f"/admin/agents?q={world.agent_a.email}").get_data(as_text=True)
    assert "<tr data-agent=" not in page  # the query is echoed back, but no row matches
    assert "Aucun agent ne correspond." in page
    assert world.agent_a.display_name not in page


def test_isolation_operations_refuse_other_tenant_user(app, world):
    """The operations check the tenant too, for callers other than the views."""
    with app.app_context():
        admin_b = db.session.get(User, world.admin_b.id)
        agent_a = db.session.get(User, world.agent_a.id)
        with pytest.raises(operations.AdminActionRefused):
            operations.set_active(admin_b, agent_a, False)
        with pytest.raises(operations.AdminActionRefused):
            operations.change_role(admin_b, agent_a, agent_a.role)
        db.session.rollback()
        assert db.session.get(User, world.agent_a.id).is_active is True


def test_isolation_policy_change_stays_in_tenant_admin_b(app, world):
    client = app.test_client()
    sign_in(client, world.admin_b)
    token = csrf_token(client.get("/admin/regles"))
    client.post(
        "/admin/regles",
        data={
            "default_room_capacity": "5",
            "max_room_capacity": "10",
            "retention_days": "7",
            "csrf_token": token,
        },
    )
    agent = app.test_client()
    sign_in(agent, world.agent_a)
    page = agent.get("/salles/nouvelle").get_data(as_text=True)
    assert 'value="20"' in page and 'max="55"' in page


def test_isolation_platform_admin_is_tenant_admin_of_own_tenant_only(app, world):
    """In /admin, a platform administrator sees their own ministry, not the others."""
    client = app.test_client()
    sign_in(client, world.platform_admin)
    page = client.get("/admin/agents").get_data(as_text=True)
    assert world.platform_admin.email in page
    assert world.agent_a.email not in page and world.agent_b.email not in page
    token = csrf_token(client.get("/admin/agents"))
    response = client.post(
        f"/admin/agents/{world.agent_a.public_id}/desactiver", data={"csrf_token": token}
    )
    assert response.status_code == 404
