"""`python -m sfu`: run one SFU worker configured from environment variables (sfu/config.py)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import threading
import time

from aiohttp import web

from sfu.app import create_app
from sfu.config import ConfigError, SfuConfig
from sfu.datagrams import install as read_datagrams_in_batches
from sfu.gc_tuning import configure as configure_gc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sfu", description=__doc__)
    parser.add_argument("--host", help="overrides SFU_HOST")
    parser.add_argument("--port", type=int, help="overrides SFU_PORT")
    args = parser.parse_args(argv)
    try:
        config = SfuConfig.from_env()
    except ConfigError as exc:
        print(f"sfu: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.host or args.port:
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v}
        if not os.environ.get("SFU_PUBLIC_URL"):
            overrides["public_url"] = ""
        config = dataclasses.replace(config, **overrides)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Quiet aiortc/aioice debug chatter unless explicitly asked for.
    logging.getLogger("aioice").setLevel(logging.WARNING)
    configure_gc()
    read_datagrams_in_batches()
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        print=None,
        handle_signals=True,
        # Worker.stop() has closed every WebSocket by then; a handler still running (a
        # connection caught mid-negotiation) must not hold the exit for aiohttp's default 60 s.
        shutdown_timeout=3,
    )
    exit_despite_leftover_threads()
    return 0


def exit_despite_leftover_threads(grace_seconds: float = 2.0) -> None:
    """After a clean stop, leave even if non-daemon threads linger.

    aiortc runs one non-daemon decoder thread per received track and stops it only when the
    receiver is stopped; a peer connection caught mid-negotiation at shutdown can leave one
    behind, and the interpreter would wait for it forever. The threads are named in the log so
    the leak stays visible.
    """
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        leftovers = [
            thread
            for thread in threading.enumerate()
            if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
        ]
        if not leftovers:
            return
        time.sleep(0.05)
    logging.getLogger("sfu").warning(
        "exiting with threads still running: %s", ", ".join(t.name for t in leftovers)
    )
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
