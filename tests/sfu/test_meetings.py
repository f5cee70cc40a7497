"""Meetings as people run them (docs/meetings.md): chat, hands, screen sharing, moderation, the
rules checked at join (bans, lock, capacity) and the end of a meeting. Real worker, real Redis."""

import asyncio
import time

import pytest

from sfu.client import SfuClient, SfuError
from tests.sfu.helpers import close_all, wait_for_tracks
from tests.sfu.media import PatternVideoTrack, TrackConsumer, silence
from tests.sfu.test_events import stream_events

pytestmark = [pytest.mark.timeout(90), pytest.mark.usefixtures("loopback_ice")]


def make_client(worker, room, name, *, role="participant", media=False, pid=None, **claims):
    """A client for `name` (participant id `name.lower()`, uid `user-<name>` unless given)."""
    claims.setdefault("uid", "user-" + name.lower())
    token = worker.token(room, participant_id=pid or name.lower(), name=name, role=role, **claims)
    tracks = {"audio": silence(), "video": PatternVideoTrack(160, 120)} if media else {}
    return SfuClient(worker.url, room, token, **tracks)


async def enter(worker, room, name, **options) -> SfuClient:
    client = make_client(worker, room, name, **options)
    await client.join()
    return client


async def refused(worker, room, name, **options) -> SfuError:
    client = make_client(worker, room, name, **options)
    try:
        with pytest.raises(SfuError) as excinfo:
            await client.join()
        await asyncio.wait_for(client.closed.wait(), 5)
        excinfo.value.close_code = client.close_code
        return excinfo.value
    finally:
        await client.close()


async def updated(client: SfuClient, participant_id: str) -> dict:
    """The next participant-updated about `participant_id`."""
    while True:
        event = await client.next_event("participant-updated")
        if event.data["participant"]["id"] == participant_id:
            return event.data["participant"]


async def still_connected(client: SfuClient) -> None:
    await client.chat("toujours là ?")
    event = await client.next_event("chat")
    assert event.data["text"] == "toujours là ?"
    assert not client.closed.is_set()


def moderation_events(redis_client, count):
    events = stream_events(redis_client, 0)
    deadline = time.monotonic() + 5
    while len([e for e in events if e["type"] == "moderation"]) < count:
        assert time.monotonic() < deadline, events
        time.sleep(0.05)
        events = stream_events(redis_client, 0)
    return [e for e in events if e["type"] == "moderation"]


def test_chat_is_relayed_to_everyone(sfu_worker):
    async def scenario():
        clients = [await enter(sfu_worker, "salle-m1", n) for n in ("Alice", "Bob", "Carol")]
        alice, bob, _ = clients
        try:
            await alice.chat("Bonjour à tous")
            for client in clients:
                event = await client.next_event("chat")
                assert {k: event.data[k] for k in ("from", "name", "text")} == {
                    "from": "alice",
                    "name": "Alice",
                    "text": "Bonjour à tous",
                }
                assert abs(event.data["at"] - time.time()) < 5
            await bob.chat("x" * 2001)
            error = await bob.next_event("error")
            assert error.data["code"] == "too_long"
            await still_connected(bob)
        finally:
            await close_all(*clients)

    asyncio.run(scenario())


