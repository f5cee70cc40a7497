"""The worker: aiohttp application with the signalling WebSocket, rooms, and Redis registry."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from aiohttp import web
from aiortc import RTCConfiguration
from aiortc.exceptions import InvalidStateError

from sfu import ice, metrics
from sfu.config import SfuConfig
from sfu.events import EventPublisher
from sfu.join_tokens import JoinTokenVerifier
from sfu.moderation import RoomStore
from sfu.passthrough import install_passthrough
from sfu.quality.controller import QualityController
from sfu.registry import WorkerRegistry
from sfu.room import ENDED_BY_MODERATOR, Participant, Room, Rooms
from sfu.session import Session
from sfu.signalling import CLOSE_DRAINING, CLOSE_ENDED, CLOSE_NORMAL, SignallingError
from sfu.workerload import CpuMeter, RateMeter

logger = logging.getLogger(__name__)

WORKER_KEY = web.AppKey("worker", "Worker")
# aiohttp's own frame limit; ours (config.max_message_bytes) is checked first so that
# the client gets an `error` message rather than a bare close.
_AIOHTTP_LIMIT_FACTOR = 4


def _forwarded_frames() -> int:
    """Encoded frames queued to subscribers' senders since the process started."""
    return metrics.COUNTERS.forwarded_audio + metrics.COUNTERS.forwarded_video


