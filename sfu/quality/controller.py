"""Runs the congestion policy of every room of this worker, once a second, and applies it.

Per tick and per room: sample each subscriber's feedback (sfu/quality/signals.py), rank the
active speakers, ask the room's `QualityPolicy` (pure, sfu/quality/policy.py) for a decision,
then apply it: the REMB ceiling of the publishers' camera receivers and a `video-constraints`
message to them (step 1; with `paused` for the cameras nobody receives,
sfu/quality/unwatched.py), each subscriber's video gate at the fan-out (steps 2 and 3), and a
`quality` message to whoever's situation changed (docs/protocol.md, "Congestion"). Nothing here
runs per packet. Owned by the worker: `start()` creates the task, `stop()` cancels it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sfu.quality.policy import (
    NORMAL,
    PolicyConfig,
    QualityPolicy,
    RoomDecision,
    RoomSignals,
    SubscriberSignals,
    VideoCap,
)
from sfu.quality.unwatched import UnwatchedCameras
from sfu.room import Room, Rooms

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0


def constraints_message(cap: VideoCap | None, paused: bool = False) -> dict[str, Any]:
    """What a publisher is asked to send (`null` everywhere and not paused: what you like)."""
    return {
        "type": "video-constraints",
        "max_bitrate": cap.max_bitrate_bps if cap else None,
        "scale_resolution_down_by": cap.scale_resolution_down_by if cap else None,
        "max_framerate": cap.max_framerate if cap else None,
        "paused": paused,
    }


def describe(sample: SubscriberSignals) -> str:
    """One subscriber's signals, for the log."""
    loss = "?" if sample.loss is None else f"{100 * sample.loss:.0f}%"
    remb = "?" if sample.remb_bps is None else f"{sample.remb_bps / 1000:.0f}k"
    sent = (sample.video_bps + sample.audio_bps) / 1000
    return (
        f"{sample.participant_id} (loss {loss}, remb {remb}, sent {sent:.0f}k, "
        f"overflows {sample.video_drops}, audio queue {sample.audio_backlog})"
    )


def quality_message(decision: RoomDecision, participant_id: str, moderator: bool) -> dict:
    """The room's quality state as one participant is told it; moderators also get counts."""
    own = decision.subscribers.get(participant_id)
    message: dict[str, Any] = {
        "type": "quality",
        "room": {"step": decision.step, "reason": decision.reason},
        "you": {
            "step": own.step if own else NORMAL,
            "reason": own.reason if own else "",
            "video_from": sorted(own.video_from)
            if own is not None and own.video_from is not None
            else None,
        },
    }
    if moderator:
        steps = [sub.step for sub in decision.subscribers.values()]
        message["moderation"] = {
            "congested": len(decision.congested),
            "degraded": sum(1 for step in steps if step > NORMAL),
            "audio_only": sum(1 for step in steps if step >= 3),
            "publishers_lowered": decision.publisher_cap is not None,
        }
    return message


class RoomQuality:
    """The policy of one room and what was last applied and told."""

    def __init__(self, config: PolicyConfig) -> None:
        self.policy = QualityPolicy(config)
        self.told: dict[str, dict] = {}  # participant id → last `quality` message
        # participant id → (cap, camera paused) told
        self.constrained: dict[str, tuple[VideoCap | None, bool]] = {}
        self.cameras = UnwatchedCameras()
        self.paused: frozenset[str] = frozenset()  # cameras asked to pause
        self.decision: RoomDecision | None = None


