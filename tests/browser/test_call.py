"""Two agents hold a call in two headless Chromium profiles, through the demo platform.

Each picks their ministry on the sign-in page and signs in at its identity provider, the first
creates a room and the second opens its link; both pass the pre-join page. The check is what the
other side's browser really decodes: RTCPeerConnection.getStats() inbound video framesDecoded and
inbound audio packets.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.browser.media import RECORD_PEER_CONNECTIONS, wait_for_media_from_other
from tests.browser.pages import enter_room, sign_in

pytestmark = pytest.mark.browser
# Set to a folder to keep a screenshot of the room, to look at it as a person would.
SCREENSHOT_DIR = os.environ.get("WEBCONF_SCREENSHOT_DIR")


def test_two_agents_see_and_hear_each_other(demo_platform, browser_context_factory):
    alice = browser_context_factory().new_page()
    bob = browser_context_factory().new_page()
    for page in (alice, bob):
        page.add_init_script(RECORD_PEER_CONNECTIONS)

    # Two ministries, each signing in through its own identity provider.
    sign_in(alice, demo_platform, "camille.martin@ecologie.gouv.fr", ministry="ecologie")
    alice.goto(f"{demo_platform.url}/salles/nouvelle")
    alice.fill("#name", "Point d'équipe")
    alice.click("main form button[type=submit]")
    room_url = alice.input_value("input.copy-link__input")
    assert room_url.startswith(demo_platform.url + "/r/")

    sign_in(bob, demo_platform, "julien.petit@culture.gouv.fr", ministry="culture")
    enter_room(alice, room_url)
    enter_room(bob, room_url)

    for page in (alice, bob):
        totals = wait_for_media_from_other(page)
        assert totals["frameWidth"] > 0
    # Each page shows a tile for itself and one for the other participant.
    assert alice.locator("#tiles .tile").count() == 2
    assert bob.locator("#tiles .tile").count() == 2
    assert "Julien Petit" in alice.inner_text("#tiles")
    assert "Camille Martin" in bob.inner_text("#tiles")
    if SCREENSHOT_DIR:
        alice.screenshot(path=f"{SCREENSHOT_DIR}/room.png")

    bob.click("#leave")
    alice.wait_for_function("document.querySelectorAll('#tiles .tile').length === 1")

    # The SFU reported both joins and the departures; the demo's recorder turned them into one
    # meeting with a peak of two, ended once the last participant left.
    alice.click("#leave")
    meeting = wait_for_ended_meeting(demo_platform.state_dir / "webconf.sqlite3", room_url)
    assert meeting["peak_participants"] == 2


def wait_for_ended_meeting(database: Path, room_url: str, timeout: float = 20.0) -> dict:
    slug = room_url.rstrip("/").rsplit("/", 1)[-1]
    query = (
        "SELECT m.peak_participants, m.ended_at FROM meetings m JOIN rooms r ON r.id = m.room_id "
        "WHERE r.slug = ?"
    )
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(database)) as connection:
            connection.row_factory = sqlite3.Row
            rows = [dict(row) for row in connection.execute(query, (slug,))]
        if len(rows) == 1 and rows[0]["ended_at"] is not None:
            return rows[0]
        time.sleep(0.25)
    raise AssertionError(f"no ended meeting recorded for room {slug}: {rows}")
