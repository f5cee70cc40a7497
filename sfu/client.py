"""A Python (aiortc) client for the SFU signalling protocol (docs/protocol.md).

Used by the tests and the benchmarks; a browser uses static/js/sfu-client.js instead.

    client = SfuClient(url, room, token, audio=audio_track, video=video_track)
    joined = await client.join()               # {"participant_id", "participants", ...}
    event = await client.next_event("track")   # RemoteTrack(participant_id, kind, mid, track)
    await client.set_microphone(False)
    await client.set_audio_only(True)          # send and receive no video (docs/protocol.md)
    await client.chat("Bonjour")
    await client.publish_screen(screen_track)  # remote kind "screen" at the others
    await client.mute_all(allow_unmute=False)  # moderators only, like remove/lock/promote/end
    await client.leave()

    # The worker died (kill -9, crash): ask the portal for a new placement and token
    # (docs/protocol.md, "Reconnection"), then rejoin with the same local tracks.
    if client.lost:
        client = await client.reconnect(new_url, new_token, audio=new_audio, video=new_video)

Events (`client.events`, an asyncio.Queue of `ClientEvent`): every server message by its
`type` (joined, participant-joined, participant-left, participant-updated, chat, hands,
room-updated, removed, ended, error, …) plus track, track-ended and closed. `client.me` is this
participant as the server last described it (it is not in `client.participants`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from sfu.ice import rtc_configuration

logger = logging.getLogger(__name__)


@dataclass
class RemoteTrack:
    participant_id: str
    kind: str
    mid: str
    track: MediaStreamTrack


@dataclass
class ClientEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    track: RemoteTrack | None = None


# Close codes that end a session for good (docs/protocol.md, "Reconnection"). Any other close
# (1006 when the worker dies, 1000 "worker shutting down" that the client did not ask for, 4503
# draining, 1011), or a peer connection that fails, means the worker was lost: reconnect.
FINAL_CLOSE_CODES = frozenset({4400, 4401, 4403, 4408, 4409, 4410, 4423, 4429})


class SfuError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SfuClient:
    def __init__(
        self,
        url: str,
        room: str,
        token: str,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        configuration: RTCConfiguration | None = None,
        auto_answer: bool = True,
        audio_only: bool | None = None,
    ) -> None:
        self.url, self.room, self.token = url, room, token
        self._configuration = configuration
        self._closing = False  # this side leaves or closes: not a loss
        # False: offers are only reported as events (tests answer them by hand).
        self.auto_answer = auto_answer
        # Audio-only mode asked for at join; None: the room's default (the token's claim).
        self._requested_audio_only = audio_only
        self.audio_only = bool(audio_only)
        self.local_tracks: dict[str, MediaStreamTrack | None] = {
            "audio": audio,
            "video": video,
            "screen": None,
        }
        # Never aiortc's default public STUN server; max-bundle (see sfu.ice.rtc_configuration).
        self.pc = RTCPeerConnection(configuration or rtc_configuration())
        self.participant_id: str | None = None
        self.participants: dict[str, dict[str, Any]] = {}
        self.me: dict[str, Any] = {}
        self.remote_tracks: dict[str, RemoteTrack] = {}  # mid → track
        self.events: asyncio.Queue[ClientEvent] = asyncio.Queue()
        self.last_error: dict[str, Any] | None = None
        self.close_code: int | None = None
        self.revision = 0
        self._session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._joined: asyncio.Future[dict[str, Any]] | None = None
        self.closed = asyncio.Event()

    async def connect(self) -> None:
        """Open the WebSocket only (tests use `send_raw` on it to misbehave)."""
        self._session = aiohttp.ClientSession()
        self.ws = await self._session.ws_connect(self.url, max_msg_size=0)
        self._joined = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def join(self, timeout: float = 15.0) -> dict[str, Any]:
        """Connect, send `join`, and return the `joined` message; raises SfuError if refused."""
        if self.ws is None:
            await self.connect()
        await self.send({"type": "join", "room": self.room, "token": self.token})
        joined = await asyncio.wait_for(asyncio.shield(self._joined), timeout)
        wanted = self._requested_audio_only
        if wanted is not None and wanted != joined["participant"].get("audio_only", False):
            await self.set_audio_only(wanted)
        return joined

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def send_raw(self, data: str) -> None:
        await self.ws.send_str(data)

    async def set_microphone(self, enabled: bool) -> None:
        await self._set_enabled("audio", "microphone", enabled)

    async def set_camera(self, enabled: bool) -> None:
        await self._set_enabled("video", "camera", enabled)

    async def set_audio_only(self, enabled: bool) -> None:
        """Stop sending the camera and ask the SFU for no video (or both back)."""
        self.audio_only = enabled
        self._enable_camera_sender(not enabled)
        await self.send({"type": "audio-only", "enabled": enabled})

    async def _set_enabled(self, kind: str, field_name: str, enabled: bool) -> None:
        for transceiver in self.pc.getTransceivers():
            if transceiver.sender.track is not None and transceiver.kind == kind:
                # aiortc's sender drops frames (sends nothing) while disabled.
                transceiver.sender._enabled = enabled
        await self.send({"type": "mute", field_name: enabled})

    def _enable_camera_sender(self, enabled: bool) -> None:
        camera = self.local_tracks["video"]
        for transceiver in self.pc.getTransceivers():
            if camera is not None and transceiver.sender.track is camera:
                transceiver.sender._enabled = enabled

    async def chat(self, text: str) -> None:
        await self.send({"type": "chat", "text": text})

    async def raise_hand(self, raised: bool = True) -> None:
        await self.send({"type": "hand", "raised": raised})

    async def lower_hand(self, participant_id: str) -> None:
        await self.send({"type": "lower-hand", "participant_id": participant_id})

    async def publish_screen(self, track: MediaStreamTrack) -> None:
        """Share `track` as a screen: attached to the slot the server's next offer adds."""
        self.local_tracks["screen"] = track
        await self.send({"type": "publish-screen"})

    async def unpublish_screen(self) -> None:
        track, self.local_tracks["screen"] = self.local_tracks["screen"], None
        await self.send({"type": "unpublish-screen"})
        if track is not None:
            track.stop()

    # Moderators' commands (others get `error {code: "forbidden"}`).
    async def mute_participant(self, participant_id: str) -> None:
        await self.send({"type": "mute-participant", "participant_id": participant_id})

    async def mute_all(self, allow_unmute: bool = True) -> None:
        await self.send({"type": "mute-all", "allow_unmute": allow_unmute})

    async def allow_unmute(self) -> None:
        await self.send({"type": "allow-unmute"})

    async def remove(self, participant_id: str) -> None:
        await self.send({"type": "remove", "participant_id": participant_id})

    async def lock(self, locked: bool = True) -> None:
        await self.send({"type": "lock", "locked": locked})

    async def promote(self, participant_id: str) -> None:
        await self.send({"type": "promote", "participant_id": participant_id})

    async def end(self) -> None:
        await self.send({"type": "end"})

    async def next_event(self, *types: str, timeout: float = 10.0) -> ClientEvent:
        """Wait for the next event of one of `types` (others are discarded)."""

        async def wait() -> ClientEvent:
            while True:
                event = await self.events.get()
                if not types or event.type in types:
                    return event

        return await asyncio.wait_for(wait(), timeout)

    @property
    def lost(self) -> bool:
        """The worker went away under a joined client (not a refusal, removal, end or leave):
        the signalling closed with a code outside FINAL_CLOSE_CODES, or media failed."""
        if self.participant_id is None:
            return False
        if self._closing:
            return False
        if self.closed.is_set():
            return self.close_code not in FINAL_CLOSE_CODES
        return self.pc.connectionState == "failed"

    async def reconnect(
        self,
        url: str,
        token: str,
        *,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        timeout: float = 15.0,
    ) -> SfuClient:
        """Close this client and join `url` with a fresh `token` (from the portal, naming the
        lost worker) as a new participant; returns the new client.

        `audio`/`video` must be new tracks: aiortc stops a sender's track when its peer
        connection closes (a browser keeps its MediaStream and reuses it). Hands, chat and
        screen share do not carry over: they lived on the lost worker.
        """
        await self.close()
        client = SfuClient(
            url,
            self.room,
            token,
            audio=audio,
            video=video,
            configuration=self._configuration,
            auto_answer=self.auto_answer,
        )
        try:
            await client.join(timeout)
        except BaseException:
            await client.close()
            raise
        return client

    def tracks_of(self, participant_id: str) -> dict[str, RemoteTrack]:
        return {
            t.kind: t for t in self.remote_tracks.values() if t.participant_id == participant_id
        }

    async def leave(self) -> None:
        self._closing = True
        if self.ws is not None and not self.ws.closed:
            try:
                await self.send({"type": "leave"})
            except ConnectionError:
                pass
        await self.close()

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await self.pc.close()

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                await self._handle(json.loads(message.data))
        except Exception:
            logger.exception("SFU client reader failed")
        finally:
            self.close_code = self.ws.close_code
            if not self._joined.done():
                error = self.last_error or {"code": "closed", "message": "connection closed"}
                self._joined.set_exception(SfuError(error["code"], error["message"]))
            for mid in list(self.remote_tracks):
                self._end_track(mid)
            self.events.put_nowait(ClientEvent("closed", {"code": self.close_code}))
            self.closed.set()

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "joined":
            self.participant_id = message["participant_id"]
            self.participants = {p["id"]: p for p in message["participants"]}
            self.me = message.get("participant", {})
            if self._requested_audio_only is None:
                self.audio_only = bool(self.me.get("audio_only"))
            self._joined.set_result(message)
        elif kind == "offer" and self.auto_answer:
            await self._answer(message)
        elif kind == "participant-joined":
            self.participants[message["participant"]["id"]] = message["participant"]
        elif kind == "participant-updated":
            if message["participant"]["id"] == self.participant_id:
                self.me = message["participant"]
            else:
                self.participants[message["participant"]["id"]] = message["participant"]
        elif kind == "participant-left":
            self.participants.pop(message["participant_id"], None)
        elif kind == "error":
            self.last_error = message
        elif kind == "ended" and not self._joined.done():
            self._joined.set_exception(SfuError("ended", message.get("reason") or "ended"))
        self.events.put_nowait(ClientEvent(kind, message))

    async def _answer(self, offer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        by_mid = {t.mid: t for t in self.pc.getTransceivers()}
        for source, mid in offer["publish"].items():
            transceiver = by_mid.get(mid)
            track = self.local_tracks.get(source)
            if transceiver is None:
                continue
            if track is None:
                transceiver.direction = "inactive"
            elif transceiver.sender.track is None:
                transceiver.sender.replaceTrack(track)
                transceiver.direction = "sendonly"
                if source == "video" and self.audio_only:
                    transceiver.sender._enabled = False
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        self.revision = offer["revision"]
        await self.send(
            {"type": "answer", "revision": offer["revision"], "sdp": self.pc.localDescription.sdp}
        )
        listed = offer["tracks"]
        for mid in list(self.remote_tracks):
            if mid not in listed:
                self._end_track(mid)
        for mid, info in listed.items():
            if mid in self.remote_tracks or by_mid.get(mid) is None:
                continue
            remote = RemoteTrack(
                info["participant_id"], info["kind"], mid, by_mid[mid].receiver.track
            )
            self.remote_tracks[mid] = remote
            self.events.put_nowait(ClientEvent("track", dict(info, mid=mid), remote))

    def _end_track(self, mid: str) -> None:
        remote = self.remote_tracks.pop(mid)
        remote.track.stop()
        self.events.put_nowait(ClientEvent("track-ended", {"mid": mid}, remote))
