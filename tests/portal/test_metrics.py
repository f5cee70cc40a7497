"""GET /metrics on the portal: the named metrics, and no access from outside the loopback
without the METRICS_TOKEN bearer token."""

import time

from tests.fixtures.portal import csrf_token, sign_in

OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}
LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


def test_metrics_refused_to_anonymous_outside_loopback(app, client):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403


def test_metrics_refused_with_a_wrong_token(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    headers = {"Authorization": "Bearer wrong"}
    response = client.get("/metrics", environ_base=OUTSIDE, headers=headers)
    assert response.status_code == 403


def test_metrics_open_to_the_token_outside_loopback(app, client):
    app.config["METRICS_TOKEN"] = "s3cret-token"
    headers = {"Authorization": "Bearer s3cret-token"}
    response = client.get("/metrics", environ_base=OUTSIDE, headers=headers)
    assert response.status_code == 200
    assert "portal_http_requests_total" in response.get_data(as_text=True)


def test_metrics_expose_the_named_metrics_on_loopback(
    app, client, create_user, create_room, redis_client
):
    redis_client.hset("lobby:salle-x", mapping={"w1": "{}", "w2": "{}"})
    room = create_room(create_user())
    sign_in(client, create_user())
    client.get(f"/r/{room.slug}")
    client.get("/nulle-part")
    # No SFU worker is registered: the token is refused (no_worker).
    token = csrf_token(client.get(f"/r/{room.slug}"))
    client.post(f"/r/{room.slug}", data={"display_name": "Camille", "csrf_token": token})
    client.post(f"/r/{room.slug}/jeton", headers={"X-CSRFToken": token})
    redis_client.hset("sfu:worker:w1", mapping={"url": "ws://127.0.0.1:1/ws", "rooms": 0})
    redis_client.zadd("sfu:workers", {"w1": time.time()})
    client.post(f"/r/{room.slug}/jeton", headers={"X-CSRFToken": token})

    response = client.get("/metrics", environ_base=LOOPBACK)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'portal_http_requests_total{endpoint="rooms.prejoin",status="200"}' in text
    assert 'portal_http_requests_total{endpoint="unmatched",status="404"}' in text
    assert f"/r/{room.slug}" not in text  # endpoint names, never paths
    assert 'portal_join_tokens_total{outcome="refused",reason="no_worker"} 1.0' in text
    assert 'portal_join_tokens_total{outcome="issued",reason=""} 1.0' in text
    assert "portal_lobby_waiting 2.0" in text
    assert "# TYPE portal_sign_ins_total counter" in text


def test_metrics_refused_to_requests_relayed_by_a_local_proxy(app, client):
    """nginx on the same host connects from 127.0.0.1: the forwarded header gives it away."""
    response = client.get(
        "/metrics",
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert response.status_code == 403
