"""Bad input closes the offending connection only; the rest of the room keeps its media."""

import asyncio
import re
import time

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from portal.media.join_tokens import generate_keypair, sign_join_token
from sfu.client import SfuClient
from sfu.ice import rtc_configuration
from tests.fixtures.sfu import SFU_TEST_ISSUER
from tests.sfu.helpers import close_all, join_client, wait_for_tracks

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]

ROOM = "salle-c"


async def expect_refusal(client: SfuClient, code: str, close_code: int) -> dict:
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.last_error is not None, "no error message before the close"
    assert client.last_error["code"] == code, client.last_error
    assert client.last_error["message"]
    assert client.close_code == close_code
    return client.last_error


async def raw_connection(worker) -> SfuClient:
    client = SfuClient(worker.url, ROOM, "")
    await client.connect()
    return client


async def joined_without_answering(worker, name: str) -> SfuClient:
    client = SfuClient(worker.url, ROOM, worker.token(ROOM, participant_id=name), auto_answer=False)
    await client.join()
    return client


def test_bad_input_closes_only_the_offending_connection(sfu_worker):
    async def scenario():
        alice = await join_client(sfu_worker, ROOM, "Alice")
        bob = await join_client(sfu_worker, ROOM, "Bob")
        bad = []
        try:
            at_alice = await wait_for_tracks(alice, "bob")
            at_bob = await wait_for_tracks(bob, "alice")
            await at_alice["video"].wait_for_frames(5, timeout=10)
            started = time.monotonic()

            client = await raw_connection(sfu_worker)
            bad.append(client)
            await client.send_raw("{this is not json")
            await expect_refusal(client, "malformed_message", 4400)

            client = await raw_connection(sfu_worker)
            bad.append(client)
            await client.send_raw('{"type": "join", "room": "' + "x" * 70_000 + '"}')
            await expect_refusal(client, "message_too_large", 1009)

            client = await raw_connection(sfu_worker)
            bad.append(client)
            await client.send({"type": "join", "room": ROOM, "token": sfu_worker.token("autre")})
            assert (await expect_refusal(client, "invalid_token", 4401))["reason"] == "wrong_room"

            client = await raw_connection(sfu_worker)
            bad.append(client)
            other_key, _ = generate_keypair()
            forged = sign_join_token(
                other_key,
                issuer=SFU_TEST_ISSUER,
                room=ROOM,
                participant_id="eve",
                display_name="Eve",
                role="moderator",
            )
            await client.send({"type": "join", "room": ROOM, "token": forged})
            error = await expect_refusal(client, "invalid_token", 4401)
            assert error["reason"] == "bad_signature"

            # Joined participants misbehaving: they leave, the others are told.
            client = await joined_without_answering(sfu_worker, "mallory")
            bad.append(client)
            await client.send({"type": "dance"})
            await expect_refusal(client, "unknown_message_type", 4400)
            event = await alice.next_event("participant-left")
            assert event.data["participant_id"] == "mallory"

            client = await joined_without_answering(sfu_worker, "oscar")
            bad.append(client)
            offer = await client.next_event("offer")
            await client.send(
                {"type": "answer", "revision": offer.data["revision"], "sdp": "v=0\r\nnonsense"}
            )
            await expect_refusal(client, "bad_sdp", 4400)

            # The room kept its media all along, and still has it.
            checked = time.monotonic()
            await asyncio.sleep(1.0)
            for consumers in (at_alice, at_bob):
                assert consumers["video"].count_since(checked) >= 10
                assert consumers["audio"].count_since(checked) >= 20
                assert consumers["video"].count_since(started) >= 15
            assert set(alice.participants) == {"bob"}
        finally:
            await close_all(alice, bob, *bad)

    asyncio.run(scenario())


def test_large_messages_are_read_once_joined_not_before(sfu_worker):
    """An SDP answer in a room of 55 is ~70 KB: accepted once joined; before `join` (nobody is
    authenticated yet) 16 KiB is the limit."""

    async def scenario():
        client = await joined_without_answering(sfu_worker, "Grand")
        try:
            # 100 KB: read and parsed (refused as a chat message, not as a message), kept open.
            await client.chat("x" * 100_000)
            refusal = await client.next_event("error")
            assert refusal.data["code"] == "too_long"
            assert not client.closed.is_set()
        finally:
            await client.close()
        stranger = await raw_connection(sfu_worker)
        try:
            await stranger.send_raw('{"type": "join", "room": "' + "x" * 20_000 + '"}')
            await expect_refusal(stranger, "message_too_large", 1009)
        finally:
            await stranger.close()

    asyncio.run(scenario())


