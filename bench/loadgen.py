"""Load-generator process: one publisher replaying the clip, or a batch of counting subscribers.

Driven by bench/run.py over a line protocol so that several processes share one measurement
window: it prints ``{"event": "ready", ...}`` once its participants are up (subscribers: every
one has received audio and video, or `--ready-timeout` passed), then obeys ``start`` (snapshot
counters and own CPU), ``stop`` (print ``{"event": "result", ...}`` with the deltas) and ``quit``
on standard input. Each participant signs its own join token with the bench's private key.

    python -m bench.loadgen --role subscribers --count 8 --url ws://127.0.0.1:PORT/ws ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.client import Participant, restrict_to_loopback
from bench.counting import SubscriberCounters, count_frames, install_counting_receivers
from bench.cpu import CpuMeter
from bench.media import audio_track, load_clip, video_track
from portal.media.join_tokens import sign_join_token

logger = logging.getLogger(__name__)


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class LoadGenerator:
    """Owns this process's participants, their counters and the measurement window."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.private_key = Path(args.key_file).read_bytes()
        self.participants: list[Participant] = []
        self.counters: list[SubscriberCounters] = []
        self.tasks: list[asyncio.Task] = []
        self.publish_tracks = []
        self.cpu = CpuMeter()
        self._window_start: list[dict[str, float]] = []

    def _token(self, participant_id: str) -> str:
        return sign_join_token(
            self.private_key,
            issuer=self.args.issuer,
            room=self.args.room,
            participant_id=participant_id,
            display_name=participant_id,
            role="participant",
        )

    def _add(self, session: aiohttp.ClientSession, participant: Participant) -> None:
        self.participants.append(participant)
        self.tasks.append(asyncio.create_task(participant.run(session)))

    async def start_participants(self, session: aiohttp.ClientSession) -> None:
        args = self.args
        if args.role == "publisher":
            clip = load_clip()
            tracks = {"audio": audio_track(clip), "video": video_track(clip)}
            self.publish_tracks = list(tracks.values())
            self._add(session, Participant(args.url, args.room, self._token(args.name), tracks))
            return
        for index in range(args.count):
            name = f"{args.name}-{index}"
            counters = SubscriberCounters(name)
            self.counters.append(counters)

            def on_track(track, receiver, counters=counters) -> None:
                counters.receivers.append(receiver)
                kind = counters.video if track.kind == "video" else counters.audio
                self.tasks.append(asyncio.create_task(count_frames(track, kind)))

            self._add(session, Participant(args.url, args.room, self._token(name), None, on_track))

    async def wait_ready(self) -> bool:
        deadline = time.monotonic() + self.args.ready_timeout
        while time.monotonic() < deadline:
            if any(p.error for p in self.participants):
                return False
            if self.args.role == "publisher":
                if all(p.connected.is_set() for p in self.participants):
                    return True
            elif all(c.video.frames and c.audio.frames for c in self.counters):
                return True
            await asyncio.sleep(0.1)
        return False

    def start_window(self) -> None:
        self._window_start = [c.snapshot() for c in self.counters]
        self.cpu.start()

    def stop_window(self) -> dict[str, Any]:
        self.cpu.stop()
        subscribers = []
        for counters, before in zip(self.counters, self._window_start, strict=True):
            after = counters.snapshot()
            seconds = after["at"] - before["at"]
            delta = {k: after[k] - before[k] for k in after if k != "at"}
            subscribers.append(
                {
                    "name": counters.name,
                    "seconds": seconds,
                    **delta,
                    "video_fps": delta["video_frames"] / seconds,
                    "audio_pps": delta["audio_packets"] / seconds,
                    "rtp_pps": delta["rtp_packets"] / seconds,
                }
            )
        return {
            "role": self.args.role,
            "cpu_seconds": self.cpu.cpu_seconds,
            "wall_seconds": self.cpu.wall_seconds,
            "cpu_percent": self.cpu.percent_of_core,
            "subscribers": subscribers,
            "keyframe_requests": sum(t.keyframe_requests for t in self.publish_tracks),
            "errors": [p.error for p in self.participants if p.error],
        }

    async def close(self) -> None:
        for participant in self.participants:
            try:
                await asyncio.wait_for(participant.close(), 5)
            except Exception:  # noqa: BLE001 - closing at exit, nothing left to protect
                logger.debug("closing %s failed", participant.room, exc_info=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def _read_command() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip() or "quit"  # EOF: the orchestrator went away


async def main(args: argparse.Namespace) -> None:
    restrict_to_loopback()
    if args.role == "subscribers":
        install_counting_receivers()
    generator = LoadGenerator(args)
    async with aiohttp.ClientSession() as session:
        await generator.start_participants(session)
        ready = await generator.wait_ready()
        _emit("ready", ok=ready, errors=[p.error for p in generator.participants if p.error])
        try:
            while (command := await _read_command()) != "quit":
                if command == "start":
                    generator.start_window()
                elif command == "stop":
                    _emit("result", **generator.stop_window())
        finally:
            await generator.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("publisher", "subscribers"), required=True)
    parser.add_argument("--count", type=int, default=1, help="subscribers in this process")
    parser.add_argument("--name", default="bench", help="participant id (prefix)")
    parser.add_argument("--url", required=True, help="SFU signalling URL (loopback)")
    parser.add_argument("--room", required=True)
    parser.add_argument("--key-file", required=True, help="join-token private key (PEM)")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--ready-timeout", type=float, default=20.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main(parse_args()))
