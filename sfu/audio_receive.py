"""Publishers' audio packets go to the fan-out as they arrive, without aiortc's jitter buffer.

An Opus packet is a whole frame: there is nothing to reassemble. aiortc's audio receiver still
holds each packet until four later ones have arrived (a jitter buffer with prefetch 4, made for
a decoder: 60–80 ms added to every voice) and walks its buffer for each packet; and in a
crowded room most publishers are silent, their packets only to be dropped by the silence gate
(sfu/quality/audio_gate.py) after all that work — 52 of 55 publishers, 2,600 packets a second.

`receive_audio_directly` gives a publisher's audio receiver an RTP handler that does what an
SFU needs, on the event loop: it keeps the reception statistics the receiver's reports are made
of (loss and jitter: the publisher's browser adapts its sending to them), passes the RFC 6464
level on (active speaker, silence gate), and, unless the room's silence gate is closed for this
publisher, puts the packet in the receiver's track queue as a `ForwardedFrame`. Packets are
forwarded in the order they arrive: reordering and duplicates are for subscribers' jitter
buffers, as with any SFU. Timestamps are made relative to the first packet modulo 2^32 (each
subscriber's sender adds its own origin).

Reads aiortc 1.16.0's receiver fields `RECEIVER_FIELDS` (checked in sfu/passthrough.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCRtpReceiver
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket

from sfu.metrics import COUNTERS
from sfu.passthrough import ForwardedFrame

logger = logging.getLogger(__name__)

CODECS = "_RTCRtpReceiver__codecs"  # payload type → codec, set by receive()
REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"  # SSRC → StreamStatistics, for reports
RECEIVER_FIELDS = (CODECS, REMOTE_STREAMS)


def receive_audio_directly(
    receiver: RTCRtpReceiver,
    on_level: Callable[[int], None],
    gate_open: Callable[[], bool],
) -> None:
    """Replace `receiver`'s RTP handler (this instance only) as the module docstring says.
    `on_level(level)` gets each packet's audio level (0 loudest … 127 silence, -dBov);
    `gate_open()` says whether this publisher's audio is forwarded now."""
    fields = vars(receiver)
    # Filled by receive(), after this may be called: the same dictionaries.
    codecs, streams = fields[CODECS], fields[REMOTE_STREAMS]
    origin: int | None = None

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        nonlocal origin
        if not receiver._enabled:
            return
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        statistics = streams.get(packet.ssrc)
        if statistics is None:
            statistics = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        statistics.add(packet)
        level = packet.extensions.audio_level
        if level is not None:
            try:
                on_level(level[1])
            except Exception:  # advisory: never lose the packet for it
                logger.debug("audio level observer failed", exc_info=True)
        if not gate_open():
            COUNTERS.silent_audio_frames += 1
            return
        if not packet.payload:
            return
        if origin is None:
            origin = packet.timestamp
        timestamp = (packet.timestamp - origin) & 0xFFFFFFFF
        # The track is created by the first remote description, before any packet.
        receiver._track._queue.put_nowait(ForwardedFrame(packet.payload, timestamp, "audio"))

    receiver._handle_rtp_packet = handle_rtp_packet
