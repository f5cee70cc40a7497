"""Congestion benchmark: N synthetic participants in one room on one worker, all publishing audio
and video, with and without the SFU's congestion policy (``SFU_QUALITY_POLICY=on|off``).

    .venv/bin/python -m bench.congestion --participants 20,55 --policy off,on --pin \
        --per-process 28 --join-interval 2 --warmup 20 --seconds 60 --repeat 2
    .venv/bin/python -m bench.congestion --participants 20 --constrained 2 --rate-kbit 400

Per point (N, policy): a fresh worker, N participants (bench/participant.py; several per process
on loopback, each constrained one alone in a network namespace whose downlink is limited to
``--rate-kbit`` once everyone receives everyone: tests/fixtures/netns.py, root only), a warm-up,
then one window measuring the SFU's CPU, the packets/s the participants received and the frames/s
the worker says it forwarded (its /metrics), audio loss (by sequence number: lost after the SFU
sent; by RTP timestamps: also what the SFU dropped) and video frames/s delivered per subscriber,
for the unconstrained and the constrained participants apart, and whether the load generators
kept up (their CPU, the datagrams the kernel dropped on their sockets, what they really sent).
Markdown table on stdout, JSON with every subscriber's figures in
bench/results/congestion-<time>.json.

Load generation cheap enough for a 55-person room on one core: participants receive with
``--receive cheap`` (bench/cheap_receive.py: SRTP counted from its clear header, never decrypted;
synthetic receiver reports, no NACK/PLI/REMB) and publish the pre-encoded clip, obeying the
policy's ``max_framerate`` as a browser would (``--ignore-constraints``: they don't). ``--pin``:
the SFU alone on the first CPU from its start (as ``taskset``), the participants, this driver
and its reader threads on the others, so that the SFU's CPU is its own.

Audio as in a real meeting: ``--speakers K`` participants speak (RFC 6464 level -20 dBov on
their audio packets), the others send silent packets (-127 dBov, as a muted browser does), so
the SFU's silence gate (sfu/quality/audio_gate.py) sees what it would see in production.
``--speakers -1``: no audio level on any packet (the clip as it is, every voice undecidable).
Audio loss is reported over every publisher's audio and over the speakers' audio apart (the
silent ones' audio is not forwarded with the policy on: that is by design, not loss).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiortc

from bench.cpu import CpuMeter
from bench.participant import SyntheticRoom, Window
from bench.run import RESULTS_DIR, _git_head, sfu_fingerprint
from bench.servers import (
    ISSUER,
    REPO_ROOT,
    Environment,
    bench_environment,
    free_port,
    stop_process,
)

logger = logging.getLogger("bench.congestion")

NOMINAL_VIDEO_FPS = 30
ALL_CPUS = frozenset(os.sched_getaffinity(0))  # before --pin narrows this process's own


@dataclass
class Worker:
    """The SFU process of one point: what SyntheticRoom needs (url, issuer) and its pid."""

    process: subprocess.Popen
    url: str
    log_path: Path
    issuer: str = ISSUER

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def run_worker(
    env: Environment,
    worker_id: str,
    namespaces: Sequence[Any],
    policy: str,
    log_dir: Path | None = None,
    cpus: set[int] | None = None,
) -> Iterator[Worker]:
    """`python -m sfu` reachable from loopback and from `namespaces`, policy on or off; on
    `cpus` only if given (set before it starts: every thread it creates inherits it)."""
    from tests.fixtures.net import wait_for_port
    from tests.fixtures.netns import sfu_network_environment

    network = sfu_network_environment(namespaces)
    port = free_port()
    log_path = (log_dir or env.workdir) / "sfu.log"
    variables = {
        **os.environ,
        **network,
        "SFU_PORT": str(port),
        "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE": str(env.keys.public_path),
        "SFU_JOIN_TOKEN_ISSUER": ISSUER,
        "REDIS_URL": env.redis_url,
        "SFU_WORKER_ID": worker_id,
        "SFU_LOG_LEVEL": os.environ.get("BENCH_SFU_LOG_LEVEL", "WARNING"),
        "SFU_QUALITY_POLICY": policy,
        "PYTHONPATH": str(REPO_ROOT),
    }
    variables.pop("SFU_PUBLIC_URL", None)
    with log_path.open("wb") as log:
        process = pinned_popen(cpus)(
            [sys.executable, "-m", "sfu"],
            cwd=REPO_ROOT,
            env=variables,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for_port(port, host=network["SFU_HOST"], timeout=30, process=process)
        except (RuntimeError, TimeoutError) as exc:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"sfu did not start: {exc}\n{tail}") from exc
        yield Worker(process, f"ws://{network['SFU_HOST']}:{port}/ws", log_path)
    finally:
        stop_process(process)


def pinned_popen(cpus: set[int] | None):
    """subprocess.Popen, or one whose child runs on `cpus` only (as `taskset`) from its start."""
    if not cpus:
        return subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 - argv from the caller, no shell
            *args, preexec_fn=lambda: os.sched_setaffinity(0, cpus), **kwargs
        )

    return popen


def scrape_metrics(worker: Worker) -> dict[str, float]:
    """The worker's /metrics (docs/metrics.md) as {'name{labels}': value}."""
    url = worker.url.replace("ws://", "http://", 1).rsplit("/", 1)[0] + "/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                samples[name] = float(value)
            except ValueError:
                continue
    return samples