# Regressions found by tests/sfu/test_signalling_fuzz.py.


def worker_rss_kib(worker) -> int:
    with open(f"/proc/{worker.process.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def real_answer(offer: dict) -> str:
    """What an aiortc client answers to `offer` (receiving only)."""
    pc = RTCPeerConnection(rtc_configuration())
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def test_deeply_nested_json_is_malformed_not_an_internal_error(sfu_worker):
    """About 1000 nested arrays (3 KB, under the 16 KiB before `join`) made json.loads raise
    RecursionError: `internal_error` (1011) and a traceback for each such message."""
    deep = '{"type": "join", "room": ' + "[" * 3000 + "]" * 3000 + "}"

    async def scenario():
        stranger = await raw_connection(sfu_worker)
        joined = await joined_without_answering(sfu_worker, "Profond")
        try:
            await stranger.send_raw(deep)
            await expect_refusal(stranger, "malformed_message", 4400)
            await joined.send_raw(deep.replace('"join"', '"chat"'))
            await expect_refusal(joined, "malformed_message", 4400)
        finally:
            await close_all(stranger, joined)

    asyncio.run(scenario())
    # The fixture fails the test if the worker logged a traceback.


def test_a_refusal_from_another_task_reaches_a_client_that_keeps_sending(sfu_worker):
    """A bad answer is refused by the negotiation task while the session's own task waits for
    the next message. aiohttp then closed the socket at once instead of waiting for the client's
    closing reply; a client sending meanwhile, and a little slow to read (here: busy with the
    media of two participants on its loop), lost the `error` and the close frame and saw 1006 —
    a dead worker, so it would reconnect — about one time in five, instead of bad_sdp and 4400."""

    async def scenario():
        alice = await join_client(sfu_worker, "salle-voisine", "Alice")
        bob = await join_client(sfu_worker, "salle-voisine", "Bob")
        try:
            await wait_for_tracks(alice, "bob")
            await wait_for_tracks(bob, "alice")
            for attempt in range(30):
                client = await joined_without_answering(sfu_worker, f"bavard-{attempt}")
                try:
                    offer = await client.next_event("offer")
                    revision = offer.data["revision"]
                    await client.send({"type": "answer", "revision": revision, "sdp": "v=0\r"})
                    for follow_up in ("unpublish-screen", "publish-screen"):
                        await client.send({"type": follow_up})
                    await expect_refusal(client, "bad_sdp", 4400)
                finally:
                    await client.close()
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda sdp: re.sub(r"a=fingerprint:[^\r]*\r\n", "", sdp), "no DTLS fingerprint"),
        (lambda sdp: sdp + "a=ssrc:99999999999999999999 cname:x\r\n", "SSRC beyond 32 bits"),
    ],
)
def test_answers_aiortc_would_fail_on_later_are_bad_sdp(sfu_worker, mutate, why):
    """aiortc accepted these answers, then its connect task died on an assertion (no
    fingerprint: the participant never connected and was never told, and the worker logged a
    traceback), or the RTCP about that SSRC could not be written."""

    async def scenario():
        client = await joined_without_answering(sfu_worker, "Sans-empreinte")
        try:
            offer = await client.next_event("offer")
            sdp = mutate(await real_answer(offer.data))
            await client.send({"type": "answer", "revision": offer.data["revision"], "sdp": sdp})
            error = await expect_refusal(client, "bad_sdp", 4400)
            assert why.split()[-1].lower() in error["message"].lower(), error
        finally:
            await client.close()

    asyncio.run(scenario())


def test_refused_connections_do_not_hold_memory(sfu_worker):
    """aiohttp re-armed the heartbeat of a WebSocket we had closed when the client's closing
    reply arrived: each refused connection stayed in memory 30 s more, about 10 KB (+3 MB per
    300 refusals in a few seconds). sfu/app.py disarms it once the session is over."""

    async def refusals(count: int) -> None:
        for _ in range(count):
            client = await raw_connection(sfu_worker)
            try:
                await client.send({"type": "hand", "raised": True})
                await expect_refusal(client, "protocol_error", 4400)
            finally:
                await client.close()

    asyncio.run(refusals(100))  # warm-up: allocator arenas, caches
    before = worker_rss_kib(sfu_worker)
    asyncio.run(refusals(300))
    growth = worker_rss_kib(sfu_worker) - before
    assert growth < 1536, f"the worker's RSS grew by {growth} KiB over 300 refused connections"
