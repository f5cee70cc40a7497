"""What people see and do about congestion in the room (issue 6), in headless Chromium on the
demo platform: pins ("Épingler", and a moderator's "Épingler pour tous"), the SFU's
`video-constraints` applied to the camera's sender, and the notice and tile badges of a
`quality` message (docs/protocol.md, "Congestion").

Pins go through the real SFU. Real congestion cannot be produced cheaply here, so the two
messages the SFU sends only under congestion are handed to each page's real signalling
WebSocket (tests/browser/media.py, DELIVER_SIGNALLING): from the socket's `message` event on,
the page's own code runs. What is checked is what the browser really does with them — the
camera sender's parameters and what it encodes — and what the page shows and reads out. The
pure functions behind them are also called on their own, through a dynamic import() of the
page's modules (nothing is exposed globally for the tests).
"""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.browser.media import (
    RECORD_PEER_CONNECTIONS,
    RECORD_SIGNALLING,
    deliver_signalling,
    signalling,
    wait_for_media_from_other,
)
from tests.browser.pages import create_room, enter_room, open_panel, sign_in

pytestmark = pytest.mark.browser

ALICE = "camille.martin@ecologie.gouv.fr"  # creates the room: its moderator
BOB = "julien.petit@culture.gouv.fr"
# For what goes through the SFU and back: the machine may be busy.
ROUND_TRIP_MS = 15_000
# Set to a folder to keep screenshots of the notice, the badges and the pins, to look at them as
# a person would.
SCREENSHOT_DIR = os.environ.get("WEBCONF_SCREENSHOT_DIR")


@dataclass
class Call:
    alice: Page
    bob: Page
    room_url: str


def new_page(browser_context_factory) -> Page:
    page = browser_context_factory().new_page()
    page.add_init_script(RECORD_PEER_CONNECTIONS)
    page.add_init_script(RECORD_SIGNALLING)
    return page


@pytest.fixture
def call(demo_platform, browser_context_factory, request) -> Call:
    """Alice (moderator) and Bob in a fresh room, each decoding the other's video."""
    alice = new_page(browser_context_factory)
    bob = new_page(browser_context_factory)
    sign_in(alice, demo_platform, ALICE, ministry="ecologie")
    sign_in(bob, demo_platform, BOB, ministry="culture")
    room_url = create_room(alice, demo_platform, f"Réunion {request.node.name}"[:80])
    enter_room(alice, room_url)
    enter_room(bob, room_url)
    for page in (alice, bob):
        wait_for_media_from_other(page)
    yield Call(alice, bob, room_url)
    for page in (alice, bob):
        if not page.is_closed() and page.locator("#leave").is_visible():
            page.click("#leave")


def other_tile(page: Page):
    return page.locator('#tiles .tile[data-kind="camera"]:not(.tile-self)')


def own_tile(page: Page):
    return page.locator("#tiles .tile.tile-self")


def current_id_of_other(page: Page) -> str | None:
    """The other participant's id on their tile now, or None while there is no such tile."""
    return page.evaluate(
        "document.querySelector('#tiles .tile[data-kind=\"camera\"]:not(.tile-self)')"
        "?.dataset.participantId ?? null"
    )


def participant_id_of_other(page: Page) -> str:
    """The SFU's id of the other participant, as the page's tile for them holds it."""
    expect(other_tile(page)).to_have_count(1, timeout=ROUND_TRIP_MS)
    return other_tile(page).get_attribute("data-participant-id")