METRICS_RATES = {  # per second over the window, from the worker's /metrics counters
    "forwarded_audio_fps": 'sfu_forwarded_frames_total{kind="audio"}',
    "forwarded_video_fps": 'sfu_forwarded_frames_total{kind="video"}',
    "dropped_fps": "sfu_dropped_frames_total",
    "silent_audio_fps": "sfu_silent_audio_frames_total",
    "queue_overflows_ps": "sfu_queue_overflows_total",
    "keyframe_requests_ps": "sfu_keyframe_requests_total",
    "process_cpu": "process_cpu_seconds_total",
}


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        pass
    return inodes


def udp_socket_drops(pids: Sequence[int]) -> dict[str, int]:
    """Datagrams the kernel dropped so far on each UDP socket of `pids` (full receive buffer;
    /proc/net/udp's "drops" column), by socket inode: exactly these processes, unlike
    /proc/net/snmp. Compare two readings with `drops_between`."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids)) if pids else set()
    drops = {}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[9] in inodes:
                        drops[fields[9]] = int(fields[12])
        except OSError:
            continue
    return drops


def drops_between(before: dict[str, int], after: dict[str, int]) -> int:
    """Drops between two readings on the sockets open at both (a closed socket's count is gone;
    a connection closed in between is seen in the participants' states instead)."""
    return sum(after[inode] - before[inode] for inode in before.keys() & after.keys())


UDP_ERRORS = ("InErrors", "RcvbufErrors", "SndbufErrors")


def udp_snmp() -> dict[str, int]:
    """Machine-wide UDP counters (/proc/net/snmp): InErrors, RcvbufErrors…"""
    with open("/proc/net/snmp") as snmp:
        rows = [line.split() for line in snmp if line.startswith("Udp:")]
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:], strict=True)}


