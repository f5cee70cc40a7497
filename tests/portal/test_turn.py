"""Short-lived TURN credentials: made by the portal for each join, accepted by a real coturn.

coturn is started as the coturn role configures it (use-auth-secret). A TURN client (aioice's,
the one aiortc uses) allocates a relay with the credentials the join-token endpoint hands out;
expired credentials, or credentials signed with another secret, are refused by coturn itself.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aioice.stun
import aioice.turn
import pytest

from portal.config import ConfigurationError, load_config
from portal.media.turn import TurnSettings, ice_servers_for_join, turn_ice_server
from tests.fixtures.portal import sign_in
from tests.portal.test_join_token_endpoint import enter_prejoin, request_token
from tests.portal.test_placement import register_worker


def allocate(turn_server, username: str, credential: str) -> tuple[str, int]:
    """Allocate a UDP relay on `turn_server`; return the relayed address coturn gave."""

    async def run() -> tuple[str, int]:
        transport, _ = await aioice.turn.create_turn_endpoint(
            asyncio.DatagramProtocol,
            ("127.0.0.1", turn_server.port),
            username,
            credential,
            lifetime=60,
        )
        try:
            return transport.get_extra_info("sockname")
        finally:
            transport.close()

    return asyncio.run(asyncio.wait_for(run(), timeout=20))


def test_credentials_from_the_join_endpoint_allocate_a_relay(
    app, client, create_user, create_room, redis_client, turn_server
):
    app.config["TURN"] = TurnSettings((turn_server.url,), turn_server.shared_secret, 3600)
    register_worker(redis_client, "w1")
    room = create_room(create_user())
    sign_in(client, create_user())
    body = request_token(client, room, enter_prejoin(client, room)).get_json()

    (server,) = body["ice_servers"]
    assert server["urls"] == [turn_server.url]
    expiry, participant = server["username"].split(":")
    # The username names the join's random participant, never the person.
    assert participant == body["participant_id"]
    assert 3590 <= int(expiry) - time.time() <= 3600
    host, port = allocate(turn_server, server["username"], server["credential"])
    assert host == "127.0.0.1"
    assert port > 0


def test_each_join_gets_its_own_credentials(
    app, client, create_user, create_room, redis_client, turn_server
):
    app.config["TURN"] = TurnSettings((turn_server.url,), turn_server.shared_secret, 3600)
    register_worker(redis_client, "w1")
    room = create_room(create_user())
    sign_in(client, create_user())
    csrf = enter_prejoin(client, room)
    first = request_token(client, room, csrf).get_json()["ice_servers"][0]
    second = request_token(client, room, csrf).get_json()["ice_servers"][0]
    assert first["username"] != second["username"]
    assert first["credential"] != second["credential"]


def test_coturn_refuses_expired_credentials(turn_server):
    settings = TurnSettings((turn_server.url,), turn_server.shared_secret, 60)
    expired = turn_ice_server(settings, "p1", datetime.now(UTC) - timedelta(seconds=120))
    with pytest.raises(aioice.stun.TransactionFailed):
        allocate(turn_server, expired["username"], expired["credential"])


def test_coturn_refuses_credentials_signed_with_another_secret(turn_server):
    settings = TurnSettings((turn_server.url,), "not-the-shared-secret", 60)
    forged = turn_ice_server(settings, "p1", datetime.now(UTC))
    with pytest.raises(aioice.stun.TransactionFailed):
        allocate(turn_server, forged["username"], forged["credential"])


def test_username_is_expiry_and_participant_after_the_static_servers():
    settings = TurnSettings(("turns:turn.example:5349?transport=tcp",), "s", 600)
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    stun = {"urls": "stun:stun.example:3478"}
    servers = ice_servers_for_join([stun], settings, "abc", now)
    assert servers[0] == stun
    assert servers[1]["username"] == f"{int(now.timestamp()) + 600}:abc"
    assert servers[1]["urls"] == ["turns:turn.example:5349?transport=tcp"]
    assert ice_servers_for_join([stun], None, "abc", now) == [stun]


def config(**environ):
    return load_config(
        {"PORTAL_URL": "https://visio.example", "SECRET_KEY": "k", **environ},
        instance_path="/nonexistent",
    )


def test_turn_configuration():
    assert config()["TURN"] is None
    turn = config(
        TURN_URLS="turn:t.example:3478?transport=udp, turns:t.example:5349?transport=tcp",
        TURN_SHARED_SECRET="s3cret",
    )["TURN"]
    assert turn.urls == ("turn:t.example:3478?transport=udp", "turns:t.example:5349?transport=tcp")
    assert turn.lifetime_seconds == 6 * 3600 + 15 * 60  # a whole meeting, opening early
    assert (
        config(TURN_URLS="turn:t", TURN_SHARED_SECRET="s", TURN_CREDENTIAL_LIFETIME="600")[
            "TURN"
        ].lifetime_seconds
        == 600
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TURN_URLS": "turn:t.example"}, "TURN_SHARED_SECRET is required"),
        ({"TURN_URLS": "stun:stun.l.google.com", "TURN_SHARED_SECRET": "s"}, "turn: or turns:"),
        (
            {"TURN_URLS": "turn:t", "TURN_SHARED_SECRET": "s", "TURN_CREDENTIAL_LIFETIME": "5"},
            "60..86400",
        ),
    ],
)
def test_wrong_turn_configuration_is_refused(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        config(**environ)