def _expected_close_race(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Loop exception handler: a peer connection closed while aiortc was still connecting it
    (a participant refused or gone mid-negotiation) leaves aiortc's own connect task with an
    InvalidStateError or a reset socket nobody retrieves. Expected: one line, no traceback.
    Anything else goes to asyncio's default handler."""
    exception = context.get("exception")
    task = context.get("future")
    coroutine = getattr(task, "get_coro", lambda: None)() if task is not None else None
    name = getattr(coroutine, "__qualname__", "")
    if name.startswith("RTCPeerConnection.") and isinstance(
        exception, InvalidStateError | ConnectionError
    ):
        logger.info("peer connection closed while connecting (%s: %s)", name, exception)
        return
    loop.default_exception_handler(context)


def _disarm_heartbeat(ws: web.WebSocketResponse) -> None:
    """Stop the heartbeat of a WebSocket whose session is over.

    aiohttp 3.14 re-arms the heartbeat of a closed WebSocket when data arrives after the close
    (the client's closing reply, always, when the server closes): its ping timer (20 s), then its
    pong timer (10 s), keep the response, its request and buffers alive 30 s after the close,
    about 10 KB a connection, so every refused connection cost that much memory for 30 s
    (found by tests/sfu/test_signalling_fuzz.py: +3 MB per 300 refusals, linearly). Private
    names: if aiohttp renames them this does nothing, and tests/sfu/test_bad_input.py says so."""
    if hasattr(ws, "_heartbeat") and callable(getattr(ws, "_cancel_heartbeat", None)):
        ws._heartbeat = None  # _on_data_received() and _reset_heartbeat() return at once
        ws._cancel_heartbeat()


class Worker:
    """State of one SFU worker process: rooms, open sessions, token verifier, registry."""

    def __init__(self, config: SfuConfig) -> None:
        self.config = config
        self.verifier = JoinTokenVerifier(config.join_token_public_key, config.join_token_issuer)
        self.rooms = Rooms()
        self.sessions: set[Session] = set()
        self.registry: WorkerRegistry | None = None
        self.events: EventPublisher | None = None
        self.store = RoomStore(config.redis_url, config.redis_key_prefix)
        # Draining (docs/pool.md): no new room, exit when empty or after max_drain_seconds.
        self.draining = False
        self._drain_task: asyncio.Task | None = None
        self._cpu = CpuMeter(time.monotonic(), time.process_time())
        self._forwarded = RateMeter(time.monotonic(), _forwarded_frames())
        self.metrics = metrics.worker_registry(
            self.rooms, lambda: self.events.dropped if self.events is not None else 0
        )
        # Its own meter: the heartbeat samples the other one at its own pace.
        self._quality_cpu = CpuMeter(time.monotonic(), time.process_time())
        self.quality: QualityController | None = None
        if config.quality_policy:
            self.quality = QualityController(
                self.rooms,
                worker_cpu=lambda: self._quality_cpu.sample(time.monotonic(), time.process_time()),
            )

    def rtc_configuration(self) -> RTCConfiguration:
        return ice.rtc_configuration(
            self.config.ice_servers, self.config.ice_username, self.config.ice_credential
        )

    async def start(self) -> None:
        asyncio.get_running_loop().set_exception_handler(_expected_close_race)
        install_passthrough()
        ice.use_host_addresses(self.config.ice_addresses)
        if self.quality is not None:
            self.quality.start()
        if self.config.redis_url:
            self.registry = WorkerRegistry(
                self.config.redis_url,
                self.config.worker_id,
                self.config.public_url,
                hosted_rooms=lambda: self.rooms.slugs,
                participant_count=lambda: self.rooms.participant_count,
                key_prefix=self.config.redis_key_prefix,
                load=self.load_fields,
                on_drain_requested=self.drain,
                room_participants=lambda: {
                    room.slug: len(room.participants) for room in self.rooms
                },
            )
            await self.registry.start()
            self.events = EventPublisher(
                self.config.redis_url,
                self.config.worker_id,
                key_prefix=self.config.redis_key_prefix,
            )
            self.events.start()
        logger.info("worker %s serving %s", self.config.worker_id, self.config.public_url)

    def load_fields(self) -> dict[str, str | int | float]:
        """The load published in the heartbeat (docs/redis.md); called once per beat."""
        now = time.monotonic()
        return {
            "cpu": f"{self._cpu.sample(now, time.process_time()):.3f}",
            "frames_per_second": f"{self._forwarded.sample(now, _forwarded_frames()):.0f}",
            "draining": int(self.draining),
        }

    def drain(self) -> None:
        """Take no new room; exit once the hosted rooms are empty or after max_drain_seconds."""
        if self.draining:
            return
        self.draining = True
        self.rooms.refuse_new_room = self._refuse_new_room
        logger.info(
            "worker %s draining: %d rooms, %d participants, at most %.0f s",
            self.config.worker_id,
            len(self.rooms.slugs),
            self.rooms.participant_count,
            self.config.max_drain_seconds,
        )
        self._drain_task = asyncio.get_running_loop().create_task(self._drain_then_exit())

    def _refuse_new_room(self, slug: str) -> None:
        if self.registry is not None:
            asyncio.get_running_loop().create_task(self.registry.release_pin(slug))
        logger.info("worker %s draining: refused to open room %s", self.config.worker_id, slug)
        raise SignallingError(
            "worker_draining", "this worker is draining: ask the portal again", CLOSE_DRAINING
        )

    async def _drain_then_exit(self) -> None:
        deadline = time.monotonic() + self.config.max_drain_seconds
        while self.rooms.slugs and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if self.rooms.slugs:
            logger.info(
                "worker %s drain time over: closing %d participants with %d",
                self.config.worker_id,
                self.rooms.participant_count,
                CLOSE_DRAINING,
            )
            await asyncio.gather(
                *(
                    session._close(CLOSE_DRAINING, "worker draining, reconnect")
                    for session in list(self.sessions)
                ),
                return_exceptions=True,
            )
        logger.info("worker %s drained, stopping", self.config.worker_id)
        # The same clean stop as a service manager's SIGTERM (aiohttp's run_app handles it).
        os.kill(os.getpid(), signal.SIGTERM)

    async def stop(self) -> None:
        if self._drain_task is not None and self._drain_task is not asyncio.current_task():
            self._drain_task.cancel()
        if self.quality is not None:
            await self.quality.stop()
        # Unregister first so that no new room is placed on a worker that is going away.
        if self.registry is not None:
            await self.registry.stop()
        await asyncio.gather(
            *(session._close(CLOSE_NORMAL, "worker shutting down") for session in self.sessions),
            return_exceptions=True,
        )
        # Whoever is still in a room now leaves with the worker (the portal ends the meetings).
        for room in self.rooms:
            room.stop()
            for participant_id in list(room.participants):
                del room.participants[participant_id]
                if self.events is not None:
                    self.events.left(
                        room.slug, participant_id, len(room.participants), reason="worker-stopped"
                    )
        if self.events is not None:
            await self.events.stop()
        await self.store.close()
        logger.info("worker %s stopped", self.config.worker_id)

    def participant_joined(self, room: str, participant_id: str, count: int) -> None:
        """Called on the loop right after a participant entered `room` (now `count` people)."""
        if self.events is not None:
            self.events.joined(room, participant_id, count)

    def participant_left(self, room: str, participant_id: str, count: int) -> None:
        """Called on the loop right after a participant was removed from `room`."""
        if self.events is not None:
            self.events.left(room, participant_id, count)

    def moderation_event(
        self, action: str, room: str, actor_uid: str, target_uid: str = ""
    ) -> None:
        """A moderator's action, for the portal's audit log (docs/redis.md)."""
        if self.events is not None:
            self.events.moderation(action, room, actor_uid, target_uid)

    async def end_meeting(self, room: Room, reason: str, by: Participant | None = None) -> None:
        """`ended {by, reason}` to everyone in the room, then close every connection (4410)."""
        if room.ended:
            return
        room.ended = True
        room.stop()
        logger.info(
            "meeting in room %s ended (%s%s)", room.slug, reason, f" by {by.id}" if by else ""
        )
        if by is not None:
            self.moderation_event("end", room.slug, by.uid)
        await self.store.mark_ended(room.slug, by_moderator=reason == ENDED_BY_MODERATOR)
        await room.broadcast({"type": "ended", "by": by.id if by else None, "reason": reason})
        await asyncio.gather(
            *(p.close(CLOSE_ENDED, "meeting ended") for p in list(room.participants.values())),
            return_exceptions=True,
        )

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            max_msg_size=self.config.max_message_bytes * _AIOHTTP_LIMIT_FACTOR, heartbeat=20
        )
        await ws.prepare(request)
        session = Session(self, ws, request.remote)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            _disarm_heartbeat(ws)
        return ws

    async def handle_health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "worker_id": self.config.worker_id,
                "rooms": len(self.rooms.slugs),
                "participants": self.rooms.participant_count,
                "events_dropped": self.events.dropped if self.events is not None else 0,
                "draining": self.draining,
            }
        )

    async def handle_metrics(self, request: web.Request) -> web.Response:
        """Prometheus exposition (docs/metrics.md); like /healthz, for the private network."""
        return web.Response(
            body=metrics.exposition(self.metrics),
            headers={"Content-Type": metrics.CONTENT_TYPE},
        )


def create_app(config: SfuConfig) -> web.Application:
    worker = Worker(config)
    app = web.Application()
    app[WORKER_KEY] = worker
    app.router.add_get("/ws", worker.handle_websocket)
    app.router.add_get("/healthz", worker.handle_health)
    app.router.add_get("/metrics", worker.handle_metrics)

    async def start(app: web.Application) -> None:
        await worker.start()

    async def stop(app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for open handlers: WebSockets must be closed
        # here, or shutdown would hang until aiohttp's shutdown timeout.
        await worker.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return app
