"""Free TCP ports on loopback for the servers the demo and the tests start.

A port from bind(0) comes from the kernel's ephemeral range, the same range outgoing connections
draw from: between the check and the server's own bind, a client connection (Redis, HTTP) could
take it. Ports are therefore drawn below that range, where only listening servers live.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_FALLBACK_EPHEMERAL_START = 32768
_LOWEST = 20000


def _ephemeral_range_start() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return _FALLBACK_EPHEMERAL_START


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        # As servers bind: connections of a server that just stopped linger in TIME_WAIT, and
        # without SO_REUSEADDR the port would look busy for a minute after a restart.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_ports(
    count: int = 1, *, consecutive: bool = False, exclude: set[int] = frozenset()
) -> list[int]:
    """`count` free ports (in a row when `consecutive`), none in `exclude`."""
    highest = max(_LOWEST + 1000, _ephemeral_range_start()) - count
    chosen: list[int] = []
    for _ in range(10_000):
        if consecutive:
            first = random.randrange(_LOWEST, highest)  # noqa: S311 — not a secret
            candidates = list(range(first, first + count))
        else:
            candidates = [random.randrange(_LOWEST, highest)]  # noqa: S311
        if any(p in exclude or p in chosen or not port_is_free(p) for p in candidates):
            continue
        chosen.extend(candidates)
        if len(chosen) >= count:
            return chosen[:count]
    raise RuntimeError(f"no {count} free local ports found")


def free_port() -> int:
    return free_ports(1)[0]