@dataclass
class Group:
    """Figures over a group of subscribers (unconstrained or constrained)."""

    subscribers: int = 0
    video_fps_mean: float | None = None  # mean over subscribers of their mean over publishers
    video_fps_min: float | None = None  # the worst subscriber's mean
    video_kbps_mean: float | None = None  # received video payload bitrate, per subscriber
    audio_loss_percent_mean: float | None = None
    audio_loss_percent_max: float | None = None
    # Video frames/s a subscriber received in all (sum over its publishers): mean, worst.
    video_fps_total_mean: float | None = None
    video_fps_total_min: float | None = None
    video_streams_mean: float | None = None  # publishers whose video arrived at ≥ 5 fps
    speakers_video_fps_mean: float | None = None  # from the speakers (mean over both)
    speakers_video_fps_min: float | None = None  # worst subscriber's mean over the speakers
    speakers_audio_loss_percent_mean: float | None = None  # the speakers' audio only
    speakers_audio_loss_percent_max: float | None = None
    speakers_audio_pps_min: float | None = None  # worst (subscriber, speaker) audio packets/s
    # Audio packets missing by sequence number (lost after the SFU sent them: here, dropped by
    # a generator's full socket), % of the audio packets the SFU sent, mean and worst subscriber.
    audio_seq_loss_percent_mean: float | None = None
    audio_seq_loss_percent_max: float | None = None
    video_seq_loss_percent_mean: float | None = None
    silent_audio_pps_mean: float | None = None  # silent publishers' audio received, in all

    @classmethod
    def of(cls, windows: list[Window], speakers: Sequence[str] = ()) -> Group:
        if not windows:
            return cls()
        fps = [statistics.mean(w.video_fps(r) for r in w.remotes) for w in windows if w.remotes]
        totals = [sum(w.video_fps(r) for r in w.remotes) for w in windows]
        loss = [100 * w.audio_loss() for w in windows]
        spoken = {w.participant: [r for r in speakers if r in w.remotes] for w in windows}
        speaker_fps = [
            statistics.mean(w.video_fps(r) for r in spoken[w.participant])
            for w in windows
            if spoken[w.participant]
        ]
        speaker_loss = [
            100 * statistics.mean(w.audio_loss(r) for r in spoken[w.participant])
            for w in windows
            if spoken[w.participant]
        ]
        speaker_pps = [w.audio_pps(r) for w in windows for r in spoken[w.participant]]
        silent_pps = [sum(w.audio_pps(r) for r in w.remotes if r not in speakers) for w in windows]
        seq_loss = [100 * w.audio_network_loss() for w in windows]
        video_lost = sum(w._sum("video", "lost") for w in windows)  # noqa: SLF001
        video_packets = sum(w._sum("video", "packets") for w in windows)  # noqa: SLF001
        return cls(
            audio_seq_loss_percent_mean=statistics.mean(seq_loss),
            audio_seq_loss_percent_max=max(seq_loss),
            video_seq_loss_percent_mean=100 * video_lost / max(1, video_lost + video_packets),
            video_fps_total_mean=statistics.mean(totals),
            video_fps_total_min=min(totals),
            video_streams_mean=statistics.mean(
                sum(w.video_fps(r) >= 5 for r in w.remotes) for w in windows
            ),
            speakers_video_fps_mean=statistics.mean(speaker_fps) if speaker_fps else None,
            speakers_video_fps_min=min(speaker_fps) if speaker_fps else None,
            speakers_audio_loss_percent_mean=(
                statistics.mean(speaker_loss) if speaker_loss else None
            ),
            speakers_audio_loss_percent_max=max(speaker_loss) if speaker_loss else None,
            speakers_audio_pps_min=min(speaker_pps) if speaker_pps else None,
            silent_audio_pps_mean=statistics.mean(silent_pps) if speakers else None,
            subscribers=len(windows),
            video_fps_mean=statistics.mean(fps),
            video_fps_min=min(fps),
            video_kbps_mean=statistics.mean(w.video_kbps() for w in windows),
            audio_loss_percent_mean=statistics.mean(loss),
            audio_loss_percent_max=max(loss),
        )


@dataclass
class Point:
    participants: int
    policy: str
    constrained: int
    rate_kbit: float | None
    seconds: float
    sfu_cpu_percent: float
    forwarded_pps: float
    participants_cpu_percent: float
    all_receiving: bool  # before the window, everyone received everyone (else: timed out)
    connected_at_end: int  # participants whose peer connection was still up after the window
    unconstrained: Group
    constrained_group: Group
    speakers: list[str] = field(default_factory=list)
    audio_pps: float = 0.0  # of forwarded_pps: audio
    video_pps: float = 0.0  # of forwarded_pps: video (RTX included)
    participant_processes: int = 0
    # What the publishers really sent (a starved load generator sends late: fewer frames per
    # second than the clip's 30 video / 50 audio, which the audio loss figures do not count).
    published_video_fps_mean: float | None = None
    published_audio_fps_mean: float | None = None
    # The replayed clip's own pace (30 while a generator keeps up; "video" is lower when the
    # publishers obey the policy's max_framerate).
    published_clip_fps_mean: float | None = None
    sfu_cpu_warmup_percent: float | None = None  # over the warm-up (the policy engaging)
    # Datagrams the kernel dropped because a socket's receive buffer was full, machine-wide
    # (/proc/net/snmp: other sessions' tests count too): a load generator not keeping up.
    udp_rcvbuf_errors_per_second: float | None = None
    load_average: tuple[float, float, float] | None = None  # at the end of the window
    join_seconds: float | None = None  # processes started → everyone connected (or timeout)
    quality: dict[str, Any] | None = None  # the newest `quality` message a speaker got
    receive: str = "light"  # how the participants receive (bench.participant --receive)
    pinned: bool = False  # SFU alone on one CPU, everything else on the others
    metrics: dict[str, float] = field(default_factory=dict)  # METRICS_RATES over the window
    # Drops on full receive buffers, per second: the generators' own sockets, the SFU's.
    generator_udp_drops_per_second: float | None = None
    sfu_udp_drops_per_second: float | None = None
    udp_snmp_delta: dict[str, int] = field(default_factory=dict)  # machine-wide, the window
    load_average_before: tuple[float, float, float] | None = None  # at the window's start
    # Over the warm-up (the policy engaging): drops on the generators' sockets, machine-wide.
    warmup_generator_udp_drops: int | None = None
    warmup_udp_snmp_delta: dict[str, int] = field(default_factory=dict)
    join_connected_states: dict[str, int] = field(default_factory=dict)  # after the warm-up
    # % of the window (and of the warm-up) the SFU's event-loop thread was runnable but waited
    # for a CPU: other processes on its CPU. Also each generator process's loop thread.
    sfu_run_queue_percent: float | None = None
    sfu_run_queue_warmup_percent: float | None = None
    generator_run_queue_percent: list[float] = field(default_factory=list)
    generator_run_queue_max_percent: float | None = None
    generator_cpu_percent: list[float] = field(default_factory=list)  # per process
    per_subscriber: dict[str, dict[str, Any]] = field(default_factory=dict)


