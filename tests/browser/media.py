"""What a page's browser really receives, read from RTCPeerConnection.getStats().

`RECORD_PEER_CONNECTIONS` goes in as an init script (`page.add_init_script`) so that the tests
can read the stats without the product exposing a debugging handle.
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

# Totals over every inbound stream, plus how many video streams decode at all (a camera and a
# screen share from the same person are two).
INBOUND_MEDIA = """
async () => {
  const totals = { videoFramesDecoded: 0, audioPackets: 0, frameWidth: 0, decodingVideoStreams: 0 };
  for (const pc of window.__peerConnections) {
    const stats = await pc.getStats();
    stats.forEach((report) => {
      if (report.type !== "inbound-rtp") return;
      if (report.kind === "video") {
        totals.videoFramesDecoded += report.framesDecoded || 0;
        totals.frameWidth = Math.max(totals.frameWidth, report.frameWidth || 0);
        if ((report.framesDecoded || 0) > 0) totals.decodingVideoStreams += 1;
      }
      if (report.kind === "audio") totals.audioPackets += report.packetsReceived || 0;
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
