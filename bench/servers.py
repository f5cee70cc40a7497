"""Processes the bench measures against: a private Redis, and an SFU worker (or the baseline).

Everything binds to 127.0.0.1 on free ports and is stopped by the context managers, so a run
leaves nothing behind. The SFU is started exactly as in production (`python -m sfu` configured by
environment variables); the baseline is `python -m bench.naive_relay` with the same variables.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portal.media.join_tokens import generate_keypair

REPO_ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://bench.invalid"

# System name → module started with `python -m`.
SYSTEMS = {"sfu": "sfu", "naive-relay": "bench.naive_relay"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time (only this process, by its pid)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@dataclass(frozen=True)
class BenchKeys:
    """Join-token key pair in files: the SFU reads the public one, load generators sign."""

    private_path: Path
    public_path: Path


@dataclass(frozen=True)
class Environment:
    """What every SFU process of a run shares: a scratch directory, keys and a Redis."""

    workdir: Path
    keys: BenchKeys
    redis_url: str


@contextlib.contextmanager
def bench_environment() -> Iterator[Environment]:
    """A scratch directory, a join-token key pair and a private Redis, removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="webconf-bench-"))
    redis_process = None
    try:
        private_pem, public_pem = generate_keypair()
        keys = BenchKeys(workdir / "join.key", workdir / "join.pub")
        keys.private_path.write_bytes(private_pem)
        keys.public_path.write_bytes(public_pem)
        port = free_port()
        redis_process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(port, redis_process)
        yield Environment(workdir, keys, f"redis://127.0.0.1:{port}/0")
    finally:
        if redis_process is not None:
            stop_process(redis_process)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class RunningServer:
    """A started SFU (or baseline) process and the URL its clients connect to."""

    system: str
    process: subprocess.Popen
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def run_server(system: str, env: Environment, worker_id: str) -> Iterator[RunningServer]:
    """Start `python -m sfu` (or the baseline) on a free loopback port; stop it on exit."""
    port = free_port()
    log_path = env.workdir / f"{worker_id}.log"
    variables = {
        **os.environ,
        "SFU_HOST": "127.0.0.1",
        "SFU_PORT": str(port),
        "SFU_PUBLIC_URL": f"ws://127.0.0.1:{port}/ws",
        "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE": str(env.keys.public_path),
        "SFU_JOIN_TOKEN_ISSUER": ISSUER,
        "SFU_ICE_ADDRESSES": "127.0.0.1",
        "REDIS_URL": env.redis_url,
        "SFU_WORKER_ID": worker_id,
        "SFU_LOG_LEVEL": os.environ.get("BENCH_SFU_LOG_LEVEL", "WARNING"),
        "PYTHONPATH": str(REPO_ROOT),
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", SYSTEMS[system]],
            cwd=REPO_ROOT,
            env=variables,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_for_port(port, process)
        except (RuntimeError, TimeoutError) as exc:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{system} did not start: {exc}\n{tail}") from exc
        yield RunningServer(system, process, f"ws://127.0.0.1:{port}/ws", log_path)
    finally:
        stop_process(process)
