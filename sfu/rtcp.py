"""RTCP on subscribers' senders: keyframe requests relayed (coalesced) to the publisher.

A subscriber's PLI/FIR arrives at the RTCRtpSender that feeds it; we wrap that sender's
`_handle_rtcp_packet` (per instance, the original still serves NACK → RTX and reports) and
ask the publisher for a keyframe with its receiver's `_send_rtcp_pli(media_ssrc)`.
Requests are coalesced to at most one PLI per `min_interval`, but never dropped: a request
arriving too soon is deferred to the end of the interval.
(Sender reports of idle streams are left out by sfu/rtp_writer.py.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket

from sfu.metrics import COUNTERS

logger = logging.getLogger(__name__)


def watch_keyframe_requests(sender: RTCRtpSender, on_request: Callable[[], None]) -> None:
    """Call `on_request()` whenever the remote end of `sender` sends a PLI or FIR."""
    original = sender._handle_rtcp_packet

    async def handle_rtcp_packet(packet) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            try:
                on_request()
            except Exception:
                logger.exception("keyframe request handler failed")
        await original(packet)

    sender._handle_rtcp_packet = handle_rtcp_packet


class KeyframeRequester:
    """Sends PLIs to one publisher's video receiver, at most one per `min_interval` seconds.

    Must be used on the event loop. `media_ssrc` is the publisher's media SSRC (never RTX);
    until it is known, requests stay pending.
    """

    def __init__(self, receiver: RTCRtpReceiver, min_interval: float = 0.25) -> None:
        self._receiver = receiver
        self._min_interval = min_interval
        self.media_ssrc: int | None = None
        self._last_sent = 0.0
        self._pending = False
        self._task: asyncio.Task | None = None
        self._closed = False
        self.sent_count = 0

    def request(self) -> None:
        if self._closed:
            return
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending and not self._closed:
            wait = self._last_sent + self._min_interval - time.monotonic()
            if self.media_ssrc is None:
                wait = max(wait, 0.05)
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._pending = False
            self._last_sent = time.monotonic()
            self.sent_count += 1
            COUNTERS.keyframe_requests += 1
            try:
                await self._receiver._send_rtcp_pli(self.media_ssrc)
            except Exception:
                logger.warning("PLI to ssrc %s failed", self.media_ssrc, exc_info=True)

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
