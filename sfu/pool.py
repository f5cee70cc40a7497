"""`webconf-sfu-pool`: the SFU worker pool of one host (docs/pool.md).

Starts `python -m sfu` workers between SFU_POOL_MIN and SFU_POOL_MAX, each on its own port
(SFU_POOL_BASE_PORT + n - 1) with the id `{host}-{n}`, restarts a worker that dies (with
backoff), and every few seconds asks the autoscaler (sfu/autoscale.py) whether to start one more
or drain one, from the load every worker of every host publishes in Redis. SIGTERM stops the
workers (SIGTERM, then waits) and exits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis

from sfu.autoscale import SCALE_DOWN, SCALE_UP, Autoscaler, WorkerLoad
from sfu.config import ConfigError, SfuConfig

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
DECIDE_SECONDS = 2.0  # as often as workers publish their load
# A worker that ran this long before dying is restarted at once; quicker deaths back off.
STABLE_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 20.0
DRAIN_COMMAND_SECONDS = 24 * 3600  # the worker deletes it when it stops
# A worker's first heartbeats measure its start-up (imports, key loading), not rooms: an empty
# worker younger than this counts as idle, so that a new worker does not start the scale-up
# clock by itself.
WARM_UP_SECONDS = 6.0


_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> None:  # pragma: no cover — runs in the child before exec
    """Linux: the worker gets SIGTERM if the supervisor dies (even by SIGKILL): no orphans."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@dataclass(frozen=True)