def _cpu_split(pin: bool) -> tuple[set[int], set[int]]:
    """With --pin: the SFU alone on the first CPU, the participants on the others (none: no
    pinning), so that the load generators never take the SFU's core."""
    cpus = sorted(ALL_CPUS)
    if not pin or len(cpus) < 2:
        return set(), set()
    return {cpus[0]}, set(cpus[1:])


def _published_rates(room: SyntheticRoom, since: float) -> dict[str, float]:
    """Frames/s each kind's replay tracks returned to their senders since `since`, mean over
    the publishers still connected at the end (from the processes' stats lines)."""
    rates: dict[str, list[float]] = {"audio": [], "video": [], "clip": []}
    for process in room.processes:
        lines = [h for h in list(process.history) if h["at"] >= since]
        if len(lines) < 2:
            continue
        first, last = lines[0], lines[-1]
        seconds = last["at"] - first["at"]
        for name in process.names:
            if last["participants"][name].get("state") != "connected":
                continue  # a closed connection sends nothing: not a generator falling behind
            old = first["participants"][name]["published"]
            new = last["participants"][name]["published"]
            for kind in rates:
                key = f"{kind}_frames"
                if key in new and key in old and seconds > 0:
                    rates[kind].append((new[key] - old[key]) / seconds)
    return {kind: statistics.mean(values) for kind, values in rates.items() if values}


def _udp_rcvbuf_errors() -> int:
    """Machine-wide UDP datagrams dropped on full receive buffers so far (/proc/net/snmp)."""
    with open("/proc/net/snmp") as snmp:
        rows = [line.split() for line in snmp if line.startswith("Udp:")]
    return int(dict(zip(rows[0][1:], rows[1][1:], strict=True))["RcvbufErrors"])


def _wait_flowing(room: SyntheticRoom, speakers: Sequence[str], timeout: float) -> None:
    """Until every participant receives audio from each other speaker and video from at least
    three others (or all, if fewer). Not from everyone: with the policy, silent publishers'
    audio is never forwarded and last-N may stop a publisher's video before it arrives."""
    deadline = time.monotonic() + timeout
    for name in room.names:
        others = [n for n in room.names if n != name]
        talking = [n for n in speakers if n != name]
        wanted_videos = min(3, len(others))

        def flowing(name: str = name, talking: list[str] = talking, wanted: int = wanted_videos):
            latest = room.process_of[name].latest()
            state = ((latest or {}).get("participants", {}).get(name) or {}).get("state")
            if state in ("closed", "failed"):  # it will not receive any more: do not wait
                raise AssertionError(f"{name}'s connection is {state}")
            if latest is None or not room.receiving(name, "audio", talking):
                return False
            remotes = latest["participants"][name]["remotes"]
            videos = sum(r.get("video", {}).get("frames", 0) > 0 for r in remotes.values())
            return videos >= wanted

        room.process_of[name].wait(
            flowing, max(1.0, deadline - time.monotonic()),
            f"{name} receiving audio from {talking} and {wanted_videos} videos",
        )  # fmt: skip


def _batches(names: list[str], per_process: int) -> list[list[str]]:
    processes = max(1, math.ceil(len(names) / per_process))
    return [names[i::processes] for i in range(processes)]


