"""A worker-wide budget for renegotiations: media first, offers and answers with what is left.

Each join renegotiates with every participant already in the room, and an offer or an answer
costs about 0.5 ms of the worker per m-line (two per publisher): 60 ms each at 55 people. With
one join every two seconds, the offers paced per participant (sfu/peer.py) still added up to
more than a core: the event loop fell behind, media queues overflowed, ICE consent checks went
unanswered and the worker lost participants (docs/performance.md). Media forwarding itself needs
well under a core at 55 (about 23,000 packets a second fit in one).

So the CPU-heavy parts of negotiations — building and applying an offer, applying an answer —
take turns here, one at a time across the worker, and each turn is followed by a pause that
keeps them to `share` of the loop's time (a 60 ms turn at a share of 0.4 is followed by 90 ms
during which only media and signalling run). Under a burst of joins the turns simply come later,
and the changes that arrive meanwhile fold into the next offer to each participant. A
participant's first offer goes before renegotiations (it has no media at all yet). In a quiet
worker turns cost a few milliseconds and nobody waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

SHARE = 0.4  # of the event loop's time, at most, for negotiations while they queue
FIRST, AGAIN = 0, 1  # priorities: a participant's first offer, then everything else


class NegotiationBudget:
    def __init__(self, share: float = SHARE, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self._clock = clock
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # (priority, order, …)
        self._order = itertools.count()
        self._free_at = 0.0  # no turn starts before this (the pause after the previous turn)
        self.turns = 0

    @asynccontextmanager
    async def turn(self, priority: int = AGAIN) -> AsyncIterator[None]:
        """Hold the worker's negotiation turn for the body of the `async with`."""
        await self._acquire(priority)
        try:
            pause = self._free_at - self._clock()
            if pause > 0:
                await asyncio.sleep(pause)
            started = self._clock()
            try:
                yield
            finally:
                spent = self._clock() - started
                self._free_at = self._clock() + spent * (1 / self.share - 1)
                self.turns += 1
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if not self._busy and not self._waiting:
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed the turn just as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():  # a cancelled waiter is skipped
                future.set_result(None)  # the turn passes on: still busy
                return
        self._busy = False
