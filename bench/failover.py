"""Failover time: kill -9 the worker hosting a 3-person call, time until media is back.

    .venv/bin/python -m bench.failover --runs 5 [--retry browser|test]

Each run, on 127.0.0.1 only: a private Redis and two `python -m sfu` workers (bench/servers.py),
a room placed by the portal's own `portal.media.placement`, three aiortc clients (`sfu.client`)
sending a 320x240 pattern at 30 fps and silence, as tests/sfu/test_failover.py does. Once every
client decodes video and audio from both others, the hosting worker gets SIGKILL. Each client
then does what room.js does: notice the loss, ask the placement again naming the lost worker
until it names the other one, rejoin there with a fresh token (new participant, new tracks).

Per client, from the kill: `lost` (SfuClient.lost), `placed` (placement names the new worker),
`joined` (`joined` received) and `media`: the first decoded video frame AND audio frame from both
others' new participants (the latest of those four first frames). Run figure: the worst client.

`--retry browser` (default): attempts after the waits of room.js's RECONNECT_DELAYS_MS
(0.5, 1, 2, 4 … s); an attempt whose placement still names the lost worker fails (the browser's
join would be refused). `--retry test`: ask at once, then every 0.25 s (tests/sfu/test_failover.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field

import av
import redis
from aiortc import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from bench.servers import ISSUER, REPO_ROOT, Environment, bench_environment, run_server
from portal.media.join_tokens import sign_join_token
from portal.media.placement import Placement
from sfu import ice
from sfu.client import SfuClient

RESULTS_DIR = REPO_ROOT / "bench" / "results"
# Mirrors static/js/room.js RECONNECT_DELAYS_MS.
BROWSER_DELAYS = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 2, 4, 8, 8]
TEST_DELAYS = [0.0] + [0.25] * 120  # tests/sfu/test_failover.py RETRY_SECONDS
NAMES = ("alice", "bruno", "chloe")
STEP = 0.01


class PatternVideoTrack(VideoStreamTrack):
    """30 fps 320x240 frames with a moving bar (as tests/sfu/media.py)."""

    def __init__(self) -> None:
        super().__init__()
        self._index = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(320, 240, "yuv420p")
        luma, chroma_u, chroma_v = frame.planes
        row = bytearray(b"\x20" * luma.line_size)
        x = (self._index * 4) % 320
        self._index += 1
        row[x : x + 16] = b"\xe0" * 16
        luma.update(bytes(row) * 240)
        chroma_u.update(b"\x80" * chroma_u.buffer_size)
        chroma_v.update(b"\x80" * chroma_v.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Receiver:
    """Reads every remote track of one client; first decoded frame time per (participant, kind)."""

    client: SfuClient
    first: dict[tuple[str, str], float] = field(default_factory=dict)
    tasks: list[asyncio.Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(self._watch()))

    async def _watch(self) -> None:
        while True:
            event = await self.client.events.get()
            if event.type == "track" and event.track is not None:
                remote = event.track
                self.tasks.append(asyncio.create_task(self._read(remote.participant_id, remote)))

    async def _read(self, participant_id: str, remote) -> None:
        track: MediaStreamTrack = remote.track
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()  # a decoded av.VideoFrame / av.AudioFrame
                self.first.setdefault((participant_id, remote.kind), time.monotonic())

    def has_all(self, participant_ids: list[str]) -> bool:
        return all((p, k) in self.first for p in participant_ids for k in ("audio", "video"))

    def media_at(self, participant_ids: list[str]) -> float:
        return max(self.first[(p, k)] for p in participant_ids for k in ("audio", "video"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class Participant:
    def __init__(self, name: str, env: Environment, urls: dict[str, str]) -> None:
        self.name, self.urls = name, urls
        self.private_pem = env.keys.private_path.read_bytes()
        self.client: SfuClient | None = None
        self.receiver: Receiver | None = None
        self.worker_id: str | None = None
        self.marks: dict[str, float] = {}

    def token(self, room: str) -> str:
        return sign_join_token(
            self.private_pem,
            issuer=ISSUER,
            room=room,
            participant_id=f"{self.name}-{uuid.uuid4().hex[:6]}",
            display_name=self.name,
            role="participant",
        )

    async def join(self, room: str, placement: Placement) -> None:
        self.worker_id = (await asyncio.to_thread(placement.place, room)).worker_id
        self.client = SfuClient(
            self.urls[self.worker_id],
            room,
            self.token(room),
            audio=AudioStreamTrack(),
            video=PatternVideoTrack(),
        )
        self.receiver = Receiver(self.client)
        await self.client.join()

    async def fail_over(self, room: str, placement: Placement, delays: list[float]) -> None:
        while not self.client.lost:
            await asyncio.sleep(STEP)
        self.marks["lost"] = time.monotonic()
        lost_worker = self.worker_id
        for delay in delays:
            await asyncio.sleep(delay)
            placed = await asyncio.to_thread(placement.place, room, lost_worker)
            if placed.worker_id != lost_worker:
                break
        else:
            raise RuntimeError(f"{self.name}: the room never left {lost_worker}")
        self.marks["placed"] = time.monotonic()
        await self.receiver.stop()
        old = self.client
        self.client = None
        # What SfuClient.reconnect() does (close, new client, join), with the receiver attached
        # before the join so that the first frames are timed as they are decoded.
        await old.close()
        self.client = SfuClient(
            self.urls[placed.worker_id],
            room,
            self.token(room),
            audio=AudioStreamTrack(),
            video=PatternVideoTrack(),
        )
        self.receiver = Receiver(self.client)
        self.worker_id = placed.worker_id
        await self.client.join()
        self.marks["joined"] = time.monotonic()


async def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        await asyncio.sleep(STEP)


def others_ids(people: list[Participant], me: Participant) -> list[str]:
    return [p.client.participant_id for p in people if p is not me]


async def call(env: Environment, servers: dict, delays: list[float]) -> dict:
    r = redis.Redis.from_url(env.redis_url)
    placement = Placement(r)
    room = "salle-" + uuid.uuid4().hex[:8]
    urls = {worker_id: server.url for worker_id, server in servers.items()}
    people = [Participant(name, env, urls) for name in NAMES]
    try:
        for person in people:
            await person.join(room, placement)
        hosting = people[0].worker_id
        assert all(p.worker_id == hosting for p in people), "one room, one worker"
        await wait_for(
            lambda: all(p.receiver.has_all(others_ids(people, p)) for p in people),
            20,
            "media before the kill",
        )
        # Media flowing steadily, then a random phase against the 2 s heartbeat.
        await asyncio.sleep(1.0 + random.uniform(0, 2.0))  # noqa: S311 - not cryptographic
        last_beat = r.zscore("sfu:workers", hosting)
        killed_at = time.monotonic()
        killed_wall = time.time()
        servers[hosting].process.kill()  # SIGKILL, this process only
        await asyncio.wait_for(
            asyncio.gather(*(p.fail_over(room, placement, delays) for p in people)), 60
        )
        assert len({p.worker_id for p in people} | {hosting}) == 2, "all moved to the other one"
        await wait_for(
            lambda: all(p.receiver.has_all(others_ids(people, p)) for p in people),
            20,
            "media after the kill",
        )
        clients = {}
        for p in people:
            marks = {k: round(v - killed_at, 3) for k, v in p.marks.items()}
            marks["media"] = round(p.receiver.media_at(others_ids(people, p)) - killed_at, 3)
            clients[p.name] = marks
        return {
            "hosting_worker": hosting,
            "heartbeat_age_at_kill_s": (
                round(killed_wall - float(last_beat), 3) if last_beat is not None else None
            ),
            "clients": clients,
            "worst_media_s": max(c["media"] for c in clients.values()),
        }
    finally:
        for p in people:
            if p.receiver is not None:
                await p.receiver.stop()
        await asyncio.gather(
            *(p.client.close() for p in people if p.client is not None), return_exceptions=True
        )
        r.close()


def one_run(delays: list[float]) -> dict:
    with bench_environment() as env, contextlib.ExitStack() as stack:
        servers = {
            worker_id: stack.enter_context(run_server("sfu", env, worker_id))
            for worker_id in ("bench-w1", "bench-w2")
        }
        r = redis.Redis.from_url(env.redis_url)
        deadline = time.monotonic() + 20
        while not all(r.exists(f"sfu:worker:{w}") for w in servers):
            if time.monotonic() > deadline:
                raise TimeoutError("workers not registered in Redis within 20 s")
            time.sleep(0.05)
        r.close()
        return asyncio.run(asyncio.wait_for(call(env, servers, delays), 120))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--retry", choices=("browser", "test"), default="browser")
    args = parser.parse_args(argv)
    delays = BROWSER_DELAYS if args.retry == "browser" else TEST_DELAYS
    ice.use_host_addresses(["127.0.0.1"])
    runs = []
    try:
        for number in range(1, args.runs + 1):
            result = one_run(delays)
            runs.append(result)
            per_client = "  ".join(
                f"{name} lost {c['lost']:.2f} placed {c['placed']:.2f} "
                f"joined {c['joined']:.2f} media {c['media']:.2f}"
                for name, c in result["clients"].items()
            )
            print(
                f"run {number}: worst {result['worst_media_s']:.2f} s "
                f"(last heartbeat {result['heartbeat_age_at_kill_s']} s before the kill)  "
                f"{per_client}",
                flush=True,
            )
    finally:
        ice.use_host_addresses([])
    if not runs:
        return
    all_media = [c["media"] for run in runs for c in run["clients"].values()]
    worsts = [run["worst_media_s"] for run in runs]
    summary = {
        "runs": len(runs),
        "retry": args.retry,
        "median_of_run_worst_s": round(statistics.median(worsts), 3),
        "worst_s": round(max(worsts), 3),
        "median_per_client_s": round(statistics.median(all_media), 3),
        "best_per_client_s": round(min(all_media), 3),
    }
    print(
        f"\nkill -9 → video+audio from both others, {len(runs)} runs, retry={args.retry}: "
        f"median (of each run's slowest client) {summary['median_of_run_worst_s']:.2f} s, "
        f"worst {summary['worst_s']:.2f} s; per client median {summary['median_per_client_s']:.2f}"
        f" s, best {summary['best_per_client_s']:.2f} s"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"failover-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))
    print(f"written {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
