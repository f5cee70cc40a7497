"""The worker's cyclic garbage collector: thresholds for a heap of aiortc objects, and its long
pauses logged.

A peer connection keeps its parsed SDPs (offers and answers with two m-lines per other
participant, tens of objects per m-line) and a transceiver per m-line: a 55-person room holds
of the order of 1.5 million GC-tracked objects. Each negotiation replaces tens of thousands of
them, so while a big room fills the old generation keeps growing by a quarter, and CPython's
default thresholds (700, 10, 10) then run a full collection — the whole heap scanned, the event
loop stopped — every 70,000 allocations or so: building the heap of a 35-person room in one
process took 10 full collections, 4.4 s of its 28.6 s, up to 0.94 s each (docs/performance.md),
a pause during which the worker answers no ICE consent check and forwards nothing.

So while the worker hosts a room of more than `BIG_ROOM` people, the young generations keep
CPython's thresholds (short pauses, cyclic garbage reclaimed within thousands of allocations)
and a full collection is considered a thousand times less often (every 70 million
allocations, still only once the old generation has grown by a quarter). The cycles of closed
peer connections that reached the old generation then wait longer (minutes), which is why the
default thresholds come back as soon as no room is that big: a worker that churns through
small rooms keeps its memory as before (tests/sfu/test_signalling_fuzz.py measures it).
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)

# While a big room is hosted: gen0 allocations, gen0 collections per gen1, gen1 collections
# per full collection.
BIG_ROOM_THRESHOLDS = (700, 10, 10_000)
BIG_ROOM = 10  # participants: as the rooms whose offers are paced (sfu/peer.py)
# A pause from this long is logged (at most one line per LOG_INTERVAL, with what it summarizes).
SLOW_PAUSE_SECONDS = 0.1
LOG_INTERVAL_SECONDS = 10.0


class PauseWatch:
    """Measures every collection (a `gc.callbacks` entry) and logs the long ones."""

    def __init__(self, clock=time.perf_counter) -> None:
        self._clock = clock
        self._started: float | None = None
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.slow: list[tuple[int, float]] = []  # (generation, seconds) not yet logged
        self._logged_at = float("-inf")

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = self._clock()
            return
        if self._started is None:
            return
        now = self._clock()
        pause, generation = now - self._started, info["generation"]
        self._started = None
        self.collections[generation] += 1
        self.seconds[generation] += pause
        if pause >= SLOW_PAUSE_SECONDS:
            self.slow.append((generation, pause))
            if now - self._logged_at >= LOG_INTERVAL_SECONDS:
                self._logged_at = now
                longest = max(self.slow, key=lambda item: item[1])
                logger.warning(
                    "%d garbage collection pause(s) of %.0f ms or more, the longest %.0f ms "
                    "(generation %d)",
                    len(self.slow),
                    SLOW_PAUSE_SECONDS * 1000,
                    longest[1] * 1000,
                    longest[0],
                )
                self.slow.clear()


class Thresholds:
    """Which thresholds apply: CPython's, or `BIG_ROOM_THRESHOLDS` while a big room is hosted.
    Inert until `configure()` (tests create rooms in their own process)."""

    def __init__(self) -> None:
        self.enabled = False
        self.default = gc.get_threshold()
        self._big_rooms: set[int] = set()  # id() of the rooms above BIG_ROOM

    def room_size_changed(self, room: object, size: int) -> None:
        if size > BIG_ROOM:
            self._big_rooms.add(id(room))
        else:
            self._big_rooms.discard(id(room))
        if self.enabled:
            gc.set_threshold(*(BIG_ROOM_THRESHOLDS if self._big_rooms else self.default))


THRESHOLDS = Thresholds()


def room_size_changed(room: object, size: int) -> None:
    """Called when a participant joins or leaves `room` (now of `size` participants)."""
    THRESHOLDS.room_size_changed(room, size)


def configure() -> PauseWatch:
    """Let room sizes choose the thresholds, and watch pauses (the whole process; call once)."""
    THRESHOLDS.enabled = True
    THRESHOLDS.default = gc.get_threshold()
    watch = PauseWatch()
    gc.callbacks.append(watch)
    return watch
