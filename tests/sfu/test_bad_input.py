"""Bad input closes the offending connection only; the rest of the room keeps its media."""

import asyncio
import time

import pytest

from portal.media.join_tokens import generate_keypair, sign_join_token
from sfu.client import SfuClient
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
