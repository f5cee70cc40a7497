"""What the congestion policy knows about one subscriber: its RTCP feedback and its queues.

Gathered off the per-packet path: RTCP (receiver reports, REMB) arrives about once a second per
stream, and is seen by wrapping each outgoing sender's RTCP handler (the original still runs);
byte and overflow counters are plain integers the fan-out already keeps (sfu/forwarding.py).
`SubscriberFeedback.sample(now)` turns them into one `SubscriberSignals` per policy tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket, unpack_remb_fci

from sfu.forwarding import SubscriberLoad
from sfu.quality.policy import SubscriberSignals

logger = logging.getLogger(__name__)

# A report older than this no longer describes the link (the subscriber may have stopped
# reporting because it is saturated: then the queues speak).
REPORT_MAX_AGE_SECONDS = 5.0
CLOCK_RATE = {"audio": 48000, "video": 90000}


class SubscriberFeedback:
    """RTCP feedback and forwarding counters of one subscriber (one per peer connection)."""

    def __init__(self, participant_id: str, load: SubscriberLoad, now: float) -> None:
        self.participant_id = participant_id
        self._load = load
        self.pins: frozenset[str] = frozenset()
        self._worst_loss = 0.0  # since the previous sample
        self._last_loss: float | None = None
        self._loss_at = 0.0
        self._jitter: float | None = None
        # Latest REMB per set of SSRCs it covers: a browser sends one estimate for all the
        # streams it receives, aiortc one per receiver (a single stream) — their sum is the
        # subscriber's estimate either way.
        self._rembs: dict[frozenset[int], tuple[float, float]] = {}
        self._rtt: Callable[[], float | None] = lambda: None
        self._sampled_at = now
        self._video_bytes = load.video_bytes
        self._audio_bytes = load.audio_bytes
        self._overflows = load.video_overflows

    def watch(self, sender: RTCRtpSender, kind: str, clock: Callable[[], float]) -> None:
        """Read the receiver reports and REMB the subscriber sends about `sender`'s stream."""
        original = sender._handle_rtcp_packet
        rate = CLOCK_RATE.get(kind, 90000)

        async def handle_rtcp_packet(packet) -> None:
            try:
                self._observe(packet, sender, rate, clock())
            except Exception:  # feedback is advisory: never break the sender's RTCP
                logger.debug("could not read RTCP feedback", exc_info=True)
            await original(packet)

        sender._handle_rtcp_packet = handle_rtcp_packet
        # aiortc keeps its smoothed round-trip time private; read it when there is one.
        self._rtt = lambda: getattr(sender, "_RTCRtpSender__rtt", None)

    def _observe(self, packet, sender: RTCRtpSender, rate: int, now: float) -> None:
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc != sender._ssrc:
                    continue
                loss = report.fraction_lost / 256
                self._worst_loss = max(self._worst_loss, loss)
                self._last_loss, self._loss_at = loss, now
                self._jitter = report.jitter / rate
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            bitrate, ssrcs = unpack_remb_fci(packet.fci)
            covered = frozenset(ssrcs)
            for key in [key for key in self._rembs if key & covered and key != covered]:
                del self._rembs[key]  # the browser now reports for a different set of streams
            self._rembs[covered] = (float(bitrate), now)

    def sample(self, now: float) -> SubscriberSignals:
        elapsed = max(now - self._sampled_at, 1e-3)
        load = self._load
        video_bps = (load.video_bytes - self._video_bytes) * 8 / elapsed
        audio_bps = (load.audio_bytes - self._audio_bytes) * 8 / elapsed
        overflows = load.video_overflows - self._overflows
        self._sampled_at = now
        self._video_bytes, self._audio_bytes = load.video_bytes, load.audio_bytes
        self._overflows = load.video_overflows

        if self._last_loss is None or now - self._loss_at > REPORT_MAX_AGE_SECONDS:
            loss = None
        else:
            loss = max(self._worst_loss, self._last_loss)
        self._worst_loss = 0.0
        for key in [k for k, (_, at) in self._rembs.items() if now - at > REPORT_MAX_AGE_SECONDS]:
            del self._rembs[key]
        remb = sum(bitrate for bitrate, _ in self._rembs.values()) if self._rembs else None
        return SubscriberSignals(
            participant_id=self.participant_id,
            loss=loss,
            rtt=self._rtt(),
            jitter=self._jitter,
            remb_bps=remb,
            video_bps=video_bps,
            audio_bps=audio_bps,
            video_drops=overflows,
            audio_backlog=load.audio_backlog,
            pins=self.pins,
        )