def measure_point(
    env: Environment, args: argparse.Namespace, participants: int, policy: str
) -> Point:
    from tests.fixtures.netns import NetNamespace

    label = f"congestion-{participants}-{policy}-{time.monotonic_ns()}"
    workdir = (args.logs or env.workdir) / label
    workdir.mkdir(parents=True)
    constrained = [f"c{i + 1:02d}" for i in range(args.constrained)]
    unconstrained = [f"p{i + 1:02d}" for i in range(participants - len(constrained))]
    speakers = unconstrained[: max(0, args.speakers)]
    joins_last = (participants - 1) * args.join_interval  # the last one joins this late
    options = ["--stats-interval", str(args.stats_interval),
               "--ready-timeout", str(args.ready_timeout + joins_last), "--receive", args.receive,
               *([] if args.ignore_constraints else ["--obey-constraints"])]  # fmt: skip

    def speaking(batch: list[str]) -> list[str]:
        if args.speakers < 0:
            return []
        return ["--speaking", ",".join(n for n in batch if n in speakers)]

    namespaces = []
    try:
        for _ in constrained:
            namespaces.append(NetNamespace.create(None, queue_ms=args.queue_ms))
        sfu_cpus, participant_cpus = _cpu_split(args.pin)
        if participant_cpus:  # this driver too: only the SFU on its CPU
            os.sched_setaffinity(0, participant_cpus)
        launch = pinned_popen(participant_cpus)
        with (
            run_worker(env, label, namespaces, policy, workdir, cpus=sfu_cpus) as worker,
            SyntheticRoom(
                worker, f"bench-{participants}", env.keys.private_path, workdir,
                video_kbit=args.video_kbit, video_size=args.video_size,
            ) as room,
        ):  # fmt: skip
            started = time.monotonic()
            order = {name: i for i, name in enumerate([*unconstrained, *constrained])}

            def joining(batch: list[str]) -> list[str]:
                if not args.join_interval:
                    return []
                offsets = (f"{order[n] * args.join_interval:.2f}" for n in batch)
                return ["--join-offsets", ",".join(offsets)]

            for batch in _batches(unconstrained, args.per_process):
                room.add(
                    batch, options=[*options, *speaking(batch), *joining(batch)], launch=launch
                )
            for name, namespace in zip(constrained, namespaces, strict=True):
                process = room.add(
                    [name], namespace=namespace,
                    options=[*options, *speaking([name]), *joining([name])],
                )  # fmt: skip
                if participant_cpus:
                    os.sched_setaffinity(process.process.pid, participant_cpus)
            all_receiving = True
            join_seconds = None
            try:
                room.wait_ready(args.ready_timeout + joins_last)
                join_seconds = time.monotonic() - started
                if args.speakers < 0:
                    room.wait_receiving(
                        video=unconstrained, audio=constrained, timeout=args.ready_timeout
                    )
                else:
                    _wait_flowing(room, speakers, args.ready_timeout)
            except AssertionError as exc:  # measured anyway: an overloaded room is a result
                all_receiving = False
                logger.warning("N=%d policy=%s: not everyone receives everyone: %s",
                               participants, policy, exc)  # fmt: skip
            # Even when someone failed early: the warm-up starts after the last one joined.
            time.sleep(max(0.0, started + joins_last - time.monotonic()))
            for namespace in namespaces:
                namespace.set_limit(args.rate_kbit)
            warmup_cpu = CpuMeter(worker.pid)
            warmup_drops = udp_socket_drops([p.process.pid for p in room.processes])
            warmup_snmp = udp_snmp()
            warmup_cpu.start()
            time.sleep(args.warmup)
            warmup_cpu.stop()
            warmup_drops = drops_between(
                warmup_drops, udp_socket_drops([p.process.pid for p in room.processes])
            )
            warmup_snmp = {k: v - warmup_snmp.get(k, 0) for k, v in udp_snmp().items()}
            join_states = dict(
                collections.Counter(
                    (process.latest() or {}).get("participants", {}).get(name, {}).get("state")
                    for name, process in room.process_of.items()
                )
            )
            rcvbuf_errors = _udp_rcvbuf_errors()
            generator_pids = [p.process.pid for p in room.processes]
            drops_before = (udp_socket_drops(generator_pids), udp_socket_drops([worker.pid]))
            snmp_before = udp_snmp()
            load_before = os.getloadavg()
            metrics_before = scrape_metrics(worker)
            sfu_cpu = CpuMeter(worker.pid)
            generator_meters = [CpuMeter(p.process.pid) for p in room.processes]
            for meter in generator_meters:
                meter.start()
            participants_cpu = room.cpu_seconds()
            process_cpu = [(p.latest() or {}).get("cpu_seconds", 0.0) for p in room.processes]
            sfu_cpu.start()
            window_started = room.snapshot()
            time.sleep(args.seconds)
            room.snapshot()
            metrics_after = scrape_metrics(worker)
            snmp_after = udp_snmp()
            drops_after = (udp_socket_drops(generator_pids), udp_socket_drops([worker.pid]))
            windows = {
                name: process.window_since(name, window_started)
                for name, process in room.process_of.items()
            }
            published = _published_rates(room, window_started)
            sfu_cpu.stop()
            for meter in generator_meters:
                meter.stop()
            load_average = os.getloadavg()
            rcvbuf_errors = _udp_rcvbuf_errors() - rcvbuf_errors
            quality = None
            if unconstrained:
                received = room.messages(unconstrained[-1], "quality")
                quality = received[-1] if received else None
            states = {
                name: (process.latest() or {}).get("participants", {}).get(name, {}).get("state")
                for name, process in room.process_of.items()
            }
            participants_cpu = room.cpu_seconds() - participants_cpu
            process_cpu = [
                (p.latest() or {}).get("cpu_seconds", 0.0) - before
                for p, before in zip(room.processes, process_cpu, strict=True)
            ]
            if worker.process.poll() is not None:
                raise RuntimeError(f"the worker exited during the measurement: {worker.log_path}")
    finally:
        for namespace in namespaces:
            namespace.close()
    seconds = statistics.mean(w.seconds for w in windows.values())
    packets = {
        kind: sum(
            sum(kinds.get(kind, {}).get("packets", 0) for kinds in w.remotes.values())
            for w in windows.values()
        )
        for kind in ("audio", "video")
    }
    return Point(
        participants=participants,
        policy=policy,
        constrained=len(constrained),
        rate_kbit=args.rate_kbit if constrained else None,
        seconds=sfu_cpu.wall_seconds,
        sfu_cpu_percent=sfu_cpu.percent_of_core,
        forwarded_pps=sum(packets.values()) / seconds,
        participants_cpu_percent=100 * participants_cpu / sfu_cpu.wall_seconds,
        all_receiving=all_receiving,
        connected_at_end=sum(state == "connected" for state in states.values()),
        unconstrained=Group.of([windows[n] for n in unconstrained], speakers),
        constrained_group=Group.of([windows[n] for n in constrained], speakers),
        speakers=speakers,
        audio_pps=packets["audio"] / seconds,
        video_pps=packets["video"] / seconds,
        participant_processes=len(room.processes),
        load_average=load_average,
        sfu_cpu_warmup_percent=warmup_cpu.percent_of_core,
        udp_rcvbuf_errors_per_second=rcvbuf_errors / sfu_cpu.wall_seconds,
        published_video_fps_mean=published.get("video"),
        published_audio_fps_mean=published.get("audio"),
        published_clip_fps_mean=published.get("clip"),
        join_seconds=join_seconds,
        quality=quality,
        per_subscriber={name: w.summary() for name, w in windows.items()},
        receive=args.receive,
        pinned=bool(sfu_cpus),
        metrics={
            name: (metrics_after.get(key, 0.0) - metrics_before.get(key, 0.0))
            / sfu_cpu.wall_seconds
            for name, key in METRICS_RATES.items()
        },
        generator_udp_drops_per_second=drops_between(drops_before[0], drops_after[0])
        / sfu_cpu.wall_seconds,
        sfu_udp_drops_per_second=drops_between(drops_before[1], drops_after[1])
        / sfu_cpu.wall_seconds,
        udp_snmp_delta={
            key: snmp_after[key] - snmp_before.get(key, 0)
            for key in ("InDatagrams", "InErrors", "RcvbufErrors", "SndbufErrors")
            if key in snmp_after
        },
        load_average_before=load_before,
        warmup_generator_udp_drops=warmup_drops,
        warmup_udp_snmp_delta={k: v for k, v in warmup_snmp.items() if k in UDP_ERRORS},
        join_connected_states=join_states,
        generator_cpu_percent=[100 * c / sfu_cpu.wall_seconds for c in process_cpu],
        sfu_run_queue_percent=sfu_cpu.wait_percent,
        sfu_run_queue_warmup_percent=warmup_cpu.wait_percent,
        generator_run_queue_percent=[meter.wait_percent for meter in generator_meters],
        generator_run_queue_max_percent=max(
            (meter.wait_percent for meter in generator_meters), default=None
        ),
    )


