"""Subscribers' senders write RTP packets straight from forwarded frames.

aiortc's sender (`RTCRtpSender._run_rtp`) turns each frame into payloads with the codec's
packetizer, then builds an `RtpPacket` object per payload, serializes its header extensions
through a generic map and keeps the object for retransmissions: about 40 % of a loaded
worker's time went there (docs/performance.md), once per packet *and per subscriber*. Here a
frame is cut into payloads once for all subscribers (`ForwardedFrame.payloads`), and each sender
writes its packets from a header it prepared once: the fixed RTP header (RFC 3550) with one
struct call, then its MID and abs-send-time extensions (RFC 8285 one-byte form), of which only
the send time changes. What it sends is what aiortc would have sent, byte for byte, but for the
send time (taken once per frame) and the VP8 picture id (the publisher's frame number, the same
for every subscriber). Retransmissions (NACK → RTX) are kept working from the bytes sent.

Their sender reports (RTCP SR + SDES, about one a second) are built only for a stream that sent
media since its previous report: aiortc builds one for every stream, N (N - 1) x 2 a second in
a room of N (≈ 5,900 at 55), most of them about video paused by last-N or a silent publisher's
gated audio, which receivers need for nothing (reports serve to synchronize audio and video
that flow). The first report after media resumes is sent as usual.

Only senders whose track is a `SubscriberTrack` (`encoded_frames = True`) take this path; any
other sender in the process, and a sender whose negotiated extensions do not fit the one-byte
form, runs aiortc's own loop. aiortc 1.16.0's private state is read and written here (the
sender's name-mangled fields listed in `SENDER_FIELDS`); tests/sfu/test_rtp_writer.py compares
the output with aiortc's and fails if a field moves.
"""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time

from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import (
    RTP_HISTORY_SIZE,
    RtcpByePacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    RtpPacket,
    wrap_rtx,
)
from aiortc.utils import random32, uint16_add

logger = logging.getLogger(__name__)

RTP_HEADER = struct.Struct("!BBHLL")  # V=2 P X CC, M PT, sequence number, timestamp, SSRC
RTP_VERSION_WITH_EXTENSION = 0x90
ONE_BYTE_PROFILE = 0xBEDE
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)

# aiortc 1.16.0's private sender fields this module reads or writes: keys of `vars(sender)`
# (Python mangles `self.__name` in RTCRtpSender to `_RTCRtpSender__name`).
RTP_HEADER_EXTENSIONS_MAP = "_RTCRtpSender__rtp_header_extensions_map"
MID = "_RTCRtpSender__mid"
RTP_STARTED = "_RTCRtpSender__rtp_started"
RTP_HISTORY = "_RTCRtpSender__rtp_history"
NTP_TIMESTAMP = "_RTCRtpSender__ntp_timestamp"
RTP_TIMESTAMP = "_RTCRtpSender__rtp_timestamp"
OCTET_COUNT = "_RTCRtpSender__octet_count"
PACKET_COUNT = "_RTCRtpSender__packet_count"
TRACK = "_RTCRtpSender__track"
RTP_EXITED = "_RTCRtpSender__rtp_exited"
RTX_PAYLOAD_TYPE = "_RTCRtpSender__rtx_payload_type"
RTX_SEQUENCE_NUMBER = "_RTCRtpSender__rtx_sequence_number"
RTCP_STARTED = "_RTCRtpSender__rtcp_started"
LSR = "_RTCRtpSender__lsr"
LSR_TIME = "_RTCRtpSender__lsr_time"
CNAME = "_RTCRtpSender__cname"
RTCP_EXITED = "_RTCRtpSender__rtcp_exited"
SENDER_FIELDS = (
    RTP_HEADER_EXTENSIONS_MAP,
    MID,
    RTP_STARTED,
    RTP_HISTORY,
    NTP_TIMESTAMP,
    RTP_TIMESTAMP,
    OCTET_COUNT,
    PACKET_COUNT,
    TRACK,
    RTP_EXITED,
    RTX_PAYLOAD_TYPE,
    RTX_SEQUENCE_NUMBER,
    RTCP_STARTED,
    LSR,
    LSR_TIME,
    CNAME,
    RTCP_EXITED,
)


