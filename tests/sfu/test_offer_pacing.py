"""Offers to a participant are paced in big rooms (sfu/peer.py): the joins of a few seconds are
folded into one offer per participant already there; small rooms and first offers are not
delayed."""

from __future__ import annotations

import asyncio

import pytest

import sfu.peer
from sfu.peer import OFFERS_UNPACED_UP_TO, Peer, offer_interval
from sfu.room import Participant, Room


async def _no_send(message) -> None:
    return None


async def _no_failure(error) -> None:
    raise AssertionError(f"negotiation failed: {error}")


def room_of(size: int) -> Room:
    room = Room("pacing")
    for index in range(size):
        room.participants[f"p{index}"] = Participant(
            f"p{index}", f"P{index}", "participant", _no_send
        )
    return room


def counting_peer(room: Room) -> tuple[Peer, list[float]]:
    """A Peer of the room's first participant whose negotiations only record when they start."""
    peer = Peer(
        room.participants["p0"], room, sfu.peer.RTCConfiguration(iceServers=[]), _no_failure
    )
    offers: list[float] = []

    async def negotiate_once() -> None:
        offers.append(asyncio.get_running_loop().time())

    peer._negotiate_once = negotiate_once
    return peer, offers


def test_offer_interval_grows_with_the_room():
    assert offer_interval(2) == offer_interval(OFFERS_UNPACED_UP_TO) == 0.0
    sizes = range(OFFERS_UNPACED_UP_TO + 1, 80)
    intervals = [offer_interval(size) for size in sizes]
    assert intervals == sorted(intervals)
    assert 0 < offer_interval(20) <= 0.5
    assert 2.0 <= offer_interval(55) <= 4.0


def test_first_offer_is_immediate_in_a_big_room():
    async def scenario():
        peer, offers = counting_peer(room_of(55))
        start = asyncio.get_running_loop().time()
        peer.start()
        await asyncio.wait_for(peer.negotiated.wait(), 1.0)
        assert offers[0] - start < 0.05
        await peer.close()

    asyncio.run(scenario())


def test_joins_within_the_interval_make_one_offer(monkeypatch):
    """Five joins within the interval: one more offer, not five, and not before the interval."""
    monkeypatch.setattr(sfu.peer, "OFFER_JITTER", 0.0)
    monkeypatch.setattr(sfu.peer, "OFFER_PACING", 0.5 / 55**2)  # 0.5 s at 55

    async def scenario():
        peer, offers = counting_peer(room_of(55))
        peer.start()
        await peer.negotiated.wait()
        for _ in range(5):  # five more participants publish, 50 ms apart
            peer.request_negotiation()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.7)
        assert len(offers) == 2, offers
        assert 0.5 <= offers[1] - offers[0] < 0.6
        await peer.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("size", [2, 3, OFFERS_UNPACED_UP_TO])
def test_small_rooms_are_offered_at_once(size):
    async def scenario():
        peer, offers = counting_peer(room_of(size))
        peer.start()
        await peer.negotiated.wait()
        for expected in (2, 3):
            peer.request_negotiation()
            await asyncio.sleep(0.02)
            assert len(offers) == expected
        assert offers[-1] - offers[0] < 0.1
        await peer.close()

    asyncio.run(scenario())
