"""The two hooks the congestion policy needs on a publisher's receivers (aiortc has no API for
either, so both wrap one method of one receiver instance; the original still runs):

- `RembCap`: cap the REMB the SFU sends to a video publisher. Browsers (REMB negotiated, no
  transport-cc in aiortc) and aiortc publishers lower their send bitrate to it: step 1 of the
  policy for every kind of client, without transcoding.
- `tap_audio_levels`: the RFC 6464 audio level of each RTP audio packet, read before aiortc's
  jitter buffer (the frame pass-through path drops the header extension), for active speakers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCRtpReceiver

logger = logging.getLogger(__name__)


class RembCap:
    """Bounds the bitrate in the REMB feedback of one video receiver while `cap_bps` is set."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self.cap_bps: int | None = None
        self.installed = False
        estimator = getattr(receiver, "_RTCRtpReceiver__remote_bitrate_estimator", None)
        if estimator is None:  # audio receiver, or an aiortc whose internals moved
            return
        original = estimator.add

        def add(*args, **kwargs):
            remb = original(*args, **kwargs)
            if remb is not None and self.cap_bps is not None:
                bitrate, ssrcs = remb
                return min(bitrate, self.cap_bps), ssrcs
            return remb

        estimator.add = add
        self.installed = True


def tap_audio_levels(receiver: RTCRtpReceiver, observe: Callable[[int], None]) -> bool:
    """Call `observe(level)` (0 loudest … 127 silence, -dBov) for each RTP packet that carries
    an audio level; False if this receiver cannot be tapped."""
    original = getattr(receiver, "_handle_rtp_packet", None)
    if original is None:
        return False

    async def handle_rtp_packet(packet, arrival_time_ms: int) -> None:
        level = packet.extensions.audio_level
        if level is not None:
            try:
                observe(level[1])
            except Exception:  # advisory: never lose the packet for it
                logger.debug("audio level observer failed", exc_info=True)
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp_packet
    return True
