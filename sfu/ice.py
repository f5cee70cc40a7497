"""ICE settings: which host candidate addresses we offer, which STUN/TURN servers we use, and
which public address we announce in their place behind a 1:1 NAT.

aioice gathers host candidates from every interface but leaves out 127.0.0.1, and aiortc falls
back to a public Google STUN server when `iceServers` is None. Both defaults are wrong for us:
this module is the one place that overrides them.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence

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


def announce_addresses(sdp: str, mapping: Mapping[str, str]) -> str:
    """`sdp` with every address that is a key of `mapping` (private → public) replaced by its
    value, in `a=candidate` lines (address and `raddr`), `c=` and `a=rtcp:` lines.

    For a host behind a 1:1 NAT (SFU_ICE_ANNOUNCED_ADDRESSES): aioice gathers and binds on the
    private address, the remote side must be told the public one. Addresses are compared as
    whole addresses (10.0.0.5 never matches inside 10.0.0.50, IPv6 spellings are normalised);
    nothing else in the SDP changes, line endings included.
    """
    if not mapping:
        return sdp
    normalised = {_normalise(private): public for private, public in mapping.items()}
    lines = sdp.splitlines(keepends=True)
    return "".join(_announce_line(line, normalised) for line in lines)


def _normalise(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address  # a hostname (mDNS candidate…): only ever equal to itself


def _announce_line(line: str, mapping: Mapping[str, str]) -> str:
    content = line.rstrip("\r\n")
    ending = line[len(content) :]
    fields = content.split(" ")
    if content.startswith("a=candidate:") and len(fields) >= 6:
        # foundation component transport priority ADDRESS port typ type [raddr ADDRESS rport …]
        positions = [4]
        if "raddr" in fields[6:-1]:
            positions.append(fields.index("raddr", 6) + 1)
    elif content.startswith(("c=IN ", "a=rtcp:")) and len(fields) >= 3:
        # c=IN IP4 ADDRESS / a=rtcp:PORT IN IP4 ADDRESS
        positions = [len(fields) - 1]
    else:
        return line
    for position in positions:
        public = mapping.get(_normalise(fields[position]))
        if public is None:
            continue
        fields[position] = public
        if not content.startswith("a=candidate:"):
            fields[-2] = "IP6" if ":" in public else "IP4"
    return " ".join(fields) + ending
