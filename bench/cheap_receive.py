"""Cheapest receive side for load generators: count SRTP packets from their clear RTP header,
never decrypt them, never hand them to aiortc.

A load generator that receives like a real client (SRTP unprotect, RTP parsing, aiortc's receiver
per packet) costs about as much per packet as the SFU that sends them, so on one machine the
generators starve before the SFU does (docs/performance.md, "Congested rooms"). Here aiortc keeps
what must be real — ICE with its consent freshness answers, the DTLS handshake, sending the
replayed media, RTCP feedback *to our senders* (PLI, NACK, REMB) — while every datagram the
participant receives is sorted by its first byte (RFC 7983) in the ICE socket's protocol, before
aioice's STUN parsing and aiortc's DTLS transport:

- 0–3 (STUN) and 20–63 (DTLS): handed to aioice/aiortc as usual;
- 128–191 with an RTCP packet type: a sender report (200: the SFU's senders, about one per stream
  and second) is counted and dropped unread; anything else (receiver reports, PLI, NACK, REMB
  about what *we* publish) is handed to aiortc, which decrypts it as usual;
- 128–191 otherwise, SRTP: counted from the 12-byte header, which SRTP leaves in clear (SSRC,
  sequence number, timestamp, marker bit), then dropped.

Counted per SSRC (`SsrcCounter`): packets and datagram bytes, packets missing by sequence number,
video frames (packets with the marker bit; "incomplete" when a sequence gap fell inside the
frame), audio frames sent according to the RTP timestamps (which also sees frames the SFU dropped
before sending). The SSRCs come from the SFU's offers (`a=ssrc`, `a=ssrc-group:FID` for RTX).

What changes for the SFU: it receives no feedback produced by decoding (no NACK, no PLI, no
REMB), and receiver reports are synthetic — `receiver_reports()` builds them from the counted
sequence numbers (fraction and cumulative loss, highest sequence number; jitter, LSR and DLSR 0,
so the SFU knows no round-trip time), up to 31 blocks per datagram, every 0.5–1.5 s per
participant, encrypted by aiortc's SRTP session. The policy's loss signal is therefore real
(a datagram the generator's socket dropped is reported lost), its REMB signal absent (None: the
policy treats an unknown REMB as no constraint), its CPU and queue signals unchanged.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable
from typing import Any

from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket

# After the first byte: marker bit + payload type, sequence number, timestamp, SSRC.
_RTP_HEADER = struct.Struct("!xBHII")
_RTCP_SR = 200
REPORT_BLOCKS_PER_PACKET = 31  # RTCP's 5-bit report count


class SsrcCounter:
    """What arrived on one SSRC, from the clear RTP header only."""

    __slots__ = (
        "mid",
        "kind",
        "rtx",
        "packets",
        "bytes",
        "frames",
        "incomplete",
        "_base",
        "_highest",
        "_gap",
        "_last_timestamp",
        "_timestamp_span",
        "_expected_prior",
        "_received_prior",
    )

    def __init__(self, mid: str, kind: str, rtx: bool = False) -> None:
        self.mid = mid
        self.kind = kind
        self.rtx = rtx
        self.packets = 0
        self.bytes = 0  # SRTP datagram bytes (header, payload, authentication tag)
        self.frames = 0  # video: packets with the marker bit (the last of a frame)
        self.incomplete = 0  # of those frames, the ones a sequence gap fell into
        self._base: int | None = None  # first sequence number
        self._highest = 0  # highest sequence number, extended past wrap-around
        self._gap = False  # a sequence number is missing since the last marker bit
        self._last_timestamp = 0
        self._timestamp_span = 0  # highest timestamp − first, unwrapped
        self._expected_prior = 0
        self._received_prior = 0

    def add(self, second_byte: int, sequence_number: int, timestamp: int, size: int) -> None:
        """One RTP packet: `second_byte` is its marker bit and payload type."""
        self.packets += 1
        self.bytes += size
        if self._base is None:
            self._base = self._highest = sequence_number
            self._last_timestamp = timestamp
        else:
            step = (sequence_number - self._highest) & 0xFFFF
            if step >= 0x8000 or step == 0:
                return  # older than the newest (reordered) or a duplicate: no frame, no gap
            if step > 1:
                self._gap = True
            self._highest += step
            elapsed = (timestamp - self._last_timestamp) & 0xFFFFFFFF
            if elapsed < 0x80000000:
                self._last_timestamp = timestamp
                self._timestamp_span += elapsed
        if second_byte & 0x80:
            self.frames += 1
            if self._gap:
                self.incomplete += 1
            self._gap = False

    @property
    def expected(self) -> int:
        return 0 if self._base is None else self._highest - self._base + 1

    @property
    def lost(self) -> int:
        """Packets missing by sequence number (as RTCP counts it: duplicates offset losses)."""
        return max(0, self.expected - self.packets)

    def frames_sent(self, frame_ticks: int) -> int:
        """Fixed-duration frames (Opus, 20 ms) the sender produced up to the newest received."""
        return 0 if self._base is None else self._timestamp_span // frame_ticks + 1

    def report(self, ssrc: int) -> RtcpReceiverInfo:
        """A receiver report block, and the start of the next report's interval (RFC 3550)."""
        expected = self.expected
        expected_interval = expected - self._expected_prior
        lost_interval = expected_interval - (self.packets - self._received_prior)
        self._expected_prior, self._received_prior = expected, self.packets
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        return RtcpReceiverInfo(
            ssrc=ssrc,
            fraction_lost=fraction,
            packets_lost=min(self.lost, 0x7FFFFF),
            highest_sequence=self._highest & 0xFFFFFFFF,
            jitter=0,
            lsr=0,
            dlsr=0,
        )