def wait_until(check, what: str, timeout: float = ROUND_TRIP_MS / 1000):
    """Poll `check()` from Python until it returns something truthy (our CSP forbids the string
    evaluation page.wait_for_function would fall back to)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: still {value!r} after {timeout} s")


# --- pins


def test_a_participant_pins_and_unpins_someone(call):
    alice, bob = call.alice, call.bob
    bob_id = participant_id_of_other(alice)
    pin = other_tile(alice).get_by_role("button", name="Épingler Julien Petit", exact=True)
    expect(pin).to_have_attribute("aria-pressed", "false")
    # Only other people's tiles have it: one's own video is never forwarded back.
    expect(own_tile(alice).locator(".tile-keep")).to_have_count(0)

    # Keyboard: the toggle is reached and pressed like any button.
    pin.focus()
    alice.keyboard.press("Enter")
    expect(pin).to_have_attribute("aria-pressed", "true")
    assert {"type": "pin", "participant_id": bob_id, "pinned": True} in signalling(
        alice, "out", "pin"
    )
    # What the page shows is the server's answer.
    assert signalling(alice, "in", "pins")[-1]["pinned"] == [bob_id]
    # The accessible name stays the same; aria-pressed says the state.
    expect(pin).to_have_accessible_name("Épingler Julien Petit")

    pin.click()
    expect(pin).to_have_attribute("aria-pressed", "false")
    assert signalling(alice, "in", "pins")[-1]["pinned"] == []
    # Bob's page knows nothing of Alice's own pins.
    assert signalling(bob, "in", "pins") == []

    # The SFU refuses a fourth pin with `too_many_pins` (four more browsers would be needed to
    # provoke it here): the page says why.
    deliver_signalling(
        alice, {"type": "error", "code": "too_many_pins", "message": "at most 3 participants"}
    )
    expect(alice.locator("#room-announcements")).to_have_text(
        "Vous pouvez épingler au plus trois personnes."
    )


def test_a_moderator_pins_someone_for_everyone(call):
    alice, bob = call.alice, call.bob
    bob_id = participant_id_of_other(alice)
    # A participant has no such action; a moderator has it for everyone, herself included.
    open_panel(bob, "participants")
    expect(bob.get_by_role("button", name="Épingler pour tous")).to_have_count(0)
    open_panel(alice, "participants")
    expect(
        alice.get_by_role("button", name="Épingler pour tous : votre vidéo", exact=True)
    ).to_have_count(1)

    pin_for_all = alice.get_by_role("button", name="Épingler pour tous : Julien Petit", exact=True)
    pin_for_all.click()
    # Both pages mark Bob's tile (his own, on his page) and the participants list.
    expect(other_tile(alice).locator(".tile-pinned-all")).to_be_visible(timeout=ROUND_TRIP_MS)
    expect(other_tile(alice).locator(".tile-pinned-all")).to_have_text("épinglé pour tous")
    expect(own_tile(bob).locator(".tile-pinned-all")).to_be_visible(timeout=ROUND_TRIP_MS)
    expect(own_tile(alice).locator(".tile-pinned-all")).to_be_hidden()
    expect(other_tile(bob).locator(".tile-pinned-all")).to_be_hidden()
    for page in (alice, bob):
        row = page.locator(f'#participants-list li[data-participant-id="{bob_id}"]')
        expect(row).to_contain_text("épinglé pour tous")
    expect(bob.locator("#room-announcements")).to_have_text(
        "Votre vidéo est épinglée pour tous.", timeout=ROUND_TRIP_MS
    )
    expect(alice.locator("#room-announcements")).to_have_text(
        "Vidéo de Julien Petit épinglée pour tous."
    )
    assert signalling(bob, "in", "room-updated")[-1]["pinned"] == [bob_id]
    if SCREENSHOT_DIR:
        alice.screenshot(path=f"{SCREENSHOT_DIR}/pinned-for-all.png")

    # The button now undoes it, and kept the keyboard focus across the list's redraw.
    undo = alice.get_by_role("button", name="Ne plus épingler pour tous : Julien Petit", exact=True)
    expect(undo).to_be_focused()
    alice.keyboard.press("Enter")
    for page, tile in ((alice, other_tile(alice)), (bob, own_tile(bob))):
        expect(tile.locator(".tile-pinned-all")).to_be_hidden(timeout=ROUND_TRIP_MS)
        expect(page.locator("#participants-list")).not_to_contain_text("épinglé pour tous")
    expect(bob.locator("#room-announcements")).to_have_text(
        "Votre vidéo n'est plus épinglée pour tous."
    )


def test_pins_survive_a_reconnection(call, demo_platform):
    """The worker dies: everyone comes back under new ids on another worker, which knows no pin;
    Alice's page pins Bob again, for herself and, as a moderator, for everyone."""
    alice, bob = call.alice, call.bob
    other_tile(alice).get_by_role("button", name="Épingler Julien Petit", exact=True).click()
    open_panel(alice, "participants")
    alice.get_by_role("button", name="Épingler pour tous : Julien Petit", exact=True).click()
    expect(own_tile(bob).locator(".tile-pinned-all")).to_be_visible(timeout=ROUND_TRIP_MS)
    old_bob = participant_id_of_other(alice)
    sockets = alice.evaluate("window.__webSockets.length")

    store = redis.Redis.from_url(demo_platform.redis_url, decode_responses=True)
    try:
        slug = call.room_url.rstrip("/").rsplit("/", 1)[-1]
        worker = store.hgetall(f"sfu:worker:{store.get(f'sfu:room:{slug}')}")
    finally:
        store.close()
    os.kill(int(worker["pid"]), signal.SIGKILL)

    wait_until(lambda: alice.evaluate("window.__webSockets.length") > sockets, "no new connection")
    new_bob = wait_until(
        lambda: (pid := current_id_of_other(alice)) != old_bob and pid,
        "Bob's tile did not come back under a new id",
        timeout=30,
    )
    pin = other_tile(alice).get_by_role("button", name="Épingler Julien Petit", exact=True)
    expect(pin).to_have_attribute("aria-pressed", "true", timeout=ROUND_TRIP_MS)
    assert signalling(alice, "in", "pins")[-1]["pinned"] == [new_bob]
    expect(other_tile(alice).locator(".tile-pinned-all")).to_be_visible(timeout=ROUND_TRIP_MS)
    expect(own_tile(bob).locator(".tile-pinned-all")).to_be_visible(timeout=ROUND_TRIP_MS)
    assert signalling(bob, "in", "room-updated")[-1]["pinned"] == [new_bob]


