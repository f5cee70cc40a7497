"""Two agents hold a call in two headless Chromium profiles, through the demo platform.

Each signs in at the demo identity provider, the first creates a room and the second opens its
link; both pass the pre-join page. The check is what the other side's browser really decodes:
RTCPeerConnection.getStats() inbound video framesDecoded and inbound audio packets.
"""

from __future__ import annotations

import os
import time

import pytest

pytestmark = pytest.mark.browser
# Set to a folder to keep a screenshot of the room, to look at it as a person would.
SCREENSHOT_DIR = os.environ.get("WEBCONF_SCREENSHOT_DIR")

# Records every RTCPeerConnection a page creates, so the test can read its stats without the
# product exposing a debugging handle.
RECORD_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__peerConnections.push(this); }
  };
})();
"""

INBOUND_MEDIA = """
async () => {
  const totals = { videoFramesDecoded: 0, audioPackets: 0, frameWidth: 0 };
  for (const pc of window.__peerConnections) {
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      if (report.kind === "video") {
        totals.videoFramesDecoded += report.framesDecoded || 0;
        totals.frameWidth = Math.max(totals.frameWidth, report.frameWidth || 0);
      }
      if (report.kind === "audio") totals.audioPackets += report.packetsReceived || 0;
    });
  }
  return totals;
}
"""


def sign_in(page, platform, login):
    page.goto(f"{platform.url}/connexion")
    page.click("#sign-in")
    page.fill("#login", login)
    page.fill("#password", platform.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{platform.url}/**")


def enter_room(page, room_url):
    page.goto(room_url)
    page.click("#prejoin-form button[type=submit]")
    page.wait_for_url("**/salle")


def wait_for_media_from_other(page, timeout=20.0):
    deadline = time.monotonic() + timeout
    totals = {}
    while time.monotonic() < deadline:
        totals = page.evaluate(INBOUND_MEDIA)
        if totals["videoFramesDecoded"] > 0 and totals["audioPackets"] > 0:
            return totals
        page.wait_for_timeout(250)
    raise AssertionError(f"no media decoded from the other participant: {totals}")


def test_two_agents_see_and_hear_each_other(demo_platform, browser_context_factory):
    alice = browser_context_factory().new_page()
    bob = browser_context_factory().new_page()
    for page in (alice, bob):
        page.add_init_script(RECORD_PEER_CONNECTIONS)

    sign_in(alice, demo_platform, demo_platform.logins[0])
    alice.goto(f"{demo_platform.url}/salles/nouvelle")
    alice.fill("#name", "Point d'équipe")
    alice.click("main form button[type=submit]")
    room_url = alice.input_value("input.copy-link__input")
    assert room_url.startswith(demo_platform.url + "/r/")

    sign_in(bob, demo_platform, demo_platform.logins[1])
    enter_room(alice, room_url)
    enter_room(bob, room_url)

    for page in (alice, bob):
        totals = wait_for_media_from_other(page)
        assert totals["frameWidth"] > 0
    # Each page shows a tile for itself and one for the other participant.
    assert alice.locator("#tiles .tile").count() == 2
    assert bob.locator("#tiles .tile").count() == 2
    assert "Thomas Bernard" in alice.inner_text("#tiles")
    assert "Camille Martin" in bob.inner_text("#tiles")
    if SCREENSHOT_DIR:
        alice.screenshot(path=f"{SCREENSHOT_DIR}/room.png")

    bob.click("#leave")
    alice.wait_for_function("document.querySelectorAll('#tiles .tile').length === 1")