class PoolConfig:
    """Settings of the supervisor (the workers read theirs from the same environment)."""

    host_id: str
    min_workers: int = 2
    max_workers: int = 2
    base_port: int = 8443
    public_url: str = ""  # template with {port} and {n}; empty: the worker's own default
    high_water: float = 0.7
    low_water: float = 0.3
    up_after: float = 30.0
    down_after: float = 300.0
    log_dir: Path | None = None  # one sfu-<n>.log per worker; None: the supervisor's output
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PoolConfig:
        env = os.environ if environ is None else environ
        try:
            cpus = os.cpu_count() or 1
            min_workers = int(env.get("SFU_POOL_MIN", "2"))
            config = cls(
                host_id=env.get("SFU_POOL_HOST_ID") or socket.gethostname(),
                min_workers=min_workers,
                max_workers=int(env.get("SFU_POOL_MAX", str(max(min_workers, cpus)))),
                base_port=int(env.get("SFU_POOL_BASE_PORT", "8443")),
                public_url=env.get("SFU_POOL_PUBLIC_URL", ""),
                high_water=float(env.get("SFU_POOL_HIGH_WATER", "0.7")),
                low_water=float(env.get("SFU_POOL_LOW_WATER", "0.3")),
                up_after=float(env.get("SFU_POOL_SCALE_UP_SECONDS", "30")),
                down_after=float(env.get("SFU_POOL_SCALE_DOWN_SECONDS", "300")),
                log_dir=Path(env["SFU_POOL_LOG_DIR"]) if env.get("SFU_POOL_LOG_DIR") else None,
                redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                key_prefix=env.get("REDIS_KEY_PREFIX", ""),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if not 0 < config.min_workers <= config.max_workers:
            raise ConfigError("need 0 < SFU_POOL_MIN <= SFU_POOL_MAX")
        if not 0 <= config.low_water < config.high_water:
            raise ConfigError("need 0 <= SFU_POOL_LOW_WATER < SFU_POOL_HIGH_WATER")
        return config

    def autoscaler(self) -> Autoscaler:
        return Autoscaler(
            min_workers=self.min_workers,
            max_workers=self.max_workers,
            high_water=self.high_water,
            low_water=self.low_water,
            up_after=self.up_after,
            down_after=self.down_after,
        )


@dataclass
class Slot:
    """Worker number `n` of this host: its current process, and when to restart it."""

    n: int
    worker_id: str
    port: int
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # quick deaths in a row
    restart_at: float | None = None
    retiring: bool = False  # told to drain: not restarted when it exits
    restarts: int = 0
    history: list[int] = field(default_factory=list)  # exit codes


def read_pool_load(
    client: redis.Redis, key_prefix: str = "", now: float | None = None
) -> list[WorkerLoad]:
    """Every live worker of every host, from the heartbeat hashes (docs/redis.md); `now` is
    wall-clock time (unix seconds, like the workers' `started_at`)."""
    now = time.time() if now is None else now
    ids = client.zrange(f"{key_prefix}sfu:workers", 0, -1)
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    for worker_id in ids:
        pipe.hgetall(f"{key_prefix}sfu:worker:{worker_id}")
    loads = []
    for worker_id, fields in zip(ids, pipe.execute(), strict=True):
        if not fields.get("url"):
            continue  # expired: dead
        try:
            cpu = float(fields.get("cpu") or 0)
            participants = int(fields.get("participants") or 0)
            rooms = int(fields.get("rooms") or 0)
            started_at = float(fields.get("started_at") or 0)
        except ValueError:
            cpu, participants, rooms, started_at = 0.0, 0, 0, 0.0
        if rooms == 0 and now - started_at < WARM_UP_SECONDS:
            cpu = 0.0  # warming up: idle capacity, whatever its start-up cost
        loads.append(WorkerLoad(worker_id, cpu, participants, fields.get("draining") == "1"))
    return loads


class PoolSupervisor:
    """Owns this host's worker processes: `run()` loops until `stop()` (or SIGTERM)."""

    def __init__(
        self,
        config: PoolConfig,
        environ: Mapping[str, str] | None = None,
        autoscaler: Autoscaler | None = None,
    ) -> None:
        self.config = config
        self._environ = dict(os.environ if environ is None else environ)
        self.autoscaler = autoscaler or config.autoscaler()
        self._redis = redis.Redis.from_url(
            config.redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5
        )
        self.slots: dict[int, Slot] = {}
        self._stopping = False
        self._next_decision = 0.0
        self.last_decision = None

    # -- processes ------------------------------------------------------------------------

    def _new_slot(self) -> Slot | None:
        for n in range(1, self.config.max_workers + 1):
            if n not in self.slots:
                slot = Slot(n, f"{self.config.host_id}-{n}", self.config.base_port + n - 1)
                self.slots[n] = slot
                return slot
        return None

    def worker_env(self, slot: Slot) -> dict[str, str]:
        env = {**self._environ, "SFU_PORT": str(slot.port), "SFU_WORKER_ID": slot.worker_id}
        if self.config.public_url:
            env["SFU_PUBLIC_URL"] = self.config.public_url.format(port=slot.port, n=slot.n)
        else:  # one URL for all would be wrong: each worker derives its own
            env.pop("SFU_PUBLIC_URL", None)
        return env

    def _spawn(self, slot: Slot, now: float) -> None:
        try:  # a drain command left by a killed predecessor must not drain the new worker
            self._redis.delete(f"{self.config.key_prefix}sfu:worker:{slot.worker_id}:drain")
        except redis.RedisError:
            logger.warning("cannot clear the drain command of %s", slot.worker_id)
        if self.config.log_dir is not None:
            output = open(self.config.log_dir / f"sfu-{slot.n}.log", "ab")  # noqa: SIM115
        else:
            output = None
        try:
            slot.process = subprocess.Popen(
                [sys.executable, "-m", "sfu"],
                env=self.worker_env(slot),
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                preexec_fn=_die_with_supervisor if sys.platform == "linux" else None,
            )
        finally:
            if output is not None:
                output.close()  # the child has its own descriptor
        slot.started_at, slot.restart_at = now, None
        logger.info(
            "started worker %s (pid %d, port %d)", slot.worker_id, slot.process.pid, slot.port
        )

    def start_worker(self, now: float) -> Slot | None:
        slot = self._new_slot()
        if slot is not None:
            self._spawn(slot, now)
        return slot

    def drain_worker(self, worker_id: str) -> None:
        """Tell one of this host's workers to drain; it exits when empty and is not restarted."""
        slot = next((s for s in self.slots.values() if s.worker_id == worker_id), None)
        if slot is None:
            raise KeyError(worker_id)
        slot.retiring = True
        self._redis.set(
            f"{self.config.key_prefix}sfu:worker:{worker_id}:drain", "1", ex=DRAIN_COMMAND_SECONDS
        )
        logger.info("told worker %s to drain", worker_id)

    def active_ids(self) -> list[str]:
        """This host's workers that are running (or about to restart) and not draining."""
        return [s.worker_id for s in self.slots.values() if not s.retiring]

    def _reap(self, now: float) -> None:
        for slot in list(self.slots.values()):
            if slot.process is None or (code := slot.process.poll()) is None:
                continue
            slot.process = None
            slot.history.append(code)
            serving = len(self.active_ids())
            if slot.retiring or (code == 0 and serving > self.config.min_workers):
                logger.info("worker %s exited (%d) after draining", slot.worker_id, code)
                del self.slots[slot.n]
                continue
            ran = now - slot.started_at
            slot.failures = 0 if ran >= STABLE_SECONDS else slot.failures + 1
            delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** max(0, slot.failures - 1))
            delay = 0.0 if slot.failures == 0 else delay
            slot.restart_at = now + delay
            logger.warning(
                "worker %s (port %d) exited with %d after %.0f s: restart in %.1f s",
                slot.worker_id,
                slot.port,
                code,
                ran,
                delay,
            )

    def tick(self, now: float) -> None:
        self._reap(now)
        for slot in list(self.slots.values()):
            if slot.process is None and slot.restart_at is not None and now >= slot.restart_at:
                slot.restarts += 1
                self._spawn(slot, now)
        while len(self.active_ids()) < self.config.min_workers:
            if self.start_worker(now) is None:
                break
        if now >= self._next_decision:
            self._next_decision = now + DECIDE_SECONDS
            self.autoscale(now)

    def autoscale(self, now: float) -> None:
        try:
            pool = read_pool_load(self._redis, self.config.key_prefix, time.time())
        except redis.RedisError:
            logger.warning("cannot read the pool's load from Redis", exc_info=True)
            return
        decision = self.autoscaler.decide(now, pool, self.active_ids())
        self.last_decision = decision
        if decision.action == SCALE_UP and not self._claim_scale_up():
            logger.info("pool hot, but another host is adding a worker: waiting")
        elif decision.action == SCALE_UP:
            slot = self.start_worker(now)
            if slot is not None:
                logger.info("scale up: %s (%s)", slot.worker_id, decision.reason)
        elif decision.action == SCALE_DOWN and decision.worker_id is not None:
            logger.info("scale down: draining %s (%s)", decision.worker_id, decision.reason)
            try:
                self.drain_worker(decision.worker_id)
            except (KeyError, redis.RedisError):
                logger.warning("could not drain %s", decision.worker_id, exc_info=True)

    def _claim_scale_up(self) -> bool:
        """Only one host of the pool adds a worker per scale-up period.

        Every supervisor sees the same pool load and would otherwise start a worker at the same
        moment; the first to set the key wins, and the others see the effect of its new worker
        before their next turn. If Redis fails here, scale up anyway (a spare worker is cheaper
        than a saturated pool).
        """
        key = f"{self.config.key_prefix}sfu:pool:scale-up"
        hold = max(int(self.config.up_after), int(2 * DECIDE_SECONDS))
        try:
            return bool(self._redis.set(key, self.config.host_id, nx=True, ex=hold))
        except redis.RedisError:
            logger.warning("cannot claim the scale-up turn in Redis", exc_info=True)
            return True

    # -- lifetime -------------------------------------------------------------------------

    def run(self) -> None:
        logger.info(
            "SFU pool of host %s: %d to %d workers from port %d",
            self.config.host_id,
            self.config.min_workers,
            self.config.max_workers,
            self.config.base_port,
        )
        try:
            while not self._stopping:
                self.tick(time.monotonic())
                time.sleep(TICK_SECONDS)
        finally:
            self.stop_workers()

    def stop(self, *_args) -> None:
        """Ask `run()` to stop the workers and return (safe from a signal handler)."""
        self._stopping = True

    def stop_workers(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        processes = [s.process for s in self.slots.values() if s.process is not None]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("worker pid %d ignored SIGTERM: killed", process.pid)
                process.kill()
                process.wait()
        self._redis.close()
        logger.info("SFU pool of host %s stopped", self.config.host_id)


def main(argv: list[str] | None = None) -> int:
    try:
        config = PoolConfig.from_env()
        SfuConfig.from_env()  # the workers' own settings: fail here, not in a restart loop
    except ConfigError as exc:
        print(f"webconf-sfu-pool: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("SFU_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    supervisor = PoolSupervisor(config)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
