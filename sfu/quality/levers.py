"""`RembCap`: cap the REMB the SFU sends to a video publisher. Browsers (REMB negotiated, no
transport-cc in aiortc) and aiortc publishers lower their send bitrate to it: step 1 of the
congestion policy for every kind of client, without transcoding. aiortc has no API for it, so
this wraps one method of one receiver's bitrate estimator; the original still runs.

(Audio levels, for active speakers and the silence gate, are read by sfu/audio_receive.py.)
"""

from __future__ import annotations

import logging

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