# --- video-constraints

# The camera's and the screen share's senders' first encoding (the mids the SFU's last offer
# gave them), and what the camera's sender encodes.
# The sender of the newest peer connection on the SFU's last offer's `publish` mid for `kind`.
SENDER_OF = """
const senderOf = (kind) => {
  const pc = window.__peerConnections[window.__peerConnections.length - 1];
  const offers = window.__signalling.filter(
    (entry) => entry.direction === "in" && entry.message.type === "offer",
  );
  const mid = offers[offers.length - 1].message.publish[kind];
  if (mid === undefined) return null;
  return pc.getTransceivers().find((t) => t.mid === mid)?.sender || null;
};
"""

SENDERS = f"""
async () => {{
  {SENDER_OF}
  const encoding = (kind) => senderOf(kind)?.getParameters().encodings[0] || null;
  let frameWidth = null;
  const camera = senderOf("video");
  const trackWidth = camera?.track?.getSettings().width ?? null;
  if (camera) {{
    (await camera.getStats()).forEach((report) => {{
      if (report.type === "outbound-rtp" && report.frameWidth) frameWidth = report.frameWidth;
    }});
  }}
  return {{ camera: encoding("video"), screen: encoding("screen"), frameWidth, trackWidth }};
}}
"""

LOWERED = {
    "type": "video-constraints",
    "max_bitrate": 300000,
    "scale_resolution_down_by": 2.0,
    "max_framerate": 15.0,
}
LIFTED = {
    "type": "video-constraints",
    "max_bitrate": None,
    "scale_resolution_down_by": None,
    "max_framerate": None,
}


def senders(page: Page) -> dict:
    return page.evaluate(SENDERS)


def is_lowered(encoding: dict | None) -> bool:
    return (
        encoding is not None
        and encoding.get("maxBitrate") == 300000
        and encoding.get("scaleResolutionDownBy") == 2
        and encoding.get("maxFramerate") == 15
    )


