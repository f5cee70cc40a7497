"""CPU cost of one 1200-byte UDP sendto on loopback, with and without a reader process to wake.

    .venv/bin/python -m bench.sendto_cost

On loopback the kernel delivers the datagram, and wakes a reader blocked on the socket, inside
the sender's system call: this shows how much of that the sender pays. Only the sendto calls are
timed (thread CPU time around each call, so the pacing sleeps are not counted).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time

PAYLOAD = b"x" * 1200


def _receiver() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    return sock, sock.getsockname()[1]


def measure(with_reader: bool, packets: int, interval: float) -> tuple[float, float]:
    """(median, mean) µs of CPU per sendto, sending one packet every `interval` seconds."""
    receiver, port = _receiver()
    child = None
    if with_reader:
        child = os.fork()
        if child == 0:  # the reader: blocks in recv, as a subscriber does
            receiver.settimeout(2)
            try:
                while True:
                    receiver.recv(2048)
            except OSError:
                os._exit(0)
    else:
        receiver.setblocking(False)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    time.sleep(0.2)
    costs = []
    for index in range(packets):
        before = time.thread_time_ns()
        sender.sendto(PAYLOAD, ("127.0.0.1", port))
        costs.append(time.thread_time_ns() - before)
        if with_reader:
            time.sleep(interval)  # let the reader block again before the next packet
        elif index % 200 == 0:
            try:  # keep the socket buffer from filling: nobody is waiting on it
                while True:
                    receiver.recv(2048)
            except BlockingIOError:
                pass
    if child:
        os.waitpid(child, 0)
    sender.close()
    receiver.close()
    return statistics.median(costs) / 1000, statistics.fmean(costs) / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=0.0004)
    args = parser.parse_args(argv)
    idle = measure(False, args.packets, args.interval)
    woken = measure(True, args.packets, args.interval)
    for label, (median, mean) in (
        ("nobody waiting on the socket", idle),
        ("a reader process blocked on it", woken),
    ):
        print(f"sendto, {label}: {median:.1f} µs CPU median, {mean:.1f} µs mean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
