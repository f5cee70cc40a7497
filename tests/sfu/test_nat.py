"""A worker behind a real 1:1 NAT (SFU_ICE_ANNOUNCED_ADDRESSES, docs/deploy.md).

Three network namespaces the test creates, joined only to each other (tests/fixtures/netns.py):

    sfu 10.77.1.2/24 ── 10.77.1.1 router 10.77.2.1, 10.77.2.10 ── 10.77.2.20/24 client
        (private net)     DNAT 10.77.2.10 → 10.77.1.2            (public net, no route
        default route     SNAT 10.77.1.2 → 10.77.2.10             to 10.77.1.0/24)
        via the router    forwards nothing else inward

The worker binds signalling and media to 10.77.1.2; the client reaches it only as 10.77.2.10,
signalling (TCP) and media (UDP) alike. With the announced address, two synthetic participants
(bench.participant) in the client namespace connect and exchange audio and video through the
NAT; without it they do not connect.

Like a browser behind a home router, the client accepts only replies to what it sent (a
stateful nft filter). Without that filter the control would connect anyway: the worker's own
checks, leaving the NAT from 10.77.2.10, reach a client that has a public address, which learns
10.77.2.10 as a peer-reflexive candidate and checks it back (RFC 8445 7.3.1.3, aioice does).

Needs root (namespaces) and nft (Debian's nftables); elsewhere skipped with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.netns import link_namespaces, nft_problem
from tests.fixtures.sfu import REPO_ROOT, SFU_TEST_ISSUER, SfuWorkerProcess
from tests.sfu.congestion import SyntheticRoom

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.timeout(120)

PRIVATE, PUBLIC, CLIENT = "10.77.1.2", "10.77.2.10", "10.77.2.20"
SIGNALLING_PORT = 8443  # the namespace is new: nothing else listens there
# Long enough for ICE over a path that works (about a second here), short enough to keep the
# control fast: aioice gives up on a dead pair only after tens of seconds of retransmissions.
CONTROL_READY_SECONDS = 8

# 1:1 NAT in the router, and a firewall that keeps the private net private: from the public
# side only what the DNAT rule rewrote (or replies) goes in.
ROUTER_RULES = f"""
table ip nat_one_to_one {{
    counter udp_inward {{}}
    counter udp_outward {{}}
    chain prerouting {{
        type nat hook prerouting priority dstnat;
        ip daddr {PUBLIC} dnat to {PRIVATE}
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat;
        ip saddr {PRIVATE} snat to {PUBLIC}
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        iifname "public0" oifname "private0" meta l4proto udp counter name udp_inward
        iifname "private0" oifname "public0" meta l4proto udp counter name udp_outward
        ct state established,related accept
        iifname "private0" oifname "public0" accept
        iifname "public0" oifname "private0" ct status dnat accept
    }}
}}
"""
# The client, like a browser behind its home router: replies to what it sent, nothing else.
CLIENT_RULES = """
table inet client_firewall {
    chain input {
        type filter hook input priority filter; policy drop;
        iif "lo" accept
        ct state established,related accept
    }
}
"""

# Run inside the client namespace: join, print the worker's first offer (its SDP, as JSON).
OFFER_PROBE = """
import asyncio, json, sys
from sfu.client import SfuClient

async def main(url, room, token):
    client = SfuClient(url, room, token, auto_answer=False)
    try:
        await client.join()
        print(json.dumps((await client.next_event("offer")).data["sdp"]))
    finally:
        await client.close()

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def nft_support():
    problem = nft_problem()
    if problem:
        pytest.skip(problem)


@pytest.fixture
def nat(make_isolated_namespace, nft_support):
    """(sfu, router, client) namespaces wired as in the module docstring."""
    sfu, router, client = (make_isolated_namespace() for _ in range(3))
    link_namespaces(router, "private0", "10.77.1.1/24", sfu, "eth0", f"{PRIVATE}/24")
    link_namespaces(router, "public0", "10.77.2.1/24", client, "eth0", f"{CLIENT}/24")
    router.ip("addr", "add", f"{PUBLIC}/24", "dev", "public0")  # the mapped public address
    router.sysctl("net.ipv4.ip_forward", "1")
    router.load_nft(ROUTER_RULES)
    sfu.ip("route", "add", "default", "via", "10.77.1.1")
    client.load_nft(CLIENT_RULES)
    sfu.address, client.address = PRIVATE, CLIENT
    return sfu, router, client


def launch_worker_in(namespace, join_keys, log_path: Path, env: dict[str, str]):
    """`python -m sfu` inside `namespace` on PRIVATE, without Redis; ready when this returns.
    Its `url` is the public one, the only one the client can reach."""
    worker_id = "nat-" + uuid.uuid4().hex[:8]
    environment = dict(
        os.environ,
        SFU_HOST=PRIVATE,
        SFU_PORT=str(SIGNALLING_PORT),
        SFU_PUBLIC_URL=f"ws://{PUBLIC}:{SIGNALLING_PORT}/ws",
        SFU_ICE_ADDRESSES=PRIVATE,
        SFU_JOIN_TOKEN_PUBLIC_KEY_FILE=str(join_keys.public_path),
        SFU_JOIN_TOKEN_ISSUER=SFU_TEST_ISSUER,
        SFU_WORKER_ID=worker_id,
        SFU_LOG_LEVEL="INFO",
        REDIS_URL="",
    )
    environment.pop("SFU_ICE_ANNOUNCED_ADDRESSES", None)
    environment.update(env)
    with log_path.open("wb") as log:
        process = namespace.popen(
            [sys.executable, "-m", "sfu"], cwd=REPO_ROOT, env=environment, stdout=log, stderr=log
        )
    worker = SfuWorkerProcess(
        url=f"ws://{PUBLIC}:{SIGNALLING_PORT}/ws",
        worker_id=worker_id,
        port=SIGNALLING_PORT,
        log_path=log_path,
        private_key_pem=join_keys.private_pem,
        process=process,
    )
    try:
        wait_listening(process, SIGNALLING_PORT)
    except Exception:
        worker.stop()
        raise RuntimeError("SFU worker did not start:\n" + worker.log()) from None
    return worker


