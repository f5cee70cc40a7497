"""Runs the whole platform on one machine for a newcomer: `bash .ci/demo`.

Starts a private Redis, the development identity provider with its demo ministries and agents,
a pool of SFU workers and the portal under gunicorn + gevent, then prints where to go. Every
process logs to .demo/logs/; if one dies the others are stopped and its log tail is shown.
Nothing here is meant for production: see ansible/ for that.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aioice.ice

from portal.devidp.launcher import DEMO_CLIENT_ID, demo_config, start_idp
from portal.media.join_tokens import generate_keypair

REPO = Path(__file__).resolve().parent.parent
READY_LINE_PREFIX = "  Portail de webconférence (démo) : "


@dataclass
class Supervisor:
    """Owns the child processes: starts them with a log file each, stops them all together."""

    log_dir: Path
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 — closed with the process
        process = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.children.append((name, process))

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        self.children.append((name, process))

    def first_dead(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name
        return None

    def stop_all(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, supervisor: Supervisor, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.first_dead():
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} did not start on port {port}:\n{supervisor.log_tail(name)}")


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text()


@dataclass(frozen=True)
class DemoState:
    """Keys and secrets kept across demo runs, so that sign-ins survive a restart."""

    directory: Path
    private_key: Path
    public_key: Path
    secret_key: str
    client_secret: str

    @classmethod
    def prepare(cls, directory: Path) -> DemoState:
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        private_key, public_key = directory / "join.key", directory / "join.pub"
        if not private_key.exists() or not public_key.exists():
            private_pem, public_pem = generate_keypair()
            private_key.write_bytes(private_pem)
            private_key.chmod(0o600)
            public_key.write_bytes(public_pem)
        return cls(
            directory=directory,
            private_key=private_key,
            public_key=public_key,
            secret_key=read_or_create(directory / "secret_key", lambda: secrets.token_hex(32)),
            client_secret=read_or_create(
                directory / "oidc_client_secret", lambda: secrets.token_urlsafe(24)
            ),
        )


def ice_addresses() -> str:
    """Loopback (for browsers started with --allow-loopback-in-peer-connection) and the host's
    own addresses (what an ordinary browser on this machine or the LAN gathers)."""
    own = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    return ",".join(["127.0.0.1", *own])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="portal port (8000)")
    parser.add_argument("--idp-port", type=int, default=9000, help="identity provider port (9000)")
    parser.add_argument("--redis-port", type=int, default=6390, help="private Redis port (6390)")
    parser.add_argument("--sfu-port", type=int, default=8100, help="first SFU worker port (8100)")
    parser.add_argument("--workers", type=int, default=2, help="SFU workers in the pool (2)")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".demo", help="(.demo/)")
    args = parser.parse_args(argv)
    sfu_ports = [args.sfu_port + i for i in range(args.workers)]
    wanted = (args.port, args.idp_port, args.redis_port, *sfu_ports)
    busy = [port for port in wanted if not port_is_free(port)]
    if busy:
        raise SystemExit(f"Ports already in use: {busy}. Stop what uses them, or see --help.")

    state = DemoState.prepare(args.state_dir)
    portal_url = f"http://localhost:{args.port}"
    issuer = f"http://localhost:{args.idp_port}"
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    supervisor = Supervisor(state.directory / "logs")

    portal_env = {
        "SECRET_KEY": state.secret_key,
        "DATABASE_URL": f"sqlite:///{state.directory / 'webconf.sqlite3'}",
        "REDIS_URL": redis_url,
        "PORTAL_URL": portal_url,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": DEMO_CLIENT_ID,
        "OIDC_CLIENT_SECRET": state.client_secret,
        "JOIN_TOKEN_PRIVATE_KEY_FILE": str(state.private_key),
        "FLASK_APP": "portal",
    }

    def stop(*_):
        supervisor.stop_all()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        supervisor.start(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(args.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(state.directory),
            ],
        )
        wait_for_port(args.redis_port, supervisor, "redis")

        config = demo_config(
            port=args.idp_port,
            client_id=DEMO_CLIENT_ID,
            client_secret=state.client_secret,
            redirect_uri=f"{portal_url}/auth/callback",
            post_logout_redirect_uri=f"{portal_url}/",
            issuer=issuer,
        )
        idp = start_idp(config, log_path=state.directory / "logs" / "idp.log")
        supervisor.adopt("idp", idp.process)

        # Migrations are a deploy step, never part of the portal's start-up.
        with open(state.directory / "logs" / "migrate.log", "ab") as log:
            subprocess.run(
                [sys.executable, "-m", "flask", "db", "upgrade"],
                cwd=REPO,
                env={**os.environ, **portal_env},
                check=True,
                stdout=log,
                stderr=log,
            )

        for index, port in enumerate(sfu_ports):
            supervisor.start(
                f"sfu-{index + 1}",
                [sys.executable, "-m", "sfu"],
                {
                    "SFU_HOST": "127.0.0.1",
                    "SFU_PORT": str(port),
                    "SFU_PUBLIC_URL": f"ws://localhost:{port}/ws",
                    "SFU_WORKER_ID": f"demo-{index + 1}",
                    "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE": str(state.public_key),
                    "SFU_ICE_ADDRESSES": ice_addresses(),
                    "SFU_JOIN_TOKEN_ISSUER": portal_url,
                    "REDIS_URL": redis_url,
                },
            )
        for index, port in enumerate(sfu_ports):
            wait_for_port(port, supervisor, f"sfu-{index + 1}")

        supervisor.start(
            "portal",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-k",
                "gevent",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{args.port}",
                "portal.wsgi:app",
            ],
            portal_env,
        )
        wait_for_port(args.port, supervisor, "portal")
        print_welcome(portal_url, config, len(sfu_ports), supervisor.log_dir)

        while (dead := supervisor.first_dead()) is None:
            time.sleep(0.5)
        print(f"\n{dead} stopped unexpectedly:\n{supervisor.log_tail(dead)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop_all()


def print_welcome(portal_url: str, idp_config: dict, worker_count: int, log_dir: Path) -> None:
    print()
    print(f"{READY_LINE_PREFIX}{portal_url}")
    print(f"  {worker_count} workers SFU, Redis privé, identité : {idp_config['issuer']}")
    print("  Comptes de démonstration (identifiant / mot de passe) :")
    for account in idp_config["accounts"]:
        organisation = account.get("claims", {}).get("organization", "")
        print(f"    {account['login']:<34} {account['password']:<12} {organisation}")
    print(f"  Journaux : {log_dir}   Arrêt : Ctrl-C")
    print()
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
