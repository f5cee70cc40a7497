"""Keyframe requests toward a publisher are coalesced, deferred, never dropped."""

import asyncio

from sfu.rtcp import KeyframeRequester


class FakeReceiver:
    def __init__(self):
        self.plis = []

    async def _send_rtcp_pli(self, media_ssrc):
        self.plis.append((asyncio.get_running_loop().time(), media_ssrc))


def test_requests_are_coalesced_and_deferred_not_dropped():
    async def scenario():
        receiver = FakeReceiver()
        requester = KeyframeRequester(receiver, min_interval=0.2)
        requester.media_ssrc = 1234
        for _ in range(5):
            requester.request()
        await asyncio.sleep(0.05)
        assert len(receiver.plis) == 1
        requester.request()  # too soon: deferred to the end of the interval
        await asyncio.sleep(0.3)
        assert [ssrc for _, ssrc in receiver.plis] == [1234, 1234]
        assert receiver.plis[1][0] - receiver.plis[0][0] >= 0.19
        requester.close()

    asyncio.run(scenario())


def test_requests_wait_for_the_media_ssrc():
    async def scenario():
        receiver = FakeReceiver()
        requester = KeyframeRequester(receiver, min_interval=0.1)
        requester.request()
        await asyncio.sleep(0.15)
        assert receiver.plis == []
        requester.media_ssrc = 99
        await asyncio.sleep(0.15)
        assert [ssrc for _, ssrc in receiver.plis] == [99]
        requester.close()

    asyncio.run(scenario())
