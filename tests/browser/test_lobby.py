"""A guest without an account enters through an invitation link and the lobby: the moderator,
already in the meeting, admits them from the room's waiting-room panel (then each decodes the
other's video) or refuses them. Runs on the demo platform; the Écologie ministry's rooms have a
lobby by default."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.media import RECORD_PEER_CONNECTIONS, wait_for_media_from_other
from tests.browser.pages import create_room, enter_room, open_panel, sign_in

pytestmark = pytest.mark.browser

MODERATOR = "camille.martin@ecologie.gouv.fr"
GUEST_NAME = "Claire Dubois (préfecture du Rhône)"


@dataclass
class WaitingGuest:
    moderator: Page
    guest: Page
    room_url: str


def create_invitation(page: Page, room_url: str) -> str:
    """The moderator creates a participant invitation on the room's page; returns its link."""
    page.goto(f"{room_url}/invitations")
    page.get_by_role("button", name="Créer l'invitation").click()
    link = page.input_value("#invitation-link")
    assert "/i/" in link
    return link


@pytest.fixture
def waiting_guest(demo_platform, browser_context_factory, request) -> WaitingGuest:
    """The moderator is in the meeting; a guest opened the invitation and waits in the lobby."""
    moderator = browser_context_factory().new_page()
    guest = browser_context_factory().new_page()
    for page in (moderator, guest):
        page.add_init_script(RECORD_PEER_CONNECTIONS)
    sign_in(moderator, demo_platform, MODERATOR, ministry="ecologie")
    room_url = create_room(moderator, demo_platform, f"Réunion {request.node.name}"[:80])
    invitation = create_invitation(moderator, room_url)
    enter_room(moderator, room_url)
    expect(moderator.locator("#room-status")).to_have_text("Vous êtes dans la réunion.")

    guest.goto(invitation)
    guest.fill("#display_name", GUEST_NAME)
    guest.get_by_role("button", name="Continuer").click()
    guest.wait_for_url("**/attente")
    return WaitingGuest(moderator, guest, room_url)


def test_moderator_admits_a_guest_from_the_lobby(waiting_guest):
    moderator, guest = waiting_guest.moderator, waiting_guest.guest
    # The moderator hears of the arrival and sees the count without opening anything.
    expect(moderator.locator("#room-announcements")).to_contain_text(
        f"{GUEST_NAME} attend dans la salle d'attente."
    )
    expect(moderator.locator("#lobby-count")).to_have_text("(1)")
    open_panel(moderator, "lobby")
    moderator.get_by_role("button", name=f"Admettre {GUEST_NAME}").click()
    expect(moderator.locator("#lobby-list li")).to_have_count(0)

    # The guest's waiting page moves on by itself to the pre-join page, then into the room.
    guest.wait_for_url(re.compile(re.escape(waiting_guest.room_url) + r"/?$"))
    guest.click("#prejoin-form button[type=submit]")
    guest.wait_for_url("**/salle")
    for page in (moderator, guest):
        assert wait_for_media_from_other(page)["frameWidth"] > 0
    expect(moderator.locator("#tiles")).to_contain_text(GUEST_NAME)
    expect(guest.locator("#tiles")).to_contain_text("Camille Martin")
    # The guest is no moderator: no waiting room for them, and listed as a guest to others.
    expect(guest.locator("#toggle-lobby")).to_be_hidden()
    open_panel(moderator, "participants")
    guest_item = moderator.locator("#participants-list li", has_text=GUEST_NAME)
    expect(guest_item).to_contain_text("invité")


def test_moderator_refuses_a_guest(waiting_guest):
    moderator, guest = waiting_guest.moderator, waiting_guest.guest
    open_panel(moderator, "lobby")
    moderator.get_by_role("button", name=f"Refuser {GUEST_NAME}").click()
    expect(moderator.locator("#lobby-list li")).to_have_count(0)
    expect(moderator.locator("#lobby-empty")).to_be_visible()
    expect(guest.locator("#lobby-status")).to_contain_text(
        "Un modérateur n'a pas accepté votre entrée dans la réunion."
    )
