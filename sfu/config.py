"""Worker configuration, read once from environment variables at start-up.

Every variable, its default and its meaning:

- ``SFU_HOST`` (default ``127.0.0.1``): address the signalling HTTP/WebSocket server binds to.
- ``SFU_PORT`` (default ``8443``): port of the signalling server.
- ``SFU_PUBLIC_URL`` (default ``ws://{SFU_HOST}:{SFU_PORT}/ws``): the WebSocket URL browsers use
  to reach this worker (behind a TLS proxy, set the ``wss://`` URL). Published in Redis.
- ``SFU_JOIN_TOKEN_PUBLIC_KEY_FILE`` (required): PEM file of the portal's Ed25519 public key.
- ``SFU_JOIN_TOKEN_ISSUER`` (required): the portal's public URL, the only accepted ``iss``.
- ``SFU_ICE_ADDRESSES`` (default empty = every non-loopback interface address, aioice's
  behaviour): comma-separated IP addresses offered as ICE host candidates, e.g. ``127.0.0.1``.
- ``SFU_ICE_ANNOUNCED_ADDRESSES`` (default empty = announce what we bind): for a host behind a
  1:1 NAT (the same port on both sides), comma-separated ``private=public`` pairs, e.g.
  ``10.0.0.5=203.0.113.7``; each private address must be in ``SFU_ICE_ADDRESSES``. The worker
  still binds and gathers on the private address; every SDP it sends names the public one
  instead (sfu/ice.py ``announce_addresses``). With exactly one ``SFU_ICE_ADDRESSES``, the
  public address alone is enough (``203.0.113.7``).
- ``SFU_ICE_SERVERS`` (default empty = none): comma-separated STUN/TURN URLs of our own servers.
  TURN credentials go in ``SFU_ICE_USERNAME`` / ``SFU_ICE_CREDENTIAL``. No third-party server
  is ever contacted by default.
- ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``): Redis for the worker registry;
  ``REDIS_KEY_PREFIX`` (default empty) prefixes every key (see docs/redis.md).
- ``SFU_WORKER_ID`` (default random ``sfu-<12 hex>``): this worker's id in Redis.
- ``SFU_MAX_MESSAGE_BYTES`` (default ``524288``): largest signalling message accepted once
  joined (before ``join``: 16 KiB). The SDP answer of a participant in a room of 55 is about
  70 KB (aiortc, 110 m-lines) and grows with churn (aiortc cannot remove m-lines).
- ``SFU_LOG_LEVEL`` (default ``INFO``).
- ``SFU_MAX_DRAIN_SECONDS`` (default ``1800``): once told to drain (docs/pool.md), the worker
  exits when its last room empties or after this long, closing who is left with 4503.
- ``SFU_QUALITY_POLICY`` (default ``on``): ``off`` disables the congestion policy of rooms of
  more than five (docs/congestion.md); each subscriber keeps its own protection (bounded
  queues, video dropped before audio). ``off`` exists for benchmarks and diagnosis.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A required variable is missing or a value is malformed."""


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _ip_address(value: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise ConfigError(f"{what}: {value.strip()!r} is not an IP address") from None


def parse_announced_addresses(value: str, ice_addresses: tuple[str, ...]) -> dict[str, str]:
    """SFU_ICE_ANNOUNCED_ADDRESSES as {private: public}, checked against SFU_ICE_ADDRESSES
    (see the module docstring); raises ConfigError naming what is wrong."""
    name = "SFU_ICE_ANNOUNCED_ADDRESSES"
    items = _split_list(value)
    if not items:
        return {}
    bound = {_ip_address(address, "SFU_ICE_ADDRESSES") for address in ice_addresses}
    if len(items) == 1 and "=" not in items[0]:
        if len(bound) != 1:
            raise ConfigError(
                f"{name}: a lone public address ({items[0]}) needs exactly one address in "
                f"SFU_ICE_ADDRESSES (it has {len(bound)}); write private=public pairs"
            )
        items = (f"{next(iter(bound))}={items[0]}",)
    announced: dict[str, str] = {}
    for item in items:
        private_text, separator, public_text = item.partition("=")
        if not separator:
            raise ConfigError(f"{name}: {item!r} is not a private=public pair")
        private = _ip_address(private_text, name)
        public = _ip_address(public_text, name)
        if private.version != public.version:
            raise ConfigError(f"{name}: {item!r} maps IPv{private.version} to IPv{public.version}")
        if private not in bound:
            raise ConfigError(
                f"{name}: {private} is not in SFU_ICE_ADDRESSES, the worker never binds to it"
            )
        if str(private) in announced:
            raise ConfigError(f"{name}: {private} is announced twice")
        announced[str(private)] = str(public)
    return announced


@dataclass(frozen=True)
class SfuConfig:
    join_token_public_key: bytes
    join_token_issuer: str
    host: str = "127.0.0.1"
    port: int = 8443
    public_url: str = ""
    ice_addresses: tuple[str, ...] = ()
    # Private (bound) address → public address announced in its place (1:1 NAT).
    ice_announced_addresses: dict[str, str] = field(default_factory=dict)
    ice_servers: tuple[str, ...] = ()
    ice_username: str | None = None
    ice_credential: str | None = None
    redis_url: str | None = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = ""
    worker_id: str = field(default_factory=lambda: "sfu-" + secrets.token_hex(6))
    max_message_bytes: int = 524288
    # Seconds a client has to send `join`, and to answer an offer.
    join_timeout: float = 10.0
    answer_timeout: float = 15.0
    log_level: str = "INFO"
    max_drain_seconds: float = 1800.0
    quality_policy: bool = True

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", f"ws://{self.host}:{self.port}/ws")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SfuConfig:
        env = os.environ if environ is None else environ
        key_file = env.get("SFU_JOIN_TOKEN_PUBLIC_KEY_FILE")
        issuer = env.get("SFU_JOIN_TOKEN_ISSUER")
        if not key_file or not issuer:
            raise ConfigError(
                "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE and SFU_JOIN_TOKEN_ISSUER must be set"
            )
        try:
            public_key = Path(key_file).read_bytes()
            port = int(env.get("SFU_PORT", "8443"))
            max_message_bytes = int(env.get("SFU_MAX_MESSAGE_BYTES", "524288"))
            max_drain_seconds = float(env.get("SFU_MAX_DRAIN_SECONDS", "1800"))
        except (OSError, ValueError) as exc:
            raise ConfigError(str(exc)) from exc
        ice_addresses = _split_list(env.get("SFU_ICE_ADDRESSES", ""))
        announced = parse_announced_addresses(
            env.get("SFU_ICE_ANNOUNCED_ADDRESSES", ""), ice_addresses
        )
        quality_policy = env.get("SFU_QUALITY_POLICY", "on").strip().lower()
        if quality_policy not in ("on", "off"):
            raise ConfigError("SFU_QUALITY_POLICY must be 'on' or 'off'")
        optional = {
            name: env[var]
            for name, var in (
                ("worker_id", "SFU_WORKER_ID"),
                ("ice_username", "SFU_ICE_USERNAME"),
                ("ice_credential", "SFU_ICE_CREDENTIAL"),
            )
            if env.get(var)
        }
        return cls(
            join_token_public_key=public_key,
            join_token_issuer=issuer,
            host=env.get("SFU_HOST", "127.0.0.1"),
            port=port,
            public_url=env.get("SFU_PUBLIC_URL", ""),
            ice_addresses=ice_addresses,
            ice_announced_addresses=announced,
            ice_servers=_split_list(env.get("SFU_ICE_SERVERS", "")),
            redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0") or None,
            redis_key_prefix=env.get("REDIS_KEY_PREFIX", ""),
            max_message_bytes=max_message_bytes,
            log_level=env.get("SFU_LOG_LEVEL", "INFO"),
            max_drain_seconds=max_drain_seconds,
            quality_policy=quality_policy == "on",
            **optional,
        )
