"""Scale-up time of the pool supervisor: hot pool → a new worker registered in Redis.

    .venv/bin/python -m bench.scaleup --runs 5 --scale-up-seconds 2

Each run, on 127.0.0.1 only: a private Redis (bench/servers.py) and the real supervisor
`python -m sfu.pool` (SFU_POOL_MIN=1, SFU_POOL_MAX=2, SFU_POOL_SCALE_UP_SECONDS as given, other
settings at their defaults). Once its first worker is registered, synthetic hot workers of another
host are written to Redis (cpu 0.98 hashes + `sfu:workers` scores, as tests/sfu/test_pool.py
does), which puts the pool's average CPU above the 0.7 high-water mark. Measured from that
write: the new worker's port open (process started) and its `sfu:worker:{id}` hash (registered,
i.e. placeable). The figure is made of SFU_POOL_SCALE_UP_SECONDS, the supervisor's 2 s decision
period (the clock starts at the first decision that sees the hot pool) and a worker's start.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid

import redis

from bench.servers import ISSUER, REPO_ROOT, bench_environment, free_port
from sfu.pool import DECIDE_SECONDS

RESULTS_DIR = REPO_ROOT / "bench" / "results"
HOT_WORKERS = 3
HOT_CPU = "0.98"
COOL_CPU = 0.3  # the low-water mark: a decision seeing this resets the clock


def two_consecutive_ports() -> int:
    for _ in range(50):
        base = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise RuntimeError("no two consecutive free ports")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.1):
            return True
    except OSError:
        return False


def wait(predicate, timeout: float, what: str, step: float = 0.01) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(step)
    return time.monotonic()


def stop_supervisor(process: subprocess.Popen) -> None:
    """SIGTERM (it stops its workers, docs/pool.md), SIGKILL after 30 s; this pid only."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # its workers get SIGTERM through PR_SET_PDEATHSIG
            process.wait(timeout=10)


def one_run(scale_up_seconds: float) -> dict:
    with bench_environment() as env:
        host = "bench" + uuid.uuid4().hex[:6]
        base = two_consecutive_ports()
        variables = {
            **os.environ,
            "SFU_HOST": "127.0.0.1",
            "SFU_ICE_ADDRESSES": "127.0.0.1",
            "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE": str(env.keys.public_path),
            "SFU_JOIN_TOKEN_ISSUER": ISSUER,
            "REDIS_URL": env.redis_url,
            "SFU_POOL_HOST_ID": host,
            "SFU_POOL_MIN": "1",
            "SFU_POOL_MAX": "2",
            "SFU_POOL_BASE_PORT": str(base),
            "SFU_POOL_SCALE_UP_SECONDS": str(scale_up_seconds),
            "SFU_POOL_LOG_DIR": str(env.workdir),
            "SFU_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO_ROOT),
        }
        log = (env.workdir / "pool.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "sfu.pool"],
            cwd=REPO_ROOT,
            env=variables,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        r = redis.Redis.from_url(env.redis_url, decode_responses=True)
        try:
            wait(lambda: r.exists(f"sfu:worker:{host}-1"), 30, "first worker registered")
            # A worker's first beats may report its start-up CPU (above the mark by itself):
            # wait for a cool reading, then for a decision that saw the cool pool.
            wait(
                lambda: float(r.hget(f"sfu:worker:{host}-1", "cpu") or 1) < COOL_CPU,
                30,
                "first worker idle",
                step=0.1,
            )
            first_cpu = r.hget(f"sfu:worker:{host}-1", "cpu")
            time.sleep(DECIDE_SECONDS + 0.5 + random.uniform(0, DECIDE_SECONDS))  # noqa: S311
            hot = [f"autre-hote-{n}" for n in range(1, HOT_WORKERS + 1)]

            def heat() -> None:
                for other in hot:
                    key = f"sfu:worker:{other}"
                    r.hset(key, mapping={"url": "ws://x/ws", "cpu": HOT_CPU, "draining": "0"})
                    r.expire(key, 60)
                    r.zadd("sfu:workers", {other: time.time()})

            heat()
            crossed = time.monotonic()
            second = f"sfu:worker:{host}-2"
            started = registered = None
            deadline = crossed + scale_up_seconds + 60
            while registered is None:
                now = time.monotonic()
                if now > deadline:
                    raise TimeoutError("no second worker within the deadline")
                if process.poll() is not None:
                    raise RuntimeError(f"supervisor exited with {process.returncode}")
                if started is None and port_open(base + 1):
                    started = now
                if r.exists(second):
                    registered = now
                time.sleep(0.01)
            return {
                "host": host,
                "port_open_s": round(started - crossed, 3) if started else None,
                "registered_s": round(registered - crossed, 3),
                "own_worker_cpu_before": float(first_cpu),
            }
        finally:
            stop_supervisor(process)
            log.close()
            r.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scale-up-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    runs = []
    for number in range(1, args.runs + 1):
        result = one_run(args.scale_up_seconds)
        runs.append(result)
        print(
            f"run {number}: port open {result['port_open_s']} s, "
            f"registered {result['registered_s']:.2f} s after the pool crossed the high-water mark",
            flush=True,
        )
    figures = [run["registered_s"] for run in runs]
    summary = {
        "runs": len(runs),
        "SFU_POOL_SCALE_UP_SECONDS": args.scale_up_seconds,
        "decision_period_s": DECIDE_SECONDS,
        "median_registered_s": round(statistics.median(figures), 3),
        "worst_registered_s": round(max(figures), 3),
        "best_registered_s": round(min(figures), 3),
    }
    print(
        f"\nhigh-water crossed → new worker registered, SFU_POOL_SCALE_UP_SECONDS="
        f"{args.scale_up_seconds:g}, {len(runs)} runs: median {summary['median_registered_s']:.2f}"
        f" s, worst {summary['worst_registered_s']:.2f} s, best {summary['best_registered_s']:.2f}"
        f" s. Dominated by SFU_POOL_SCALE_UP_SECONDS plus the {DECIDE_SECONDS:g} s decision period"
        " plus a worker's process start and first heartbeat; the default setting is 30 s."
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"scaleup-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))
    print(f"written {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
