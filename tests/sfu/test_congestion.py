"""Real congestion, the congestion policy on (docs/congestion.md): seven synthetic participants
on a real worker, two of them behind a 600 kbit/s downlink (tc tbf in network namespaces the
test creates). The SFU degrades video for the two within seconds, their audio keeps flowing with
less than 2 % loss, the five others keep full video from everyone, and when the limit is lifted
video comes back. A room of five under the same limit is not degraded by the room rule.

Needs root (namespaces, tc); elsewhere skipped with the reason (tests/fixtures/netns.py).
"""

from __future__ import annotations

import logging
import time

import pytest

from sfu.quality.policy import AUDIO_ONLY, LAST_N, NORMAL
from tests.sfu.congestion import SyntheticRoom, below_full_rate, wait_for_windows

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.timeout(480)

LIMIT_KBIT = 600
# The harness's light clip: six 300 kbit/s videos and six 32 kbit/s voices toward each
# subscriber overflow 600 kbit/s three times over, and last-N's three videos still do. The six
# voices alone take about 370 kbit/s on the wire (32 kbit/s of Opus is ~60 kbit/s with RTP,
# SRTP, UDP and IP headers at 50 packets/s): they fit, with room for RTCP and signalling.
VIDEO_KBIT, VIDEO_SIZE = 300, "320x240"
FULL_RATE = 0.8  # of the clip's 30 fps, in a 3 s window (tests/sfu/test_congestion_harness.py)


def others(name: str, everyone: list[str]) -> list[str]:
    return [n for n in everyone if n != name]


def own_steps(room: SyntheticRoom, name: str) -> list[int]:
    """The steps the SFU told `name` it is at, in order (`quality` messages)."""
    return [m["you"]["step"] for m in room.messages(name, "quality")]


def start_room(room: SyntheticRoom, open_names, constrained) -> None:
    room.add(open_names[:3])
    if open_names[3:]:
        room.add(open_names[3:])
    for name, namespace in constrained.items():
        room.add([name], namespace=namespace)
    room.wait_ready()
    # The limit goes on once everyone receives everyone: from the start, the flood would also
    # starve the constrained participants' signalling before anything could be decided.
    room.wait_receiving(video=[*open_names, *constrained], timeout=90)


def test_congested_subscribers_lose_video_not_audio_and_get_it_back(
    make_namespace, start_reachable_sfu_worker, join_keys, tmp_path
):
    open_names = ["open1", "open2", "open3", "open4", "open5"]
    constrained = {name: make_namespace(None) for name in ("tight1", "tight2")}
    everyone = [*open_names, *constrained]
    worker = start_reachable_sfu_worker(list(constrained.values()))  # policy on: the default
    with SyntheticRoom(
        worker, "salle-encombree", join_keys.private_path, tmp_path,
        video_kbit=VIDEO_KBIT, video_size=VIDEO_SIZE,
    ) as room:  # fmt: skip
        start_room(room, open_names, constrained)
        for namespace in constrained.values():
            namespace.set_limit(LIMIT_KBIT)
        limited_at = time.monotonic()

        # Within seconds, the SFU degrades video for the two (last-N, then audio-only).
        took = room.wait_until(
            lambda: all(max(own_steps(room, n), default=NORMAL) >= LAST_N for n in constrained),
            timeout=30,
            what="video degraded for the constrained subscribers",
        )
        logger.warning("video degraded for both constrained subscribers %.1f s after", took)

        # Then their audio flows with less than 2 % loss, from every other participant.
        def audio_problems(windows) -> list[str]:
            found = []
            for name in constrained:
                window = windows[name]
                if window.audio_loss() >= 0.02:
                    found.append(f"{name} loses {100 * window.audio_loss():.1f} % of audio")
                silent = [o for o in others(name, everyone) if window.audio_pps(o) < 40]
                if silent:
                    found.append(f"{name} hears too little of {silent}: {window.summary()}")
            return found

        windows = wait_for_windows(room, list(constrained), 4, audio_problems, timeout=45)
        for name in constrained:
            logger.warning(
                "%s behind %d kbit/s: audio loss %.2f %%, video %.0f kbit/s, steps told %s",
                name, LIMIT_KBIT, 100 * windows[name].audio_loss(),
                windows[name].video_kbps(), own_steps(room, name),
            )  # fmt: skip

        # The unconstrained participants keep full video from all six others, and were never
        # degraded themselves.
        def open_problems(windows) -> list[str]:
            found = []
            for name in open_names:
                slow = below_full_rate(windows[name], others(name, everyone), FULL_RATE)
                if slow:
                    found.append(f"{name} gets video below full rate from {slow}")
            return found

        wait_for_windows(room, open_names, 3, open_problems, timeout=30)
        for name in open_names:
            assert max(own_steps(room, name), default=NORMAL) == NORMAL, (
                name,
                room.messages(name, "quality"),
            )
        logger.warning("degraded phase lasted %.0f s", time.monotonic() - limited_at)

        # Lifted: step by step, video comes back at full rate from everyone.
        for namespace in constrained.values():
            namespace.set_limit(None)
        lifted_at = time.monotonic()
        took = room.wait_until(
            lambda: all(own_steps(room, n)[-1] == NORMAL for n in constrained),
            # A bound, not a speed: 10 s of calm per step, one REMB probe (60 s), and hold-offs
            # that double if a loaded machine's own losses re-engage a step on the way.
            timeout=240,
            what="the constrained subscribers back at NORMAL",
            poll=1.0,
        )
        steps = {n: own_steps(room, n) for n in constrained}
        for name, told in steps.items():
            # Recovery goes down one step at a time, never straight from audio-only to all
            # (a recovering link may be stepped up again on the way: that is allowed).
            downs = [(a, b) for a, b in zip(told, told[1:], strict=False) if b < a]
            assert downs and set(downs) <= {(AUDIO_ONLY, LAST_N), (LAST_N, NORMAL)}, (name, told)
        windows = wait_for_windows(
            room,
            list(constrained),
            3,
            lambda w: [
                f"{n}: {below_full_rate(w[n], others(n, everyone), FULL_RATE)}"
                for n in constrained
                if below_full_rate(w[n], others(n, everyone), FULL_RATE)
            ],
            timeout=60,
        )
        logger.warning(
            "limit lifted: NORMAL again after %.0f s, full-rate video after %.0f s; steps %s",
            took, time.monotonic() - lifted_at, steps,
        )  # fmt: skip


def test_a_room_of_five_is_not_degraded_by_the_room_rule(
    make_namespace, start_reachable_sfu_worker, join_keys, tmp_path
):
    open_names = ["open1", "open2", "open3"]
    constrained = {name: make_namespace(None) for name in ("tight1", "tight2")}
    worker = start_reachable_sfu_worker(list(constrained.values()))
    with SyntheticRoom(
        worker, "salle-de-cinq", join_keys.private_path, tmp_path,
        video_kbit=VIDEO_KBIT, video_size=VIDEO_SIZE,
    ) as room:  # fmt: skip
        start_room(room, open_names, constrained)
        for namespace in constrained.values():
            namespace.set_limit(LIMIT_KBIT)
        # Longer than it takes a room of seven to reach audio-only (engage, then two steps).
        time.sleep(15)
        for name in room.names:
            assert room.messages(name, "quality") == [], (name, room.messages(name, "quality"))
            caps = [m for m in room.messages(name, "video-constraints") if m["max_bitrate"]]
            assert caps == [], (name, caps)
        # The constrained ones are still there, receiving what their link lets through.
        windows = room.measure(3)
        for name in constrained:
            assert windows[name].audio_pps() > 0, (name, windows[name].summary())
