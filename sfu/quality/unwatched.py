"""Cameras nobody receives: their publishers are asked to stop sending video until someone does.

At step 2 (last-N) of a crowded room a subscriber receives video only from the last speakers
and the pinned; at step 3, or in audio-only mode by choice, none. Every other camera is still
encoded by its browser, uploaded, and decrypted and reassembled by the worker, for nobody: at
55 participants, 52 uploads. The controller asks those publishers to pause their camera
(`video-constraints` with `paused: true`: the browser stops encoding it, `encodings[0].active
= false`) and to resume as soon as someone would receive it again (with a keyframe request, so
it shows at once).

A camera is paused only once it has been unwatched for `hold` seconds, so that a speaker
dropping out of the last-N for a moment is not paused and resumed over and over. Only in rooms
where the room rule applies (more than five participants): in a small room a newcomer sees
everyone at once, and nothing is paused.

Pure: `now` passed in.
"""

from __future__ import annotations

from collections.abc import Iterable

from sfu.quality.policy import AUDIO_ONLY, RoomDecision

HOLD_SECONDS = 5.0


def watched_cameras(
    decision: RoomDecision, participants: Iterable[str], video_off: frozenset[str]
) -> frozenset[str]:
    """Participants whose camera at least one other participant receives under `decision`.
    `video_off`: those in audio-only mode by their own choice (they receive no video). A
    participant the decision does not know yet (joining) is counted as receiving everyone."""
    everyone = frozenset(participants)
    watched: set[str] = set()
    for viewer in everyone - video_off:
        own = decision.subscribers.get(viewer)
        if own is not None and own.step >= AUDIO_ONLY:
            continue
        sources = everyone if own is None or own.video_from is None else own.video_from
        watched.update(sources - {viewer})
    return frozenset(watched & everyone)


class UnwatchedCameras:
    """Which cameras of one room to pause, with a hold before pausing (none before resuming)."""

    def __init__(self, hold: float = HOLD_SECONDS) -> None:
        self.hold = hold
        self._watched_at: dict[str, float] = {}  # participant → last time someone received it

    def to_pause(
        self,
        now: float,
        decision: RoomDecision,
        participants: Iterable[str],
        video_off: frozenset[str],
    ) -> frozenset[str]:
        participants = tuple(participants)
        watched = watched_cameras(decision, participants, video_off)
        self._watched_at = {
            pid: now if pid in watched else self._watched_at.get(pid, now) for pid in participants
        }
        return frozenset(
            pid
            for pid in participants
            if pid not in watched and now - self._watched_at[pid] >= self.hold
        )

    def reset(self) -> frozenset[str]:
        """The room rule does not apply (five or fewer): nothing paused, timers forgotten."""
        self._watched_at.clear()
        return frozenset()
