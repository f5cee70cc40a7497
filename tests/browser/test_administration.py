"""A ministry administrator changes the policy in a real browser and sees it applied to a new
room; an agent of another ministry, signed in through that ministry's own provider, is kept out
of the administration pages. Runs against the demo platform, as a newcomer would."""

from __future__ import annotations

import pytest

from tests.browser.pages import sign_in

pytestmark = pytest.mark.browser

ECOLOGIE_ADMIN = "camille.martin@ecologie.gouv.fr"
CULTURE_AGENT = "julien.petit@culture.gouv.fr"


def test_tenant_admin_policy_applies_to_new_rooms(demo_platform, browser_context_factory):
    admin = browser_context_factory().new_page()
    sign_in(admin, demo_platform, ECOLOGIE_ADMIN, ministry="ecologie")

    admin.goto(f"{demo_platform.url}/admin/regles")
    admin.fill("#max_room_capacity", "30")
    admin.fill("#default_room_capacity", "12")
    admin.click("main form button[type=submit]")
    assert admin.locator("#default_room_capacity").input_value() == "12"

    admin.goto(f"{demo_platform.url}/salles/nouvelle")
    # The new room proposes the policy's capacity and refuses more than its maximum.
    assert admin.locator("#capacity").input_value() == "12"
    admin.fill("#name", "Comité de pilotage")
    admin.fill("#capacity", "31")
    admin.click("main form button[type=submit]")
    assert admin.locator("#capacity-error").is_visible()
    admin.fill("#capacity", "25")
    admin.click("main form button[type=submit]")
    admin.wait_for_url("**/salles")

    admin.goto(f"{demo_platform.url}/admin/journal")
    assert "camille.martin@ecologie.gouv.fr" in admin.inner_text("main")


def test_agent_of_another_ministry_is_refused_administration(
    demo_platform, browser_context_factory
):
    agent = browser_context_factory().new_page()
    sign_in(agent, demo_platform, CULTURE_AGENT, ministry="culture")
    assert "Julien Petit" in agent.inner_text("body")
    response = agent.goto(f"{demo_platform.url}/admin/")
    assert response.status == 403
    response = agent.goto(f"{demo_platform.url}/plateforme/")
    assert response.status == 403
