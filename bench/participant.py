"""Synthetic participants for congestion tests and benchmarks, and the driver that runs them.

One process hosts one or more participants. Each joins the room with its own signed token,
publishes the pre-encoded clip (bench/media.py: no encoding cost) and counts what it receives
from every remote participant, per kind, without decoding (bench/counting.py):

    python -m bench.participant --url ws://HOST:PORT/ws --room R --key-file KEY --issuer ISS \\
        --names alice,bob [--ice-address 10.231.0.2] [--no-video | --listen-only] \\
        [--speaking alice]

Standard output, one JSON object a line:

- ``{"event": "ready", "ok": bool, "errors": [...]}`` once every local peer connection is up
  (``ok`` false: one failed, or ``--ready-timeout`` passed);
- ``{"event": "stats", "at": <CLOCK_MONOTONIC s>, "cpu_seconds": <this process>,
  "participants": {name: {"state", "error", "published", "remotes": {id: {kind: counters}}}}}``
  every ``--stats-interval`` seconds and when asked. Counters are cumulative (windows are
  differences between two lines; ``at`` is the machine's monotonic clock, the same in every
  process and namespace). Per kind: ``packets``, ``bytes`` (RTP payload), ``lost`` (by sequence
  number: lost on the network), ``retransmissions`` (RTX packets among ``packets``),
  ``frames``, ``keyframes``, ``frame_bytes`` (video: frames a decoder could show, see
  bench.counting.VideoFrameCounter, with ``broken`` and ``incomplete`` beside them; with
  ``--receive full``: what came out of aiortc's jitter buffer) and, for audio, ``sent`` (frames
  the RTP timestamps say were sent: this also sees frames the SFU dropped before sending).
  With ``--receive cheap`` (bench/cheap_receive.py: counted from the clear SRTP header, never
  decrypted) ``frames`` are video packets with the marker bit and no sequence gap since the
  previous one (``incomplete``: with a gap), ``keyframes`` and ``frame_bytes`` are not known
  (0), ``bytes`` are whole SRTP datagrams; a ``header`` entry counts what the interception did
  (unknown SSRCs, the SFU's sender reports dropped, receiver reports sent);
- ``{"event": "message", "participant": name, "at": ..., "message": {...}}`` for every server
  message whose type is not one of USUAL_MESSAGE_TYPES (the congestion policy's ``quality``,
  ``video-constraints``…, but also ``error``, ``removed``, ``ended``).

``--obey-constraints``: the video track follows the ``max_framerate`` of ``video-constraints``
(FrameRateCap) as a browser's camera would; ``published.clip_frames`` is then the clip's own
pace, ``video_frames`` what was sent.

``--speaking NAMES`` (comma-separated, possibly empty) stamps an RFC 6464 audio level on every
outgoing audio RTP packet of the local participants, as a browser does: SPEAKING_DBOV for those
named, SILENT_DBOV (a muted or silent microphone) for the others, which still send their 50
packets a second. Without it, no level is sent (the clip is pre-encoded: aiortc computes levels
only for the frames it encodes itself) and the SFU cannot tell silence from speech.

Standard input: ``stats`` (print a stats line now), ``quit`` (leave and exit; also on EOF).

`ParticipantProcess` starts such a process (optionally inside a network namespace) and keeps
its stats history; `Window` turns two stats lines into rates and loss; `SyntheticRoom` runs a
room of such processes (tests/sfu/congestion.py, bench/congestion.py).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiortc.mediastreams import MediaStreamTrack

from bench.cheap_receive import HeaderCountingReceive, quiet_receiver_rtcp
from bench.client import Participant
from bench.counting import (
    KindCounters,
    RtpCounters,
    VideoFrameCounter,
    count_frames,
    install_counting_receivers,
    receive_light,
    rtp_packets_lost,
    tap_rtp,
)
from bench.cpu import process_cpu_seconds
from bench.media import VIDEO_CLOCK_RATE, ClipSpec, ReplayTrack, audio_track, load_clip, video_track
from portal.media.join_tokens import sign_join_token
from sfu.ice import use_host_addresses

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
# Server messages every client gets as a matter of course (docs/protocol.md); others are printed.
USUAL_MESSAGE_TYPES = frozenset(
    {
        "joined",
        "offer",
        "participant-joined",
        "participant-left",
        "participant-updated",
        "chat",
        "hands",
        "room-updated",
    }
)


def clip_spec(video_kbit: int = 1000, size: str = "640x480") -> ClipSpec:
    """The clip participants publish; load_clip(spec) it once before starting processes (the
    first load encodes it, and concurrent first loads would write the same cache file)."""
    width, height = (int(v) for v in size.split("x"))
    return ClipSpec(width=width, height=height, video_bitrate=video_kbit * 1000)


# --- inside the participant process ---------------------------------------------------------

# RFC 6464 levels (-dBov, 0 loudest … 127 silence) stamped by --speaking: a voice at a normal
# level, and the value a muted browser track sends (sfu/quality/audio_gate.py: silent ≥ 90,
# sfu/quality/speakers.py: speaking above -50 dBov).
SPEAKING_DBOV = 20
SILENT_DBOV = 127


def stamp_audio_level(sender: Any, level_dbov: int) -> None:
    """LOAD-GENERATOR DEVICE, bench only: make `sender` (an aiortc RTCRtpSender fed pre-encoded
    audio) put the RFC 6464 audio level `level_dbov` (-dBov) on each of its RTP packets.

    aiortc's `_run_rtp` writes `packet.extensions.audio_level` from the RTCEncodedFrame returned
    by `_next_encoded_frame` (its `audio_level`, in dBov, negative), which is None for data it
    did not encode; this wraps that method on this sender instance to set it (aiortc 1.16,
    private name). The header extension must have been negotiated (the SFU offers
    ssrc-audio-level for audio and aiortc's answer keeps it), or aiortc drops it on the wire.
    """
    next_encoded_frame = sender._next_encoded_frame  # noqa: SLF001

    async def with_audio_level(codec):
        frame = await next_encoded_frame(codec)
        if frame is not None:
            frame.audio_level = -level_dbov
        return frame

    sender._next_encoded_frame = with_audio_level  # noqa: SLF001


class FrameRateCap(MediaStreamTrack):
    """A replay video track that obeys the `max_framerate` and `paused` of `video-constraints`
    the way a camera encoder would, by sending fewer frames (timestamps keep real time;
    keyframes always go out, the SFU gates new subscribers on them), or none while paused,
    starting again with a keyframe. Resolution and bitrate are not changed: the frames are
    pre-encoded (the congestion bench's clip is already 300 kbit/s at 320x240)."""

    kind = "video"

    def __init__(self, inner: ReplayTrack) -> None:
        super().__init__()
        self.inner = inner
        self.max_fps: float | None = None
        self.paused = False
        self._resuming = False  # until the next keyframe, as a browser re-enabling its encoder
        self._sent = 0  # frames returned (the stats' "published" count)
        self._next_pts = 0

    def set_paused(self, paused: bool) -> None:
        if self.paused and not paused:
            self._resuming = True
            self.inner.request_keyframe()
        self.paused = paused

    @property
    def keyframe_requests(self) -> int:
        return self.inner.keyframe_requests

    def request_keyframe(self) -> None:
        self.inner.request_keyframe()

    async def recv(self):
        while True:
            packet = await self.inner.recv()
            keyframe = not bytes(packet)[0] & 0x01  # VP8 P bit 0
            if self.paused or (self._resuming and not keyframe):
                continue  # the clip keeps its pace; nothing is sent
            self._resuming = False
            if self.max_fps is None or keyframe or packet.pts >= self._next_pts:
                if self.max_fps:
                    interval = VIDEO_CLOCK_RATE / self.max_fps
                    # Half a 30 fps frame of tolerance, so 15 fps is every other frame exactly.
                    self._next_pts = packet.pts + int(interval - VIDEO_CLOCK_RATE / 60)
                self._sent += 1
                return packet

    def stop(self) -> None:
        self.inner.stop()
        super().stop()


@dataclass
class _ReceivedTrack:
    """One m-line this participant receives: whose, which kind, and its counters."""

    participant_id: str
    kind: str
    receiver: Any
    rtp: RtpCounters
    frames: KindCounters
    video: VideoFrameCounter | None = None  # light receive only


class SyntheticParticipant:
    """One participant: a bench.client.Participant publishing replay tracks, counting per mid."""

    def __init__(self, args: argparse.Namespace, name: str, clip, private_key: bytes) -> None:
        self.name = name
        self.tasks: list[asyncio.Task] = []
        self.received: dict[str, _ReceivedTrack] = {}  # mid → track
        self.publish: dict[str, Any] = {}
        if not args.listen_only:
            self.publish["audio"] = audio_track(clip)
            if not args.no_video:
                video = video_track(clip)
                self.publish["video"] = FrameRateCap(video) if args.obey_constraints else video
        self._frame_ticks = clip.spec.audio_frame_samples
        self._listen_only, self._no_video = args.listen_only, args.no_video
        self._light = args.receive == "light"
        # --receive cheap: SRTP counted by header in the ICE socket, never decrypted.
        self.header = None
        if args.receive == "cheap":
            loss = args.simulate_loss
            # --simulate-loss: a share of the packets is treated as lost on the way (checks
            # that the SFU reads the synthetic receiver reports: its policy sees the loss).
            drop = (lambda: random.random() < loss) if loss else None  # noqa: S311
            self.header = HeaderCountingReceive(drop)
        self._audio_level: int | None = None  # -dBov stamped on our audio packets (--speaking)
        if args.speaking is not None:
            speaking = set(args.speaking.split(","))
            self._audio_level = SPEAKING_DBOV if name in speaking else SILENT_DBOV
        self.sign_token = lambda: sign_join_token(
            private_key,
            issuer=args.issuer,
            room=args.room,
            participant_id=name,
            display_name=name,
            role="participant",
        )
        self.client = Participant(
            args.url, args.room, self.sign_token(), self.publish, self._on_track, self._on_message,
            on_publish=self._on_publish,
        )  # fmt: skip
        if self.header is not None:
            pc = self.client.pc
            pc.on("iceconnectionstatechange", lambda: self.header.install(pc))
            pc.on("connectionstatechange", lambda: self.header.install(pc))
            self.tasks.append(asyncio.create_task(self.header.run_reports(pc)))

    def _on_publish(self, kind: str, sender: Any) -> None:
        if kind == "audio" and self._audio_level is not None:
            stamp_audio_level(sender, self._audio_level)

    def _on_track(self, track, receiver) -> None:
        if self.header is not None:
            # Nothing reaches aiortc's receivers: counted in the ICE socket; no RTCP loop either.
            quiet_receiver_rtcp(receiver)
            return
        mid = next(t.mid for t in self.client.pc.getTransceivers() if t.receiver is receiver)
        info = self.client.track_info.get(mid, {})
        participant_id = info.get("participant_id", f"?{mid}")
        kind = info.get("kind", track.kind)
        if self._light:
            light = receive_light(receiver, track.kind)
            received = _ReceivedTrack(
                participant_id, kind, receiver, light.rtp, light.frames, light.video
            )
        else:
            received = _ReceivedTrack(
                participant_id, kind, receiver, tap_rtp(receiver), KindCounters()
            )
            self.tasks.append(asyncio.create_task(count_frames(track, received.frames)))
        self.received[mid] = received

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") == "offer" and self.header is not None:
            self.header.learn(message["sdp"])  # before the answer: before any media
        video = self.publish.get("video")
        if message.get("type") == "video-constraints" and isinstance(video, FrameRateCap):
            video.max_fps = message.get("max_framerate")
            video.set_paused(message.get("paused") is True)
        if message.get("type") not in USUAL_MESSAGE_TYPES:
            _emit("message", participant=self.name, at=time.monotonic(), message=message)
        if message.get("type") == "joined" and (self._listen_only or self._no_video):
            # Tell the others there is no camera (and no microphone), as a browser would.
            off = {"camera": False} if self._no_video else {"camera": False, "microphone": False}
            self.tasks.append(asyncio.create_task(self.client.send({"type": "mute", **off})))

    def _header_stats(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per remote and kind, the same counters as `stats()` from the header counts."""
        remotes: dict[str, dict[str, dict[str, int]]] = {}
        for mid, counters in self.header.counters_by_mid().items():
            info = self.client.track_info.get(mid)
            if info is None:
                continue  # not a track of someone else (our own publishing m-lines)
            kind = info.get("kind", counters[0].kind)
            totals = remotes.setdefault(info.get("participant_id", f"?{mid}"), {}).setdefault(
                kind,
                {"packets": 0, "bytes": 0, "lost": 0, "retransmissions": 0, "frames": 0,
                 "keyframes": 0, "frame_bytes": 0, "incomplete": 0},
            )  # fmt: skip
            for counter in counters:
                totals["packets"] += counter.packets
                totals["bytes"] += counter.bytes
                if counter.rtx:
                    totals["retransmissions"] += counter.packets
                    continue
                totals["lost"] += counter.lost
                if counter.kind == "audio":
                    totals["frames"] += counter.packets  # one Opus frame a packet
                    totals["frame_bytes"] += counter.bytes
                    totals["sent"] = totals.get("sent", 0) + counter.frames_sent(self._frame_ticks)
                else:
                    totals["frames"] += counter.frames - counter.incomplete
                    totals["incomplete"] += counter.incomplete
        return remotes

    def stats(self) -> dict[str, Any]:
        remotes: dict[str, dict[str, dict[str, int]]] = {}
        if self.header is not None:
            remotes = self._header_stats()
        for received in self.received.values():
            kinds = remotes.setdefault(received.participant_id, {})
            counters = kinds.setdefault(
                received.kind,
                {"packets": 0, "bytes": 0, "lost": 0, "retransmissions": 0, "frames": 0,
                 "keyframes": 0, "frame_bytes": 0},
            )  # fmt: skip
            counters["packets"] += received.rtp.packets
            counters["bytes"] += received.rtp.bytes
            counters["lost"] += rtp_packets_lost(received.receiver)
            counters["retransmissions"] += received.rtp.retransmissions
            counters["frames"] += received.frames.frames
            counters["keyframes"] += received.frames.keyframes
            counters["frame_bytes"] += received.frames.bytes
            if received.video is not None:
                counters["broken"] = counters.get("broken", 0) + received.video.broken
                counters["incomplete"] = counters.get("incomplete", 0) + received.video.incomplete
            if received.kind == "audio":
                sent = received.rtp.frames_sent(self._frame_ticks)
                counters["sent"] = counters.get("sent", 0) + sent
        video = self.publish.get("video")
        return {
            "state": self.client.pc.connectionState,
            "error": self.client.error,
            "published": {
                "kinds": sorted(self.publish),
                "audio_level": self._audio_level,
                # Frames the replay tracks have returned to their senders so far.
                **{f"{kind}_frames": track._sent for kind, track in self.publish.items()},  # noqa: SLF001
                "video_keyframe_requests": video.keyframe_requests if video else 0,
                # The clip's own pace (30 fps while the loop keeps up), under --obey-constraints.
                **(
                    {"clip_frames": video.inner._sent}  # noqa: SLF001
                    if isinstance(video, FrameRateCap)
                    else {}
                ),
            },
            "remotes": remotes,
            **(
                {
                    "header": {
                        "unknown_packets": self.header.unknown_packets,
                        "sender_reports_dropped": self.header.sender_reports,
                        "rtcp_passed": self.header.rtcp_passed,
                        "receiver_reports_sent": self.header.reports_sent,
                    }
                }  # fmt: skip
                if self.header is not None
                else {}
            ),
        }

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.client.close(), 5)
        except Exception:  # noqa: BLE001 - closing at exit, nothing left to protect
            logger.debug("closing %s failed", self.name, exc_info=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def _emit_stats(participants: list[SyntheticParticipant]) -> None:
    _emit(
        "stats",
        at=time.monotonic(),
        cpu_seconds=process_cpu_seconds(),
        participants={p.name: p.stats() for p in participants},
    )


async def _wait_connected(participants: list[SyntheticParticipant], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [p.client.pc.connectionState for p in participants]
        if any(p.client.error for p in participants) or "failed" in states:
            return False
        if all(state == "connected" for state in states):
            return True
        await asyncio.sleep(0.1)
    return False


async def _join_after(
    participant: SyntheticParticipant, session: aiohttp.ClientSession, seconds: float
) -> None:
    """Join `seconds` after the process started (people do not join a meeting all at once)."""
    if seconds > 0:
        await asyncio.sleep(seconds)
        # Join tokens live a minute at most: sign it again now.
        participant.client._token = participant.sign_token()  # noqa: SLF001
    await participant.client.run(session)


async def _report_periodically(participants: list[SyntheticParticipant], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        _emit_stats(participants)


async def _read_command() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip() or "quit"  # EOF: the driver went away


async def main(args: argparse.Namespace) -> None:
    use_host_addresses([args.ice_address])
    if args.receive == "full":
        install_counting_receivers()
    clip = load_clip(clip_spec(args.video_kbit, args.video_size))
    private_key = Path(args.key_file).read_bytes()
    names = [n for n in args.names.split(",") if n]
    participants = [SyntheticParticipant(args, name, clip, private_key) for name in names]
    async with aiohttp.ClientSession() as session:
        offsets = [float(v) for v in args.join_offsets.split(",")] if args.join_offsets else []
        runs = [
            asyncio.create_task(_join_after(p, session, offsets[i] if i < len(offsets) else 0))
            for i, p in enumerate(participants)
        ]
        reporter = None
        try:
            ok = await _wait_connected(participants, args.ready_timeout)
            _emit("ready", ok=ok, errors=[p.client.error for p in participants if p.client.error])
            _emit_stats(participants)
            reporter = asyncio.create_task(_report_periodically(participants, args.stats_interval))
            while (command := await _read_command()) != "quit":
                if command == "stats":
                    _emit_stats(participants)
        finally:
            if reporter is not None:
                reporter.cancel()
            await asyncio.gather(*(p.close() for p in participants))
            for run in runs:
                run.cancel()
            await asyncio.gather(*runs, return_exceptions=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.participant", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--url", required=True, help="SFU signalling URL")
    parser.add_argument("--room", required=True)
    parser.add_argument("--names", required=True, help="comma-separated participant ids")
    parser.add_argument("--key-file", required=True, help="join-token private key (PEM)")
    parser.add_argument("--issuer", required=True)
    parser.add_argument(
        "--ice-address", default="127.0.0.1",
        help="the only host candidate offered (inside a namespace: its address)",
    )  # fmt: skip
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--no-video", action="store_true", help="publish audio only")
    what.add_argument("--listen-only", action="store_true", help="publish nothing")
    parser.add_argument("--video-kbit", type=int, default=1000, help="clip's video bitrate")
    parser.add_argument("--video-size", default="640x480", help="clip's WIDTHxHEIGHT")
    parser.add_argument(
        "--receive", choices=("cheap", "light", "full"), default="light",
        help="cheap: count SRTP by its clear header, never decrypted (bench.cheap_receive); "
        "light: decrypt, count at the RTP level (bench.counting.receive_light); full: aiortc's "
        "jitter buffer and decoder thread per track, 2.5 times the CPU of light",
    )  # fmt: skip
    parser.add_argument(
        "--simulate-loss", type=float, default=0.0,
        help="with --receive cheap: this share of the received packets is counted as lost",
    )  # fmt: skip
    parser.add_argument(
        "--obey-constraints", action="store_true",
        help="apply video-constraints' max_framerate by sending fewer frames, as a browser",
    )  # fmt: skip
    parser.add_argument(
        "--speaking", default=None,
        help="comma-separated local names that speak (audio level -20 dBov on their packets); "
        "the other local participants send -127 dBov (silent); default: no audio level at all",
    )  # fmt: skip
    parser.add_argument("--stats-interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--ready-timeout", type=float, default=30.0)
    parser.add_argument(
        "--join-offsets", default="",
        help="comma-separated seconds after start at which each of --names joins (default: all "
        "at once)",
    )  # fmt: skip
    return parser.parse_args(argv)


# --- the driver, in the test or benchmark process -------------------------------------------


def _delta(new: dict[str, int], old: dict[str, int] | None) -> dict[str, int]:
    old = old or {}
    return {key: value - old.get(key, 0) for key, value in new.items()}


@dataclass(frozen=True)
class Window:
    """What one participant received between two stats lines: counter deltas per remote and
    kind (`remotes[id][kind][counter]`), over `seconds`."""

    participant: str
    seconds: float
    remotes: dict[str, dict[str, dict[str, int]]]

    @classmethod
    def between(cls, participant: str, old: dict[str, Any], new: dict[str, Any]) -> Window:
        before = old["participants"][participant]["remotes"]
        after = new["participants"][participant]["remotes"]
        remotes = {
            remote: {
                kind: _delta(counters, before.get(remote, {}).get(kind))
                for kind, counters in kinds.items()
            }
            for remote, kinds in after.items()
        }
        return cls(participant, new["at"] - old["at"], remotes)

    def _sum(self, kind: str, counter: str, remote: str | None = None) -> int:
        remotes = [remote] if remote is not None else list(self.remotes)
        return sum(self.remotes.get(r, {}).get(kind, {}).get(counter, 0) for r in remotes)

    def video_fps(self, remote: str) -> float:
        """Video frames/s out of the jitter buffer from `remote`."""
        return self._sum("video", "frames", remote) / self.seconds

    def video_kbps(self, remote: str | None = None) -> float:
        """Video RTP payload bitrate (RTX included) from `remote`, or from everyone."""
        return self._sum("video", "bytes", remote) * 8 / 1000 / self.seconds

    def receive_kbps(self) -> float:
        """RTP payload bitrate received, every remote and kind."""
        kinds = {kind for kinds in self.remotes.values() for kind in kinds}
        return sum(self._sum(kind, "bytes") for kind in kinds) * 8 / 1000 / self.seconds

    def audio_pps(self, remote: str | None = None) -> float:
        return self._sum("audio", "packets", remote) / self.seconds

    def audio_loss(self, remote: str | None = None) -> float:
        """Share of the audio frames sent (by RTP timestamps) that did not arrive: network
        loss and frames the SFU dropped. 0.0 when nothing was sent in the window. A publisher
        muted by a moderator also leaves a timestamp gap: use audio_network_loss() there."""
        sent = self._sum("audio", "sent", remote)
        return max(0.0, 1 - self._sum("audio", "packets", remote) / sent) if sent else 0.0

    def audio_network_loss(self, remote: str | None = None) -> float:
        """Share of the audio packets missing by sequence number (lost after the SFU sent)."""
        lost, received = self._sum("audio", "lost", remote), self._sum("audio", "packets", remote)
        return lost / (lost + received) if lost + received > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Per remote: video fps and kbit/s, audio packets/s and loss %, for messages."""
        return {
            remote: {
                "video_fps": round(self.video_fps(remote), 1),
                "video_kbps": round(self.video_kbps(remote)),
                "audio_pps": round(self.audio_pps(remote), 1),
                "audio_loss_%": round(100 * self.audio_loss(remote), 2),
            }
            for remote in sorted(self.remotes)
        }


class ParticipantProcess:
    """A `python -m bench.participant` child and everything it has printed so far.

    A reader thread stores stats lines (`history`, newest last) and messages (`messages`);
    `window(name, seconds)` gives what a local participant received over the last `seconds`.
    """

    HISTORY = 900  # stats lines kept (15 min at one a second)

    def __init__(self, process: subprocess.Popen, names: list[str], log_path: Path) -> None:
        self.process = process
        self.names = names
        self.log_path = log_path
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=self.HISTORY)
        self.messages: list[dict[str, Any]] = []
        self.ready: dict[str, Any] | None = None
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"read-{names[0]}", daemon=True)
        self._reader.start()

    @classmethod
    def start(
        cls,
        *,
        url: str,
        room: str,
        names: Sequence[str],
        key_file: Path | str,
        issuer: str,
        log_path: Path,
        namespace: Any = None,
        options: Sequence[str] = (),
        launch: Callable[..., subprocess.Popen] | None = None,
    ) -> ParticipantProcess:
        """Start the participants `names` (in `namespace`, a tests.fixtures.netns.NetNamespace,
        offering its address as their only candidate; else on loopback). `options`: more
        command-line options (--no-video, --video-kbit 500, …)."""
        argv = [
            sys.executable, "-m", "bench.participant", "--url", url, "--room", room,
            "--names", ",".join(names), "--key-file", str(key_file), "--issuer", issuer,
            *options,
        ]  # fmt: skip
        if namespace is not None:
            argv += ["--ice-address", namespace.address]
            launch = launch or namespace.popen
        launch = launch or subprocess.Popen
        with log_path.open("ab") as log:
            process = launch(
                argv, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                text=True, bufsize=1,
            )  # fmt: skip
        return cls(process, list(names), log_path)

    def _read(self) -> None:
        # Every line also goes to <log>.jsonl, for a look after a failure.
        with self.log_path.with_suffix(".jsonl").open("a") as record:
            for line in self.process.stdout:
                record.write(line)
                self._handle_line(line)
        with self._changed:
            self._changed.notify_all()

    def _handle_line(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        with self._changed:
            kind = event.get("event")
            if kind == "stats":
                self.history.append(event)
            elif kind == "message":
                self.messages.append(event)
            elif kind == "ready":
                self.ready = event
            self._changed.notify_all()

    def _send(self, command: str) -> None:
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def request_stats(self) -> None:
        """Ask for a stats line now (it lands in `history` a moment later)."""
        self._send("stats")

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str = "") -> None:
        """Until `predicate()` (re-checked at every line printed); raises AssertionError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.names}: not {what or predicate} in {timeout} s")
                if self.process.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(f"{self.names} exited:\n{self.log_tail()}")
                self._changed.wait(min(remaining, 0.5))

    def wait_ready(self, timeout: float = 40.0) -> None:
        self.wait(lambda: self.ready is not None, timeout, "ready")
        if not self.ready["ok"]:
            raise AssertionError(f"{self.names} not connected: {self.ready}\n{self.log_tail()}")

    def latest(self) -> dict[str, Any] | None:
        with self._changed:
            return self.history[-1] if self.history else None

    def window(self, name: str, seconds: float) -> Window:
        """What `name` received from the newest stats line back to the one at least `seconds`
        older (or the oldest one, if the history is shorter: check `Window.seconds`)."""
        with self._changed:
            history = list(self.history)
        if len(history) < 2:
            raise AssertionError(f"{name}: fewer than two stats lines yet")
        newest = history[-1]
        older = [h for h in history if h["at"] <= newest["at"] - seconds] or history[:1]
        return Window.between(name, older[-1], newest)

    def window_since(self, name: str, at: float) -> Window:
        """What `name` received from the first stats line at or after `at` to the newest."""
        with self._changed:
            history = list(self.history)
        later = [h for h in history if h["at"] >= at]
        if len(later) < 2:
            raise AssertionError(f"{name}: fewer than two stats lines since {at}")
        return Window.between(name, later[0], later[-1])

    def messages_of(self, name: str, type_: str | None = None) -> list[dict[str, Any]]:
        """Server messages `name` got (those printed: not USUAL_MESSAGE_TYPES), oldest first."""
        with self._changed:
            return [
                m["message"]
                for m in self.messages
                if m["participant"] == name and (type_ is None or m["message"].get("type") == type_)
            ]

    def log_tail(self, characters: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """`quit`, then SIGTERM/SIGKILL by pid if it lingers."""
        if self.process.poll() is None:
            self._send("quit")
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        self._reader.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class SyntheticRoom:
    """Participant processes in one room of one worker; `close()` stops them all."""

    def __init__(
        self,
        worker: Any,
        room: str,
        key_file: Path,
        workdir: Path,
        *,
        video_kbit: int = 1000,
        video_size: str = "640x480",
    ) -> None:
        """`worker`: anything with the SFU's signalling `url` and the tokens' `issuer`."""
        self.worker = worker
        self.room = room
        self.key_file = key_file
        self.workdir = workdir
        self.clip_options = ["--video-kbit", str(video_kbit), "--video-size", video_size]
        # Encoded once here: concurrent first loads in the processes would race on the cache.
        load_clip(clip_spec(video_kbit, video_size))
        self.processes: list[ParticipantProcess] = []
        self.process_of: dict[str, ParticipantProcess] = {}

    def add(
        self,
        names: Sequence[str],
        namespace: Any = None,
        options: Sequence[str] = (),
        launch: Callable[..., subprocess.Popen] | None = None,
    ) -> ParticipantProcess:
        """Start one process hosting `names` (inside `namespace` if given; `launch`: instead of
        subprocess.Popen, e.g. to pin it to CPUs)."""
        process = ParticipantProcess.start(
            launch=launch,
            url=self.worker.url,
            room=self.room,
            names=names,
            key_file=self.key_file,
            issuer=self.worker.issuer,
            log_path=self.workdir / f"participants-{names[0]}.log",
            namespace=namespace,
            options=[*self.clip_options, *options],
        )
        self.processes.append(process)
        for name in names:
            self.process_of[name] = process
        return process

    @property
    def names(self) -> list[str]:
        return list(self.process_of)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every process's peer connections are up."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.wait_ready(max(1.0, deadline - time.monotonic()))

    def receiving(self, name: str, kind: str, publishers: Iterable[str]) -> bool:
        """Whether `name` has received `kind` frames from each of `publishers` (ever)."""
        latest = self.process_of[name].latest()
        if latest is None:
            return False
        remotes = latest["participants"][name]["remotes"]
        return all(remotes.get(p, {}).get(kind, {}).get("frames", 0) > 0 for p in publishers)

    def wait_receiving(
        self,
        video: Iterable[str] | None = None,
        audio: Iterable[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Until the participants in `video` have received video and audio from every other
        participant, and those in `audio` at least audio from every other one."""
        video, audio = list(video or []), list(audio or [])
        deadline = time.monotonic() + timeout
        for names, kinds in ((video, ("video", "audio")), (audio, ("audio",))):
            for name in names:
                others = [n for n in self.names if n != name]
                for kind in kinds:
                    self.process_of[name].wait(
                        lambda name=name, kind=kind, others=others: self.receiving(
                            name, kind, others
                        ),
                        max(1.0, deadline - time.monotonic()),
                        f"{name} receiving {kind} from {others}",
                    )

    def window(self, name: str, seconds: float) -> Window:
        """What `name` received over the last `seconds` (see ParticipantProcess.window)."""
        return self.process_of[name].window(name, seconds)

    def snapshot(self) -> float:
        """Have every process print a stats line now; returns the time they are at or after."""
        at = time.monotonic()
        for process in self.processes:
            process.request_stats()
        for process in self.processes:
            process.wait(
                lambda process=process: (process.latest() or {}).get("at", 0) >= at,
                10,
                "a fresh stats line",
            )
        return at

    def measure(self, seconds: float) -> dict[str, Window]:
        """Every participant's window over the next `seconds` (exact edges, fresh stats)."""
        started = self.snapshot()
        time.sleep(seconds)
        self.snapshot()
        return {name: p.window_since(name, started) for name, p in self.process_of.items()}

    def wait_until(
        self, condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.5
    ) -> float:
        """Poll `condition()` (which may call `window()`) until true; returns seconds taken."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not {what} after {timeout} s")
            time.sleep(poll)
        return time.monotonic() - started

    def messages(self, name: str, type_: str | None = None) -> list[dict[str, Any]]:
        """Server messages of `type_` (not the usual ones, see bench.participant) `name` got."""
        return self.process_of[name].messages_of(name, type_)

    def cpu_seconds(self) -> float:
        """CPU time the participant processes have used so far (their latest stats lines)."""
        return sum((p.latest() or {}).get("cpu_seconds", 0.0) for p in self.processes)

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.names}\n{p.log_tail(1500)}" for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            process.stop()

    def __enter__(self) -> SyntheticRoom:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    profile_dir = os.environ.get("BENCH_PARTICIPANT_PROFILE")  # cProfile dumps, to read later
    if profile_dir:
        import cProfile

        with cProfile.Profile() as profile:
            try:
                asyncio.run(main(parse_args()))
            finally:
                profile.dump_stats(Path(profile_dir) / f"participant-{os.getpid()}.prof")
    else:
        asyncio.run(main(parse_args()))
