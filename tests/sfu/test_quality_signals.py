"""What the congestion policy is told about one subscriber (sfu/quality/signals.py), from the
RTCP packets aiortc hands a sender and the fan-out's counters."""

from __future__ import annotations

import asyncio

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    pack_remb_fci,
)

from sfu.forwarding import SubscriberLoad
from sfu.quality.signals import SubscriberFeedback


class Sender:
    """What SubscriberFeedback.watch needs of an RTCRtpSender."""

    def __init__(self, ssrc: int) -> None:
        self._ssrc = ssrc
        self.seen = []

    async def _handle_rtcp_packet(self, packet) -> None:
        self.seen.append(packet)


def report(ssrc: int, fraction_lost: int, jitter: int = 900) -> RtcpRrPacket:
    info = RtcpReceiverInfo(ssrc, fraction_lost, 0, 0, jitter, 0, 0)
    return RtcpRrPacket(ssrc=1, reports=[info])


def remb(bitrate: int, ssrcs: list[int]) -> RtcpPsfbPacket:
    return RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(bitrate, ssrcs)
    )


def watched(clock, *ssrcs: int, kind: str = "video"):
    load = SubscriberLoad()
    feedback = SubscriberFeedback("p1", load, clock[0])
    senders = [Sender(ssrc) for ssrc in ssrcs]
    for sender in senders:
        feedback.watch(sender, kind, lambda: clock[0])
    return feedback, load, senders


def deliver(sender, packet) -> None:
    asyncio.run(sender._handle_rtcp_packet(packet))


def test_loss_is_the_worst_report_since_the_last_sample_and_reports_still_reach_aiortc():
    clock = [100.0]
    feedback, _, (video, other) = watched(clock, 11, 22)
    deliver(video, report(11, 64, jitter=9000))  # 25 %, 0.1 s at 90 kHz
    deliver(video, report(11, 13))  # 5 %
    deliver(other, report(99, 255))  # about another stream: not ours
    assert video.seen and other.seen  # the original handler still runs
    clock[0] = 101.0
    sample = feedback.sample(clock[0])
    assert sample.loss == 64 / 256
    assert sample.jitter == 900 / 90000  # the latest report's
    clock[0] = 102.0
    assert feedback.sample(clock[0]).loss == 13 / 256  # no new report: the last one
    clock[0] = 108.0
    assert feedback.sample(clock[0]).loss is None  # older than 5 s: unknown


def test_remb_per_stream_estimates_add_up_and_a_total_replaces_them():
    clock = [10.0]
    feedback, _, (a, b) = watched(clock, 11, 22)
    deliver(a, remb(300_000, [11]))  # aiortc: one estimate per receiver
    deliver(b, remb(500_000, [22]))
    assert feedback.sample(clock[0]).remb_bps == 800_000
    deliver(a, remb(2_000_000, [11, 22]))  # a browser: one estimate for every stream
    deliver(b, remb(2_000_000, [11, 22]))  # the same packet, routed to both senders
    assert feedback.sample(clock[0]).remb_bps == 2_000_000
    clock[0] = 16.0
    assert feedback.sample(clock[0]).remb_bps is None


def test_counters_become_rates_and_overflows_since_the_last_sample():
    clock = [0.0]
    feedback, load, _ = watched(clock, 11)
    load.video_bytes, load.audio_bytes, load.video_overflows = 250_000, 8_000, 2
    load.audio_backlog = 3
    clock[0] = 2.0
    sample = feedback.sample(clock[0])
    assert sample.video_bps == 1_000_000 and sample.audio_bps == 32_000
    assert sample.video_drops == 2 and sample.audio_backlog == 3
    clock[0] = 3.0
    assert feedback.sample(clock[0]).video_drops == 0