def wait_listening(process: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    """Until `process` listens on TCP `port`, read from its own namespace's /proc/<pid>/net/tcp
    (`ip netns exec` execs: the pid is the worker's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            table = Path(f"/proc/{process.pid}/net/tcp").read_text().splitlines()[1:]
        except OSError:
            table = []
        # Fields: sl local_address rem_address st …; LISTEN is 0A, the port is in hex.
        if any(
            f[1].endswith(f":{port:04X}") and f[3] == "0A" for f in (line.split() for line in table)
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


@pytest.fixture
def start_nat_worker(nat, join_keys, tmp_path):
    """Factory: start_nat_worker(extra_env) → a worker in the sfu namespace; stopped after the
    test, which fails if it crashed or logged a traceback."""
    workers = []

    def start(extra_env: dict[str, str]) -> SfuWorkerProcess:
        log_path = tmp_path / f"sfu-nat-{len(workers) + 1}.log"
        workers.append(launch_worker_in(nat[0], join_keys, log_path, extra_env))
        return workers[-1]

    yield start
    for worker in workers:
        code = worker.stop()
        log = worker.log()
        assert code == 0, f"SFU worker exited with {code}:\n{log}"
        assert "Traceback" not in log, f"SFU worker logged an exception:\n{log}"


def first_offer(client, worker: SfuWorkerProcess, room: str) -> str:
    """The SDP of the first offer the worker sends to a participant joining from `client`."""
    token = worker.token(room, participant_id="probe-" + uuid.uuid4().hex[:6], name="Sonde")
    result = client.run(
        [sys.executable, "-c", OFFER_PROBE, worker.url, room, token],
        cwd=REPO_ROOT,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def candidate_addresses(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


def udp_forwarded(router) -> dict[str, int]:
    """UDP packets the router forwarded, per direction, so far."""
    counts = {}
    for direction in ("udp_inward", "udp_outward"):
        listed = router.run(["nft", "-j", "list", "counter", "ip", "nat_one_to_one", direction])
        entry = next(e for e in json.loads(listed.stdout)["nftables"] if "counter" in e)
        counts[direction] = entry["counter"]["packets"]
    return counts


def assert_client_cannot_reach_the_private_net(client) -> None:
    route = client.run(["ip", "route", "get", PRIVATE])
    assert route.returncode != 0 and "unreachable" in route.stderr, route


def test_nat_announced_address_connects_and_media_flows_both_ways(
    nat, start_nat_worker, join_keys, tmp_path
):
    _, router, client = nat
    assert_client_cannot_reach_the_private_net(client)
    worker = start_nat_worker({"SFU_ICE_ANNOUNCED_ADDRESSES": f"{PRIVATE}={PUBLIC}"})

    offer = first_offer(client, worker, "salle-sonde")
    assert candidate_addresses(offer) == {PUBLIC}, offer
    assert PRIVATE not in offer, offer

    with SyntheticRoom(
        worker, "salle-nat", join_keys.private_path, tmp_path,
        video_kbit=300, video_size="320x240",
    ) as room:  # fmt: skip
        room.add(["nat-a", "nat-b"], namespace=client)
        room.wait_ready(timeout=30)
        room.wait_receiving(video=["nat-a", "nat-b"], timeout=30)
        windows = room.measure(2)
        for name, other in (("nat-a", "nat-b"), ("nat-b", "nat-a")):
            window = windows[name]
            assert window.audio_pps(other) > 20, (name, window.summary())
            assert window.video_fps(other) > 5, (name, window.summary())
            logger.warning(
                "%s receives from %s through the NAT: %.0f audio packets/s, %.1f video fps",
                name, other, window.audio_pps(other), window.video_fps(other),
            )  # fmt: skip
    # Media really crossed the router, both ways (two participants, audio and video each).
    forwarded = udp_forwarded(router)
    assert min(forwarded.values()) > 200, forwarded
    logger.warning("UDP packets the NAT forwarded: %s", forwarded)


def test_nat_without_announced_address_does_not_connect(nat, start_nat_worker, join_keys, tmp_path):
    _, _, client = nat
    assert_client_cannot_reach_the_private_net(client)
    worker = start_nat_worker({})

    offer = first_offer(client, worker, "salle-sonde")  # signalling crosses the NAT all the same
    assert candidate_addresses(offer) == {PRIVATE}, offer

    with SyntheticRoom(
        worker, "salle-nat", join_keys.private_path, tmp_path,
        video_kbit=300, video_size="320x240",
    ) as room:  # fmt: skip
        process = room.add(
            ["nat-a", "nat-b"],
            namespace=client,
            options=["--ready-timeout", str(CONTROL_READY_SECONDS)],
        )
        process.wait(lambda: process.ready is not None, CONTROL_READY_SECONDS + 20, "ready")
        assert process.ready["ok"] is False, process.ready
        process.wait(lambda: process.latest() is not None, 10, "a stats line")
        states = {p["state"] for p in process.latest()["participants"].values()}
        assert "connected" not in states, states
