"""One participant's RTCPeerConnection and its negotiations, the SFU always being the offerer.

The server creates recvonly audio/video transceivers for the participant's own publication (plus
a third, video, while they share their screen) and one sendonly transceiver per track of every
other participant. Each change in the room only
marks the peer "dirty"; a single task runs one offer/answer at a time, so changes arriving
during a negotiation are folded into the next one (no glare, nothing lost).

In big rooms a participant is re-offered at most once per `offer_interval(room size)`: each
join renegotiates everyone already there with an SDP that grows with the room, so the work of
a join grows with N², and in a 55-person room it saturated the worker (docs/performance.md).
The joins of a few seconds are folded into one offer per participant instead. Rooms of up to
`OFFERS_UNPACED_UP_TO` people are not paced, and a participant's first offer is never delayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiortc import RTCConfiguration, RTCRtpTransceiver, RTCSessionDescription
from aiortc import sdp as aiortc_sdp

from sfu.aiortc_tuning import SfuPeerConnection
from sfu.audio_receive import receive_audio_directly
from sfu.forwarding import Publication, SubscriberLoad, SubscriberTrack
from sfu.gc_tuning import room_size_changed
from sfu.ice import announce_addresses
from sfu.negotiation_budget import AGAIN, FIRST
from sfu.passthrough import forwarded_codec_capabilities
from sfu.quality.policy import AUDIO_ONLY, SubscriberDecision
from sfu.quality.signals import SubscriberFeedback
from sfu.room import Participant, Room
from sfu.rtcp import watch_keyframe_requests
from sfu.signalling import CLOSE_BAD_REQUEST, CLOSE_TIMEOUT, SignallingError

logger = logging.getLogger(__name__)

KINDS = ("audio", "video")
SCREEN = "screen"  # a publication source whose media kind is video


@dataclass(eq=False)
class Subscription:
    publication: Publication
    transceiver: RTCRtpTransceiver
    track: SubscriberTrack


# Offers to one participant are not paced in rooms of up to this many people.
OFFERS_UNPACED_UP_TO = 10
# Above it, at least OFFER_PACING x (room size)² seconds between two offers to a participant:
# an offer's cost grows with the room (two m-lines per other participant: up to ≈ 1 ms of the
# worker per m-line, offer and answer together, on the 2-vCPU bench machine), and so does the
# number of participants to re-offer, so the interval grows with both. 0.4 s at 20, 1.6 s at
# 40, 3 s at 55 (docs/performance.md, "Congested rooms").
OFFER_PACING = 0.001
OFFER_INTERVAL_MAX = 5.0
# Each interval is drawn in ±20 % of it, so that the offers triggered by one join spread out
# instead of coming back together at every later join.
OFFER_JITTER = 0.2


def offer_interval(room_size: int) -> float:
    """Minimum seconds between two offers to one participant in a room of `room_size`."""
    if room_size <= OFFERS_UNPACED_UP_TO:
        return 0.0
    return min(OFFER_INTERVAL_MAX, OFFER_PACING * room_size * room_size)


def media_ssrc_of(description: aiortc_sdp.SessionDescription, mid: str) -> int | None:
    """The media (not RTX) SSRC the remote end announced for `mid`, if it announced one."""
    for media in description.media:
        if media.rtp.muxId != mid:
            continue
        for group in media.ssrc_group:
            if group.semantic == "FID" and group.items:
                return int(group.items[0])
        if media.ssrc:
            return media.ssrc[0].ssrc
    return None


class Peer:
    """Owns the participant's peer connection; `start()` runs negotiations, `close()` ends all."""

    def __init__(
        self,
        participant: Participant,
        room: Room,
        configuration: RTCConfiguration,
        on_failure: Callable[[SignallingError], Awaitable[None]],
        answer_timeout: float = 15.0,
        announced_addresses: Mapping[str, str] | None = None,
    ) -> None:
        self.participant = participant
        self.room = room
        self.pc = SfuPeerConnection(configuration)
        room_size_changed(room, len(room.participants))  # sfu/gc_tuning.py
        self._on_failure = on_failure
        self._answer_timeout = answer_timeout
        # Behind a 1:1 NAT: the public address to write in our SDP for each bound private one.
        self._announced_addresses = dict(announced_addresses or {})
        self._load = SubscriberLoad(video_off=participant.audio_only)
        # What the congestion policy samples about this participant as a subscriber.
        self.feedback = SubscriberFeedback(participant.id, self._load, time.monotonic())
        self.publish_transceivers: dict[str, RTCRtpTransceiver] = {}
        for kind in KINDS:
            transceiver = self.pc.addTransceiver(kind, direction="recvonly")
            transceiver.setCodecPreferences(forwarded_codec_capabilities(kind))
            self.publish_transceivers[kind] = transceiver
        receive_audio_directly(
            self.publish_transceivers["audio"].receiver,
            self._observe_audio_level,
            self._audio_forwarded_now,
        )
        self.subscriptions: dict[tuple[str, str], Subscription] = {}
        self.revision = 0
        self._dirty = asyncio.Event()
        self._last_offer_at: float | None = None  # loop time the previous offer was started
        self._pending_answer: tuple[int, asyncio.Future[str]] | None = None
        self._task: asyncio.Task | None = None
        self.negotiated = asyncio.Event()  # set after the first completed negotiation

    def start(self) -> None:
        self._dirty.set()
        self._task = asyncio.get_running_loop().create_task(self._negotiate_forever())

    def request_negotiation(self) -> None:
        self._dirty.set()

    def deliver_answer(self, revision: int, sdp: str) -> None:
        if self._pending_answer is None or self._pending_answer[0] != revision:
            raise SignallingError(
                "protocol_error", f"no offer with revision {revision} is waiting for an answer"
            )
        _, future = self._pending_answer
        self._pending_answer = None
        if not future.done():
            future.set_result(sdp)

    async def _negotiate_forever(self) -> None:
        try:
            while True:
                await self._dirty.wait()
                await self._pace_offers()
                self._dirty.clear()
                self._last_offer_at = asyncio.get_running_loop().time()
                await self._negotiate_once()
                self.negotiated.set()
        except asyncio.CancelledError:
            raise
        except SignallingError as error:
            await self._on_failure(error)
        except Exception as exc:
            if self.pc.signalingState == "closed":
                # Closed under a negotiation (the participant left, the worker stops): expected.
                logger.info("negotiation with %s ended by its close: %s", self.participant.id, exc)
                return
            logger.exception("negotiation with %s failed", self.participant.id)
            await self._on_failure(
                SignallingError("internal_error", "negotiation failed on the server", 1011)
            )

    async def _pace_offers(self) -> None:
        """Wait until this participant may be offered again; what changes meanwhile is folded
        into that offer (the first offer is never delayed)."""
        if self._last_offer_at is None:
            return
        interval = offer_interval(len(self.room.participants))
        if interval <= 0:
            return
        interval *= random.uniform(1 - OFFER_JITTER, 1 + OFFER_JITTER)  # noqa: S311 - not crypto
        delay = self._last_offer_at + interval - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _negotiate_once(self) -> None:
        # The CPU-heavy parts take the worker's turns (sfu/negotiation_budget.py); what changes
        # while this participant waits for one is folded into its offer.
        priority = FIRST if self.revision == 0 else AGAIN
        async with self.room.negotiations.turn(priority):
            await self._sync_subscriptions()
            offer = await self.pc.createOffer()
            await self.pc.setLocalDescription(offer)
        self.revision += 1
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending_answer = (self.revision, future)
        await self.participant.send(
            {
                "type": "offer",
                "revision": self.revision,
                "sdp": announce_addresses(self.pc.localDescription.sdp, self._announced_addresses),
                "publish": {source: t.mid for source, t in self.publish_transceivers.items()},
                "tracks": {
                    sub.transceiver.mid: {
                        "participant_id": sub.publication.owner_id,
                        "kind": sub.publication.source,
                    }
                    for sub in self.subscriptions.values()
                },
            }
        )
        try:
            answer_sdp = await asyncio.wait_for(future, self._answer_timeout)
        except TimeoutError as exc:
            raise SignallingError(
                "negotiation_timeout",
                f"no answer to offer {self.revision} within {self._answer_timeout:.0f} s",
                CLOSE_TIMEOUT,
            ) from exc
        async with self.room.negotiations.turn(priority):
            try:
                # SfuPeerConnection checks the answer on aiortc's parse of it
                # (sfu/aiortc_tuning.py).
                await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
            except Exception as exc:
                raise SignallingError(
                    "bad_sdp", f"the answer SDP was refused: {exc}", CLOSE_BAD_REQUEST
                ) from exc
            await self._publish_answered_tracks()

    def set_audio_only(self, enabled: bool) -> None:
        """Receive no video (enabled) or video again; the same transceivers stay negotiated."""
        if self._load.video_off == enabled:
            return
        self._change_video_gate(lambda load: setattr(load, "video_off", enabled))

    def apply_quality(self, decision: SubscriberDecision) -> bool:
        """Apply the congestion policy's decision for this subscriber; True if it changed."""
        suspended = decision.step == AUDIO_ONLY
        load = self._load
        if load.video_suspended == suspended and load.video_from == decision.video_from:
            return False

        def change(load: SubscriberLoad) -> None:
            load.video_suspended, load.video_from = suspended, decision.video_from

        self._change_video_gate(change)
        return True

    def _change_video_gate(self, change: Callable[[SubscriberLoad], None]) -> None:
        """Change what video this subscriber may receive; only the tracks whose answer changed
        are flushed or re-gated (a re-gated track asks its publisher for a keyframe)."""
        before = {
            key: self._load.receives_video_from(sub.publication.owner_id)
            for key, sub in self.subscriptions.items()
        }
        change(self._load)
        for key, subscription in self.subscriptions.items():
            if before[key] != self._load.receives_video_from(subscription.publication.owner_id):
                subscription.track.video_switched()

    def add_screen_slot(self) -> bool:
        """A recvonly video transceiver for a screen share; False if there already is one."""
        if SCREEN in self.publish_transceivers:
            return False
        transceiver = self.pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences(forwarded_codec_capabilities("video"))
        self.publish_transceivers[SCREEN] = transceiver
        self.request_negotiation()
        return True

    def remove_screen_slot(self) -> bool:
        """Deactivate the screen share's transceiver (aiortc cannot remove an m-line)."""
        transceiver = self.publish_transceivers.pop(SCREEN, None)
        if transceiver is None:
            return False
        transceiver.direction = "inactive"
        self.request_negotiation()
        return True

    async def _sync_subscriptions(self) -> None:
        """Add a sendonly transceiver per new remote publication, deactivate departed ones."""
        wanted = {
            key: publication
            for key, publication in self.room.publications.items()
            if publication.owner_id != self.participant.id
        }
        for key, subscription in list(self.subscriptions.items()):
            if wanted.get(key) is not subscription.publication:
                del self.subscriptions[key]
                subscription.publication.unsubscribe(self.participant.id)
                # aiortc cannot remove m-lines: the transceiver stays, inactive.
                subscription.transceiver.direction = "inactive"
                await subscription.transceiver.sender.stop()
        for key, publication in wanted.items():
            if key in self.subscriptions:
                continue
            track = publication.subscribe(self.participant.id, self._load)
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(forwarded_codec_capabilities(publication.kind))
            if publication.kind == "video":
                watch_keyframe_requests(transceiver.sender, publication.request_keyframe)
            self.feedback.watch(transceiver.sender, publication.kind, time.monotonic)
            self.subscriptions[key] = Subscription(publication, transceiver, track)

    async def _publish_answered_tracks(self) -> None:
        """Start forwarding the tracks the participant agreed to send in its answer."""
        published = []
        for source, transceiver in self.publish_transceivers.items():
            key = (self.participant.id, source)
            track = transceiver.receiver.track
            if (
                key in self.room.publications
                or track is None
                or transceiver.currentDirection not in ("recvonly", "sendrecv")
            ):
                continue
            publication = Publication(
                self.participant.id, transceiver.kind, track, transceiver.receiver, source=source
            )
            if publication.keyframes is not None:
                publication.keyframes.media_ssrc = media_ssrc_of(
                    self.pc.remote_description, transceiver.mid
                )
            if source == "audio":
                publication.paused = self.participant.audio_blocked
            elif source == "video":
                publication.paused = self.participant.audio_only
            publication.start()
            self.room.publications[key] = publication
            published.append(source)
            logger.info("%s publishes %s in room %s", self.participant.id, source, self.room.slug)
        if published:
            self.room.renegotiate_others(self.participant.id)
        if SCREEN in published:
            self.participant.screen = True
            await self.room.broadcast_participant(self.participant)

    def _observe_audio_level(self, level: int) -> None:
        participant, now = self.participant, time.monotonic()
        self.room.audio_gate.observe(participant.id, level, now)
        if participant.audio_blocked or not participant.microphone:
            return  # muted: what still arrives is not heard, so it is not "speaking"
        self.room.speakers.observe(participant.id, level, now)

    def _audio_forwarded_now(self) -> bool:
        """The room's silence gate (sfu/quality/audio_gate.py), for this publisher's packets."""
        return self.room.audio_gate.open_for(self.participant.id, time.monotonic())

    async def close(self) -> None:
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pending_answer is not None:
            self._pending_answer[1].cancel()
        for subscription in self.subscriptions.values():
            subscription.publication.unsubscribe(self.participant.id)
        self.subscriptions.clear()
        room_size_changed(self.room, len(self.room.participants))
        await self.pc.close()
