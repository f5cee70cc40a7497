"""Pins (docs/protocol.md, "Congestion"): a participant pins up to three people whose video the
congestion policy keeps for them; a moderator pins someone for everyone (an interpreter, a
presenter). Checked against a real worker with signalling-only clients."""

from __future__ import annotations

import asyncio

import pytest

from tests.sfu.test_meetings import enter

pytestmark = pytest.mark.timeout(60)


async def error_code(client) -> str:
    return (await client.next_event("error")).data["code"]


def test_a_participant_pins_up_to_three_others(sfu_worker):
    async def scenario():
        people = [await enter(sfu_worker, "salle-pins", name) for name in "ABCDE"]
        me, others = people[0], people[1:]
        try:
            for other in others[:3]:
                await me.send(
                    {"type": "pin", "participant_id": other.participant_id, "pinned": True}
                )
                pins = (await me.next_event("pins")).data["pinned"]
                assert other.participant_id in pins
            assert len(pins) == 3
            await me.send(
                {"type": "pin", "participant_id": others[3].participant_id, "pinned": True}
            )
            assert await error_code(me) == "too_many_pins"
            await me.send({"type": "pin", "participant_id": "nobody", "pinned": True})
            assert await error_code(me) == "unknown_participant"
            await me.send(
                {"type": "pin", "participant_id": others[0].participant_id, "pinned": False}
            )
            pins = (await me.next_event("pins")).data["pinned"]
            assert sorted(pins) == sorted(o.participant_id for o in others[1:3])
            # The connection is still fine after the refusals.
            await me.chat("toujours là")
            assert (await others[0].next_event("chat")).data["text"] == "toujours là"
            # Someone pinned leaves: their slot is free again, and the pinner is told.
            await others[1].leave()
            assert (await me.next_event("pins")).data["pinned"] == [others[2].participant_id]
        finally:
            await asyncio.gather(*(p.close() for p in people))

    asyncio.run(scenario())


def test_only_a_moderator_pins_for_everyone_and_the_pin_goes_with_the_person(sfu_worker):
    async def scenario():
        moderator = await enter(sfu_worker, "salle-pin-all", "Alice", role="moderator")
        bruno = await enter(sfu_worker, "salle-pin-all", "Bruno")
        interpreter = await enter(sfu_worker, "salle-pin-all", "Interprete")
        try:
            target = interpreter.participant_id
            await bruno.send({"type": "pin-for-all", "participant_id": target, "pinned": True})
            assert await error_code(bruno) == "forbidden"

            await moderator.send({"type": "pin-for-all", "participant_id": target, "pinned": True})
            for client in (moderator, bruno, interpreter):
                update = await client.next_event("room-updated")
                assert update.data["pinned"] == [target]

            await interpreter.leave()
            update = await bruno.next_event("room-updated")
            assert update.data["pinned"] == []
        finally:
            await asyncio.gather(moderator.close(), bruno.close(), interpreter.close())

    asyncio.run(scenario())