def is_free(encoding: dict | None) -> bool:
    return (
        encoding is not None
        and "maxBitrate" not in encoding
        and "maxFramerate" not in encoding
        and encoding.get("scaleResolutionDownBy", 1) == 1
    )


def test_the_camera_follows_the_sfus_video_constraints(call):
    alice = call.alice
    # Before: the camera is encoded at more than half its width (once the bitrate ramped up).
    half = senders(alice)["trackWidth"] // 2
    wait_until(lambda: (senders(alice)["frameWidth"] or 0) > half, "the camera stays small")

    deliver_signalling(alice, LOWERED)
    wait_until(lambda: is_lowered(senders(alice)["camera"]), "the camera was not lowered")
    # The browser really encodes it at half its width (a loaded machine may go lower still).
    wait_until(
        lambda: 0 < (senders(alice)["frameWidth"] or half + 1) <= half,
        f"the camera is still encoded wider than {half} pixels",
    )

    # A screen share: the new offer gives it its own sender, never constrained; the camera's
    # stays so.
    alice.click("#toggle-screen")
    expect(alice.locator("#toggle-screen")).to_have_attribute("aria-pressed", "true")
    state = wait_until(
        lambda: (s := senders(alice))["screen"] is not None and s, "no screen share sender"
    )
    assert is_free(state["screen"]), state
    assert is_lowered(state["camera"]), state
    alice.click("#toggle-screen")
    expect(alice.locator("#toggle-screen")).to_have_attribute("aria-pressed", "false")

    # The camera turned off and on again: a new track, still constrained.
    camera = alice.locator("#toggle-camera")
    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "false")
    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "true")
    wait_until(lambda: senders(alice)["frameWidth"], "the camera encodes nothing")
    assert is_lowered(senders(alice)["camera"])

    # All null: the limits are lifted.
    deliver_signalling(alice, LIFTED)
    wait_until(lambda: is_free(senders(alice)["camera"]), "the camera's limits stayed")


FRAMES_ENCODED = f"""
async () => {{
  {SENDER_OF}
  let frames = 0;
  (await senderOf("video").getStats()).forEach((report) => {{
    if (report.type === "outbound-rtp") frames += report.framesEncoded || 0;
  }});
  return {{ frames, active: senderOf("video").getParameters().encodings[0].active }};
}}
"""


def frames_encoded_over(page: Page, seconds: float) -> tuple[int, bool]:
    """Camera frames the browser encoded in `seconds`, and whether its encoding is active."""
    before = page.evaluate(FRAMES_ENCODED)["frames"]
    time.sleep(seconds)
    after = page.evaluate(FRAMES_ENCODED)
    return after["frames"] - before, after["active"]


def test_a_camera_nobody_receives_stops_encoding_until_resumed(call):
    alice = call.alice
    wait_until(lambda: frames_encoded_over(alice, 0.5)[0] > 0, "the camera encodes nothing")
    deliver_signalling(alice, {**LIFTED, "paused": True})
    wait_until(lambda: frames_encoded_over(alice, 1.0) == (0, False), "the camera still encodes")
    # Lifted (paused false): the camera encodes again, the other constraints still free.
    deliver_signalling(alice, {**LIFTED, "paused": False})
    wait_until(lambda: frames_encoded_over(alice, 0.5)[0] > 0, "the camera did not resume")
    assert is_free(senders(alice)["camera"])


# The exported setParameters step on its own, on the page's real camera sender.
APPLY_DIRECTLY = f"""
async (constraints) => {{
  {SENDER_OF}
  const module = new URL("/static/js/sfu-client.js", location.href).href;
  const {{ applyVideoConstraints }} = await import(module);
  const sender = senderOf("video");
  const returned = await applyVideoConstraints(sender, constraints);
  return {{ returned, encoding: sender.getParameters().encodings[0] }};
}}
"""


