"""A minimal aiortc participant speaking the SFU's signalling protocol (docs/protocol.md).

Just what the load generator needs: join with a token, answer every offer (the SFU is always the
offerer), attach replay tracks to the transceivers the SFU names in `publish`, and hand every
received track to a callback. Loopback only: host candidates are restricted to 127.0.0.1 and no
STUN/TURN server is used.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from bench.media import ReplayTrack
from sfu.ice import rtc_configuration, use_host_addresses

logger = logging.getLogger(__name__)


def restrict_to_loopback() -> None:
    """Offer only 127.0.0.1 as ICE host candidate in this process (the SFU does the same)."""
    use_host_addresses(["127.0.0.1"])


class Participant:
    """One WebSocket + one RTCPeerConnection; `run()` serves the signalling until closed."""

    def __init__(
        self,
        url: str,
        room: str,
        token: str,
        publish: dict[str, ReplayTrack] | None = None,
        on_track: Callable[[MediaStreamTrack, Any], None] | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        on_publish: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.url = url
        self.room = room
        self._token = token
        self._publish = publish or {}
        self._on_track = on_track
        self._on_message = on_message  # called with every server message, offers included
        # Called once per published kind with its RTCRtpSender, when a track is attached to it.
        self._on_publish = on_publish
        # mid → {"participant_id", "kind"} of every track the SFU ever offered (m-lines are
        # never recycled, so a mid keeps its publisher after it goes inactive).
        self.track_info: dict[str, dict[str, Any]] = {}
        self.pc = RTCPeerConnection(rtc_configuration())
        self.pc.on("track", self._track_received)
        self.negotiations = 0
        self.error: dict[str, Any] | None = None
        self.connected = asyncio.Event()
        self._attached: set[str] = set()
        self._ws: aiohttp.ClientWebSocketResponse | None = None

        @self.pc.on("connectionstatechange")
        def _state_changed() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    def _track_received(self, track: MediaStreamTrack) -> None:
        if self._on_track is None:
            return
        receiver = next(
            (t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track), None
        )
        self._on_track(track, receiver)

    async def run(self, session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(self.url, max_msg_size=0) as ws:
            self._ws = ws
            await ws.send_str(json.dumps({"type": "join", "room": self.room, "token": self._token}))
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if self._on_message is not None:
                    self._on_message(data)
                if data.get("type") == "offer":
                    await self._answer(data)
                elif data.get("type") == "error":
                    self.error = data
                    logger.warning("SFU refused %s: %s", self.room, data)

    async def _answer(self, offer: dict[str, Any]) -> None:
        self.track_info.update(offer.get("tracks") or {})
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        for kind, mid in (offer.get("publish") or {}).items():
            track = self._publish.get(kind)
            if track is None or mid in self._attached:
                continue
            transceiver = next(t for t in self.pc.getTransceivers() if t.mid == mid)
            transceiver.sender.replaceTrack(track)
            transceiver.direction = "sendonly"
            # A PLI/FIR from the SFU reaches the sender's `_send_keyframe()`, which only matters to
            # an encoder; the replay track answers by jumping to its next keyframe instead.
            transceiver.sender._send_keyframe = track.request_keyframe
            self._attached.add(mid)
            if self._on_publish is not None:
                self._on_publish(kind, transceiver.sender)
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)
        self.negotiations += 1
        answer_message = {
            "type": "answer",
            "revision": offer["revision"],
            "sdp": self.pc.localDescription.sdp,
        }
        await self._ws.send_str(json.dumps(answer_message))

    async def send(self, message: dict[str, Any]) -> None:
        """Send one signalling message (after `run()` has connected)."""
        await self._ws.send_str(json.dumps(message))

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            try:
                await self._ws.send_str(json.dumps({"type": "leave"}))
            except ConnectionError:
                pass
            await self._ws.close()
        await self.pc.close()
