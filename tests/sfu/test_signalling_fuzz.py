"""Property-based tests: hostile signalling against a real worker process (docs/protocol.md).

Hypothesis throws malformed, oversized, out-of-order and hostile messages and answer SDPs (the
latter mutated from a real aiortc answer) at one worker, one hostile connection at a time, while a
healthy room of two aiortc participants on the same worker exchanges media. Properties: the worker
stays up and answers /healthz; every hostile connection ends, within a bound, in one of the
documented outcomes (an `error` then the close code of that error, or a non-fatal `error` with the
connection still open, or a bare close for what aiohttp refuses itself); nothing is logged as a
traceback; the healthy room's media never stalls; memory and file descriptors do not grow with the
number of hostile sessions.

The clients run on an event loop in a background thread, shared by every example, so that the
healthy room's media keeps flowing between examples.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.media.join_tokens import JOIN_TOKEN_AUDIENCE
from sfu import ice
from sfu.client import SfuClient
from tests.fixtures.sfu import SFU_TEST_ISSUER, _stop_and_check, launch_worker
from tests.sfu.helpers import close_all, join_client, wait_for_tracks

pytestmark = [
    pytest.mark.timeout(240),
    # The healthy room's aiortc clients use `random` on the background loop while Hypothesis
    # generates an example: it takes that for a strategy using the global random.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

HEALTHY_ROOM = "salle-saine"
# Per hostile connection: from connecting to the documented outcome (join, offer, answer, probe).
OUTCOME_TIMEOUT = 10.0
# The healthy room's video (30 fps) may pause this long at most while the worker is fuzzed.
MAX_MEDIA_GAP = 2.0

# More examples for a longer local run (SFU_FUZZ_SCALE=10), fewer for a quick look (0.1).
EXAMPLES_SCALE = float(os.environ.get("SFU_FUZZ_SCALE", "1"))

BEFORE_JOIN_LIMIT = 16 * 1024  # sfu/session.py MAX_JOIN_MESSAGE_BYTES
AFTER_JOIN_LIMIT = 512 * 1024  # SFU_MAX_MESSAGE_BYTES' default
AIOHTTP_FACTOR = 4  # above 4 × the limit aiohttp closes (1009) without reading the message

# docs/protocol.md, "Errors": fatal codes and the close code that follows them.
FATAL_CLOSE_CODES = {
    "malformed_message": 4400,
    "unknown_message_type": 4400,
    "protocol_error": 4400,
    "message_too_large": 1009,
    "invalid_token": 4401,
    "duplicate_participant": 4409,
    "banned": 4403,
    "room_locked": 4423,
    "room_full": 4429,
    "join_timeout": 4408,
    "negotiation_timeout": 4408,
    "bad_sdp": 4400,
}
NON_FATAL_CODES = {
    "forbidden",
    "unmute_forbidden",
    "too_long",
    "rate_limited",
    "unknown_participant",
    "too_many_pins",
}
# Outcomes that are not an error code (see `Outcome.name`).
OPEN = "open"  # no fatal error: the probe after the hostile input was answered
LEFT = "close:1000"  # after `leave`
BARE_TOO_LARGE = "close:1009"  # above aiohttp's own limit: no error message
BARE_INVALID_UTF8 = "close:1007"  # aiohttp refuses a text frame that is not UTF-8
# Above 4 × the limit aiohttp stops reading and drops the connection while the client is still
# sending the rest: the client's kernel may then get a reset and lose the close frame.
RESET = "close:1006"
ENDED = "close:4410"  # `ended` (a token whose close_at is past), not an error

# Every client message of docs/protocol.md with the type of each field.
FIELDS: dict[str, dict[str, type]] = {
    "join": {"room": str, "token": str},
    "answer": {"revision": int, "sdp": str},
    "mute": {"microphone": bool, "camera": bool},
    "leave": {},
    "chat": {"text": str},
    "hand": {"raised": bool},
    "audio-only": {"enabled": bool},
    "lower-hand": {"participant_id": str},
    "publish-screen": {},
    "unpublish-screen": {},
    "mute-participant": {"participant_id": str},
    "mute-all": {"allow_unmute": bool},
    "allow-unmute": {},
    "remove": {"participant_id": str},
    "lock": {"locked": bool},
    "promote": {"participant_id": str},
    "end": {},
    "pin": {"participant_id": str, "pinned": bool},
    "pin-for-all": {"participant_id": str, "pinned": bool},
}
TYPED_MESSAGES = sorted(kind for kind, fields in FIELDS.items() if fields)
# After `join`, harmless for the rest of the probe: refused (non-fatal) or accepted.
PROBE = {"type": "lower-hand", "participant_id": "personne-ici"}


# --- What a hostile connection sends -------------------------------------------------------------


class Frame:
    """One WebSocket frame, sent as is: `data` bytes in a TEXT frame may be invalid UTF-8.
    (Not a dataclass: Hypothesis would print every byte of a 2 MiB frame in a failing example.)"""

    def __init__(self, data: str | bytes, binary: bool = False) -> None:
        self.data, self.binary = data, binary

    def __repr__(self) -> str:
        data = repr(self.data)
        if len(data) > 200:
            data = f"{data[:150]}…{data[-30:]} ({len(self.data)} long)"
        return f"Frame({data}{', binary=True' if self.binary else ''})"


def message(payload: Any) -> Frame:
    return Frame(json.dumps(payload))


@dataclass(frozen=True)
class AnswerFrame:
    """An `answer` to the pending offer: `revision_shift` 0 answers it, anything else is stale or
    from the future. Its SDP is the real answer changed by `mutations` (at run time: the real
    answer is made by the fixture)."""

    mutations: tuple[Callable[[list[str]], None], ...] = ()
    revision_shift: int = 0
    line_ending: str = "\r\n"


@dataclass(frozen=True)
class SignedJoin:
    """A `join` to a fresh room with a validly signed token whose `claims` override the usual
    ones (a portal gone wrong, or a token for somewhere else)."""

    claims: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Hostile:
    """One hostile connection: `joined` sends `frames` after a successful join, else before.
    `allowed`: the outcomes docs/protocol.md allows (None: any documented one), and with `OPEN`
    the non-fatal refusals allowed meanwhile."""

    frames: tuple[Frame | AnswerFrame | SignedJoin, ...]
    allowed: frozenset[str] | None
    joined: bool = False
    wait_for_offer: bool = False

    @property
    def probe(self) -> bool:
        """Whether the connection may stay open: then a probe tells "ignored" from a hang."""
        return self.joined or any(isinstance(frame, SignedJoin) for frame in self.frames)


# --- Strategies ----------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def is_of(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def valid_value(kind: type) -> st.SearchStrategy:
    return {str: st.text(max_size=30), int: st.integers(0, 5), bool: st.booleans()}[kind]


@st.composite
def mistyped_messages(draw) -> dict[str, Any]:
    """A known message with one field missing or of the wrong type (extra fields ignored)."""
    kind = draw(st.sampled_from(TYPED_MESSAGES))
    fields = FIELDS[kind]
    payload = {"type": kind}
    for name, field_kind in fields.items():
        payload[name] = draw(valid_value(field_kind))
    broken = draw(st.sampled_from(sorted(fields)))
    field_kind = fields[broken]
    if kind != "mute" and draw(st.booleans()):
        del payload[broken]  # missing (mute's fields are optional: null is "absent" there)
    else:
        payload[broken] = draw(
            json_values.filter(lambda v: not is_of(v, field_kind) and v is not None)
        )
    extra = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))
    return {**{k: v for k, v in extra.items() if k not in payload}, **payload}


# Claims of validly signed tokens: wrong audience, issuer, room, types, sizes, dates.
HOSTILE_CLAIMS = [
    ("exp", 1),
    ("exp", 10**30),
    ("aud", "autre"),
    ("iss", "https://ailleurs.example"),
    ("room", "ailleurs"),
    ("role", "admin"),
    ("role", None),
    ("name", ""),
    ("name", 5),
    ("name", "x" * 2000),
    ("sub", 5),
    ("sub", ""),
    ("sub", "x" * 1000),
    ("uid", 5),
    ("uid", ""),
    ("uid", "x" * 201),
    ("cap", 0),
    ("cap", True),
    ("cap", 10**30),
    ("audio_only", "oui"),
    ("close_at", 1),
    ("close_at", -1.5),
    ("close_at", "demain"),
    ("close_at", 1e308),
    ("jti", 5),
    ("iat", "x"),
]
unknown_types = st.text(max_size=80).filter(lambda kind: kind not in FIELDS)


def nested(depth: int) -> str:
    """`{"type": "chat", "text": [[[…]]]}` nested `depth` deep (JSON arrays and objects)."""
    opening = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return '{"type": "chat", "text": ' + opening + "1" + closing + "}"


def too_large_or(frame: Frame, limit: int, code: str = "malformed_message") -> str:
    """The refusal of `frame` under a `limit` (bytes): its size, else `code`."""
    return "message_too_large" if len(frame.data.encode()) > limit else code


def sized(kind: str, size: int) -> str:
    """A JSON `kind` message (chat text, or join room) of exactly `size` bytes."""
    head = json.dumps({"type": kind, "text" if kind == "chat" else "room": ""})[:-2]
    return head + "x" * (size - len(head) - 2) + '"}'


def sized_array(size: int) -> str:
    """A chat message whose text is an array of zeros, about `size` bytes."""
    head = '{"type": "chat", "text": [0'
    return head + ",0" * ((size - len(head) - 2) // 2) + "]}"


garbage_frames = st.one_of(
    st.binary(max_size=200).map(lambda b: Frame(b, binary=True)),
    st.text(max_size=200).filter(lambda t: not _is_json(t)).map(Frame),
    json_values.filter(lambda v: not isinstance(v, dict)).map(message),
    st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    .filter(lambda d: not isinstance(d.get("type"), str))
    .map(message),
)
# Invalid UTF-8 in a text frame (a lone continuation byte, a truncated sequence, a surrogate).
# (After ASCII, so that no generated prefix completes the sequence.)
invalid_utf8 = st.tuples(
    st.text(st.characters(max_codepoint=127, exclude_characters='"\\'), max_size=20),
    st.sampled_from([b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xff\xfe"]),
).map(lambda parts: Frame(b'{"type": "chat", "text": "' + parts[0].encode() + parts[1] + b'"}'))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@st.composite
def before_join(draw) -> Hostile:
    """What a stranger can send: garbage, messages before `join`, oversized, deep nesting."""
    choice = draw(
        st.sampled_from(
            [
                "garbage",
                "mistyped",
                "unknown",
                "not-join",
                "size",
                "deep",
                "utf8",
                "bad-join",
                "signed-claims",
            ]
        )
    )
    if choice == "garbage":
        return Hostile((draw(garbage_frames),), frozenset({"malformed_message"}))
    if choice == "mistyped":
        return Hostile((message(draw(mistyped_messages())),), frozenset({"malformed_message"}))
    if choice == "unknown":
        return Hostile(
            (message({"type": draw(unknown_types)}),), frozenset({"unknown_message_type"})
        )
    if choice == "not-join":
        kind = draw(st.sampled_from(sorted(set(FIELDS) - {"join"})))
        payload = {"type": kind} | {n: draw(valid_value(k)) for n, k in FIELDS[kind].items()}
        if kind == "mute":
            payload["camera"] = False
        return Hostile((message(payload),), frozenset({"protocol_error"}))
    if choice == "size":  # just under, at, and over the 16 KiB limit
        size = draw(
            st.sampled_from([BEFORE_JOIN_LIMIT - 1, BEFORE_JOIN_LIMIT, BEFORE_JOIN_LIMIT + 1])
            | st.integers(BEFORE_JOIN_LIMIT + 1, 2 * BEFORE_JOIN_LIMIT)
        )
        under = size <= BEFORE_JOIN_LIMIT
        return Hostile(
            (Frame(sized("join", size)),),
            # A 16 KiB room name is refused as malformed (200 chars at most), once read.
            frozenset({"malformed_message" if under else "message_too_large"}),
        )
    if choice == "deep":  # just under and over the 16 KiB limit too
        frame = Frame(nested(draw(st.sampled_from([10, 999, 1000, 4000]) | st.integers(1, 5000))))
        return Hostile((frame,), frozenset({too_large_or(frame, BEFORE_JOIN_LIMIT)}))
    if choice == "utf8":
        return Hostile((draw(invalid_utf8),), frozenset({BARE_INVALID_UTF8, "malformed_message"}))
    if choice == "signed-claims":
        frame = SignedJoin(draw(st.lists(st.sampled_from(HOSTILE_CLAIMS), max_size=2).map(tuple)))
        # Refused, accepted (then open), or the meeting is over (`ended`, 4410).
        return Hostile((frame,), frozenset({"invalid_token", OPEN, ENDED}))
    # A join whose token is garbage, too long, or mistyped.
    token = draw(
        st.text(max_size=300) | st.sampled_from(["a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 8193])
    )
    room = draw(st.text(max_size=220))
    allowed = {"invalid_token", "malformed_message"}
    return Hostile((message({"type": "join", "room": room, "token": token}),), frozenset(allowed))


@st.composite
def after_join(draw) -> Hostile:
    """What a joined participant can send: the same garbage, plus well-typed messages with hostile
    values, repeated `join`, stale answers, oversized messages, and sequences of all of these."""
    choice = draw(
        st.sampled_from(
            [
                "garbage",
                "mistyped",
                "unknown",
                "join-again",
                "hostile-values",
                "stale-answer",
                "size",
                "deep",
                "utf8",
                "sequence",
                "leave",
            ]
        )
    )
    if choice == "garbage":
        return Hostile((draw(garbage_frames),), frozenset({"malformed_message"}), joined=True)
    if choice == "mistyped":
        frame = message(draw(mistyped_messages()))
        return Hostile((frame,), frozenset({"malformed_message"}), joined=True)
    if choice == "unknown":
        frame = message({"type": draw(unknown_types), "sdp": draw(st.text(max_size=50))})
        return Hostile((frame,), frozenset({"unknown_message_type"}), joined=True)
    if choice == "join-again":
        frame = message({"type": "join", "room": draw(st.text(max_size=20)), "token": "t"})
        return Hostile((frame,), frozenset({"protocol_error"}), joined=True)
    if choice == "hostile-values":  # refused without closing, or accepted; ids > 200: malformed
        allowed = NON_FATAL_CODES | {OPEN, "malformed_message"}
        return Hostile((message(draw(hostile_values())),), frozenset(allowed), joined=True)
    if choice == "stale-answer":
        shift = draw(st.sampled_from([-1, 1, 1000, -(2**40)]) | st.integers(-5, 5).filter(bool))
        return Hostile(
            (AnswerFrame(revision_shift=shift),),
            frozenset({"protocol_error"}),
            joined=True,
            wait_for_offer=draw(st.booleans()),
        )
    if choice == "size":  # just under, at, over 512 KiB, and over aiohttp's 4 × 512 KiB
        size = draw(
            st.sampled_from(
                [
                    AFTER_JOIN_LIMIT - 1,
                    AFTER_JOIN_LIMIT,
                    AFTER_JOIN_LIMIT + 1,
                    AIOHTTP_FACTOR * AFTER_JOIN_LIMIT + 1,
                ]
            )
        )
        array = draw(st.booleans())  # a huge string, or a huge array
        if size <= AFTER_JOIN_LIMIT:  # read and parsed: refused as a chat message
            allowed = {"malformed_message"} if array else {OPEN, "too_long"}
        elif size <= AIOHTTP_FACTOR * AFTER_JOIN_LIMIT:
            allowed = {"message_too_large"}
        else:
            allowed = {BARE_TOO_LARGE, RESET}
        frame = Frame(sized_array(size) if array else sized("chat", size))
        return Hostile((frame,), frozenset(allowed), joined=True)
    if choice == "deep":  # a shallow one is a chat whose text is not a string: malformed too
        depth = draw(st.sampled_from([999, 1000, 130_000, 140_000]) | st.integers(1, 150_000))
        frame = Frame(nested(depth))
        return Hostile((frame,), frozenset({too_large_or(frame, AFTER_JOIN_LIMIT)}), joined=True)
    if choice == "utf8":
        frame = draw(invalid_utf8)
        return Hostile((frame,), frozenset({BARE_INVALID_UTF8, "malformed_message"}), joined=True)
    if choice == "leave":
        return Hostile((message({"type": "leave"}),), frozenset({LEFT}), joined=True)
    # Out of order: several messages in a row, fatal or not, answers included.
    frames = draw(
        st.lists(
            st.one_of(
                hostile_values().map(message),
                mistyped_messages().map(message),
                st.builds(AnswerFrame, revision_shift=st.integers(-2, 2)),
                st.just(message({"type": "join", "room": HEALTHY_ROOM, "token": "t"})),
                st.just(message({"type": "publish-screen"})),
                st.just(message({"type": "unpublish-screen"})),
            ),
            min_size=2,
            max_size=6,
        )
    )
    return Hostile(tuple(frames), None, joined=True, wait_for_offer=draw(st.booleans()))


@st.composite
def hostile_values(draw) -> dict[str, Any]:
    """A well-typed message whose values are hostile: unknown or huge participant ids, someone
    else in another room, moderator commands from a participant, long or odd chat text."""
    kind = draw(st.sampled_from(sorted(set(FIELDS) - {"join", "answer", "leave", "end"})))
    payload: dict[str, Any] = {"type": kind}
    for name, field_kind in FIELDS[kind].items():
        if name == "participant_id":
            payload[name] = draw(
                st.sampled_from(["alice", "bob", "", " ", "\u0000", "x" * 200, "x" * 201])
                | st.text(max_size=50)
            )
        elif name == "text":
            payload[name] = draw(
                st.sampled_from(["", "   ", "x" * 2000, "x" * 2001, "\ud800", "<script>"])
                | st.text(max_size=100)
            )
        else:
            payload[name] = draw(valid_value(field_kind))
    if kind == "mute":
        payload = {k: v for k, v in payload.items() if draw(st.booleans()) or k == "type"}
        payload.setdefault("camera", False)
    return payload


# SDP mutators: each takes the answer's lines and changes them in place.
def drop_line(at: int, lines: list[str]) -> None:
    del lines[at % len(lines)]


def duplicate_line(at: int, times: int, lines: list[str]) -> None:
    at %= len(lines)
    lines[at:at] = [lines[at]] * times


def garble_line(at: int, start: int, junk: str, lines: list[str]) -> None:
    at %= len(lines)
    line = lines[at]
    start %= len(line) + 1
    lines[at] = line[:start] + junk + line[start + len(junk) :]


def swap_lines(first: int, second: int, lines: list[str]) -> None:
    first, second = first % len(lines), second % len(lines)
    lines[first], lines[second] = lines[second], lines[first]


def remove_attributes(prefix: str, lines: list[str]) -> None:
    lines[:] = [line for line in lines if not line.startswith(prefix)]


def replace_attributes(prefix: str, value: str, lines: list[str]) -> None:
    lines[:] = [value if line.startswith(prefix) else line for line in lines]


def insert_lines(at: int, new: tuple[str, ...], lines: list[str]) -> None:
    at %= len(lines) + 1
    lines[at:at] = list(new)


def add_media_sections(count: int, kind: str, lines: list[str]) -> None:
    """`count` more m-lines (a copy of the last section, each with its own mid)."""
    start = max((i for i, line in enumerate(lines) if line.startswith("m=")), default=0)
    section = [line for line in lines[start:] if not line.startswith("a=mid:")]
    section[0] = re.sub(r"^m=\w+", f"m={kind}", section[0])
    for index in range(count):
        lines.extend([*section, f"a=mid:x{index}"])


def replace_everything(text: str, lines: list[str]) -> None:
    lines[:] = text.split("\n")


@dataclass(frozen=True)
class Mutation:
    """`function(*args, lines)`; its repr is what a falsifying example shows."""

    function: Callable[..., None]
    args: tuple

    def __call__(self, lines: list[str]) -> None:
        self.function(*self.args, lines)

    def __repr__(self) -> str:
        args = repr(self.args)
        return f"{self.function.__name__}{args if len(args) < 200 else args[:180] + '…)'}"


def _mutation(function, *args) -> Mutation:
    return Mutation(function, args)


indexes = st.integers(0, 10**6)
# Loopback or invalid only: the worker's connectivity checks must not leave the machine.
loopback_or_invalid_addresses = st.one_of(
    st.builds("127.{}.{}.{}".format, st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)),
    st.sampled_from(["::1", "::", "999.1.1.1", "not-an-ip", ""]),
)
candidate_lines = st.builds(
    "a=candidate:{} {} {} {} {} {} typ {}".format,
    st.text("abcdef0123456789", min_size=0, max_size=12),
    st.sampled_from(["1", "2", "0", "-1", "99999", "x"]),
    st.sampled_from(["udp", "UDP", "tcp", "sctp", "x"]),
    st.integers(-1, 2**64).map(str),
    loopback_or_invalid_addresses,
    st.integers(-1, 70000).map(str),
    st.sampled_from(["host", "srflx", "relay", "prflx", "bogus", ""]),
)
hostile_attribute_lines = st.sampled_from(
    [
        "a=fingerprint:sha-256 ZZ:ZZ",
        "a=fingerprint:md5 00:11:22",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=fingerprint:",
        "a=ice-ufrag:",
        "a=ice-pwd:short",
        "a=ice-ufrag:" + "u" * 300,
        "a=ssrc:99999999999999999999 cname:x",
        "a=ssrc:4294967296 msid:a b",
        "a=ssrc:-1 cname:x",
        "a=ssrc-group:FID 1 99999999999999999999",
        "a=ssrc-group:FID",
        "a=ssrc-group:FID x y",
        "a=rtpmap:300 VP8/90000",
        "a=rtpmap:96 FOO/0",
        "a=rtpmap:97 rtx/90000",
        "a=rtpmap:x opus/48000/2",
        "a=fmtp:97 apt=999999",
        "a=fmtp:97 apt=x",
        "a=rtcp-fb:96 nack pli pli pli",
        "a=extmap:99999 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:0 urn:x",
        "a=mid:",
        "a=mid:0",
        "a=group:BUNDLE 0 1 2 3 4 5 6 7 8 9",
        "a=group:BUNDLE",
        "a=setup:actpass",
        "a=setup:holdconn",
        "a=setup:",
        "a=sendrecv",
        "a=inactive",
        "a=rtcp:0 IN IP4 0.0.0.0",
        "a=msid:- -",
        "a=max-message-size:-1",
        "a=sctp-port:99999999999",
        "c=IN IP4 999.999.999.999",
        "c=IN IP6",
        "m=video 9 UDP/TLS/RTP/SAVPF abc",
        "m=audio -1 UDP/TLS/RTP/SAVPF 111",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "m=",
        "o=- x x IN IP4",
        "v=1",
        "t=x",
        "b=AS:-1",
        "\x00",
    ]
)
sdp_mutations = st.one_of(
    st.builds(_mutation, st.just(drop_line), indexes),
    st.builds(_mutation, st.just(duplicate_line), indexes, st.integers(1, 50)),
    st.builds(_mutation, st.just(garble_line), indexes, indexes, st.text(min_size=1, max_size=20)),
    st.builds(_mutation, st.just(swap_lines), indexes, indexes),
    st.builds(
        _mutation,
        st.just(remove_attributes),
        st.sampled_from(
            [
                "a=ice-ufrag",
                "a=ice-pwd",
                "a=fingerprint",
                "a=candidate",
                "a=mid",
                "a=setup",
                "a=rtpmap",
                "a=ssrc",
                "m=",
                "a=group",
                "c=",
                "v=",
                "o=",
            ]
        ),
    ),
    st.builds(
        _mutation,
        st.just(replace_attributes),
        st.sampled_from(
            [
                "a=fingerprint",
                "a=ice-ufrag",
                "a=ice-pwd",
                "a=setup",
                "a=ssrc",
                "a=rtpmap:96",
                "a=mid:0",
                "a=mid:1",
                "m=audio",
                "m=video",
                "a=sendonly",
            ]
        ),
        hostile_attribute_lines,
    ),
    st.builds(
        _mutation,
        st.just(insert_lines),
        indexes,
        st.lists(hostile_attribute_lines | candidate_lines, min_size=1, max_size=5).map(tuple),
    ),
    # Thousands of candidates (about 60 bytes each: 4000 stay under 512 KiB).
    st.builds(
        _mutation,
        st.just(insert_lines),
        indexes,
        st.integers(500, 4000).flatmap(lambda n: candidate_lines.map(lambda line: (line,) * n)),
    ),
    st.builds(
        _mutation,
        st.just(add_media_sections),
        st.sampled_from([1, 2, 50, 300]),
        st.sampled_from(["audio", "video", "application", "text"]),
    ),
    st.builds(_mutation, st.just(replace_everything), st.text(max_size=300)),
)


@st.composite
def answer_sdps(draw) -> Hostile:
    """Answers to the pending offer whose SDP is a real aiortc answer, mutated."""
    mutations = tuple(draw(st.lists(sdp_mutations, min_size=1, max_size=4)))
    line_ending = draw(st.sampled_from(["\r\n", "\r\n", "\n", "\r", ""]))
    return Hostile(
        (AnswerFrame(mutations, 0, line_ending),),
        frozenset({"bad_sdp", OPEN}),
        joined=True,
        wait_for_offer=True,
    )


# --- Running hostile connections against the worker ----------------------------------------------


@dataclass
class Outcome:
    errors: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None  # None: still open after the probe
    probe_answered: bool = False
    received: list[str] = field(default_factory=list)  # what came back, for failure messages
    largest_frame: int = 0  # bytes: a mutated answer may exceed the limits too

    @property
    def fatal_error(self) -> dict[str, Any] | None:
        fatal = [e for e in self.errors if e.get("code") not in NON_FATAL_CODES]
        return fatal[-1] if fatal else None

    @property
    def name(self) -> str:
        if self.close_code is None:
            return OPEN
        if self.fatal_error is not None:
            return self.fatal_error["code"]
        return f"close:{self.close_code}"


class HostileConnection:
    """A raw WebSocket to the worker that records `error` messages and the close."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outcome = Outcome()
        self.offers: list[dict[str, Any]] = []
        self._joined = asyncio.Event()
        self._offered = asyncio.Event()
        self.answered = 0  # the highest revision this connection sent an answer for
        self._offer_after: int | None = None  # an offer above this revision sets _later_offer
        self._later_offer = asyncio.Event()
        self._settled = False
        self._probe_answer = asyncio.Event()
        self._closed = asyncio.Event()

    async def __aenter__(self) -> HostileConnection:
        self._session = aiohttp.ClientSession()
        self.ws = await self._session.ws_connect(self.url, max_msg_size=0, autoping=True)
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._session.close()

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    self.outcome.received.append(f"{frame.type.name} {frame.data!r:.200}")
                    break
                data = json.loads(frame.data)
                kind = data.get("type")
                self.outcome.received.append(kind)
                if kind == "joined":
                    self._joined.set()
                elif kind == "offer":
                    self.offers.append(data)
                    self._offered.set()
                    if self._offer_after is not None and data["revision"] > self._offer_after:
                        self._later_offer.set()
                elif kind == "error":
                    self.outcome.errors.append(data)
                    if data.get("code") == "unknown_participant":
                        self._probe_answer.set()
        finally:
            if self.ws.exception() is not None:
                self.outcome.received.append(f"exception {self.ws.exception()!r}")
            if not self._settled:  # not our own close, once the outcome is known
                self.outcome.close_code = self.ws.close_code
            self._closed.set()

    async def send(self, frame: Frame) -> None:
        size = len(frame.data if isinstance(frame.data, bytes) else frame.data.encode())
        self.outcome.largest_frame = max(self.outcome.largest_frame, size)
        if self.ws.closed:
            return
        try:
            if frame.binary:
                await self.ws.send_bytes(frame.data)
            elif isinstance(frame.data, bytes):
                await self.ws.send_frame(frame.data, aiohttp.WSMsgType.TEXT)
            else:
                await self.ws.send_str(frame.data)
        except ConnectionError:
            pass  # the worker closed first (an earlier frame was fatal)

    async def joined(self) -> None:
        await asyncio.wait_for(self._joined.wait(), OUTCOME_TIMEOUT)

    async def offered(self) -> None:
        await asyncio.wait_for(self._offered.wait(), OUTCOME_TIMEOUT)

    async def settle(self, probe: bool, renegotiate: bool = False) -> Outcome:
        """Until the connection closes or, if it may stay open, a probe sent after the hostile
        input is answered (so an input the worker ignores is told apart from a hang).

        An answer is applied by the negotiation task, after the worker has read the messages
        that follow it: the sign that it was applied is the next offer, which `renegotiate`
        asks for (stopping then starting a screen share always makes one)."""
        waits = [asyncio.ensure_future(self._closed.wait())]
        if renegotiate:
            # At least 1: the first offer, sent at join, may arrive after our (stale) answer.
            self._offer_after = max([1, self.answered, *(o["revision"] for o in self.offers)])
            await self.send(message({"type": "unpublish-screen"}))
            await self.send(message({"type": "publish-screen"}))
            waits.append(asyncio.ensure_future(self._later_offer.wait()))
        elif probe:
            await self.send(message(PROBE))
            waits.append(asyncio.ensure_future(self._probe_answer.wait()))
        done, pending = await asyncio.wait(
            waits, timeout=OUTCOME_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if not done:
            raise AssertionError(
                f"no outcome within {OUTCOME_TIMEOUT} s (errors so far: {self.outcome.errors})"
            )
        if self.outcome.fatal_error is not None and not self._closed.is_set():
            # A fatal error promises a close, which may come after the offer or probe answer
            # that ended the wait above (seen on a loaded machine): wait for it, bounded.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closed.wait(), OUTCOME_TIMEOUT)
        self._settled = True
        if self._closed.is_set():
            self.outcome.close_code = self.ws.close_code
        else:
            self.outcome.probe_answered = True
        return self.outcome


class FuzzedWorker:
    """The worker under test, the background loop, the healthy room, and the counters."""

    def __init__(self, worker, answer_sdp: str) -> None:
        self.worker = worker
        self.answer_sdp = answer_sdp
        self.sessions = 0  # hostile connections so far
        self.outcomes: collections.Counter[str] = collections.Counter()  # shown with pytest -s
        self._rooms = itertools.count()
        self._log_offset = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.healthy: list[SfuClient] = []
        self.consumers = []  # the healthy room's received audio and video tracks

    def run(self, coroutine: Coroutine, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def start_healthy_room(self) -> None:
        alice = await join_client(self.worker, HEALTHY_ROOM, "Alice")
        bob = await join_client(self.worker, HEALTHY_ROOM, "Bob")
        self.healthy = [alice, bob]
        for receiver, sender in ((alice, "bob"), (bob, "alice")):
            tracks = await wait_for_tracks(receiver, sender)
            self.consumers.extend(tracks.values())
        for consumer in self.consumers:
            await consumer.wait_for_frames(10, timeout=10)

    async def stop_healthy_room(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()
        await close_all(*self.healthy)

    def close(self) -> None:
        self.run(_cancel_other_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    # Properties checked after every example.
    def check_alive(self) -> dict[str, Any]:
        assert self.worker.process.poll() is None, "the worker died:\n" + self.worker.log()[-5000:]
        with urllib.request.urlopen(  # noqa: S310 (http on loopback)
            f"http://127.0.0.1:{self.worker.port}/healthz", timeout=5
        ) as response:
            health = json.load(response)
        log = self.worker.log()
        new, self._log_offset = log[self._log_offset :], len(log)
        assert "Traceback" not in new, "the worker logged an exception:\n" + new[-5000:]
        return health

    def media_gap_since(self, moment: float) -> float:
        """The longest pause in any of the healthy room's tracks since `moment` (until now)."""
        now, worst = time.monotonic(), 0.0
        for consumer in self.consumers:
            arrivals = [moment, *(t for t in consumer.arrivals if t >= moment), now]
            worst = max(worst, *(b - a for a, b in itertools.pairwise(arrivals)))
        return worst

    def settled(self, timeout: float = 10.0) -> dict[str, int]:
        """Rooms and participants once the hostile ones are gone (only the healthy room)."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.check_alive()
            counts = {"rooms": health["rooms"], "participants": health["participants"]}
            if counts == {"rooms": 1, "participants": 2} or time.monotonic() > deadline:
                return counts
            time.sleep(0.1)

    def rss_kib(self) -> int:
        return _status_field(self.worker.process.pid, "VmRSS")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.worker.process.pid}/fd"))

    # One hostile connection.
    def attack(self, hostile: Hostile) -> Outcome:
        self.sessions += 1
        log_offset = len(self.worker.log())
        try:
            outcome = self.run(self._attack(hostile), timeout=3 * OUTCOME_TIMEOUT)
            self.check_outcome(hostile, outcome)
        except AssertionError as failure:
            # What the worker made of it is the first thing to read.
            worker_log = self.worker.log()[log_offset:][-5000:]
            raise AssertionError(f"{failure}\n--- worker log:\n{worker_log}") from None
        return outcome

    async def _attack(self, hostile: Hostile) -> Outcome:
        async with HostileConnection(self.worker.url) as connection:
            if hostile.joined:
                room = f"fuzz-{next(self._rooms)}"
                token = self.worker.token(room, participant_id="mallory")
                await connection.send(message({"type": "join", "room": room, "token": token}))
                await connection.joined()
                if hostile.wait_for_offer:
                    await connection.offered()
            for frame in hostile.frames:
                if isinstance(frame, AnswerFrame):
                    frame = await self._answer_frame(connection, frame)
                elif isinstance(frame, SignedJoin):
                    room = f"fuzz-{next(self._rooms)}"
                    token = signed_token(self.worker, room, dict(frame.claims))
                    frame = message({"type": "join", "room": room, "token": token})
                await connection.send(frame)
            renegotiate = any(isinstance(frame, AnswerFrame) for frame in hostile.frames)
            return await connection.settle(hostile.probe, renegotiate)

    async def _answer_frame(self, connection: HostileConnection, answer: AnswerFrame) -> Frame:
        lines = self.answer_sdp.rstrip("\r\n").split("\r\n")
        for mutation in answer.mutations:
            if lines:
                mutation(lines)
        sdp = answer.line_ending.join(lines) + answer.line_ending
        revision = connection.offers[-1]["revision"] if connection.offers else 1
        connection.answered = max(connection.answered, revision + answer.revision_shift)
        return message({"type": "answer", "revision": revision + answer.revision_shift, "sdp": sdp})

    @staticmethod
    def check_outcome(hostile: Hostile, outcome: Outcome) -> None:
        codes = [error.get("code") for error in outcome.errors]
        assert "internal_error" not in codes, outcome
        assert outcome.close_code != 1011, outcome
        for error in outcome.errors:
            assert error.get("code") in FATAL_CLOSE_CODES or error.get("code") in NON_FATAL_CODES
            assert isinstance(error.get("message"), str) and error["message"], error
        fatal = outcome.fatal_error
        if fatal is not None:
            # A fatal error is the last word: the close code of that error follows.
            assert outcome.close_code == FATAL_CLOSE_CODES[fatal["code"]], outcome
        elif outcome.close_code is not None:
            bare = {LEFT, ENDED, BARE_TOO_LARGE, BARE_INVALID_UTF8}
            bare |= oversize_outcomes(hostile, outcome.largest_frame)
            assert outcome.name in bare, outcome
        if hostile.allowed is not None:
            allowed = hostile.allowed | oversize_outcomes(hostile, outcome.largest_frame)
            assert outcome.name in allowed, (outcome.name, outcome)
            if outcome.name == OPEN:  # refusals other than the probe's were expected ones
                refused = set(codes) - {"unknown_participant"}
                assert refused <= allowed, outcome


async def _cancel_other_tasks() -> None:
    """What aiortc and aioice leave running once the clients are closed (consent checks…)."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def signed_token(worker, room: str, overrides: dict[str, Any]) -> str:
    """A join token for `room` signed with the portal's key, its claims changed by `overrides`
    (what SfuWorkerProcess.token does, but any claim, `room`, `name` and `role` included)."""
    now = int(time.time())
    claims = {
        "iss": worker.issuer,
        "aud": JOIN_TOKEN_AUDIENCE,
        "sub": "mallory",
        "room": room,
        "name": "Mallory",
        "role": "participant",
        "iat": now,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
        **overrides,
    }
    key = serialization.load_pem_private_key(worker.private_key_pem, password=None)
    return jwt.encode(claims, key, algorithm="EdDSA")


def oversize_outcomes(hostile: Hostile, largest_frame: int) -> set[str]:
    """What a frame of `largest_frame` bytes may end in whatever it holds (a mutated SDP)."""
    if largest_frame > AIOHTTP_FACTOR * AFTER_JOIN_LIMIT:
        return {BARE_TOO_LARGE, RESET}
    if largest_frame > (AFTER_JOIN_LIMIT if hostile.joined else BEFORE_JOIN_LIMIT):
        return {"message_too_large"}
    return set()


def _status_field(pid: int, name: str) -> int:
    """A `kB` field of /proc/<pid>/status, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


async def real_answer_sdp(worker) -> str:
    """The answer SDP a real aiortc client (audio and video, sendonly) gives a new participant's
    first offer: the starting point of the SDP mutations."""
    client = await join_client(worker, "fuzz-reference", "Reference")
    try:
        deadline = time.monotonic() + 10
        while client.pc.localDescription is None or client.revision < 1:
            assert time.monotonic() < deadline, "no answer from the reference client"
            await asyncio.sleep(0.05)
        return client.pc.localDescription.sdp
    finally:
        await client.close()


@pytest.fixture(scope="module")
def fuzzed(redis_url, join_keys, tmp_path_factory):
    ice.use_host_addresses(["127.0.0.1"])  # our clients, like the worker, on loopback
    log_path = tmp_path_factory.mktemp("sfu-fuzz") / "sfu.log"
    worker = launch_worker(redis_url, join_keys, log_path, SFU_TEST_ISSUER)
    fuzzed = FuzzedWorker(worker, "")
    try:
        fuzzed.answer_sdp = fuzzed.run(real_answer_sdp(worker))
        fuzzed.run(fuzzed.start_healthy_room())
        yield fuzzed
        fuzzed.run(fuzzed.stop_healthy_room())
    finally:
        fuzzed.close()
        ice.use_host_addresses([])
        _stop_and_check(worker)  # exit code 0, no traceback in the whole log


FUZZ_SETTINGS = settings(
    derandomize=True,  # the same examples on every run: CI stays reproducible
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(
    fuzzed: FuzzedWorker,
    strategy: st.SearchStrategy[Hostile],
    examples: int,
    scaled: bool = True,
) -> None:
    """Throw `examples` hostile connections drawn from `strategy` (times SFU_FUZZ_SCALE if
    `scaled`), one after the other, checking after each one that the worker is up, answers
    /healthz and logged no traceback; then that the healthy room's media never paused meanwhile
    and still flows."""
    started = time.monotonic()
    examples = max(1, round(examples * EXAMPLES_SCALE)) if scaled else examples

    @settings(FUZZ_SETTINGS, max_examples=examples)
    @given(hostile=strategy)
    def one_connection(hostile: Hostile) -> None:
        fuzzed.outcomes[fuzzed.attack(hostile).name] += 1
        fuzzed.check_alive()

    fuzzed.outcomes.clear()
    one_connection()
    print(f"\n{fuzzed.sessions} hostile connections so far; these ended in:", fuzzed.outcomes)
    gap = fuzzed.media_gap_since(started)
    assert gap < MAX_MEDIA_GAP, f"the healthy room's media paused for {gap:.1f} s"
    finished = time.monotonic()
    time.sleep(1.0)
    for consumer in fuzzed.consumers:  # 50 audio frames, up to 30 video frames a second
        assert consumer.count_since(finished) >= 10, "the healthy room lost its media"
    health = fuzzed.check_alive()
    assert health["participants"] >= 2


def test_hostile_messages_before_join(fuzzed):
    fuzz(fuzzed, before_join(), examples=200)


def test_hostile_messages_after_join(fuzzed):
    fuzz(fuzzed, after_join(), examples=200)


def test_hostile_answer_sdps(fuzzed):
    fuzz(fuzzed, answer_sdps(), examples=150)


# Memory: the worker's RSS and open descriptors after MEMORY_WARM_UP mixed hostile connections,
# then after the same MEMORY_SESSIONS again (derandomized: Hypothesis replays the same examples),
# each closed before the next, every joined one in a room of its own. Measured on this machine
# (2 cores, Python 3.11, aiortc 1.16, aiohttp 3.14): from -0.9 to +3.5 MB (+5.1 MB after a
# 3,000-connection run, SFU_FUZZ_SCALE=5), ±1 descriptor; over 2,400 connections RSS levels off
# after about 900. Deliberately leaking variants, measured by hand (not committed):
# - peer connections never closed (Peer.close() without pc.close()): +47 to +79 MB, +232 to +247
#   descriptors: caught by both bounds;
# - sessions never forgotten (no Worker.sessions.discard()): +4 to +8 MB, about 20 KB a session:
#   under this bound, whose resolution is a few MB;
# - without sfu/app.py's _disarm_heartbeat (aiohttp keeps each closed WebSocket 30 s more):
#   refused connections alone, +3 MB per 300, linearly (0 with it).
# The RSS bound is about three times the normal growth and a fifth of a peer connection leak.
MEMORY_WARM_UP = 300
MEMORY_SESSIONS = 300
MAX_RSS_GROWTH_KIB = 10 * 1024
MAX_FD_GROWTH = 10
ONLY_THE_HEALTHY_ROOM = {"rooms": 1, "participants": 2}


def test_memory_and_descriptors_stay_bounded(fuzzed):
    mixed = st.one_of(before_join(), after_join(), answer_sdps())
    # The first connections fill allocator arenas and caches for good (aiortc, the SDP parser,
    # the token verifier's replay cache…): measured after them. Not scaled: the same count.
    fuzz(fuzzed, mixed, examples=MEMORY_WARM_UP, scaled=False)
    assert fuzzed.settled() == ONLY_THE_HEALTHY_ROOM
    rss, fds, sessions = fuzzed.rss_kib(), fuzzed.open_fds(), fuzzed.sessions
    fuzz(fuzzed, mixed, examples=MEMORY_SESSIONS, scaled=False)
    assert fuzzed.sessions - sessions >= MEMORY_SESSIONS
    assert fuzzed.settled() == ONLY_THE_HEALTHY_ROOM, "hostile participants left behind"
    growth, fd_growth = fuzzed.rss_kib() - rss, fuzzed.open_fds() - fds
    print(
        f"worker RSS {rss} KiB, {growth:+d} KiB after {fuzzed.sessions - sessions} hostile "
        f"connections; {fds} descriptors, {fd_growth:+d}"
    )
    assert growth < MAX_RSS_GROWTH_KIB, f"RSS grew by {growth} KiB"
    assert fd_growth <= MAX_FD_GROWTH, f"{fd_growth} more file descriptors"