def test_hands_queue_in_order_lowered_by_self_and_by_moderator(sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m2", "Alice", role="moderator")
        bob = await enter(sfu_worker, "salle-m2", "Bob")
        carol = await enter(sfu_worker, "salle-m2", "Carol")
        try:
            await bob.raise_hand()
            assert (await alice.next_event("hands")).data["queue"] == ["bob"]
            await carol.raise_hand()
            assert (await alice.next_event("hands")).data["queue"] == ["bob", "carol"]
            assert (await updated(bob, "carol"))["hand"] is True

            await carol.lower_hand("bob")  # not hers to lower
            assert (await carol.next_event("error")).data["code"] == "forbidden"

            await bob.lower_hand("bob")
            assert (await alice.next_event("hands")).data["queue"] == ["carol"]
            await alice.lower_hand("carol")
            assert (await alice.next_event("hands")).data["queue"] == []
            assert (await updated(carol, "carol"))["hand"] is False
            assert carol.me["hand"] is False
        finally:
            await close_all(alice, bob, carol)

    asyncio.run(scenario())


def test_moderator_commands_from_a_participant_are_forbidden(sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m3", "Alice", role="moderator")
        bob = await enter(sfu_worker, "salle-m3", "Bob")
        try:
            commands = [
                bob.mute_participant("alice"),
                bob.mute_all(False),
                bob.allow_unmute(),
                bob.remove("alice"),
                bob.lock(True),
                bob.promote("bob"),
                bob.end(),
            ]
            for command in commands:
                await command
                assert (await bob.next_event("error")).data["code"] == "forbidden"
            await still_connected(bob)
            assert not alice.closed.is_set()
            assert bob.me["role"] == "participant"
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())


async def audio_and_video(client, *participant_ids):
    received = {pid: await wait_for_tracks(client, pid) for pid in participant_ids}
    for consumers in received.values():
        await consumers["audio"].wait_for_frames(10, timeout=10)
        await consumers["video"].wait_for_frames(5, timeout=10)
    return received


async def measure(received, seconds=1.5, settle=0.5):
    """Frames that arrived per (participant, kind) during `seconds`, after `settle`."""
    await asyncio.sleep(settle)
    since = time.monotonic()
    await asyncio.sleep(seconds)
    return {
        (pid, kind): consumer.count_since(since)
        for pid, consumers in received.items()
        for kind, consumer in consumers.items()
    }


def test_mute_all_stops_forwarding_audio_until_unmute_is_allowed(sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m4", "Alice", role="moderator", media=True)
        bob = await enter(sfu_worker, "salle-m4", "Bob", media=True)
        carol = await enter(sfu_worker, "salle-m4", "Carol", media=True)
        clients = [alice, bob, carol]
        try:
            at_alice = await audio_and_video(alice, "bob", "carol")
            at_bob = await audio_and_video(bob, "alice", "carol")
            at_carol = await audio_and_video(carol, "alice", "bob")

            await alice.mute_all(allow_unmute=False)
            assert (await alice.next_event("room-updated")).data["mute_all"] == {
                "active": True,
                "allow_unmute": False,
            }
            for pid in ("bob", "carol"):
                assert (await updated(alice, pid))["microphone"] is False
            # The clients keep sending audio: the SFU drops it.
            counts = await measure({**at_alice, "alice@bob": at_bob["alice"]})
            assert counts[("bob", "audio")] <= 2 and counts[("carol", "audio")] <= 2, counts
            assert counts[("bob", "video")] >= 10 and counts[("carol", "video")] >= 10, counts
            assert counts[("alice@bob", "audio")] >= 40, counts  # the moderator is not muted
            counts = await measure({"bob": at_carol["bob"]}, settle=0)
            assert counts[("bob", "audio")] <= 2, counts

            await bob.set_microphone(True)
            assert (await bob.next_event("error")).data["code"] == "unmute_forbidden"
            assert bob.me["microphone"] is False

            await alice.allow_unmute()
            assert (await bob.next_event("room-updated")).data["mute_all"]["allow_unmute"]
            await bob.set_microphone(True)
            assert (await updated(alice, "bob"))["microphone"] is True
            counts = await measure(at_alice)
            assert counts[("bob", "audio")] >= 40, counts
            assert counts[("carol", "audio")] <= 2, counts

            await alice.mute_participant("bob")
            assert (await updated(carol, "bob"))["microphone"] is False
            counts = await measure({"bob": at_carol["bob"]})
            assert counts[("bob", "audio")] <= 2 and counts[("bob", "video")] >= 10, counts
        finally:
            await close_all(*clients)

    asyncio.run(scenario())


def test_removed_participant_is_closed_and_banned(redis_client, sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m5", "Alice", role="moderator", media=True)
        bob = await enter(sfu_worker, "salle-m5", "Bob", media=True)
        carol = await enter(sfu_worker, "salle-m5", "Carol", media=True)
        try:
            at_alice = await audio_and_video(alice, "carol")
            await alice.remove("bob")
            assert (await bob.next_event("removed")).data["by"] == "alice"
            await asyncio.wait_for(bob.closed.wait(), 5)
            assert bob.close_code == 4403
            assert (await carol.next_event("participant-left")).data["participant_id"] == "bob"

            error = await refused(sfu_worker, "salle-m5", "Bob", pid="bob-again")
            assert (error.code, error.close_code) == ("banned", 4403)
            # Even as a moderator, with any token for that uid.
            error = await refused(sfu_worker, "salle-m5", "Bob", pid="bob-3", role="moderator")
            assert error.code == "banned"

            counts = await measure(at_alice)
            assert counts[("carol", "audio")] >= 40 and counts[("carol", "video")] >= 10
            assert not alice.closed.is_set() and not carol.closed.is_set()
        finally:
            await close_all(alice, bob, carol)

    asyncio.run(scenario())
    assert redis_client.smembers("sfu:room:salle-m5:banned") == {"user-bob"}
    assert 12 * 3600 - 60 < redis_client.ttl("sfu:room:salle-m5:banned") <= 12 * 3600
    (event,) = moderation_events(redis_client, 1)
    assert {k: event[k] for k in ("action", "room", "actor_uid", "target_uid")} == {
        "action": "remove",
        "room": "salle-m5",
        "actor_uid": "user-alice",
        "target_uid": "user-bob",
    }
    assert abs(float(event["at"]) - time.time()) < 60


def test_locked_room_admits_moderators_only(redis_client, sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m6", "Alice", role="moderator")
        clients = [alice]
        try:
            await alice.lock(True)
            update = await alice.next_event("room-updated")
            assert update.data["locked"] is True
            assert redis_client.get("sfu:room:salle-m6:locked") == "1"

            error = await refused(sfu_worker, "salle-m6", "Dave")
            assert (error.code, error.close_code) == ("room_locked", 4423)
            clients.append(await enter(sfu_worker, "salle-m6", "Erin", role="moderator"))
            assert clients[-1].participant_id == "erin"

            await alice.lock(False)
            assert (await alice.next_event("room-updated")).data["locked"] is False
            assert redis_client.get("sfu:room:salle-m6:locked") is None
            clients.append(await enter(sfu_worker, "salle-m6", "Dave"))
        finally:
            await close_all(*clients)

    asyncio.run(scenario())


def test_full_room_refuses_participants_but_not_moderators(sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m7", "Alice", cap=2)
        bob = await enter(sfu_worker, "salle-m7", "Bob", cap=2)
        clients = [alice, bob]
        try:
            error = await refused(sfu_worker, "salle-m7", "Carol", cap=2)
            assert (error.code, error.close_code) == ("room_full", 4429)
            clients.append(await enter(sfu_worker, "salle-m7", "Dana", cap=2, role="moderator"))
            assert set(clients[-1].participants) == {"alice", "bob"}
        finally:
            await close_all(*clients)

    asyncio.run(scenario())


def test_moderator_ends_the_meeting_for_everyone(redis_client, sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m8", "Alice", role="moderator", media=True)
        bob = await enter(sfu_worker, "salle-m8", "Bob", media=True)
        carol = await enter(sfu_worker, "salle-m8", "Carol")
        clients = [alice, bob, carol]
        try:
            await audio_and_video(alice, "bob")
            await alice.lock(True)
            await alice.end()
            for client in clients:
                ended = await client.next_event("ended")
                assert ended.data == {"type": "ended", "by": "alice", "reason": "moderator"}
                await asyncio.wait_for(client.closed.wait(), 5)
                assert client.close_code == 4410
        finally:
            await close_all(*clients)

    asyncio.run(scenario())
    assert redis_client.exists("sfu:room:salle-m8:ended")
    assert 0 < redis_client.ttl("sfu:room:salle-m8:ended") <= 60
    assert not redis_client.exists("sfu:room:salle-m8:locked")
    (event,) = moderation_events(redis_client, 1)
    assert (event["action"], event["actor_uid"], event["target_uid"]) == ("end", "user-alice", "")


def test_meeting_ends_at_close_at(sfu_worker):
    async def scenario():
        close_at = time.time() + 2
        alice = await enter(sfu_worker, "salle-m9", "Alice", role="moderator", close_at=close_at)
        bob = await enter(sfu_worker, "salle-m9", "Bob", close_at=close_at)
        try:
            for client in (alice, bob):
                ended = await client.next_event("ended", timeout=6)
                assert ended.data["reason"] == "schedule" and ended.data["by"] is None
                await asyncio.wait_for(client.closed.wait(), 5)
                assert client.close_code == 4410
            assert time.time() >= close_at - 0.1

            error = await refused(sfu_worker, "salle-m9", "Carol", close_at=time.time() - 1)
            assert (error.code, error.close_code) == ("ended", 4410)
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())


def test_promotion_is_broadcast_and_recorded(redis_client, sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m10", "Alice", role="moderator")
        bob = await enter(sfu_worker, "salle-m10", "Bob")
        try:
            await alice.promote("bob")
            assert (await updated(alice, "bob"))["role"] == "moderator"
            assert (await updated(bob, "bob"))["role"] == "moderator"
            await bob.lock(True)  # now allowed
            assert (await alice.next_event("room-updated")).data["locked"] is True
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())
    (event,) = moderation_events(redis_client, 1)
    assert (event["action"], event["actor_uid"], event["target_uid"]) == (
        "promote",
        "user-alice",
        "user-bob",
    )


async def screen_track(client):
    while True:
        event = await client.next_event("track")
        if event.data["kind"] == "screen":
            return event


def test_screen_share_reaches_subscribers_as_a_screen_track(sfu_worker):
    async def scenario():
        alice = await enter(sfu_worker, "salle-m11", "Alice", media=True)
        bob = await enter(sfu_worker, "salle-m11", "Bob", media=True)
        try:
            at_bob = await audio_and_video(bob, "alice")
            await alice.publish_screen(PatternVideoTrack(640, 360))
            event = await screen_track(bob)
            assert (event.data["participant_id"], event.data["kind"]) == ("alice", "screen")
            screen = TrackConsumer(event.track.track)
            await screen.wait_for_frames(10, timeout=10)
            assert screen.sizes == {(640, 360)}
            assert bob.participants["alice"]["screen"] is True
            counts = await measure(at_bob, settle=0)
            assert counts[("alice", "video")] >= 10  # the camera goes on

            await alice.unpublish_screen()
            ended = await bob.next_event("track-ended")
            assert ended.track.kind == "screen" and ended.track.participant_id == "alice"
            await asyncio.wait_for(screen.ended.wait(), 5)
            assert bob.participants["alice"]["screen"] is False
            assert set(bob.tracks_of("alice")) == {"audio", "video"}

            await alice.publish_screen(PatternVideoTrack(320, 180))  # again
            event = await screen_track(bob)
            again = TrackConsumer(event.track.track)
            await again.wait_for_frames(5, timeout=10)
            assert again.sizes == {(320, 180)}
        finally:
            await close_all(alice, bob)

    asyncio.run(scenario())


def test_tokens_without_meeting_claims_still_work(sfu_worker):
    async def scenario():
        alice = SfuClient(
            sfu_worker.url, "salle-m12", sfu_worker.token("salle-m12", "alice", "Alice")
        )
        joined = await alice.join()
        guest = await enter(sfu_worker, "salle-m12", "Gaston", uid="guest:g-42")
        try:
            assert joined["participant"]["guest"] is False
            assert joined["audio_only"] is False
            assert joined["locked"] is False and joined["hands"] == []
            participant = guest.participants["alice"]
            assert {k: participant[k] for k in ("role", "screen", "hand", "guest")} == {
                "role": "participant",
                "screen": False,
                "hand": False,
                "guest": False,
            }
            assert (await alice.next_event("participant-joined")).data["participant"]["guest"]
        finally:
            await close_all(alice, guest)

    asyncio.run(scenario())
