"""Clients of outside services, one per application, created on first use."""

from __future__ import annotations

from pathlib import Path

import redis
from flask import current_app

from portal.media.placement import Placement

_REDIS_KEY = "webconf.redis"
_PRIVATE_KEY_KEY = "webconf.join_token_private_key"


class JoinTokenKeyMissing(RuntimeError):
    """JOIN_TOKEN_PRIVATE_KEY_FILE is unset: the portal cannot let anyone into a room."""


def redis_client() -> redis.Redis:
    client = current_app.extensions.get(_REDIS_KEY)
    if client is None:
        client = redis.Redis.from_url(
            current_app.config["REDIS_URL"],
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=30,
        )
        current_app.extensions[_REDIS_KEY] = client
    return client


def placement() -> Placement:
    return Placement(redis_client(), key_prefix=current_app.config["REDIS_KEY_PREFIX"])


def join_token_private_key() -> bytes:
    key = current_app.extensions.get(_PRIVATE_KEY_KEY)
    if key is None:
        path = current_app.config["JOIN_TOKEN_PRIVATE_KEY_FILE"]
        if not path:
            raise JoinTokenKeyMissing("JOIN_TOKEN_PRIVATE_KEY_FILE is not set")
        key = Path(path).read_bytes()
        current_app.extensions[_PRIVATE_KEY_KEY] = key
    return key