def test_apply_video_constraints_sets_and_removes_the_encoding_limits(call):
    alice = call.alice
    result = alice.evaluate(
        APPLY_DIRECTLY,
        {"max_bitrate": 123456, "scale_resolution_down_by": 4, "max_framerate": 10},
    )
    for encoding in (result["returned"], result["encoding"]):
        assert encoding["maxBitrate"] == 123456
        assert encoding["scaleResolutionDownBy"] == 4
        assert encoding["maxFramerate"] == 10
    result = alice.evaluate(
        APPLY_DIRECTLY,
        {"max_bitrate": None, "scale_resolution_down_by": None, "max_framerate": None},
    )
    assert is_free(result["encoding"]), result
    # A value the browser would refuse (a scale below 1) lifts that limit, not the others.
    result = alice.evaluate(
        APPLY_DIRECTLY,
        {"max_bitrate": 200000, "scale_resolution_down_by": 0.5, "max_framerate": None},
    )
    assert result["encoding"]["maxBitrate"] == 200000
    assert result["encoding"].get("scaleResolutionDownBy", 1) == 1
    assert "maxFramerate" not in result["encoding"]


# --- quality


def quality(room_step, you_step, reason="loss", video_from=None, moderation=None) -> dict:
    message = {
        "type": "quality",
        "room": {"step": room_step, "reason": reason if room_step else ""},
        "you": {
            "step": you_step,
            "reason": reason if you_step else "",
            "video_from": video_from,
        },
    }
    if moderation is not None:
        message["moderation"] = moderation
    return message


def summary(*parts: str) -> str:
    """The moderators' line (no-break spaces before ":" and ";", as French typography wants)."""
    return "Qualité de la réunion\u00a0: " + "\u00a0; ".join(parts) + "."


TEXTS = """
async (messages) => {
  const module = await import(new URL("/static/js/room/quality.js", location.href).href);
  return messages.map(([message, participant]) => ({
    notice: module.qualityNotice(message),
    paused: module.isVideoPaused(message, participant),
    moderation: module.moderationSummary(message.moderation),
  }));
}
"""


