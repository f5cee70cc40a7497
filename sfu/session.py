"""One signalling connection: admits a participant with its join token, then serves its messages
(media negotiation, mute, chat, hands, screen sharing, moderators' commands: docs/meetings.md).

Any failure ends this connection only — an `error` message, then a close code — and the
participant leaves its room cleanly; the rest of the room is untouched. A refused request
(`Refusal`: not a moderator, unmute forbidden, chat too long or too fast) is answered with an
`error` and the connection stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSMessage, WSMsgType, web

from sfu.join_tokens import JoinTokenError
from sfu.metrics import COUNTERS
from sfu.peer import SCREEN, Peer
from sfu.room import ENDED_BY_MODERATOR, ENDED_BY_SCHEDULE, MODERATOR, Participant, Room
from sfu.signalling import (
    CLOSE_CONFLICT,
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_FULL,
    CLOSE_INTERNAL_ERROR,
    CLOSE_LOCKED,
    CLOSE_NORMAL,
    CLOSE_TIMEOUT,
    CLOSE_UNAUTHORIZED,
    AllowUnmute,
    Answer,
    AudioOnly,
    Chat,
    End,
    Hand,
    Join,
    Leave,
    Lock,
    LowerHand,
    Mute,
    MuteAll,
    MuteParticipant,
    Pin,
    PinForAll,
    Promote,
    PublishScreen,
    Refusal,
    Remove,
    SignallingError,
    UnpublishScreen,
    parse_client_message,
)

if TYPE_CHECKING:
    from sfu.app import Worker

logger = logging.getLogger(__name__)

MAX_CHAT_CHARS = 2000
# Chat flood limit, per participant: a burst of CHAT_BURST messages, then one per
# CHAT_SECONDS_PER_MESSAGE (docs/protocol.md, error `rate_limited`).
CHAT_BURST = 5
CHAT_SECONDS_PER_MESSAGE = 1.0
# Before `join` (which carries a token of at most 8 KiB) nobody is authenticated: only small
# messages; SDP answers, which grow with the room, come after.
MAX_JOIN_MESSAGE_BYTES = 16384
# Pins protect video from the congestion policy's last-N: a few, or it would protect nothing.
MAX_PINS = 3
MODERATOR_COMMANDS = (
    MuteParticipant,
    MuteAll,
    AllowUnmute,
    Remove,
    Lock,
    Promote,
    End,
    PinForAll,
)


class _Closed(Exception):
    """The WebSocket closed (client went away or we closed it)."""


class ChatBucket:
    """Token bucket of one participant's chat: `burst` messages at once, then one every
    `interval` seconds. A room and so its chat live on one worker, and a participant on one
    connection, so an in-memory bucket per session is exact: unlike the portal's limits, this
    needs no Redis. Pure: the caller passes the clock."""

    def __init__(self, burst: int, interval: float, now: float) -> None:
        self._burst = burst
        self._interval = interval
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> float:
        """Spend one message: 0 when allowed, else the seconds until the next one is."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed / self._interval)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * self._interval


