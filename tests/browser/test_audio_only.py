"""Audio-only ("Audio seul") in a real browser, on the demo platform (issue 5): a participant in
that mode receives no video and sends none, still hears everyone, and never has their camera
open; leaving it and turning the camera on brings video back both ways. The mode carries over
a reconnection (the worker killed), and a camera that cannot be had is said, the call going on
by voice.

What is checked is what each browser really sends and receives (RTCPeerConnection.getStats():
packets, not only decoded frames), what the page asked of getUserMedia and whether the camera
track is still open (init scripts in tests/browser/media.py), and the SFU worker's own view (its
/metrics: the participant counted in audio-only mode, no video frame forwarded — worker-wide
counters, exact because the tests run one at a time and this room is the only one with media).
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import Page, expect

from tests.browser.media import (
    RECORD_PEER_CONNECTIONS,
    RECORD_USER_MEDIA,
    inbound_media,
    live_camera_tracks,
    media_growth,
    user_media_requests,
    wait_for_audio,
    wait_for_media_from_other,
    wait_for_video_growth,
)
from tests.browser.pages import create_room, enter_room, sign_in
from tests.fixtures.sfu import metrics_of

pytestmark = pytest.mark.browser

ALICE = "camille.martin@ecologie.gouv.fr"
BOB = "julien.petit@culture.gouv.fr"
CAROL = "lea.dubois@ecologie.gouv.fr"

# Packets already on their way when the mode changes (jitter buffers, RTX) arrive within this.
SETTLE_MS = 1000
# "No video" is checked over at least this long, and until 20 audio packets (0.4 s of sound)
# went the same way: video stayed away while sound flowed.
WINDOW_S = 2.0
# For what goes through the SFU and back (joins, other pages' updates): the machine may be busy.
ROUND_TRIP_MS = 15_000


@dataclass
class Call:
    alice: Page
    bob: Page
    room_url: str


def new_page(browser_context_factory) -> Page:
    page = browser_context_factory().new_page()
    page.add_init_script(RECORD_PEER_CONNECTIONS)
    page.add_init_script(RECORD_USER_MEDIA)
    return page


@pytest.fixture
def call(demo_platform, browser_context_factory, request) -> Call:
    """Alice and Bob in a fresh room, each decoding the other's video and hearing them."""
    alice = new_page(browser_context_factory)
    bob = new_page(browser_context_factory)
    sign_in(alice, demo_platform, ALICE, ministry="ecologie")
    sign_in(bob, demo_platform, BOB, ministry="culture")
    room_url = create_room(alice, demo_platform, f"Réunion {request.node.name}"[:80])
    enter_room(alice, room_url)
    enter_room(bob, room_url)
    for page in (alice, bob):
        totals = wait_for_media_from_other(page)
        assert totals["frameWidth"] > 0
    return Call(alice, bob, room_url)


def room_worker(platform, room_url: str) -> dict:
    """The registry hash of the worker hosting the room (the portal's pin in the demo's Redis)."""
    store = redis.Redis.from_url(platform.redis_url, decode_responses=True)
    try:
        slug = room_url.rstrip("/").rsplit("/", 1)[-1]
        return store.hgetall(f"sfu:worker:{store.get(f'sfu:room:{slug}')}")
    finally:
        store.close()


def worker_metrics(worker: dict) -> dict[str, float]:
    """The worker's /metrics (next to its signalling URL) as {'name{labels}': value}."""
    address = urlsplit(worker["url"])
    with urllib.request.urlopen(f"http://{address.netloc}/metrics", timeout=5) as response:
        return metrics_of(response.read().decode())


AUDIO_ONLY_PARTICIPANTS = 'sfu_participants{mode="audio_only"}'
FORWARDED_VIDEO = 'sfu_forwarded_frames_total{kind="video"}'
FORWARDED_AUDIO = 'sfu_forwarded_frames_total{kind="audio"}'


def wait_for_connections(page: Page, count: int, timeout: float = 15.0) -> None:
    """Until the page has made `count` peer connections (a new one per session)."""
    deadline = time.monotonic() + timeout
    while page.evaluate("window.__peerConnections.length") < count:
        assert time.monotonic() < deadline, f"no peer connection {count} on {page.url}"
        page.wait_for_timeout(100)


def expect_audio_only(page: Page, enabled: bool) -> None:
    expect(page.locator("#toggle-audio-only")).to_have_attribute(
        "aria-pressed", str(enabled).lower()
    )
    camera = page.locator("#toggle-camera")
    expect(camera).to_have_attribute("aria-pressed", "false")
    if enabled:
        expect(camera).to_be_disabled()
    else:
        expect(camera).to_be_enabled()


