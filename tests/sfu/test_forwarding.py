"""Media forwarded by a real worker between aiortc clients, without transcoding."""

import asyncio
import time

import pytest

from tests.sfu.helpers import close_all, join_client, wait_for_tracks

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def test_two_participants_receive_each_other(sfu_worker):
    async def scenario():
        alice = await join_client(sfu_worker, "salle-a", "Alice")
        bob = await join_client(sfu_worker, "salle-a", "Bob")
        try:
            from_bob = await wait_for_tracks(alice, "bob")
            from_alice = await wait_for_tracks(bob, "alice")
            for consumers in (from_bob, from_alice):
                await consumers["video"].wait_for_frames(10, timeout=10)
                await consumers["audio"].wait_for_frames(10, timeout=10)
                assert consumers["video"].sizes == {(320, 240)}

            await alice.set_camera(False)
            event = await bob.next_event("participant-updated")
            assert event.data["participant"]["id"] == "alice"
            assert (
                event.data["participant"]["camera"],
                event.data["participant"]["microphone"],
            ) == (
                False,
                True,
            )
            assert bob.participants["alice"]["camera"] is False
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())


def test_three_participants_late_joiner_and_leave(sfu_worker):
    sizes = {"alice": (320, 240), "bob": (240, 160), "carol": (160, 120)}

    async def scenario():
        alice = await join_client(sfu_worker, "salle-b", "Alice", width=320, height=240)
        bob = await join_client(sfu_worker, "salle-b", "Bob", width=240, height=160)
        clients = [alice, bob]
        try:
            at_alice = {"bob": await wait_for_tracks(alice, "bob")}
            at_bob = {"alice": await wait_for_tracks(bob, "alice")}
            await at_alice["bob"]["video"].wait_for_frames(5, timeout=10)
            # aiortc's encoder sends a keyframe only every 3000 frames: well past the first
            # one, a late joiner gets a picture only if its keyframe request is relayed.
            await asyncio.sleep(2.5)

            joined_at = time.monotonic()
            carol = await join_client(sfu_worker, "salle-b", "Carol", width=160, height=120)
            clients.append(carol)
            assert {p["id"] for p in carol.participants.values()} == {"alice", "bob"}
            at_carol = {
                "alice": await wait_for_tracks(carol, "alice"),
                "bob": await wait_for_tracks(carol, "bob"),
            }
            at_alice["carol"] = await wait_for_tracks(alice, "carol")
            at_bob["carol"] = await wait_for_tracks(bob, "carol")
            for consumers in at_carol.values():
                await consumers["video"].wait_for_frames(
                    1, timeout=2.0 - (time.monotonic() - joined_at)
                )
            for receiver, received in (("alice", at_alice), ("bob", at_bob), ("carol", at_carol)):
                for sender, consumers in received.items():
                    await consumers["video"].wait_for_frames(10, timeout=10)
                    await consumers["audio"].wait_for_frames(10, timeout=10)
                    assert consumers["video"].sizes == {sizes[sender]}, (receiver, sender)

            await carol.leave()
            for client in (alice, bob):
                event = await client.next_event("participant-left")
                assert event.data["participant_id"] == "carol"
                ended = {(await client.next_event("track-ended")).track.kind for _ in range(2)}
                assert ended == {"audio", "video"}
                assert client.tracks_of("carol") == {}
                assert "carol" not in client.participants
            left_at = time.monotonic()
            await asyncio.sleep(1.0)
            assert at_alice["bob"]["video"].count_since(left_at) >= 10
            assert at_bob["alice"]["video"].count_since(left_at) >= 10
            assert at_bob["alice"]["audio"].count_since(left_at) >= 20
        finally:
            await close_all(*clients)

    asyncio.run(scenario())