def quiet_receiver_rtcp(receiver: Any) -> None:
    """Replace `receiver`'s RTCP loop (aiortc 1.16, private names) by one that never wakes up.

    Nothing reaches aiortc's receivers here, so their loops would only wake every 0.5–1.5 s to
    find nothing to report: thousands of wake-ups a second across a 55-person room's generator
    (54 × 2 receivers per participant). The synthetic reports stand in for them. Keeps the
    loop's start/exit events, which `RTCRtpReceiver.stop()` waits on. Call before `receive()`
    (aiortc's track event comes first).
    """
    started = getattr(receiver, "_RTCRtpReceiver__rtcp_started", None)
    exited = getattr(receiver, "_RTCRtpReceiver__rtcp_exited", None)
    if started is None or exited is None:
        raise RuntimeError("aiortc receiver lacks its RTCP events: update bench/cheap_receive.py")

    async def idle() -> None:
        started.set()
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            pass
        exited.set()

    receiver._run_rtcp = idle  # noqa: SLF001


def ssrcs_of_offer(sdp: str) -> dict[int, tuple[str, str, bool]]:
    """SSRC → (mid, kind, is RTX) for every stream an SDP offer announces.

    Reads only the m=, a=mid, a=ssrc and a=ssrc-group:FID lines: a 55-person room's offers have
    110 m-lines and every participant gets one per join, so aiortc's full parser (which
    setRemoteDescription runs anyway) would double the generators' cost of the joins.
    """
    found: dict[int, tuple[str, str, bool]] = {}
    sections: list[tuple[str, str | None, set[int], set[int]]] = []  # kind, mid, ssrcs, rtx
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append((line[2:].split(" ", 1)[0], None, set(), set()))
        elif not sections:
            continue
        elif line.startswith("a=mid:"):
            kind, _, ssrcs, rtx = sections[-1]
            sections[-1] = (kind, line[6:].strip(), ssrcs, rtx)
        elif line.startswith("a=ssrc:"):
            sections[-1][2].add(int(line[7:].split(" ", 1)[0]))
        elif line.startswith("a=ssrc-group:FID "):
            items = line.split()[1:]
            if len(items) == 2:
                sections[-1][3].add(int(items[1]))
    for kind, mid, ssrcs, rtx in sections:
        if mid and kind in ("audio", "video"):
            for ssrc in ssrcs:
                found[ssrc] = (mid, kind, ssrc in rtx)
    return found


