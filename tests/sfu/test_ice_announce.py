"""The announced address of a worker behind a 1:1 NAT: the SDP rewrite (sfu/ice.py
`announce_addresses`) and the SFU_ICE_ANNOUNCED_ADDRESSES setting (sfu/config.py)."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection

from sfu import ice
from sfu.config import ConfigError, SfuConfig
from sfu.ice import announce_addresses

NAT = {"10.0.0.5": "203.0.113.7"}

# Two m-lines, RTP and RTCP components on their own ports, a server-reflexive candidate whose
# base is the private address, a neighbour 10.0.0.50 and an IPv6 address that are not mapped.
OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 40000 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 10.0.0.5",
        "a=rtcp:40001 IN IP4 10.0.0.5",
        "a=candidate:a1 1 udp 2130706431 10.0.0.5 40000 typ host",
        "a=candidate:a2 2 udp 2130706430 10.0.0.5 40001 typ host",
        "a=candidate:b1 1 udp 2130706431 10.0.0.50 40002 typ host",
        "a=candidate:c1 1 udp 2130706431 2001:db8::5 40003 typ host",
        "a=candidate:d1 1 udp 1694498815 198.51.100.9 50000 typ srflx raddr 10.0.0.5 rport 40000",
        "a=end-of-candidates",
        "m=video 40004 UDP/TLS/RTP/SAVPF 97",
        "c=IN IP4 10.0.0.5",
        "a=candidate:e1 1 udp 2130706431 10.0.0.5 40004 typ host",
        "a=candidate:e2 2 udp 2130706430 10.0.0.5 40005 typ host",
        "",
    ]
)


def candidates(sdp: str) -> list[tuple[str, str, str]]:
    """(component, address, port) of each a=candidate line."""
    found = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            found.append((fields[1], fields[4], fields[5]))
    return found


def test_announce_replaces_the_private_address_of_every_component_and_port():
    announced = announce_addresses(OFFER, NAT)
    assert candidates(announced) == [
        ("1", "203.0.113.7", "40000"),
        ("2", "203.0.113.7", "40001"),
        ("1", "10.0.0.50", "40002"),
        ("1", "2001:db8::5", "40003"),
        ("1", "198.51.100.9", "50000"),
        ("1", "203.0.113.7", "40004"),
        ("2", "203.0.113.7", "40005"),
    ]
    assert "raddr 203.0.113.7 rport 40000" in announced
    assert announced.count("c=IN IP4 203.0.113.7\r\n") == 2
    assert "a=rtcp:40001 IN IP4 203.0.113.7\r\n" in announced


def test_announce_matches_whole_addresses_only():
    announced = announce_addresses(OFFER, NAT)
    assert "10.0.0.5 " not in announced and not announced.count("10.0.0.5\r\n")
    assert " 10.0.0.50 40002 typ host" in announced  # not 203.0.113.70
    assert "203.0.113.70" not in announced
    # The other way round: mapping 10.0.0.50 leaves 10.0.0.5 alone.
    other = announce_addresses(OFFER, {"10.0.0.50": "203.0.113.8"})
    assert candidates(other)[:3] == [
        ("1", "10.0.0.5", "40000"),
        ("2", "10.0.0.5", "40001"),
        ("1", "203.0.113.8", "40002"),
    ]


def test_announce_changes_nothing_else():
    announced = announce_addresses(OFFER, NAT)
    original_lines, announced_lines = OFFER.split("\r\n"), announced.split("\r\n")
    assert len(original_lines) == len(announced_lines)  # CRLF kept, no line added or lost
    changed = [(a, b) for a, b in zip(original_lines, announced_lines, strict=True) if a != b]
    assert len(changed) == 8  # 2 c=, 1 a=rtcp, 4 host candidates, 1 raddr
    for before, after in changed:
        assert before.replace("10.0.0.5", "203.0.113.7") == after
    assert "o=- 1 1 IN IP4 0.0.0.0" in announced


def test_announce_leaves_unmapped_ipv6_and_maps_ipv6_in_any_spelling():
    assert announce_addresses(OFFER, NAT).count("2001:db8::5") == 1
    mapped = announce_addresses(OFFER, {"2001:db8:0:0:0:0:0:5": "2001:db8:ffff::1"})
    assert ("1", "2001:db8:ffff::1", "40003") in candidates(mapped)
    assert ("1", "10.0.0.5", "40000") in candidates(mapped)


def test_announce_without_mapping_returns_the_sdp_unchanged():
    assert announce_addresses(OFFER, {}) is OFFER
    assert announce_addresses(OFFER, {"192.0.2.1": "203.0.113.9"}) == OFFER


def test_announce_rewrites_a_real_aiortc_offer(loopback_ice):
    async def offer() -> str:
        pc = RTCPeerConnection(ice.rtc_configuration())
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    sdp = asyncio.run(offer())
    assert {address for _, address, _ in candidates(sdp)} == {"127.0.0.1"}
    announced = announce_addresses(sdp, {"127.0.0.1": "203.0.113.7"})
    assert {address for _, address, _ in candidates(announced)} == {"203.0.113.7"}
    assert "127.0.0.1" not in announced
    assert announced.count("c=IN IP4 203.0.113.7") == 2


# --- SFU_ICE_ANNOUNCED_ADDRESSES -------------------------------------------------------------


def config(join_keys, **variables: str) -> SfuConfig:
    return SfuConfig.from_env(
        {
            "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE": str(join_keys.public_path),
            "SFU_JOIN_TOKEN_ISSUER": "https://portail.test.example",
            **variables,
        }
    )


def test_config_announced_addresses_default_to_none(join_keys):
    assert config(join_keys, SFU_ICE_ADDRESSES="10.0.0.5").ice_announced_addresses == {}


def test_config_announced_pairs(join_keys):
    loaded = config(
        join_keys,
        SFU_ICE_ADDRESSES="10.0.0.5, 10.0.0.6,2001:db8::5",
        SFU_ICE_ANNOUNCED_ADDRESSES=" 10.0.0.5=203.0.113.7, 2001:db8:0::5=2001:db8:ffff::1",
    )
    assert loaded.ice_announced_addresses == {
        "10.0.0.5": "203.0.113.7",
        "2001:db8::5": "2001:db8:ffff::1",
    }
    assert loaded.ice_addresses == ("10.0.0.5", "10.0.0.6", "2001:db8::5")


def test_config_single_public_address_with_a_single_ice_address(join_keys):
    loaded = config(
        join_keys, SFU_ICE_ADDRESSES="10.0.0.5", SFU_ICE_ANNOUNCED_ADDRESSES="203.0.113.7"
    )
    assert loaded.ice_announced_addresses == {"10.0.0.5": "203.0.113.7"}


@pytest.mark.parametrize(
    ("ice_addresses", "announced", "message"),
    [
        ("10.0.0.5", "10.0.0.5=203.0.113.300", "'203.0.113.300' is not an IP address"),
        ("10.0.0.5", "10.0.0.5=sfu.example.org", "'sfu.example.org' is not an IP address"),
        ("10.0.0.5", "10.0.0.5 203.0.113.7", "'10.0.0.5 203.0.113.7' is not an IP address"),
        ("10.0.0.5", "10.0.0.50=203.0.113.7", "10.0.0.50 is not in SFU_ICE_ADDRESSES"),
        ("", "10.0.0.5=203.0.113.7", "10.0.0.5 is not in SFU_ICE_ADDRESSES"),
        ("10.0.0.5,10.0.0.6", "203.0.113.7", "needs exactly one address in SFU_ICE_ADDRESSES"),
        ("", "203.0.113.7", "needs exactly one address in SFU_ICE_ADDRESSES"),
        ("10.0.0.5", "10.0.0.5=203.0.113.7,203.0.113.8", "'203.0.113.8' is not a private=public"),
        ("10.0.0.5", "10.0.0.5=2001:db8::1", "maps IPv4 to IPv6"),
        ("10.0.0.5", "10.0.0.5=203.0.113.7,10.0.0.5=203.0.113.8", "10.0.0.5 is announced twice"),
        ("10.0.0.x", "10.0.0.5=203.0.113.7", "SFU_ICE_ADDRESSES: '10.0.0.x' is not an IP"),
    ],
)
def test_config_announced_addresses_refused(join_keys, ice_addresses, announced, message):
    with pytest.raises(ConfigError) as excinfo:
        config(join_keys, SFU_ICE_ADDRESSES=ice_addresses, SFU_ICE_ANNOUNCED_ADDRESSES=announced)
    assert message in str(excinfo.value)
    assert "SFU_ICE_" in str(excinfo.value)