def test_switching_to_audio_only_in_the_room_stops_video_both_ways(call, demo_platform):
    alice, bob = call.alice, call.bob
    worker = room_worker(demo_platform, call.room_url)
    audio_only_before = worker_metrics(worker)[AUDIO_ONLY_PARTICIPANTS]
    # Bob's camera is open and sent.
    assert live_camera_tracks(bob) == 1
    assert media_growth(bob, 1.0, until={"out.videoPackets": 1})["out.videoPackets"] > 0

    bob.click("#toggle-audio-only")
    expect_audio_only(bob, True)
    expect(bob.locator("#room-announcements")).to_contain_text("Audio seul")
    # Alice's page shows Bob in audio-only mode.
    expect(alice.locator("#tiles .tile__audio-only")).to_have_count(1, timeout=ROUND_TRIP_MS)
    bob.wait_for_timeout(SETTLE_MS)

    # The SFU counts Bob in audio-only mode and forwards no video in the room (to Bob: dropped at
    # the fan-out; from Bob: he sends none), while sound still goes both ways.
    before = worker_metrics(worker)
    assert before[AUDIO_ONLY_PARTICIPANTS] == audio_only_before + 1
    on_bob = media_growth(bob, WINDOW_S, until={"in.audioPackets": 20, "out.audioPackets": 20})
    on_alice = media_growth(alice, WINDOW_S, until={"in.audioPackets": 20})
    after = worker_metrics(worker)
    assert after[FORWARDED_VIDEO] - before[FORWARDED_VIDEO] == 0
    assert after[FORWARDED_AUDIO] - before[FORWARDED_AUDIO] > 0

    # Bob receives no video packet at all, and still hears Alice.
    assert on_bob["in.videoPackets"] == 0, on_bob
    assert on_bob["in.videoFramesDecoded"] == 0, on_bob
    assert on_bob["in.audioPackets"] >= 20, on_bob
    # Bob sends no video (not even black frames: the camera is detached), but his voice.
    assert on_bob["out.videoPackets"] == 0, on_bob
    assert on_bob["out.audioPackets"] >= 20, on_bob
    # Alice no longer receives Bob's video, and still hears him.
    assert on_alice["in.videoPackets"] == 0, on_alice
    assert on_alice["in.audioPackets"] >= 20, on_alice

    # Bob's camera is closed (its light is off), not merely disabled.
    assert live_camera_tracks(bob) == 0
    camera_requests = len(user_media_requests(bob))

    # Back to video: the camera stays off until Bob turns it on.
    bob.click("#toggle-audio-only")
    expect_audio_only(bob, False)
    expect(bob.locator("#room-announcements")).to_contain_text("Vous pouvez réactiver votre caméra")
    expect(alice.locator("#tiles .tile__audio-only")).to_have_count(0, timeout=ROUND_TRIP_MS)
    assert live_camera_tracks(bob) == 0
    assert len(user_media_requests(bob)) == camera_requests

    # Alice's video comes back to Bob at once (the SFU asks her for a keyframe).
    wait_for_video_growth(bob)

    # Bob turns his camera on: it is opened again (video only) and Alice decodes it.
    bob.click("#toggle-camera")
    expect(bob.locator("#toggle-camera")).to_have_attribute("aria-pressed", "true")
    wait_for_video_growth(alice)
    assert user_media_requests(bob)[camera_requests:] == [{"audio": False, "video": True}]
    assert live_camera_tracks(bob) == 1
    assert worker_metrics(worker)[AUDIO_ONLY_PARTICIPANTS] == audio_only_before
    for page in (alice, bob):
        page.click("#leave")