def ntp_now() -> int:
    """Now as a 64-bit NTP timestamp (aiortc's clock goes through datetime: ten times slower)."""
    return int((time.time() + NTP_EPOCH_OFFSET) * (1 << 32))


class ExtensionWriter:
    """The header extension block of one sender's packets: MID (constant) and abs-send-time."""

    def __init__(self, mid_id: int | None, mid: str | None, abs_send_time_id: int | None) -> None:
        self._prefix = b""
        if mid_id and mid:
            mid_bytes = mid.encode("utf8")
            if not 0 < mid_id <= 14 or not 0 < len(mid_bytes) <= 16:
                raise ValueError("MID does not fit a one-byte header extension")
            self._prefix += bytes([(mid_id << 4) | (len(mid_bytes) - 1)]) + mid_bytes
        self._abs_send_time = bool(abs_send_time_id)
        if abs_send_time_id:
            if not 0 < abs_send_time_id <= 14:
                raise ValueError("abs-send-time id does not fit a one-byte header extension")
            self._prefix += bytes([(abs_send_time_id << 4) | 2])
        length = len(self._prefix) + (3 if self._abs_send_time else 0)
        self._padding = b"\x00" * (-length % 4)
        self._header = struct.pack("!HH", ONE_BYTE_PROFILE, (length + len(self._padding)) // 4)
        self.empty = length == 0

    def block(self, ntp_time: int) -> bytes:
        if self.empty:
            return b""
        # abs-send-time: 6.18 fixed-point seconds, the 24 bits aiortc takes (ntp >> 14).
        send_time = ((ntp_time >> 14) & 0xFFFFFF).to_bytes(3, "big") if self._abs_send_time else b""
        return self._header + self._prefix + send_time + self._padding

    @classmethod
    def for_sender(cls, sender: RTCRtpSender) -> ExtensionWriter:
        fields = vars(sender)
        ids = fields[RTP_HEADER_EXTENSIONS_MAP]._HeaderExtensionsMap__ids
        return cls(ids.mid, fields[MID], ids.abs_send_time)


async def run_rtp(sender: RTCRtpSender, codec) -> None:
    """`RTCRtpSender._run_rtp` for a sender fed `ForwardedFrame`s (see the module docstring)."""
    try:
        extensions = ExtensionWriter.for_sender(sender)
    except ValueError:
        logger.info("header extensions need the two-byte form: aiortc's sender loop is used")
        return await ORIGINAL_RUN_RTP(sender, codec)
    fields = vars(sender)
    fields[RTP_STARTED].set()
    sender._retransmit = lambda sequence_number: retransmit(sender, sequence_number)
    history: dict[int, tuple[int, bytes]] = {}
    fields[RTP_HISTORY] = history
    transport = sender.transport
    payload_type, ssrc = codec.payloadType, sender._ssrc
    sequence_number = random_sequence_number()
    timestamp_origin = random32()
    track = sender.track
    try:
        while True:
            frame = await track.recv()
            if not sender._enabled:
                continue
            ntp_time = ntp_now()
            timestamp = (timestamp_origin + frame.timestamp) & 0xFFFFFFFF
            extension_block = extensions.block(ntp_time)
            first_byte = RTP_VERSION_WITH_EXTENSION if extension_block else 0x80
            payloads = frame.payloads()
            last = len(payloads) - 1
            octets = 0
            for index, payload in enumerate(payloads):
                second_byte = payload_type | (0x80 if index == last else 0)
                data = (
                    RTP_HEADER.pack(first_byte, second_byte, sequence_number, timestamp, ssrc)
                    + extension_block
                    + payload
                )
                history[sequence_number % RTP_HISTORY_SIZE] = (sequence_number, data)
                await transport._send_rtp(data)
                octets += len(payload)
                sequence_number = (sequence_number + 1) & 0xFFFF
            # What aiortc's sender reports (RTCP SR) and its statistics are built from.
            fields[NTP_TIMESTAMP] = ntp_time
            fields[RTP_TIMESTAMP] = timestamp
            fields[OCTET_COUNT] += octets
            fields[PACKET_COUNT] += len(payloads)

    except (asyncio.CancelledError, ConnectionError, MediaStreamError):
        pass
    except Exception:  # noqa: BLE001 - as aiortc: the exit event below must be set
        logger.warning("forwarding sender stopped", exc_info=True)
    if sender.track is not None:
        sender.track.stop()
        fields[TRACK] = None
    fields[RTP_EXITED].set()


async def retransmit(sender: RTCRtpSender, sequence_number: int) -> None:
    """Answer a NACK as aiortc does (RTX when negotiated), from the bytes first sent."""
    fields = vars(sender)
    entry = fields[RTP_HISTORY].get(sequence_number % RTP_HISTORY_SIZE)
    if entry is None or entry[0] != sequence_number:
        return
    extensions_map = fields[RTP_HEADER_EXTENSIONS_MAP]
    packet = RtpPacket.parse(entry[1], extensions_map)
    rtx_payload_type = fields[RTX_PAYLOAD_TYPE]
    if rtx_payload_type is not None:
        rtx_sequence_number = fields[RTX_SEQUENCE_NUMBER]
        packet = wrap_rtx(
            packet,
            payload_type=rtx_payload_type,
            sequence_number=rtx_sequence_number,
            ssrc=sender._rtx_ssrc,
        )
        fields[RTX_SEQUENCE_NUMBER] = uint16_add(rtx_sequence_number, 1)
    await sender.transport._send_rtp(packet.serialize(extensions_map))


async def run_rtcp(sender: RTCRtpSender) -> None:
    """`RTCRtpSender._run_rtcp`, as aiortc's but for streams idle since their last report."""
    fields = vars(sender)
    fields[RTCP_STARTED].set()
    reported = 0  # packet count in the previous report (none before the first packet)
    try:
        while True:
            await asyncio.sleep(0.5 + random.random())  # noqa: S311 - RFC 3550 interval spread
            packet_count = fields[PACKET_COUNT]
            if packet_count == reported:
                continue
            reported = packet_count
            ntp_time = fields[NTP_TIMESTAMP]
            packets = [
                RtcpSrPacket(
                    ssrc=sender._ssrc,
                    sender_info=RtcpSenderInfo(
                        ntp_timestamp=ntp_time,
                        rtp_timestamp=fields[RTP_TIMESTAMP],
                        packet_count=packet_count & 0xFFFFFFFF,
                        octet_count=fields[OCTET_COUNT] & 0xFFFFFFFF,
                    ),
                )
            ]
            # Kept for the round-trip time aiortc computes from the receiver's reports.
            fields[LSR] = (ntp_time >> 16) & 0xFFFFFFFF
            fields[LSR_TIME] = time.time()
            cname = fields[CNAME]
            if cname is not None:
                source = RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode("utf8"))])
                packets.append(RtcpSdesPacket(chunks=[source]))
            await sender._send_rtcp(packets)
    except asyncio.CancelledError:
        pass
    await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
    fields[RTCP_EXITED].set()


ORIGINAL_RUN_RTP = RTCRtpSender._run_rtp
ORIGINAL_RUN_RTCP = RTCRtpSender._run_rtcp


def _forwards_frames(sender: RTCRtpSender) -> bool:
    return getattr(sender.track, "encoded_frames", False)


async def _run_rtp(self: RTCRtpSender, codec) -> None:
    if _forwards_frames(self):
        return await run_rtp(self, codec)
    return await ORIGINAL_RUN_RTP(self, codec)


async def _run_rtcp(self: RTCRtpSender) -> None:
    if _forwards_frames(self):
        return await run_rtcp(self)
    return await ORIGINAL_RUN_RTCP(self)


def install() -> None:
    RTCRtpSender._run_rtp = _run_rtp
    RTCRtpSender._run_rtcp = _run_rtcp


def uninstall() -> None:
    RTCRtpSender._run_rtp = ORIGINAL_RUN_RTP
    RTCRtpSender._run_rtcp = ORIGINAL_RUN_RTCP
