"""`python -m sfu`: run one SFU worker configured from environment variables (sfu/config.py)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from aiohttp import web

from sfu.app import create_app
from sfu.config import ConfigError, SfuConfig


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
    web.run_app(
        create_app(config), host=config.host, port=config.port, print=None, handle_signals=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
