"""SFU benchmark: one publisher, N subscribers, the SFU worker vs aiortc's decode/re-encode relay.

    .venv/bin/python -m bench.run --subscribers 1,2,4,8,16 --seconds 20

For each N and each system, a fresh server process (`python -m sfu`, or `bench.naive_relay`) gets
one publisher (a load-generator process replaying a pre-encoded VP8 + Opus clip) and N subscribers
(load-generator processes that count without decoding). After a warm-up, the server's CPU time
(utime + stime from /proc) is read over the measurement window, while the subscribers count what
they receive. Forwarded packets = RTP packets received by all subscribers in the window (media +
RTX, after SRTP): what the server sent, less loopback loss. µs/packet = server CPU time / that.

Loopback only; every process it starts is stopped before it returns. Results go to
bench/results/<timestamp>.json and are printed as one table per system.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import math
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiortc

from bench.cpu import CpuMeter
from bench.servers import ISSUER, REPO_ROOT, SYSTEMS, Environment, bench_environment, run_server

logger = logging.getLogger("bench.run")

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NOMINAL_VIDEO_FPS = 30
NOMINAL_AUDIO_PPS = 50


class LoadGenProcess:
    """One `python -m bench.loadgen` child driven over its stdin/stdout line protocol."""

    def __init__(self, process: asyncio.subprocess.Process, name: str, log_path: Path) -> None:
        self.process = process
        self.name = name
        self.log_path = log_path

    @classmethod
    async def start(cls, name: str, arguments: list[str], log_path: Path) -> LoadGenProcess:
        log = log_path.open("ab")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.loadgen", "--name", name, *arguments,
            cwd=REPO_ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )  # fmt: skip
        log.close()
        return cls(process, name, log_path)

    async def send(self, command: str) -> None:
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"load generator {self.name} exited early:\n{tail}")
            message = json.loads(line)
            if message.get("event") == event:
                return message

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ConnectionError):
                await self.send("quit")
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class Point:
    """One measured point: one system, N subscribers, one window."""

    system: str
    subscribers: int
    seconds: float
    all_ready: bool
    sfu_cpu_percent: float
    forwarded_pps: float
    us_per_packet: float | None
    video_fps_min: float
    video_fps_median: float
    audio_pps_min: float
    audio_pps_median: float
    subscribers_full_rate: int
    packets_lost: int
    loadgen_cpu_percent: float
    publisher_cpu_percent: float
    publisher_keyframe_requests: int
    per_subscriber: list[dict[str, Any]]


def _batches(total: int, per_process: int) -> list[int]:
    processes = max(1, math.ceil(total / per_process))
    base, extra = divmod(total, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


async def measure_point(
    system: str, subscribers: int, env: Environment, args: argparse.Namespace, seconds: float
) -> Point:
    """Start a fresh server and clients, warm up, measure one window, stop everything."""
    worker_id = f"{system}-{subscribers}-{time.monotonic_ns()}"
    room = f"bench-{subscribers}"
    with run_server(system, env, worker_id) as server:
        common = [
            "--url", server.url, "--room", room, "--key-file", str(env.keys.private_path),
            "--issuer", ISSUER, "--ready-timeout", str(args.ready_timeout),
        ]  # fmt: skip
        log_path = env.workdir / f"{worker_id}-loadgen.log"
        processes: list[LoadGenProcess] = []
        try:
            publisher = await LoadGenProcess.start(
                "publisher", ["--role", "publisher", *common], log_path
            )
            processes.append(publisher)
            await publisher.expect("ready", args.ready_timeout + 10)
            for index, count in enumerate(_batches(subscribers, args.subscribers_per_process)):
                processes.append(
                    await LoadGenProcess.start(
                        f"sub{index}",
                        ["--role", "subscribers", "--count", str(count), *common],
                        log_path,
                    )
                )
            ready = [await p.expect("ready", args.ready_timeout + 10) for p in processes[1:]]
            all_ready = all(r["ok"] for r in ready)
            if not all_ready:
                logger.warning("%s N=%d: some subscriber got no media in time", system, subscribers)
            await asyncio.sleep(args.warmup)
            server_cpu = CpuMeter(server.pid)
            for process in processes:
                await process.send("start")
            server_cpu.start()
            profiler = await start_profiler(args, server.pid, f"{system}-{subscribers}", seconds)
            await asyncio.sleep(seconds)
            server_cpu.stop()
            if profiler is not None:
                await profiler.wait()
            for process in processes:
                await process.send("stop")
            results = [await p.expect("result", 30) for p in processes]
            if server.process.poll() is not None:
                raise RuntimeError(f"{system} exited during the measurement")
        finally:
            await asyncio.gather(*(p.stop() for p in processes), return_exceptions=True)
    return summarize(system, subscribers, all_ready, server_cpu, results)


async def start_profiler(
    args: argparse.Namespace, pid: int, label: str, seconds: float
) -> asyncio.subprocess.Process | None:
    """With --profile: sample the server with py-spy over the window (collapsed stacks).

    py-spy runs with --nonblocking (it never pauses the server) but it takes CPU on the other
    core: figures from a profiled run are for the profile, not for the tables.
    """
    if not args.profile:
        return None
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    output = RESULTS_DIR / f"profile-{label}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    output.parent.mkdir(parents=True, exist_ok=True)
    print(f"profiling {label} into {output}", flush=True)
    return await asyncio.create_subprocess_exec(
        str(py_spy), "record", "--pid", str(pid), "--duration", str(int(seconds)),
        "--rate", "200", "--nonblocking", "--threads", "--format", "raw",
        "--output", str(output),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


def summarize(
    system: str, subscribers: int, all_ready: bool, server_cpu: CpuMeter, results: list[dict]
) -> Point:
    per_subscriber = [s for r in results for s in r["subscribers"]]
    packets = sum(s["rtp_packets"] for s in per_subscriber)
    fps = [s["video_fps"] for s in per_subscriber]
    audio = [s["audio_pps"] for s in per_subscriber]
    # "Full rate": at least 95 % of the clip's 30 fps and 50 packets/s.
    full = sum(
        1
        for s in per_subscriber
        if s["video_fps"] >= 0.95 * NOMINAL_VIDEO_FPS and s["audio_pps"] >= 0.95 * NOMINAL_AUDIO_PPS
    )
    publisher = results[0]
    return Point(
        system=system,
        subscribers=subscribers,
        seconds=server_cpu.wall_seconds,
        all_ready=all_ready,
        sfu_cpu_percent=server_cpu.percent_of_core,
        forwarded_pps=packets / server_cpu.wall_seconds,
        us_per_packet=1e6 * server_cpu.cpu_seconds / packets if packets else None,
        video_fps_min=min(fps),
        video_fps_median=statistics.median(fps),
        audio_pps_min=min(audio),
        audio_pps_median=statistics.median(audio),
        subscribers_full_rate=full,
        packets_lost=sum(s["rtp_packets_lost"] for s in per_subscriber),
        loadgen_cpu_percent=sum(r["cpu_percent"] for r in results),
        publisher_cpu_percent=publisher["cpu_percent"],
        publisher_keyframe_requests=publisher["keyframe_requests"],
        per_subscriber=per_subscriber,
    )


COLUMNS = (
    ("N", "subscribers", "{:d}"),
    ("SFU CPU %", "sfu_cpu_percent", "{:.1f}"),
    ("fwd pkt/s", "forwarded_pps", "{:.0f}"),
    ("µs/pkt", "us_per_packet", "{:.1f}"),
    ("video fps min/med", ("video_fps_min", "video_fps_median"), "{:.1f}/{:.1f}"),
    ("audio pkt/s min/med", ("audio_pps_min", "audio_pps_median"), "{:.1f}/{:.1f}"),
    ("full rate", ("subscribers_full_rate", "subscribers"), "{:d}/{:d}"),
    ("loadgen CPU %", "loadgen_cpu_percent", "{:.1f}"),
)


def format_table(title: str, rows: list[dict[str, Any]]) -> str:
    """A Markdown table (pastes straight into docs/performance.md)."""
    header = "| " + " | ".join(name for name, _, _ in COLUMNS) + " |"
    lines = [f"{title}", "", header, "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for _, keys, fmt in COLUMNS:
            values = [row[k] for k in (keys if isinstance(keys, tuple) else (keys,))]
            if any(v is None for v in values):
                cells.append("–")
            else:
                ints = "{:d}" in fmt
                cells.append(fmt.format(*(round(v) if ints else v for v in values)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def median_rows(points: list[Point], system: str) -> list[dict[str, Any]]:
    """Per N, the median of every numeric column over the repeats."""
    rows = []
    for n in sorted({p.subscribers for p in points if p.system == system}):
        same = [asdict(p) for p in points if p.system == system and p.subscribers == n]
        row: dict[str, Any] = {"subscribers": n, "repeats": len(same)}
        for _, keys, _ in COLUMNS:
            for key in keys if isinstance(keys, tuple) else (keys,):
                values = [s[key] for s in same if s[key] is not None]
                row[key] = statistics.median(values) if values else None
        rows.append(row)
    return rows


async def run(args: argparse.Namespace) -> dict[str, Any]:
    points: list[Point] = []
    started = time.time()
    with bench_environment() as env:
        for repeat in range(args.repeat):
            for n in args.subscribers:
                for system in args.systems:
                    if system == "naive-relay" and n > args.baseline_max_subscribers:
                        continue
                    seconds = args.seconds if system == "sfu" else args.baseline_seconds
                    point = await measure_point(system, n, env, args, seconds)
                    points.append(point)
                    us = f"{point.us_per_packet:.1f}" if point.us_per_packet else "–"
                    print(
                        f"[{repeat + 1}/{args.repeat}] {system} N={n}: "
                        f"CPU {point.sfu_cpu_percent:.1f} %, {us} µs/pkt, "
                        f"video {point.video_fps_min:.1f}-{point.video_fps_median:.1f} fps, "
                        f"lost {point.packets_lost}, loadgen {point.loadgen_cpu_percent:.1f} %",
                        flush=True,
                    )
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "command": " ".join(sys.argv),
        "arguments": {k: v for k, v in vars(args).items()},
        "machine": {
            "cpus": _cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "aiortc": aiortc.__version__,
        },
        "code": {"git_head": _git_head(), "sfu_sources_sha256": sfu_fingerprint()},
        "points": [asdict(p) for p in points],
        "medians": {system: median_rows(points, system) for system in args.systems},
    }


def sfu_fingerprint() -> str:
    """sha256 over sfu/*.py (path + content): which SFU code a result file measured."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "sfu").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _git_head() -> str:
    try:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0))


def _int_list(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--subscribers", type=_int_list, default=[1, 2, 4, 8, 16])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the window")
    parser.add_argument("--repeat", type=int, default=1, help="sweeps; tables show medians")
    parser.add_argument(
        "--systems", type=lambda v: v.split(","), default=list(SYSTEMS),
        help="comma-separated: " + ",".join(SYSTEMS),
    )  # fmt: skip
    parser.add_argument(
        "--baseline-seconds", type=float, default=10.0,
        help="window for the naive relay (it saturates; its queues grow without bound)",
    )  # fmt: skip
    parser.add_argument("--baseline-max-subscribers", type=int, default=16)
    parser.add_argument("--subscribers-per-process", type=int, default=8)
    parser.add_argument("--ready-timeout", type=float, default=20.0)
    parser.add_argument(
        "--profile", action="store_true",
        help="record a py-spy profile of the server during each window (bench/results/)",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)
    unknown = set(args.systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    report = asyncio.run(run(args))
    output = args.output or RESULTS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str))
    for system, rows in report["medians"].items():
        suffix = f" (median of {args.repeat} runs)" if args.repeat > 1 else ""
        print()
        print(format_table(f"{system}{suffix}", rows))
    print(f"\nsfu/ sources sha256 {report['code']['sfu_sources_sha256']}, results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
