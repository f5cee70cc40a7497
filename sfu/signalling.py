"""Signalling messages: parsing and validation of what clients send, errors we send back.

The protocol is described in docs/protocol.md. Every refusal is a `SignallingError` carrying
the `code` sent in the `error` message and the WebSocket close code used right after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# WebSocket close codes (4000–4999 are for applications, RFC 6455 § 7.4.2).
CLOSE_NORMAL = 1000
CLOSE_TOO_LARGE = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403  # banned from the room, or removed by a moderator
CLOSE_TIMEOUT = 4408
CLOSE_CONFLICT = 4409
CLOSE_ENDED = 4410  # the meeting ended (moderator, schedule or longest duration)
CLOSE_LOCKED = 4423
CLOSE_FULL = 4429
CLOSE_DRAINING = 4503  # the worker is draining: reconnect through the portal (re-placed)

MAX_TOKEN_CHARS = 8192
MAX_ROOM_CHARS = 200
MAX_PARTICIPANT_ID_CHARS = 200


class Refusal(Exception):
    """Refuse one request without closing: send {type: error, code, message}, keep serving."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_message(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message}


class SignallingError(Exception):
    """Refuse a client: send {type: error, code, message} then close with `close_code`."""

    def __init__(self, code: str, message: str, close_code: int = CLOSE_BAD_REQUEST, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code
        self.extra = extra

    def to_message(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message, **self.extra}


@dataclass(frozen=True)
class Join:
    room: str
    token: str


@dataclass(frozen=True)
class Answer:
    revision: int
    sdp: str


@dataclass(frozen=True)
class Mute:
    microphone: bool | None
    camera: bool | None


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Chat:
    text: str


@dataclass(frozen=True)
class Hand:
    raised: bool


@dataclass(frozen=True)
class AudioOnly:
    enabled: bool


@dataclass(frozen=True)
class Pin:
    """Keep receiving this participant's video whatever the congestion policy does."""

    participant_id: str
    pinned: bool


@dataclass(frozen=True)
class PublishScreen:
    pass


@dataclass(frozen=True)
class UnpublishScreen:
    pass


# Moderator commands (docs/meetings.md). `participant_id` names the participant acted upon.
@dataclass(frozen=True)
class LowerHand:
    participant_id: str


@dataclass(frozen=True)
class MuteParticipant:
    participant_id: str


@dataclass(frozen=True)
class MuteAll:
    allow_unmute: bool


@dataclass(frozen=True)
class AllowUnmute:
    pass


@dataclass(frozen=True)
class Remove:
    participant_id: str


@dataclass(frozen=True)
class Lock:
    locked: bool


@dataclass(frozen=True)
class Promote:
    participant_id: str


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class PinForAll:
    """A moderator pins a participant (a presenter, an interpreter) for everyone."""

    participant_id: str
    pinned: bool


ModeratorCommand = (
    MuteParticipant | MuteAll | AllowUnmute | Remove | Lock | Promote | End | PinForAll
)
ClientMessage = (
    Join
    | Answer
    | Mute
    | Leave
    | Chat
    | Hand
    | AudioOnly
    | Pin
    | LowerHand
    | PublishScreen
    | UnpublishScreen
    | ModeratorCommand
)

# Messages without fields.
_EMPTY_MESSAGES = {
    "leave": Leave,
    "publish-screen": PublishScreen,
    "unpublish-screen": UnpublishScreen,
    "allow-unmute": AllowUnmute,
    "end": End,
}
# Messages naming one participant.
_TARGETED_MESSAGES = {
    "lower-hand": LowerHand,
    "mute-participant": MuteParticipant,
    "remove": Remove,
    "promote": Promote,
}


def _field(data: dict, name: str, kind: type, *, required: bool = True, max_chars: int = 0):
    value = data.get(name)
    if value is None and not required:
        return None
    # bool is an int: refuse it where an int is expected.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SignallingError(
            "malformed_message", f"'{name}' must be a {kind.__name__} in '{data['type']}'"
        )
    if max_chars and len(value) > max_chars:
        raise SignallingError("malformed_message", f"'{name}' is longer than {max_chars}")
    return value


def parse_client_message(raw: str | bytes, max_bytes: int) -> ClientMessage:
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise SignallingError(
            "message_too_large",
            f"message of {size} bytes exceeds the limit of {max_bytes} bytes",
            CLOSE_TOO_LARGE,
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: arrays or objects nested deeper than the interpreter's recursion limit
        # (about 1000 levels: a few KiB, under the limit before `join`). The decoder unwinds
        # cleanly; uncaught, it became an internal_error with a traceback for every such message.
        raise SignallingError("malformed_message", f"message is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise SignallingError("malformed_message", "message must be a JSON object with a 'type'")
    kind = data["type"]
    if kind == "join":
        return Join(
            room=_field(data, "room", str, max_chars=MAX_ROOM_CHARS),
            token=_field(data, "token", str, max_chars=MAX_TOKEN_CHARS),
        )
    if kind == "answer":
        return Answer(revision=_field(data, "revision", int), sdp=_field(data, "sdp", str))
    if kind == "mute":
        mute = Mute(
            microphone=_field(data, "microphone", bool, required=False),
            camera=_field(data, "camera", bool, required=False),
        )
        if mute.microphone is None and mute.camera is None:
            raise SignallingError("malformed_message", "'mute' needs 'microphone' or 'camera'")
        return mute
    if kind in _EMPTY_MESSAGES:
        return _EMPTY_MESSAGES[kind]()
    if kind in _TARGETED_MESSAGES:
        return _TARGETED_MESSAGES[kind](
            participant_id=_field(data, "participant_id", str, max_chars=MAX_PARTICIPANT_ID_CHARS)
        )
    if kind == "chat":
        # The length limit (too_long) is checked by the session: it is not fatal.
        return Chat(text=_field(data, "text", str))
    if kind == "hand":
        return Hand(raised=_field(data, "raised", bool))
    if kind == "audio-only":
        return AudioOnly(enabled=_field(data, "enabled", bool))
    if kind == "mute-all":
        return MuteAll(allow_unmute=_field(data, "allow_unmute", bool))
    if kind == "lock":
        return Lock(locked=_field(data, "locked", bool))
    if kind in ("pin", "pin-for-all"):
        message = Pin if kind == "pin" else PinForAll
        return message(
            participant_id=_field(data, "participant_id", str, max_chars=MAX_PARTICIPANT_ID_CHARS),
            pinned=_field(data, "pinned", bool),
        )
    # repr(): a type with newlines in it cannot forge lines in the worker's log.
    raise SignallingError("unknown_message_type", f"unknown message type {kind[:64]!r}")
