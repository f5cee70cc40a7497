"""Meetings as people run them (issue 4), in two headless Chromium profiles on the demo platform:
screen share, raised hands, muting everyone, chat, and ending the meeting for everyone.

Camille Martin creates the room and moderates it; Thomas Bernard, an agent of the same ministry,
joins it directly. What is checked is what each page shows and what its browser really receives
(RTCPeerConnection.getStats()).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.media import (
    RECORD_PEER_CONNECTIONS,
    audio_packets_over,
    wait_for_decoding_video_streams,
    wait_for_media_from_other,
)
from tests.browser.pages import create_room, enter_room, open_panel, sign_in

pytestmark = pytest.mark.browser

MODERATOR = "camille.martin@ecologie.gouv.fr"
PARTICIPANT = "thomas.bernard@ecologie.gouv.fr"


@dataclass
class Meeting:
    moderator: Page
    participant: Page
    room_url: str


@pytest.fixture
def meeting(demo_platform, browser_context_factory, request) -> Meeting:
    """A moderator and a participant in a fresh room, each receiving the other's media."""
    moderator = browser_context_factory().new_page()
    participant = browser_context_factory().new_page()
    for page in (moderator, participant):
        page.add_init_script(RECORD_PEER_CONNECTIONS)
    sign_in(moderator, demo_platform, MODERATOR, ministry="ecologie")
    room_url = create_room(moderator, demo_platform, f"Réunion {request.node.name}"[:80])
    sign_in(participant, demo_platform, PARTICIPANT, ministry="ecologie")
    enter_room(moderator, room_url)
    enter_room(participant, room_url)
    for page in (moderator, participant):
        wait_for_media_from_other(page)
    return Meeting(moderator, participant, room_url)


def test_screen_share_reaches_the_other_participant(meeting):
    sharer, viewer = meeting.participant, meeting.moderator
    sharer.click("#toggle-screen")
    expect(sharer.locator("#toggle-screen")).to_have_attribute("aria-pressed", "true")

    screen_tile = viewer.locator('#tiles .tile[data-kind="screen"]')
    expect(screen_tile).to_have_count(1)
    expect(screen_tile).to_contain_text("Écran de Thomas Bernard")
    # The viewer's browser decodes a second video stream: the camera and the screen.
    wait_for_decoding_video_streams(viewer, 2)

    # In speaker view the screen share is the big tile.
    viewer.click("#toggle-view")
    expect(viewer.locator("#toggle-view")).to_have_attribute("aria-pressed", "true")
    expect(viewer.locator("#tiles .tile--featured")).to_have_attribute("data-kind", "screen")

    sharer.click("#toggle-screen")
    expect(sharer.locator("#toggle-screen")).to_have_attribute("aria-pressed", "false")
    expect(screen_tile).to_have_count(0)


def test_raised_hand_is_listed_for_the_moderator(meeting):
    moderator, participant = meeting.moderator, meeting.participant
    participant.click("#toggle-hand")
    expect(participant.locator("#toggle-hand")).to_have_attribute("aria-pressed", "true")

    open_panel(moderator, "participants")
    hands = moderator.locator("#hands-list li")
    expect(hands).to_have_count(1)
    expect(hands.first).to_contain_text("Thomas Bernard")
    expect(moderator.locator("#room-announcements")).to_have_text("Thomas Bernard lève la main.")

    # The moderator lowers it; the participant's button follows.
    hands.first.get_by_role("button", name="Baisser la main de Thomas Bernard").click()
    expect(hands).to_have_count(0)
    expect(participant.locator("#toggle-hand")).to_have_attribute("aria-pressed", "false")


def test_mute_all_stops_forwarding_audio(meeting):
    moderator, participant = meeting.moderator, meeting.participant
    assert audio_packets_over(moderator, 1.0) > 10

    open_panel(moderator, "participants")
    moderator.uncheck("#mute-all-allow-unmute")
    moderator.click("#mute-all")

    microphone = participant.locator("#toggle-microphone")
    expect(microphone).to_have_attribute("aria-pressed", "false")
    expect(microphone).to_have_attribute("aria-disabled", "true")
    # The SFU no longer forwards the participant's sound (let packets in flight arrive first).
    moderator.wait_for_timeout(1000)
    assert audio_packets_over(moderator, 2.0) == 0
    # Turning it back on is refused while the moderators forbid it (aria-disabled keeps the
    # button focusable, so the page can say why: force past Playwright's enabled check).
    microphone.click(force=True)
    expect(participant.locator("#room-announcements")).to_contain_text("vous ne pouvez pas")
    expect(microphone).to_have_attribute("aria-pressed", "false")

    moderator.click("#allow-unmute")
    expect(microphone).not_to_have_attribute("aria-disabled", "true")
    microphone.click()
    expect(microphone).to_have_attribute("aria-pressed", "true")
    moderator.wait_for_timeout(1000)
    assert audio_packets_over(moderator, 1.0) > 10


def test_chat_message_reaches_the_other_participant(meeting):
    sender, reader = meeting.moderator, meeting.participant
    open_panel(sender, "chat")
    expect(sender.locator("#chat-panel")).to_contain_text("Les messages ne sont pas conservés")
    sender.fill("#chat-input", "Bonjour à tous, on commence ?")
    sender.press("#chat-input", "Enter")
    expect(sender.locator("#chat-input")).to_have_value("")

    # The reader's chat is closed: the toolbar counts the unread message.
    expect(reader.locator("#chat-unread")).to_have_text("(1)")
    open_panel(reader, "chat")
    message = reader.locator("#chat-messages li").last
    expect(message).to_contain_text("Camille Martin")
    expect(message).to_contain_text("Bonjour à tous, on commence ?")
    expect(message.locator("time")).to_have_count(1)
    expect(reader.locator("#chat-unread")).to_be_hidden()


def test_a_chat_message_refused_for_speed_is_given_back_to_be_sent_again(meeting):
    """The SFU lets 5 messages through at once, then one a second (sfu/session.py): the
    message it refuses comes back into the input, with the reason next to it."""
    sender = meeting.participant
    open_panel(sender, "chat")
    for number in range(1, 9):
        sender.fill("#chat-input", f"Message rapide {number}")
        sender.press("#chat-input", "Enter")
    expect(sender.locator("#chat-error")).to_contain_text("trop vite")
    refused = sender.locator("#chat-input").input_value()
    assert refused.startswith("Message rapide "), refused
    shown = sender.locator("#chat-messages li").all_inner_texts()
    assert not any(text.endswith(refused) for text in shown), (refused, shown)


def test_moderator_ends_the_meeting_for_everyone(meeting):
    moderator, participant = meeting.moderator, meeting.participant
    open_panel(moderator, "participants")
    moderator.click("#end-meeting")
    # A confirmation first: cancelling keeps the meeting going.
    moderator.click("#confirm-cancel")
    expect(moderator.locator("#room-live")).to_be_visible()
    moderator.click("#end-meeting")
    moderator.click("#confirm-accept")

    for page in (moderator, participant):
        expect(page.locator("#room-over-title")).to_have_text("La réunion est terminée")
        expect(page.locator("#room-live")).to_be_hidden()


def test_moderator_removes_a_participant(meeting):
    moderator, participant = meeting.moderator, meeting.participant
    open_panel(moderator, "participants")
    moderator.get_by_role("button", name="Retirer Thomas Bernard de la réunion").click()
    moderator.click("#confirm-accept")

    expect(participant.locator("#room-over-title")).to_have_text(
        "Vous avez été retiré de la réunion"
    )
    expect(moderator.locator('#tiles .tile[data-kind="camera"]')).to_have_count(1)
