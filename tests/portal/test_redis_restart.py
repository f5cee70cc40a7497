"""A Redis restart, seen from the portal: join tokens fail cleanly while Redis is away and work
again, with a real SFU worker accepting them, within seconds of Redis coming back (issue 5).

Redis here is private to the test (it is killed and restarted empty, like a real restart without
persistence); the portal's client is the application's own (portal/core/services.py).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from portal.core.localports import free_port
from sfu.client import SfuClient
from tests.fixtures.portal import sign_in
from tests.fixtures.services import start_redis
from tests.portal.test_join_token_endpoint import enter_prejoin, request_token

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("loopback_ice")]

PORTAL_ISSUER = "http://localhost"  # PORTAL_URL of the `app` fixture


def join_with(body: dict) -> dict:
    """Join the room with a token from the portal, as a browser would; return `joined`."""

    async def join() -> dict:
        client = SfuClient(body["signalling_url"], body["room"], body["token"])
        try:
            return await client.join()
        finally:
            await client.close()

    return asyncio.run(join())


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_portal_survives_a_redis_restart_and_issues_tokens_again(
    app, client, create_user, create_room, start_sfu_worker, tmp_path
):
    port = free_port()
    server = start_redis(port, tmp_path)
    url = f"redis://127.0.0.1:{port}/0"
    app.config["REDIS_URL"] = url  # before the application's client is first created
    probe = redis.Redis.from_url(url, decode_responses=True)
    try:
        worker = start_sfu_worker(issuer=PORTAL_ISSUER, redis=url)
        worker.redis_outage = True  # its heartbeat fails while Redis is away: expected
        wait_for(lambda: probe.exists(f"sfu:worker:{worker.worker_id}"), 10, "worker registered")

        room = create_room(create_user())
        sign_in(client, create_user(display_name="Nadia Roux"))
        csrf = enter_prejoin(client, room, display_name="Nadia Roux")
        before = request_token(client, room, csrf)
        assert before.status_code == 200
        assert join_with(before.get_json())["participants"] == []

        server.kill()
        server.wait()
        during = request_token(client, room, csrf)
        # A clear refusal the room page can show, not a crash (a 500) nor a hang.
        assert during.status_code == 503
        assert during.is_json and during.get_json()["message"]
        assert client.get(f"/r/{room.slug}").status_code == 200  # pre-join still renders
        assert client.get("/").status_code == 200

        server = start_redis(port, tmp_path)
        restarted_at = time.monotonic()
        after = wait_for(
            lambda: (response := request_token(client, room, csrf)).status_code == 200 and response,
            10,
            "the portal issues tokens again once the worker has re-registered",
        )
        recovered_in = time.monotonic() - restarted_at
        assert recovered_in < 5, f"recovered in {recovered_in:.1f} s"
        body = after.get_json()
        assert body["signalling_url"] == worker.url
        assert join_with(body)["participants"] == []
        assert worker.process.poll() is None
        assert worker.stop() == 0
    finally:
        probe.close()
        server.terminate()
        server.wait(timeout=10)
