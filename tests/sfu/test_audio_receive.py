"""Publishers' audio reaches the fan-out packet by packet (sfu/audio_receive.py): statistics for
the receiver's reports kept, levels passed on, silence stopped at the receiver."""

import asyncio

from aiortc import RTCRtpReceiver
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import RtpPacket

from sfu.audio_receive import receive_audio_directly
from sfu.metrics import COUNTERS

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


class FakeTransport:
    state = "new"

    def _register_rtp_receiver(self, *args):
        pass

    def _unregister_rtp_receiver(self, *args):
        pass


def opus_packet(sequence_number: int, timestamp: int, level: int, payload_type: int = 111):
    packet = RtpPacket(
        payload_type=payload_type, sequence_number=sequence_number, timestamp=timestamp, ssrc=77
    )
    packet.payload = bytes([0xFC, sequence_number % 256])
    packet.extensions.audio_level = (False, level)
    return packet


def test_packets_are_forwarded_at_once_and_silence_stops_at_the_receiver():
    async def scenario():
        receiver = RTCRtpReceiver("audio", transport=FakeTransport())
        receiver._track = RemoteStreamTrack(kind="audio")  # as RTCPeerConnection does
        levels, gate = [], {"open": True}
        receive_audio_directly(receiver, levels.append, lambda: gate["open"])
        await receiver.receive(RTCRtpReceiveParameters(codecs=[OPUS]))
        queue = receiver.track._queue
        start = 2**32 - 960  # the publisher's timestamps wrap around

        await receiver._handle_rtp_packet(opus_packet(10, start, 30), arrival_time_ms=0)
        # Forwarded with no wait for later packets (aiortc's jitter buffer held four).
        first = queue.get_nowait()
        assert (first.data, first.timestamp) == (b"\xfc\x0a", 0)

        await receiver._handle_rtp_packet(opus_packet(12, start + 1920, 30), arrival_time_ms=40)
        assert queue.get_nowait().timestamp == 1920  # relative, across the wrap

        silent_before = COUNTERS.silent_audio_frames
        gate["open"] = False
        await receiver._handle_rtp_packet(opus_packet(13, start + 2880, 127), arrival_time_ms=60)
        assert queue.empty() and COUNTERS.silent_audio_frames == silent_before + 1

        gate["open"] = True
        await receiver._handle_rtp_packet(opus_packet(14, start, 30, payload_type=5), 80)
        assert queue.empty()  # a payload type that was not negotiated

        assert levels == [30, 30, 127]
        # The receiver's report to the publisher counts every packet, forwarded or not:
        # 10, 12 and 13 arrived, 11 is lost.
        [statistics] = receiver._RTCRtpReceiver__remote_streams.values()
        assert (statistics.packets_received, statistics.packets_lost) == (3, 1)
        await receiver.stop()
        assert queue.get_nowait() is None  # the track ends with the receiver

    asyncio.run(scenario())
