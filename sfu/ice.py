"""ICE settings: which host candidate addresses we offer, and which STUN/TURN servers we use.

aioice gathers host candidates from every interface but leaves out 127.0.0.1, and aiortc falls
back to a public Google STUN server when `iceServers` is None. Both defaults are wrong for us:
this module is the one place that overrides them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

logger = logging.getLogger(__name__)

_original_get_host_addresses = aioice.ice.get_host_addresses


def use_host_addresses(addresses: Sequence[str]) -> None:
    """Offer exactly `addresses` as host candidates (empty: restore aioice's own choice).

    Process-wide: aioice looks up `aioice.ice.get_host_addresses` at gathering time.
    """
    if not addresses:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    chosen = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [
            address
            for address in chosen
            if (":" in address and use_ipv6) or (":" not in address and use_ipv4)
        ]

    aioice.ice.get_host_addresses = get_host_addresses
    logger.info("ICE host candidates restricted to %s", ", ".join(chosen))


def rtc_configuration(
    servers: Sequence[str] = (), username: str | None = None, credential: str | None = None
) -> RTCConfiguration:
    """An explicit configuration: our own STUN/TURN servers or none, never aiortc's default.

    max-bundle: with aiortc's default ("balanced"), a second transceiver of a kind shares the
    first one's transport *before* BUNDLE is negotiated and keeps that discarded transport
    afterwards (its sender never starts). One transport per connection avoids that.
    """
    ice_servers = [
        RTCIceServer(urls=url, username=username, credential=credential) for url in servers
    ]
    return RTCConfiguration(iceServers=ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