class QualityController:
    def __init__(
        self,
        rooms: Rooms,
        config: PolicyConfig | None = None,
        worker_cpu: Callable[[], float] = lambda: 0.0,
        interval: float = TICK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rooms = rooms
        self._config = config or PolicyConfig()
        self._worker_cpu = worker_cpu
        self._interval = interval
        self._clock = clock
        self._state: dict[Room, RoomQuality] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def state_of(self, room: Room) -> RoomQuality | None:
        return self._state.get(room)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.tick()
            except Exception:  # the next tick starts from fresh samples
                logger.exception("congestion policy tick failed")

    async def tick(self) -> None:
        now = self._clock()
        cpu = self._worker_cpu()
        rooms = list(self._rooms)
        for gone in set(self._state) - set(rooms):
            del self._state[gone]
        for room in rooms:
            if room.ended:
                continue
            state = self._state.setdefault(room, RoomQuality(self._config))
            await self._tick_room(room, state, now, cpu)

    async def _tick_room(self, room: Room, state: RoomQuality, now: float, cpu: float) -> None:
        peers = {p.id: p.peer for p in room.participants.values() if p.peer is not None}
        signals = RoomSignals(
            participants=tuple(room.participants),
            subscribers={pid: peer.feedback.sample(now) for pid, peer in peers.items()},
            speakers=self._speakers(room, now),
            room_pins=frozenset(room.pinned),
            worker_cpu=cpu,
        )
        decision = state.policy.decide(now, signals)
        # Silence is not forwarded where the room rule applies (sfu/quality/audio_gate.py).
        room.audio_gate.enabled = len(room.participants) >= self._config.min_participants
        if state.decision is None or decision.step != state.decision.step:
            logger.info(
                "room %s quality step %d (%s), congested: %s",
                room.slug,
                decision.step,
                decision.reason or "clear",
                ", ".join(describe(signals.subscribers[pid]) for pid in sorted(decision.congested))
                or "none",
            )
        state.decision = decision
        self._apply_caps(room, decision)
        for pid, peer in peers.items():
            own = decision.subscribers.get(pid)
            if own is not None:
                peer.apply_quality(own)
        paused = self._unwatched(room, state, decision, now)
        for participant in list(room.participants.values()):
            wanted = (decision.cap_for(participant.id), participant.id in paused)
            # A newcomer is told only what differs from the default (no cap, all normal).
            told = state.constrained.get(participant.id, (None, False))
            if told != wanted:
                await participant.send(constraints_message(*wanted))
                if told[1] and not wanted[1]:
                    self._request_camera_keyframe(room, participant.id)
            state.constrained[participant.id] = wanted
            message = quality_message(decision, participant.id, participant.is_moderator)
            known = participant.id in state.told
            if state.told.get(participant.id) != message and (known or decision.step != NORMAL):
                await participant.send(message)
            state.told[participant.id] = message
        for pid in set(state.told) - set(room.participants):
            del state.told[pid]
            state.constrained.pop(pid, None)

    def _unwatched(
        self, room: Room, state: RoomQuality, decision: RoomDecision, now: float
    ) -> frozenset[str]:
        """Cameras to pause: nobody receives them (only where the room rule applies)."""
        if len(room.participants) < self._config.min_participants:
            paused = state.cameras.reset()
        else:
            video_off = frozenset(p.id for p in room.participants.values() if p.audio_only)
            paused = state.cameras.to_pause(now, decision, tuple(room.participants), video_off)
        if paused != state.paused:
            logger.info("room %s: %d camera(s) nobody receives paused", room.slug, len(paused))
        state.paused = paused
        return paused

    @staticmethod
    def _request_camera_keyframe(room: Room, participant_id: str) -> None:
        """A resumed camera must show at once for whoever now receives it."""
        publication = room.publications.get((participant_id, "video"))
        if publication is not None:
            publication.request_keyframe()

    @staticmethod
    def _speakers(room: Room, now: float) -> tuple[str, ...]:
        """Active speakers first; then everyone else in order of arrival, so that last-N keeps
        N faces even when few people have spoken (or their clients send no audio level)."""
        ranked = room.speakers.ranking(now)
        return ranked + tuple(pid for pid in room.participants if pid not in ranked)

    @staticmethod
    def _apply_caps(room: Room, decision: RoomDecision) -> None:
        """The REMB ceiling of every camera (a screen share keeps its own bitrate: text must
        stay readable, and it is sent at a low frame rate anyway)."""
        for (owner, source), publication in room.publications.items():
            if source == "video" and publication.remb_cap is not None:
                cap = decision.cap_for(owner)
                publication.remb_cap.cap_bps = cap.max_bitrate_bps if cap else None
