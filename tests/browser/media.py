"""What a page's browser really receives, read from RTCPeerConnection.getStats().

`RECORD_PEER_CONNECTIONS` and `RECORD_USER_MEDIA` go in as init scripts (`page.add_init_script`)
so that the tests can read the stats, and what the page asked of the camera and microphone,
without the product exposing a debugging handle.
"""

from __future__ import annotations

import time

RECORD_PEER_CONNECTIONS = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__peerConnections.push(this); }
  };
})();
"""

# The page's signalling WebSockets, and every message they carried either way (parsed), so that
# a test can read what the page asked of the SFU and what it answered.
RECORD_SIGNALLING = """
(() => {
  const Original = window.WebSocket;
  window.__webSockets = [];
  window.__signalling = [];
  const record = (direction, data) => {
    try {
      window.__signalling.push({ direction, message: JSON.parse(data) });
    } catch {
      // not JSON: not ours to record
    }
  };
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      window.__webSockets.push(this);
      this.addEventListener("message", (event) => record("in", event.data));
    }
    send(data) {
      record("out", data);
      return super.send(data);
    }
  };
})();
"""

# Hands a message to the page's current signalling WebSocket as if the SFU had sent it (a
# `message` event on the real socket, read by the page's own listeners). For what the SFU only
# sends under conditions a test cannot cheaply produce, such as congestion.
DELIVER_SIGNALLING = """
(message) => {
  const socket = window.__webSockets[window.__webSockets.length - 1];
  socket.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
}
"""


def signalling(page, direction: str | None = None, type_: str | None = None) -> list[dict]:
    """The messages the page's WebSockets carried (RECORD_SIGNALLING), oldest first: `direction`
    "in" (from the SFU) or "out" (to it), `type_` a message type; None for any."""
    return [
        entry["message"]
        for entry in page.evaluate("window.__signalling")
        if direction in (None, entry["direction"]) and type_ in (None, entry["message"].get("type"))
    ]


def deliver_signalling(page, message: dict) -> None:
    """Hand `message` to the page as if its SFU had sent it (RECORD_SIGNALLING)."""
    page.evaluate(DELIVER_SIGNALLING, message)


# Every getUserMedia call of the page: its constraints and the tracks it gave, so that a test can
# tell whether the camera was ever asked for, and whether it is still open (readyState "live").
RECORD_USER_MEDIA = """
(() => {
  const devices = navigator.mediaDevices;
  window.__userMediaRequests = [];
  window.__userMediaTracks = [];
  if (!devices || !devices.getUserMedia) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = async (constraints) => {
    const asked = (kind) => Boolean(constraints && constraints[kind]);
    window.__userMediaRequests.push({ audio: asked("audio"), video: asked("video") });
    const stream = await original(constraints);
    window.__userMediaTracks.push(...stream.getTracks());
    return stream;
  };
})();
"""

# Totals over every inbound stream, plus how many video streams decode at all (a camera and a
# screen share from the same person are two). Closed peer connections (a session lost to a dead
# worker) are left out.
INBOUND_MEDIA = """
async () => {
  const totals = {
    videoFramesDecoded: 0, videoPackets: 0, audioPackets: 0, frameWidth: 0, decodingVideoStreams: 0,
  };
  for (const pc of window.__peerConnections) {
    if (pc.signalingState === "closed") continue;
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      if (report.kind === "video") {
        totals.videoFramesDecoded += report.framesDecoded || 0;
        totals.videoPackets += report.packetsReceived || 0;
        totals.frameWidth = Math.max(totals.frameWidth, report.frameWidth || 0);
        if ((report.framesDecoded || 0) > 0) totals.decodingVideoStreams += 1;
      }
      if (report.kind === "audio") totals.audioPackets += report.packetsReceived || 0;
    });
  }
  return totals;
}
"""

# What the page sends: RTP packets over every outbound stream, per kind.
OUTBOUND_MEDIA = """
async () => {
  const totals = { videoPackets: 0, audioPackets: 0 };
  for (const pc of window.__peerConnections) {
    if (pc.signalingState === "closed") continue;
    (await pc.getStats()).forEach((report) => {
      if (report.type !== "outbound-rtp") return;
      if (report.kind === "video") totals.videoPackets += report.packetsSent || 0;
      if (report.kind === "audio") totals.audioPackets += report.packetsSent || 0;
    });
  }
  return totals;
}
"""


def inbound_media(page) -> dict:
    return page.evaluate(INBOUND_MEDIA)


def wait_for_media_from_other(page, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    totals = {}
    while time.monotonic() < deadline:
        totals = inbound_media(page)
        if totals["videoFramesDecoded"] > 0 and totals["audioPackets"] > 0:
            return totals
        page.wait_for_timeout(250)
    raise AssertionError(f"no media decoded from the other participant: {totals}")


def wait_for_decoding_video_streams(page, count: int, timeout: float = 20.0) -> dict:
    """Wait until `count` inbound video streams have decoded frames and still progress."""
    deadline = time.monotonic() + timeout
    totals = {}
    while time.monotonic() < deadline:
        totals = inbound_media(page)
        if totals["decodingVideoStreams"] >= count:
            return totals
        page.wait_for_timeout(250)
    raise AssertionError(f"fewer than {count} inbound video streams decode: {totals}")


def audio_packets_over(page, seconds: float) -> int:
    """How many audio packets the page received during the next `seconds`."""
    before = inbound_media(page)["audioPackets"]
    page.wait_for_timeout(int(seconds * 1000))
    return inbound_media(page)["audioPackets"] - before


def outbound_media(page) -> dict:
    return page.evaluate(OUTBOUND_MEDIA)


GROWTH_COUNTERS = (
    ("in", ("videoFramesDecoded", "videoPackets", "audioPackets")),
    ("out", ("videoPackets", "audioPackets")),
)


def _media_counters(page) -> dict:
    inbound, outbound = inbound_media(page), outbound_media(page)
    return {
        f"{side}.{name}": (inbound if side == "in" else outbound)[name]
        for side, names in GROWTH_COUNTERS
        for name in names
    }


def media_growth(
    page, seconds: float, until: dict[str, int] | None = None, timeout: float = 15.0
) -> dict:
    """How much each inbound and outbound counter grew during the next `seconds`: keys are
    `in.videoFramesDecoded`, `in.videoPackets`, `in.audioPackets`, `out.videoPackets`,
    `out.audioPackets`.

    With `until` ({key: at least}), the window lasts until those counters grew that much too
    (or `timeout`): what else moved while, say, sound kept flowing — a busy machine may stall
    media for a moment, and a fixed window would then prove nothing either way."""
    start = _media_counters(page)
    began = time.monotonic()
    page.wait_for_timeout(int(seconds * 1000))
    while True:
        now = _media_counters(page)
        growth = {key: now[key] - start[key] for key in now}
        if all(growth[key] >= least for key, least in (until or {}).items()):
            return growth
        if time.monotonic() - began > timeout:
            return growth
        page.wait_for_timeout(250)


def wait_for_video_growth(page, frames: int = 10, timeout: float = 20.0) -> dict:
    """Wait until the page decodes `frames` more inbound video frames than now."""
    start = inbound_media(page)["videoFramesDecoded"]
    deadline = time.monotonic() + timeout
    totals = {}
    while time.monotonic() < deadline:
        totals = inbound_media(page)
        if totals["videoFramesDecoded"] - start >= frames:
            return totals
        page.wait_for_timeout(250)
    raise AssertionError(f"inbound video did not resume ({start} frames before): {totals}")


def user_media_requests(page) -> list[dict]:
    """The page's getUserMedia calls, in order: [{audio: bool, video: bool}] (RECORD_USER_MEDIA)."""
    return page.evaluate("window.__userMediaRequests")


def live_camera_tracks(page) -> int:
    """How many camera tracks the page obtained and has not stopped (RECORD_USER_MEDIA)."""
    return page.evaluate(
        "window.__userMediaTracks"
        ".filter((t) => t.kind === 'video' && t.readyState === 'live').length"
    )


def wait_for_audio(page, timeout: float = 20.0) -> dict:
    """Wait until the page's open peer connection(s) received audio packets."""
    deadline = time.monotonic() + timeout
    totals = {}
    while time.monotonic() < deadline:
        totals = inbound_media(page)
        if totals["audioPackets"] > 0:
            return totals
        page.wait_for_timeout(250)
    raise AssertionError(f"no audio received: {totals}")