COLUMNS = (
    ("N", "participants", "{}"),
    ("policy", "policy", "{}"),
    ("receive", "receive", "{}"),
    ("connected", "connected_at_end", "{}"),
    ("SFU CPU %", "sfu_cpu_percent", "{:.1f}"),
    ("SFU CPU % warm-up", "sfu_cpu_warmup_percent", "{:.0f}"),
    ("SFU loop waiting for a CPU % (warm-up)", ("sfu_run_queue_percent",
                                               "sfu_run_queue_warmup_percent"), "{:.0f} ({:.0f})"),
    ("generators waiting for a CPU % (max)", "generator_run_queue_max_percent", "{:.0f}"),
    ("pkt/s received audio+video", ("audio_pps", "video_pps"), "{:.0f}+{:.0f}"),
    ("SFU frames/s audio+video (/metrics)", ("metrics.forwarded_audio_fps",
                                              "metrics.forwarded_video_fps"), "{:.0f}+{:.0f}"),
    ("SFU dropped frames/s", "metrics.dropped_fps", "{:.0f}"),
    ("video fps per subscriber (all publishers) mean/min",
     ("unconstrained.video_fps_total_mean", "unconstrained.video_fps_total_min"),
     "{:.0f}/{:.0f}"),
    ("videos ≥ 5 fps", "unconstrained.video_streams_mean", "{:.1f}"),
    ("speakers' video fps mean/min", ("unconstrained.speakers_video_fps_mean",
                                      "unconstrained.speakers_video_fps_min"), "{:.1f}/{:.1f}"),
    ("audio loss % by seq mean/max", ("unconstrained.audio_seq_loss_percent_mean",
                                      "unconstrained.audio_seq_loss_percent_max"),
     "{:.2f}/{:.2f}"),
    ("audio loss % by timestamps mean/max", ("unconstrained.audio_loss_percent_mean",
                                             "unconstrained.audio_loss_percent_max"),
     "{:.2f}/{:.2f}"),
    ("speakers' audio loss % mean/max", ("unconstrained.speakers_audio_loss_percent_mean",
                                         "unconstrained.speakers_audio_loss_percent_max"),
     "{:.2f}/{:.2f}"),
    ("silent audio pkt/s per subscriber", "unconstrained.silent_audio_pps_mean", "{:.0f}"),
    ("constrained: video fps, kbit/s", ("constrained_group.video_fps_mean",
                                        "constrained_group.video_kbps_mean"), "{:.1f}, {:.0f}"),
    ("constrained: audio loss % mean/max", ("constrained_group.audio_loss_percent_mean",
                                            "constrained_group.audio_loss_percent_max"),
     "{:.2f}/{:.2f}"),
    ("sent fps video/audio", ("published_video_fps_mean", "published_audio_fps_mean"),
     "{:.1f}/{:.1f}"),
    ("clip pace fps", "published_clip_fps_mean", "{:.1f}"),
    ("generators CPU %", "participants_cpu_percent", "{:.0f}"),
    ("generators' UDP drops/s", "generator_udp_drops_per_second", "{:.0f}"),
    ("SFU's UDP drops/s", "sfu_udp_drops_per_second", "{:.0f}"),
    ("machine RcvbufErrors/InErrors", ("udp_snmp_delta.RcvbufErrors", "udp_snmp_delta.InErrors"),
     "{}/{}"),
    ("load avg before/after", ("load_average_before", "load_average"), "{0[0]:.2f}/{1[0]:.2f}"),
)  # fmt: skip