class HeaderCountingReceive:
    """Counts one peer connection's incoming SRTP by header (see the module docstring).

    `learn(offer_sdp)` before answering each offer; `install(pc)` once the ICE transport has
    gathered (idempotent: call it on every ICE state change); `run_reports(pc)` sends the
    synthetic receiver reports until cancelled.
    """

    def __init__(self, drop: Callable[[], bool] | None = None) -> None:
        self.streams: dict[int, SsrcCounter] = {}
        self.unknown_packets = 0  # SRTP on an SSRC no offer announced
        self.sender_reports = 0  # SRTCP sender reports dropped unread
        self.rtcp_passed = 0  # other SRTCP, handed to aiortc
        self.reports_sent = 0  # synthetic receiver report datagrams
        # Test hook: a packet for which drop() is true is treated as lost on the way.
        self._drop = drop
        self._wrapped: set[int] = set()

    def learn(self, offer_sdp: str) -> None:
        for ssrc, (mid, kind, rtx) in ssrcs_of_offer(offer_sdp).items():
            if ssrc not in self.streams:
                self.streams[ssrc] = SsrcCounter(mid, kind, rtx)

    def install(self, pc: Any) -> int:
        """Intercept the datagrams of every ICE socket of `pc` not intercepted yet (aiortc 1.16
        and aioice 0.13 private names: the ICE transport's `_connection`, its `_protocols`).
        Returns how many sockets are intercepted."""
        for transceiver in pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if dtls is None:
                continue
            connection = dtls.transport._connection  # noqa: SLF001
            for protocol in list(connection._protocols):  # noqa: SLF001
                if id(protocol) not in self._wrapped:
                    self._wrapped.add(id(protocol))
                    protocol.datagram_received = self._intercept(protocol.datagram_received)
        return len(self._wrapped)

    def _intercept(self, original: Callable[[bytes, Any], None]) -> Callable[[bytes, Any], None]:
        streams = self.streams
        unpack = _RTP_HEADER.unpack_from
        drop = self._drop

        def datagram_received(data: bytes, addr: Any) -> None:
            first = data[0]
            if 127 < first < 192 and len(data) >= 12:
                second = data[1]
                if 191 < second < 209:  # SRTCP (aiortc's is_rtcp range)
                    if second == _RTCP_SR:
                        self.sender_reports += 1
                        return
                    self.rtcp_passed += 1
                    original(data, addr)
                    return
                second, sequence_number, timestamp, ssrc = unpack(data)
                counter = streams.get(ssrc)
                if counter is None:
                    self.unknown_packets += 1
                elif drop is None or not drop():
                    counter.add(second, sequence_number, timestamp, len(data))
                return
            original(data, addr)

        return datagram_received

    def receiver_reports(self, reporter_ssrc: int) -> list[bytes]:
        """Synthetic RTCP receiver reports about every media stream received so far."""
        blocks = [
            counter.report(ssrc)
            for ssrc, counter in self.streams.items()
            if not counter.rtx and counter.packets
        ]
        size = REPORT_BLOCKS_PER_PACKET
        return [
            bytes(RtcpRrPacket(ssrc=reporter_ssrc, reports=blocks[i : i + size]))
            for i in range(0, len(blocks), size)
        ]

    async def run_reports(self, pc: Any) -> None:
        """Send receiver reports every 0.5–1.5 s (aiortc's own interval) while `pc` is up."""
        reporter_ssrc = random.getrandbits(32)
        while True:
            await asyncio.sleep(0.5 + random.random())  # noqa: S311 - not a secret
            transceivers = pc.getTransceivers()
            if not transceivers or transceivers[0].receiver.transport is None:
                continue
            dtls = transceivers[0].receiver.transport
            for datagram in self.receiver_reports(reporter_ssrc):
                try:
                    await dtls._send_rtp(datagram)  # noqa: SLF001 - SRTCP-protects it
                except ConnectionError:
                    break
                self.reports_sent += 1

    def counters_by_mid(self) -> dict[str, list[SsrcCounter]]:
        by_mid: dict[str, list[SsrcCounter]] = {}
        for counter in self.streams.values():
            by_mid.setdefault(counter.mid, []).append(counter)
        return by_mid