class Session:
    def __init__(self, worker: Worker, ws: web.WebSocketResponse, remote: str | None) -> None:
        self.worker = worker
        self.ws = ws
        self.remote = remote
        self.participant: Participant | None = None
        self.room: Room | None = None
        self._send_lock = asyncio.Lock()
        # The task running `run()`, which alone receives and so alone closes (see `_close`).
        self._task: asyncio.Task | None = None
        self._close_request: tuple[int, str] | None = None
        self._close_requested = asyncio.Event()
        self._chat_bucket = ChatBucket(CHAT_BURST, CHAT_SECONDS_PER_MESSAGE, time.monotonic())

    async def run(self) -> None:
        self._task = asyncio.current_task()
        try:
            try:
                join = await self._receive_join()
                await self._admit(join)
            except SignallingError as refusal:
                COUNTERS.join_refusals[refusal.code] += 1
                raise
            while True:
                message = await self._receive()
                if isinstance(message, Leave):
                    await self._close(CLOSE_NORMAL, "left")
                    return
                try:
                    await self._handle(message)
                except Refusal as refusal:
                    logger.info(
                        "refused %s to %s: %s", type(message).__name__, self._who(), refusal.code
                    )
                    await self.send(refusal.to_message())
        except _Closed:
            pass
        except SignallingError as error:
            await self.fail(error)
        except Exception:
            logger.exception("session %s failed", self._who())
            await self.fail(
                SignallingError("internal_error", "internal error", CLOSE_INTERNAL_ERROR)
            )
        finally:
            await self._leave_room()

    async def _receive(self) -> Any:
        message = await self._next_frame()
        if message.type == WSMsgType.TEXT:
            limit = self.worker.config.max_message_bytes
            if self.participant is None:
                limit = min(limit, MAX_JOIN_MESSAGE_BYTES)
            return parse_client_message(message.data, limit)
        if message.type == WSMsgType.BINARY:
            raise SignallingError("malformed_message", "binary messages are not accepted")
        if message.type == WSMsgType.ERROR and not self.ws.closed:
            # aiohttp's own limit (a few times ours) was exceeded.
            raise SignallingError("message_too_large", str(self.ws.exception()), 1009)
        raise _Closed

    async def _next_frame(self) -> WSMessage:
        """The client's next frame; raises _Closed once another task asked to close (`_close`)."""
        receiving = asyncio.ensure_future(self.ws.receive())
        close_requested = asyncio.ensure_future(self._close_requested.wait())
        try:
            await asyncio.wait((receiving, close_requested), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (receiving, close_requested):
                waiter.cancel()  # a no-op once done; cancelled while waiting, no data is lost
            await asyncio.gather(receiving, close_requested, return_exceptions=True)
        if self._close_request is not None:
            # Out of the room first (media, lists): the closing handshake may take the client
            # up to aiohttp's close timeout, and a removed participant must not keep the media.
            await self._leave_room()
            await self._close_now(*self._close_request)
            raise _Closed
        return receiving.result()

    async def _receive_join(self) -> Join:
        try:
            message = await asyncio.wait_for(self._receive(), self.worker.config.join_timeout)
        except TimeoutError as exc:
            raise SignallingError(
                "join_timeout", "no 'join' message in time", CLOSE_TIMEOUT
            ) from exc
        if not isinstance(message, Join):
            raise SignallingError("protocol_error", "the first message must be 'join'")
        return message

    async def _admit(self, join: Join) -> None:
        try:
            claims = self.worker.verifier.verify(join.token, room=join.room)
        except JoinTokenError as exc:
            raise SignallingError(
                "invalid_token", str(exc), CLOSE_UNAUTHORIZED, reason=exc.reason
            ) from exc
        if claims.close_at is not None and claims.close_at <= time.time():
            # The scheduled meeting is over (its room, if still open, is ended by its timer).
            existing = self.worker.rooms.find(join.room)
            if existing is not None:
                existing.set_close_at(claims.close_at)
            COUNTERS.join_refusals["ended"] += 1
            await self.send({"type": "ended", "by": None, "reason": ENDED_BY_SCHEDULE})
            await self._close(CLOSE_ENDED, "meeting ended")
            raise _Closed
        # Redis first: no await between the checks on the room below and entering it.
        banned, locked = await self.worker.store.admission(join.room, claims.uid)
        room = self.worker.rooms.get_or_create(join.room)
        moderator = claims.role == MODERATOR
        refusal = None
        if banned or claims.uid in room.banned:
            refusal = SignallingError(
                "banned", "you were removed from this meeting", CLOSE_FORBIDDEN
            )
        elif (locked or room.locked) and not moderator:
            refusal = SignallingError("room_locked", "the meeting is locked", CLOSE_LOCKED)
        elif len(room.participants) >= claims.capacity and not moderator:
            # Moderators always enter, so that an organiser is never locked out.
            refusal = SignallingError("room_full", "the meeting is full", CLOSE_FULL)
        elif claims.participant_id in room.participants:
            refusal = SignallingError(
                "duplicate_participant", "this participant is already in the room", CLOSE_CONFLICT
            )
        if refusal is not None:
            self.worker.rooms.discard_if_empty(room)
            raise refusal
        participant = Participant(
            id=claims.participant_id,
            name=claims.display_name,
            role=claims.role,
            send=self.send,
            uid=claims.uid,
            guest=claims.guest,
            close=self._close,
        )
        if room.mute_all and not moderator:
            participant.microphone = False
            participant.audio_blocked = True
        if claims.audio_only:  # the room's (or tenant's) default; the participant may switch
            participant.audio_only, participant.camera = True, False
        room.locked = room.locked or locked
        self.participant, self.room = participant, room
        others = [p.describe() for p in room.others(participant.id)]
        room.participants[participant.id] = participant
        room.set_close_at(claims.close_at)
        if room.started_at is None:
            room.start(lambda reason: self.worker.end_meeting(room, reason))
        self.worker.participant_joined(room.slug, participant.id, len(room.participants))
        logger.info(
            "%s (%s, uid %s) joined room %s from %s",
            participant.id,
            participant.role,
            participant.uid,
            room.slug,
            self.remote,
        )
        await self.send(
            {
                "type": "joined",
                "participant_id": participant.id,
                "room": room.slug,
                "participants": others,
                "participant": participant.describe(),
                "audio_only": claims.audio_only,
                "hands": list(room.hands),
                **room.describe(),
            }
        )
        await room.broadcast(
            {"type": "participant-joined", "participant": participant.describe()},
            exclude=participant.id,
        )
        participant.peer = Peer(
            participant,
            room,
            self.worker.rtc_configuration(),
            on_failure=self.fail,
            answer_timeout=self.worker.config.answer_timeout,
            announced_addresses=self.worker.config.ice_announced_addresses,
        )
        participant.peer.start()

    async def _handle(self, message: Any) -> None:
        participant, room = self.participant, self.room
        if isinstance(message, Join):
            raise SignallingError("protocol_error", "already joined")
        if isinstance(message, Answer):
            participant.peer.deliver_answer(message.revision, message.sdp)
        elif isinstance(message, Mute):
            await self._mute(message)
        elif isinstance(message, Chat):
            await self._chat(message.text)
        elif isinstance(message, AudioOnly):
            if message.enabled != participant.audio_only:
                room.set_audio_only(participant, message.enabled)
                logger.info(
                    "%s turned audio-only %s in room %s",
                    participant.id,
                    "on" if message.enabled else "off",
                    room.slug,
                )
                await room.broadcast_participant(participant)
        elif isinstance(message, Hand):
            if room.set_hand(participant, message.raised):
                await room.broadcast_participant(participant)
                await room.broadcast_hands()
        elif isinstance(message, LowerHand):
            target = self._target(message.participant_id)
            if target is not participant and not participant.is_moderator:
                raise Refusal("forbidden", "only a moderator may lower someone else's hand")
            if room.set_hand(target, False):
                await room.broadcast_participant(target)
                await room.broadcast_hands()
        elif isinstance(message, Pin):
            await self._pin(message)
        elif isinstance(message, PublishScreen):
            participant.peer.add_screen_slot()
        elif isinstance(message, UnpublishScreen):
            await self._stop_screen()
        elif isinstance(message, MODERATOR_COMMANDS):
            if not participant.is_moderator:
                raise Refusal("forbidden", "only a moderator may do this")
            await self._moderate(message)

    async def _mute(self, message: Mute) -> None:
        participant, room = self.participant, self.room
        if message.microphone and room.unmute_forbidden(participant):
            raise Refusal("unmute_forbidden", "a moderator has muted everyone")
        if message.microphone is not None:
            participant.microphone = message.microphone
            if message.microphone and participant.audio_blocked:
                room.set_audio_blocked(participant, False)
        if message.camera is not None:
            participant.camera = message.camera
        await room.broadcast_participant(participant)

    async def _pin(self, message: Pin) -> None:
        feedback = self.participant.peer.feedback
        if message.pinned:
            self._target(message.participant_id)
            if message.participant_id not in feedback.pins and len(feedback.pins) >= MAX_PINS:
                raise Refusal("too_many_pins", f"at most {MAX_PINS} participants can be pinned")
            feedback.pins = feedback.pins | {message.participant_id}
        else:
            feedback.pins = feedback.pins - {message.participant_id}
        await self.send({"type": "pins", "pinned": sorted(feedback.pins)})

    async def _chat(self, text: str) -> None:
        if len(text) > MAX_CHAT_CHARS:
            raise Refusal("too_long", f"a chat message has at most {MAX_CHAT_CHARS} characters")
        if not text.strip():
            return
        wait = self._chat_bucket.take(time.monotonic())
        if wait:
            raise Refusal("rate_limited", f"too many chat messages: wait {wait:.1f} s")
        participant = self.participant
        # Relayed, never stored nor logged.
        await self.room.broadcast(
            {
                "type": "chat",
                "from": participant.id,
                "name": participant.name,
                "text": text,
                "at": round(time.time(), 3),
            }
        )

    async def _stop_screen(self) -> None:
        participant, room = self.participant, self.room
        publication = room.publications.pop((participant.id, SCREEN), None)
        if publication is not None:
            await publication.stop()
        removed_slot = participant.peer.remove_screen_slot()
        if publication is not None:
            room.renegotiate_others(participant.id)
        if publication is not None or removed_slot or participant.screen:
            participant.screen = False
            await room.broadcast_participant(participant)

    def _target(self, participant_id: str) -> Participant:
        target = self.room.participants.get(participant_id)
        if target is None:
            raise Refusal("unknown_participant", "no such participant in the room")
        return target

    async def _moderate(self, command: Any) -> None:
        moderator, room, worker = self.participant, self.room, self.worker
        if isinstance(command, MuteParticipant):
            target = self._target(command.participant_id)
            target.microphone = False
            room.set_audio_blocked(target, True)
            await room.broadcast_participant(target)
        elif isinstance(command, MuteAll):
            room.mute_all, room.allow_unmute = True, command.allow_unmute
            muted = [p for p in room.participants.values() if not p.is_moderator]
            for target in muted:  # every audio stops at once, before any message is sent
                target.microphone = False
                room.set_audio_blocked(target, True)
            await room.broadcast({"type": "room-updated", **room.describe()})
            for target in muted:
                await room.broadcast_participant(target)
        elif isinstance(command, AllowUnmute):
            room.allow_unmute = True
            await room.broadcast({"type": "room-updated", **room.describe()})
        elif isinstance(command, Lock):
            room.locked = command.locked
            await worker.store.set_locked(room.slug, command.locked)
            await room.broadcast({"type": "room-updated", **room.describe()})
        elif isinstance(command, Promote):
            target = self._target(command.participant_id)
            if not target.is_moderator:
                target.role = MODERATOR
                worker.moderation_event("promote", room.slug, moderator.uid, target.uid)
                logger.info("%s promoted %s in room %s", moderator.id, target.id, room.slug)
                await room.broadcast_participant(target)
        elif isinstance(command, Remove):
            target = self._target(command.participant_id)
            if target.uid == moderator.uid:
                raise Refusal("forbidden", "a moderator cannot remove themselves")
            room.banned.add(target.uid)
            await worker.store.ban(room.slug, target.uid)
            worker.moderation_event("remove", room.slug, moderator.uid, target.uid)
            logger.info(
                "%s removed %s (uid %s) from room %s",
                moderator.id,
                target.id,
                target.uid,
                room.slug,
            )
            # Every connection of that person goes (the ban is on the uid).
            for other in [p for p in room.participants.values() if p.uid == target.uid]:
                await other.send({"type": "removed", "by": moderator.id})
                await other.close(CLOSE_FORBIDDEN, "removed")
        elif isinstance(command, End):
            await worker.end_meeting(room, ENDED_BY_MODERATOR, by=moderator)
        elif isinstance(command, PinForAll):
            if command.pinned:
                self._target(command.participant_id)
                if command.participant_id not in room.pinned and len(room.pinned) >= MAX_PINS:
                    raise Refusal("too_many_pins", f"at most {MAX_PINS} participants can be pinned")
                room.pinned.add(command.participant_id)
            else:
                room.pinned.discard(command.participant_id)
            await room.broadcast({"type": "room-updated", **room.describe()})

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_str(json.dumps(message))
            except ConnectionError:
                pass

    async def fail(self, error: SignallingError) -> None:
        """Tell the client why, then close this connection (never raises)."""
        logger.info("closing %s: %s (%s)", self._who(), error.code, error.message)
        try:
            await self.send(error.to_message())
        except Exception:
            logger.debug("could not send error to %s", self._who(), exc_info=True)
        await self._close(error.close_code, error.code)

    async def _close(self, code: int, reason: str) -> None:
        """Close with `code`; from another task (a failed negotiation, a moderator's session,
        the meeting's end, the worker's drain or stop) this only asks this session's own task,
        which leaves the room at once, then closes.

        Closed from another task while ours waits in `ws.receive()`, aiohttp closes the socket at
        once, without waiting for the client's closing reply: a client that kept sending, and was
        a little slow to read, got a reset and lost the `error` (or `removed`, `ended`) and the
        close frame just sent; it saw 1006, took it for a dead worker and reconnected. Found by
        tests/sfu/test_signalling_fuzz.py (a bad answer followed by other messages)."""
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            if self._close_request is None:
                self._close_request = (code, reason)
            self._close_requested.set()
            return
        await self._close_now(code, reason)

    async def _close_now(self, code: int, reason: str) -> None:
        try:
            await self.ws.close(code=code, message=reason.encode()[:120])
        except Exception:
            logger.debug("closing %s failed", self._who(), exc_info=True)

    async def _leave_room(self) -> None:
        participant, room = self.participant, self.room
        if participant is None or room is None:
            return
        self.participant = None
        if room.participants.get(participant.id) is participant:
            del room.participants[participant.id]
            self.worker.participant_left(room.slug, participant.id, len(room.participants))
        if room.set_hand(participant, False):
            await room.broadcast_hands()
        room.speakers.forget(participant.id)
        room.audio_gate.forget(participant.id)
        for other in room.others(participant.id):  # their pin slot is free again
            feedback = other.peer.feedback if other.peer is not None else None
            if feedback is not None and participant.id in feedback.pins:
                feedback.pins = feedback.pins - {participant.id}
                await other.send({"type": "pins", "pinned": sorted(feedback.pins)})
        if participant.id in room.pinned:
            room.pinned.discard(participant.id)
            await room.broadcast({"type": "room-updated", **room.describe()})
        for source in ("audio", "video", SCREEN):
            publication = room.publications.get((participant.id, source))
            if publication is not None and publication.owner_id == participant.id:
                del room.publications[(participant.id, source)]
                await publication.stop()
        if participant.peer is not None:
            try:
                await participant.peer.close()
            except Exception:
                logger.exception("closing the peer connection of %s failed", participant.id)
        await room.broadcast({"type": "participant-left", "participant_id": participant.id})
        room.renegotiate_others(participant.id)
        self.worker.rooms.discard_if_empty(room)
        logger.info("%s left room %s", participant.id, room.slug)

    def _who(self) -> str:
        return self.participant.id if self.participant else f"connection from {self.remote}"