def test_the_quality_notice_and_paused_tiles(call):
    alice, bob = call.alice, call.bob
    alice_id = participant_id_of_other(bob)
    notice = bob.locator("#room-quality")
    announcements = bob.locator("#room-announcements")
    paused = other_tile(bob).locator(".tile-paused")
    expect(notice).to_be_hidden()
    expect(paused).to_be_hidden()

    # The pure functions of room/quality.js first, for every kind of message (run in the page:
    # there is no Node.js here).
    cases = [
        (quality(1, 0), alice_id),
        (quality(1, 0, reason="cpu"), alice_id),
        (quality(2, 2, video_from=["someone-else"]), alice_id),
        (quality(2, 2, video_from=[alice_id]), alice_id),
        (quality(2, 2, reason="cpu", video_from=[]), alice_id),
        (quality(3, 3), alice_id),
        (quality(0, 0, moderation={"congested": 1, "degraded": 0, "audio_only": 0,
                                   "publishers_lowered": False}), alice_id),
        (quality(3, 0, moderation={"congested": 2, "degraded": 2, "audio_only": 1,
                                   "publishers_lowered": True}), alice_id),
        (quality(3, 0, moderation={"congested": 0, "degraded": 1, "audio_only": 1,
                                   "publishers_lowered": True}), alice_id),
        (quality(0, 0, moderation={"congested": 0, "degraded": 0, "audio_only": 0,
                                   "publishers_lowered": False}), alice_id),
    ]  # fmt: skip
    texts = bob.evaluate(TEXTS, [list(case) for case in cases])
    lowered = "La qualité vidéo est réduite pour préserver le son de tous"
    last_n = (
        "vous ne recevez la vidéo que des dernières personnes ayant parlé et des personnes "
        "épinglées."
    )
    assert texts[0] == {
        "notice": f"{lowered} : la connexion de certains participants est lente.",
        "paused": False,
        "moderation": None,
    }
    assert texts[1]["notice"] == f"{lowered} : le serveur est très chargé."
    assert texts[2]["notice"].startswith(f"Votre connexion est lente : {last_n}")
    assert texts[2]["paused"] is True
    assert texts[3]["paused"] is False
    assert texts[4]["notice"].startswith(f"Le serveur est très chargé : {last_n}")
    assert texts[4]["paused"] is True
    assert texts[5] == {
        "notice": "Votre connexion est trop lente pour la vidéo : vous ne recevez plus que le "
        "son. La vidéo reviendra d'elle-même.",
        "paused": True,
        "moderation": None,
    }
    assert texts[6] == {
        "notice": None,
        "paused": False,
        "moderation": summary("1 connexion en difficulté"),
    }
    assert texts[7]["moderation"] == summary(
        "2 connexions en difficulté",
        "2 participants reçoivent moins de vidéos, dont 1 ne reçoit plus que le son",
        "qualité des caméras réduite pour tous",
    )
    assert texts[8]["moderation"] == summary(
        "1 participant ne reçoit plus que le son", "qualité des caméras réduite pour tous"
    )
    assert texts[9]["moderation"] is None

    # Then the page: the room's video is lowered, Bob's own is not.
    deliver_signalling(bob, quality(1, 0))
    expect(notice).to_be_visible()
    expect(notice).to_have_text(f"{lowered} : la connexion de certains participants est lente.")
    expect(announcements).to_have_text(
        f"{lowered} : la connexion de certains participants est lente."
    )
    expect(paused).to_be_hidden()

    # Last-N without Alice: her tile says its video is paused (text, not only dimmed).
    deliver_signalling(bob, quality(2, 2, video_from=[]))
    expect(notice).to_contain_text(f"Votre connexion est lente : {last_n}")
    expect(announcements).to_contain_text("Votre connexion est lente")
    expect(paused).to_be_visible()
    expect(paused).to_have_text("vidéo suspendue")
    expect(other_tile(bob)).to_have_class(re.compile(r"\btile--paused\b"))
    expect(own_tile(bob).locator(".tile-paused")).to_be_hidden()
    # Nothing took the focus from where Bob was.
    expect(bob.locator("#room-quality")).not_to_be_focused()
    if SCREENSHOT_DIR:
        bob.screenshot(path=f"{SCREENSHOT_DIR}/congestion-last-n.png")

    # Alice among the last speakers: her video is forwarded.
    deliver_signalling(bob, quality(2, 2, video_from=[alice_id]))
    expect(paused).to_be_hidden()

    # Audio-only reception: every other tile is paused.
    deliver_signalling(bob, quality(3, 3))
    expect(notice).to_have_text(
        "Votre connexion est trop lente pour la vidéo : vous ne recevez plus que le son. "
        "La vidéo reviendra d'elle-même."
    )
    expect(paused).to_be_visible()

    # Back to normal: the notice goes, and the page says so.
    deliver_signalling(bob, quality(0, 0))
    expect(notice).to_be_hidden()
    expect(paused).to_be_hidden()
    expect(announcements).to_have_text("Qualité vidéo rétablie.")
    expect(bob.locator("#quality-moderation")).to_be_hidden()

    # A moderator also sees the room's state in the participants panel.
    open_panel(alice, "participants")
    line = alice.locator("#quality-moderation")
    expect(line).to_be_hidden()
    deliver_signalling(
        alice,
        quality(
            2,
            0,
            moderation={
                "congested": 1,
                "degraded": 1,
                "audio_only": 0,
                "publishers_lowered": True,
            },
        ),
    )
    expect(line).to_have_text(
        summary(
            "1 connexion en difficulté",
            "1 participant reçoit moins de vidéos",
            "qualité des caméras réduite pour tous",
        )
    )
    expect(alice.locator("#room-quality")).to_contain_text(lowered)
    if SCREENSHOT_DIR:
        alice.screenshot(path=f"{SCREENSHOT_DIR}/congestion-moderator.png")
    deliver_signalling(
        alice,
        quality(
            0,
            0,
            moderation={
                "congested": 0,
                "degraded": 0,
                "audio_only": 0,
                "publishers_lowered": False,
            },
        ),
    )
    expect(line).to_be_hidden()
    expect(alice.locator("#room-quality")).to_be_hidden()
