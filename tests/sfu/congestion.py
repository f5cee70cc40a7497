"""Helpers for congestion tests: a room of synthetic participants (bench.participant's
SyntheticRoom, one process per namespace or batch) on a real worker, some of them behind
rate-limited links (tests/fixtures/netns.py), and what each one receives.

    room = SyntheticRoom(worker, "salle", join_keys.private_path, tmp_path)
    room.add(["p1", "p2", "p3"])                       # one process on loopback
    room.add(["c1"], namespace=make_namespace(400))    # one process behind 400 kbit/s
    room.wait_receiving(video=["p1", "p2", "p3"], audio=["c1"])
    window = room.window("c1", 5)       # the last 5 s (bench.participant.Window)
    window.video_kbps(), window.audio_loss(), window.video_fps("p1")
    windows = room.measure(5)           # every participant over the next 5 s
    wait_for_windows(room, ["p1"], 3, lambda w: list(below_full_rate(w["p1"], ["c1"])), 30)
    room.messages("c1", "quality")                     # server messages of that type
    room.close()
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from bench.participant import SyntheticRoom, Window

__all__ = [
    "NOMINAL_AUDIO_PPS",
    "NOMINAL_VIDEO_FPS",
    "SyntheticRoom",
    "Window",
    "below_full_rate",
    "wait_for_windows",
]

# The clip's nominal rates (bench/media.py ClipSpec: 30 fps, 20 ms Opus frames).
NOMINAL_VIDEO_FPS = 30
NOMINAL_AUDIO_PPS = 50


def below_full_rate(window: Window, publishers: Iterable[str], ratio: float = 0.9) -> dict:
    """Publishers whose video reached `window`'s participant at less than `ratio` of the clip's
    30 fps: {id: fps}. Empty: full rate from all of them."""
    return {
        p: round(window.video_fps(p), 1)
        for p in publishers
        if window.video_fps(p) < ratio * NOMINAL_VIDEO_FPS
    }


def wait_for_windows(
    room: SyntheticRoom,
    names: Iterable[str],
    seconds: float,
    problems: Callable[[dict[str, Window]], list[str]],
    timeout: float,
    poll: float = 1.0,
) -> dict[str, Window]:
    """Poll until a window of the last `seconds` at each of `names` has no problems; returns
    those windows. `problems(windows)` lists what is wrong (empty: done). On a busy machine a
    full-rate check may miss a window or two: this waits for one where it holds."""
    names = list(names)
    deadline = time.monotonic() + timeout
    while True:
        windows = {name: room.window(name, seconds) for name in names}
        found = problems(windows)
        if not found:
            return windows
        if time.monotonic() > deadline:
            raise AssertionError(
                f"still wrong after {timeout} s (load average {os.getloadavg()}): {found}"
            )
        time.sleep(poll)