def _lookup(row: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        if row is None:
            return None
        row = row.get(part)
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table (video and audio columns: the unconstrained participants)."""
    lines = ["| " + " | ".join(name for name, _, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for _, keys, fmt in COLUMNS:
            values = [_lookup(row, k) for k in (keys if isinstance(keys, tuple) else (keys,))]
            cells.append("–" if any(v is None for v in values) else fmt.format(*values))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.constrained:
        from tests.fixtures.netns import remove_stale_namespaces, support_problem

        problem = support_problem()
        if problem:
            raise SystemExit(f"--constrained needs network namespaces: {problem}")
        remove_stale_namespaces()
    points: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    started = time.time()

    def report() -> dict[str, Any]:
        return {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "command": " ".join(sys.argv),
            "arguments": vars(args),
            "machine": {
                "cpus": len(ALL_CPUS),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "aiortc": aiortc.__version__,
                "load_average_at_end": os.getloadavg(),
            },
            "code": {"git_head": _git_head(), "sfu_sources_sha256": sfu_fingerprint()},
            "points": points,
            "failures": failures,
        }

    with bench_environment() as env:
        for repeat in range(args.repeat):
            for n in args.participants:
                for policy in args.policy:
                    # Other people may edit sfu/ while a series runs: each point says what
                    # it measured.
                    code = sfu_fingerprint()
                    try:
                        point = asdict(measure_point(env, args, n, policy))
                    except (AssertionError, RuntimeError, OSError) as exc:
                        logger.warning("N=%d policy=%s failed: %s", n, policy, exc)
                        failures.append({"participants": n, "policy": policy,
                                         "error": str(exc)[:2000], "at": time.time()})  # fmt: skip
                        continue
                    point["sfu_sources_sha256"] = code
                    point["finished_at"] = time.strftime("%H:%M:%S")
                    points.append(point)
                    row = format_table([point]).splitlines()[-1]
                    print(f"[{repeat + 1}/{args.repeat}] {row}", flush=True)
                    if args.output:  # after every point: a crash keeps what was measured
                        args.output.write_text(json.dumps(report(), indent=2, default=str))
    return report()


def _int_list(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.congestion", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--participants", type=_int_list, default=[20, 55])
    parser.add_argument(
        "--policy", type=lambda v: v.split(","), default=["off", "on"],
        help="SFU_QUALITY_POLICY values to measure, comma-separated",
    )  # fmt: skip
    parser.add_argument("--constrained", type=int, default=0, help="participants in namespaces")
    parser.add_argument("--rate-kbit", type=float, default=400, help="their downlink limit")
    parser.add_argument("--queue-ms", type=float, default=150, help="their link's queue")
    parser.add_argument("--per-process", type=int, default=5, help="loopback participants each")
    parser.add_argument(
        "--receive", choices=("cheap", "light", "full"), default="cheap",
        help="how participants receive: cheap = count SRTP by header, never decrypted "
        "(bench/cheap_receive.py); light = decrypt and count (bench/counting.py)",
    )  # fmt: skip
    parser.add_argument(
        "--ignore-constraints", action="store_true",
        help="publishers ignore video-constraints (default: they obey max_framerate)",
    )  # fmt: skip
    parser.add_argument("--video-kbit", type=int, default=300)
    parser.add_argument("--video-size", default="320x240")
    parser.add_argument(
        "--speakers", type=int, default=3,
        help="participants who speak (audio level -20 dBov), the others send silence (-127); "
        "-1: no audio level on any packet",
    )  # fmt: skip
    parser.add_argument(
        "--stats-interval", type=float, default=2.0,
        help="seconds between the participants' stats lines (the window's edges are exact)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=15.0, help="measurement window")
    parser.add_argument(
        "--warmup", type=float, default=20.0,
        help="seconds between everyone receiving and the window (the policy settles in ≈ 5 s)",
    )  # fmt: skip
    parser.add_argument(
        "--join-interval", type=float, default=0.0,
        help="seconds between two participants joining (0: all at once, a join storm)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--pin", action="store_true",
        help="SFU alone on the first CPU, participants on the others; on 2 CPUs the "
        "participants of a 20-room then cannot keep up (they need more than one core)",
    )  # fmt: skip
    parser.add_argument(
        "--ready-timeout", type=float, default=120.0,
        help="seconds for everyone to connect, and then to receive, counted after the last join",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, help="JSON file (default bench/results/…)")
    parser.add_argument(
        "--logs", type=Path,
        help="keep the participants' logs and stats lines here (default: removed at the end)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if set(args.policy) - {"on", "off"}:
        parser.error("--policy takes on and/or off")
    if any(args.constrained >= n for n in args.participants):
        parser.error("--constrained must leave unconstrained participants")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    args.output = args.output or RESULTS_DIR / f"congestion-{time.strftime('%Y%m%d-%H%M%S')}.json"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    output = args.output
    report = run(args)
    output.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(format_table(report["points"]))
    print(f"\nsfu/ sources sha256 {report['code']['sfu_sources_sha256']}, results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
