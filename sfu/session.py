"""One signalling connection: admits a participant with its join token, then serves its messages.

Any failure ends this connection only — an `error` message, then a close code — and the
participant leaves its room cleanly; the rest of the room is untouched.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from sfu.join_tokens import JoinTokenError
from sfu.peer import Peer
from sfu.room import Participant, Room
from sfu.signalling import (
    CLOSE_CONFLICT,
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_TIMEOUT,
    CLOSE_UNAUTHORIZED,
    Answer,
    Join,
    Leave,
    Mute,
    SignallingError,
    parse_client_message,
)

if TYPE_CHECKING:
    from sfu.app import Worker

logger = logging.getLogger(__name__)


class _Closed(Exception):
    """The WebSocket closed (client went away or we closed it)."""


class Session:
    def __init__(self, worker: Worker, ws: web.WebSocketResponse, remote: str | None) -> None:
        self.worker = worker
        self.ws = ws
        self.remote = remote
        self.participant: Participant | None = None
        self.room: Room | None = None
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            join = await self._receive_join()
            await self._admit(join)
            while True:
                message = await self._receive()
                if isinstance(message, Leave):
                    await self._close(CLOSE_NORMAL, "left")
                    return
                await self._handle(message)
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
        message = await self.ws.receive()
        if message.type == WSMsgType.TEXT:
            return parse_client_message(message.data, self.worker.config.max_message_bytes)
        if message.type == WSMsgType.BINARY:
            raise SignallingError("malformed_message", "binary messages are not accepted")
        if message.type == WSMsgType.ERROR and not self.ws.closed:
            # aiohttp's own limit (a few times ours) was exceeded.
            raise SignallingError("message_too_large", str(self.ws.exception()), 1009)
        raise _Closed

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
        room = self.worker.rooms.get_or_create(join.room)
        if claims.participant_id in room.participants:
            self.worker.rooms.discard_if_empty(room)
            raise SignallingError(
                "duplicate_participant", "this participant is already in the room", CLOSE_CONFLICT
            )
        participant = Participant(
            id=claims.participant_id, name=claims.display_name, role=claims.role, send=self.send
        )
        self.participant, self.room = participant, room
        others = [p.describe() for p in room.others(participant.id)]
        room.participants[participant.id] = participant
        self.worker.participant_joined(room.slug, participant.id, len(room.participants))
        logger.info(
            "%s (%s) joined room %s from %s",
            participant.id,
            participant.role,
            room.slug,
            self.remote,
        )
        await self.send(
            {
                "type": "joined",
                "participant_id": participant.id,
                "room": room.slug,
                "participants": others,
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
        )
        participant.peer.start()

    async def _handle(self, message: Any) -> None:
        participant, room = self.participant, self.room
        if isinstance(message, Join):
            raise SignallingError("protocol_error", "already joined")
        if isinstance(message, Answer):
            participant.peer.deliver_answer(message.revision, message.sdp)
        elif isinstance(message, Mute):
            if message.microphone is not None:
                participant.microphone = message.microphone
            if message.camera is not None:
                participant.camera = message.camera
            await room.broadcast(
                {"type": "participant-updated", "participant": participant.describe()},
                exclude=participant.id,
            )

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
        for kind in ("audio", "video"):
            publication = room.publications.get((participant.id, kind))
            if publication is not None and publication.owner_id == participant.id:
                del room.publications[(participant.id, kind)]
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
