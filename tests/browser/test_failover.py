"""The SFU worker holding a call is killed (kill -9): both pages reconnect by themselves.

Runs against the demo, whose pool supervisor runs two workers (and restarts the dead one). The
room's worker is found as the portal finds it (the pin `sfu:room:{slug}` in the demo's Redis),
its pid in its registry hash. The check is what each browser decodes again afterwards, without
a reload: inbound video frames on a new peer connection (docs/protocol.md, "Reconnection").
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from tests.browser.media import RECORD_PEER_CONNECTIONS
from tests.browser.pages import create_room, enter_room, sign_in

pytestmark = pytest.mark.browser

# Frames decoded on the newest peer connection (the reconnected session's).
NEWEST_CONNECTION_VIDEO_FRAMES = """
async () => {
  const pc = window.__peerConnections[window.__peerConnections.length - 1];
  let frames = 0;
  (await pc.getStats()).forEach((report) => {
    if (report.type !== "inbound-rtp" || report.kind !== "video") return;
    frames += report.framesDecoded || 0;
  });
  return { connections: window.__peerConnections.length, frames };
}
"""


# Every text the room's status line shows, kept: "reconnexion" may show for less than the
# time between two checks when the worker comes back at once.
RECORD_STATUS = """
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("room-status");
  if (!status) return;
  window.__statusLog = [status.textContent];
  new MutationObserver(() => window.__statusLog.push(status.textContent)).observe(status, {
    childList: true, characterData: true, subtree: true,
  });
});
"""


def wait_for_status(page, text: str, timeout: float) -> None:
    """Until the room's status line has shown `text` (polled from Python: our CSP forbids the
    string evaluation page.wait_for_function would fall back to)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in entry for entry in page.evaluate("window.__statusLog || []")):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the status never said {text!r}: {page.evaluate('window.__statusLog')}")


def wait_for_video_on_connection(page, connections: int, timeout: float) -> float:
    """Until the page's `connections`-th peer connection decodes video; returns when."""
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        state = page.evaluate(NEWEST_CONNECTION_VIDEO_FRAMES)
        if state["connections"] >= connections and state["frames"] > 0:
            return time.monotonic()
        page.wait_for_timeout(100)
    raise AssertionError(f"no video decoded on peer connection {connections}: {state}")


def test_pages_reconnect_by_themselves_when_the_worker_dies(demo_platform, browser_context_factory):
    alice = browser_context_factory().new_page()
    bob = browser_context_factory().new_page()
    for page in (alice, bob):
        page.add_init_script(RECORD_PEER_CONNECTIONS)
        page.add_init_script(RECORD_STATUS)
    sign_in(alice, demo_platform, "camille.martin@ecologie.gouv.fr", ministry="ecologie")
    sign_in(bob, demo_platform, "julien.petit@culture.gouv.fr", ministry="culture")
    room_url = create_room(alice, demo_platform, "Point de reprise")
    enter_room(alice, room_url)
    enter_room(bob, room_url)
    for page in (alice, bob):
        wait_for_video_on_connection(page, 1, timeout=20)

    store = redis.Redis.from_url(demo_platform.redis_url, decode_responses=True)
    slug = room_url.rstrip("/").rsplit("/", 1)[-1]
    worker_id = store.get(f"sfu:room:{slug}")
    pid = int(store.hget(f"sfu:worker:{worker_id}", "pid"))
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    for page in (alice, bob):
        wait_for_status(page, "reconnexion", timeout=5)
    resumed = [wait_for_video_on_connection(page, 2, timeout=30) for page in (alice, bob)]
    print(f"video decoded again {max(resumed) - killed_at:.2f} s after the kill")

    # The room lives on a live process: the other worker, or the killed one's restart under
    # the same id (the pool supervisor restarts a dead worker on its port).
    host = store.hgetall(f"sfu:worker:{store.get(f'sfu:room:{slug}')}")
    assert host and int(host["pid"]) != pid
    for page, other in ((alice, "Julien Petit"), (bob, "Camille Martin")):
        assert page.inner_text("#room-status") == "Vous êtes dans la réunion."
        page.wait_for_function("document.querySelectorAll('#tiles .tile').length === 2")
        assert other in page.inner_text("#tiles")
    store.close()
    for page in (alice, bob):
        page.click("#leave")
