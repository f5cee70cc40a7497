"""Chat flood limit (sfu/session.py ChatBucket, docs/protocol.md): a burst of 5 messages, then
one a second per participant; beyond it an `error` with code `rate_limited`, the connection
stays open and the others chat as before. Real worker for the protocol, scripted clock for the
bucket."""

import asyncio
import time

import pytest

from sfu.session import CHAT_BURST, ChatBucket
from tests.sfu.helpers import close_all
from tests.sfu.test_meetings import enter

ROOM = "salle-chat-limite"


def test_chat_bucket_burst_then_one_per_interval():
    bucket = ChatBucket(burst=5, interval=1.0, now=100.0)
    assert [bucket.take(100.0) for _ in range(5)] == [0.0] * 5
    assert bucket.take(100.0) == pytest.approx(1.0)
    assert bucket.take(100.5) == pytest.approx(0.5)  # refused: nothing spent
    assert bucket.take(101.0) == 0.0
    assert bucket.take(101.0) == pytest.approx(1.0)
    # A long silence gives back the burst, never more.
    assert [bucket.take(1000.0) for _ in range(6)][-2:] == [0.0, pytest.approx(1.0)]
    # A clock that steps back spends nothing and gives nothing.
    assert bucket.take(999.0) == pytest.approx(1.0)


@pytest.mark.timeout(90)
@pytest.mark.usefixtures("loopback_ice")
def test_chat_rate_limit_refuses_the_flood_only(sfu_worker):
    async def scenario():
        clients = [await enter(sfu_worker, ROOM, name) for name in ("Alice", "Bob", "Carol")]
        alice, bob, carol = clients
        try:
            started = time.monotonic()
            for number in range(8):
                await alice.chat(f"message {number}")
            answers = [await alice.next_event("chat", "error") for _ in range(8)]
            elapsed = time.monotonic() - started
            relayed = [event.data["text"] for event in answers if event.type == "chat"]
            refusals = [event.data for event in answers if event.type == "error"]
            # 5 at once; a slow machine may have earned one more per second spent sending.
            assert CHAT_BURST <= len(relayed) <= CHAT_BURST + int(elapsed)
            assert relayed == [f"message {number}" for number in range(len(relayed))]
            assert {refusal["code"] for refusal in refusals} == {"rate_limited"}
            assert all(refusal["message"] for refusal in refusals)

            # The others got what was relayed, nothing more, and chat on unaffected.
            for other in (bob, carol):
                assert [(await other.next_event("chat")).data["text"] for _ in relayed] == relayed
            await bob.chat("je parle aussi")
            for client in clients:
                event = await client.next_event("chat")
                assert (event.data["from"], event.data["text"]) == ("bob", "je parle aussi")

            # Alice is still there, and a second later she may speak again.
            assert not alice.closed.is_set()
            await asyncio.sleep(1.1)
            await alice.chat("de nouveau")
            for client in clients:
                event = await client.next_event("chat", "error")
                assert (event.type, event.data["text"]) == ("chat", "de nouveau")
            assert not alice.closed.is_set() and set(carol.participants) == {"alice", "bob"}
        finally:
            await close_all(*clients)

    asyncio.run(scenario())
