"""Negotiations take turns worker-wide and leave the loop to media (sfu/negotiation_budget.py)."""

import asyncio
import time

import pytest

from sfu.negotiation_budget import AGAIN, FIRST, NegotiationBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_turns_are_one_at_a_time_and_followed_by_a_pause_in_proportion():
    async def scenario():
        clock = FakeClock()
        budget = NegotiationBudget(share=0.4, clock=clock)
        inside, order = 0, []

        async def negotiate(name: str, cost: float) -> None:
            nonlocal inside
            async with budget.turn():
                inside += 1
                assert inside == 1
                await asyncio.sleep(0)  # other tasks run meanwhile: still nobody else inside
                clock.now += cost  # the turn's work, on the budget's clock
                order.append(name)
                inside -= 1

        started = time.monotonic()
        await asyncio.gather(negotiate("a", 0.1), negotiate("b", 0.1))
        # After a's 0.1 s turn at a share of 0.4, b waited 0.15 s (real time here).
        assert order == ["a", "b"] and time.monotonic() - started >= 0.14
        assert budget.turns == 2

    asyncio.run(scenario())


def test_a_first_offer_goes_before_renegotiations():
    async def scenario():
        budget = NegotiationBudget()
        order = []
        release = asyncio.Event()

        async def holder():
            async with budget.turn():
                await release.wait()

        async def negotiate(name: str, priority: int) -> None:
            async with budget.turn(priority):
                order.append(name)

        task = asyncio.create_task(holder())
        await asyncio.sleep(0)
        waiting = [
            asyncio.create_task(negotiate("renegotiation", AGAIN)),
            asyncio.create_task(negotiate("newcomer", FIRST)),
        ]
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(task, *waiting)
        assert order == ["newcomer", "renegotiation"]

    asyncio.run(scenario())


def test_a_cancelled_waiter_or_holder_never_blocks_the_others():
    async def scenario():
        budget = NegotiationBudget()
        release = asyncio.Event()

        async def holder():
            async with budget.turn():
                await release.wait()

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        gone = asyncio.create_task(holder())  # waits, then its participant leaves
        await asyncio.sleep(0)
        gone.cancel()
        first.cancel()  # the participant holding the turn leaves too
        await asyncio.gather(first, gone, return_exceptions=True)
        async with asyncio.timeout(1):
            async with budget.turn():
                pass

    asyncio.run(scenario())


def test_the_share_must_make_sense():
    with pytest.raises(ValueError):
        NegotiationBudget(share=0)