def test_audio_only_chosen_before_entering_never_opens_the_camera(
    demo_platform, browser_context_factory
):
    alice = new_page(browser_context_factory)
    carol = new_page(browser_context_factory)
    sign_in(alice, demo_platform, ALICE, ministry="ecologie")
    sign_in(carol, demo_platform, CAROL, ministry="ecologie")
    room_url = create_room(alice, demo_platform, "Réunion en audio seul")
    enter_room(alice, room_url)

    carol.goto(room_url)
    # As a person does: the DSFR draws the box in the label, over the (transparent) input.
    carol.click("label[for=audio_only]")
    expect(carol.locator("#audio_only")).to_be_checked()
    expect(carol.locator("#camera")).to_be_disabled()
    carol.click("#prejoin-form button[type=submit]")
    carol.wait_for_url("**/salle")
    expect(carol.locator("#room-status")).to_have_text(
        "Vous êtes dans la réunion.", timeout=ROUND_TRIP_MS
    )
    expect_audio_only(carol, True)
    expect(alice.locator("#tiles .tile__audio-only")).to_have_count(1, timeout=ROUND_TRIP_MS)

    # Carol hears Alice, and Alice hears Carol.
    for page in (carol, alice):
        wait_for_audio(page)
    carol.wait_for_timeout(SETTLE_MS)
    on_carol = media_growth(carol, WINDOW_S, until={"in.audioPackets": 20})
    on_alice = media_growth(alice, WINDOW_S, until={"in.audioPackets": 20})
    assert on_carol["in.audioPackets"] >= 20, on_carol
    assert on_alice["in.audioPackets"] >= 20, on_alice
    # Carol receives no video packet, ever (Alice's camera is on), and sends none.
    assert inbound_media(carol)["videoPackets"] == 0
    assert on_carol["out.videoPackets"] == 0, on_carol
    assert inbound_media(alice)["videoPackets"] == 0

    # The room page never asked for the camera: the microphone only.
    assert user_media_requests(carol) == [{"audio": True, "video": False}]
    assert live_camera_tracks(carol) == 0
    for page in (alice, carol):
        page.click("#leave")


def test_audio_only_survives_a_reconnection(call, demo_platform):
    """The worker dies while Bob is in audio-only mode: his page rejoins in that mode, without
    opening the camera, and the camera button still works afterwards."""
    alice, bob = call.alice, call.bob
    bob.click("#toggle-audio-only")
    expect_audio_only(bob, True)
    assert live_camera_tracks(bob) == 0
    requests = len(user_media_requests(bob))

    os.kill(int(room_worker(demo_platform, call.room_url)["pid"]), signal.SIGKILL)
    for page in (alice, bob):
        wait_for_connections(page, 2)
        expect(page.locator("#room-status")).to_have_text(
            "Vous êtes dans la réunion.", timeout=30000
        )
    expect_audio_only(bob, True)
    expect(alice.locator("#tiles .tile__audio-only")).to_have_count(1, timeout=ROUND_TRIP_MS)
    # The new connection (the only open one) carries Alice's voice to Bob, and no video.
    wait_for_audio(bob)
    bob.wait_for_timeout(SETTLE_MS)
    on_bob = media_growth(bob, WINDOW_S, until={"in.audioPackets": 20})
    assert on_bob["in.audioPackets"] >= 20, on_bob
    assert inbound_media(bob)["videoPackets"] == 0
    assert on_bob["out.videoPackets"] == 0, on_bob
    # The new session reused the microphone: no device was asked for again.
    assert len(user_media_requests(bob)) == requests
    assert live_camera_tracks(bob) == 0

    bob.click("#toggle-audio-only")
    expect_audio_only(bob, False)
    wait_for_video_growth(bob)
    bob.click("#toggle-camera")
    wait_for_video_growth(alice)
    assert live_camera_tracks(bob) == 1
    for page in (alice, bob):
        page.click("#leave")


# The camera cannot be had (the person refused it, or it is busy): every request with video fails
# as the browser's own refusal does.
REFUSE_CAMERA = """
(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    if (constraints && constraints.video) {
      throw new DOMException("Permission denied", "NotAllowedError");
    }
    return original(constraints);
  };
})();
"""


def test_a_refused_camera_is_said_and_the_call_goes_on_by_voice(
    demo_platform, browser_context_factory
):
    alice = new_page(browser_context_factory)
    bob = new_page(browser_context_factory)
    bob.add_init_script(REFUSE_CAMERA)
    sign_in(alice, demo_platform, ALICE, ministry="ecologie")
    sign_in(bob, demo_platform, BOB, ministry="culture")
    room_url = create_room(alice, demo_platform, "Réunion sans caméra")
    enter_room(alice, room_url)
    enter_room(bob, room_url)

    refused = "L'accès à la caméra a été refusé"
    expect(bob.locator("#room-announcements")).to_contain_text(refused, timeout=ROUND_TRIP_MS)
    expect(bob.locator("#room-status")).to_have_text(
        "Vous êtes dans la réunion.", timeout=ROUND_TRIP_MS
    )
    expect(bob.locator("#toggle-camera")).to_have_attribute("aria-pressed", "false")
    wait_for_media_from_other(bob)
    wait_for_audio(alice)

    # Trying again says so again, and the button stays off.
    bob.evaluate("document.getElementById('room-announcements').textContent = ''")
    bob.click("#toggle-camera")
    expect(bob.locator("#room-announcements")).to_contain_text(refused)
    expect(bob.locator("#toggle-camera")).to_have_attribute("aria-pressed", "false")
    assert live_camera_tracks(bob) == 0
    for page in (alice, bob):
        page.click("#leave")
