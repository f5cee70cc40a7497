"""The pre-join page shows the SFU pool's load and recommends audio-only above the threshold
(AUDIO_ONLY_RECOMMENDED_ABOVE); the choice reaches the room page."""

import time

import pytest

from portal.media.load import pool_load
from tests.fixtures.portal import csrf_token, sign_in

RECOMMENDATION = "Le service est très sollicité : nous vous recommandons l'audio seul."


def register_worker(redis_client, worker_id: str, **fields) -> None:
    """A live worker's heartbeat, as an SFU worker writes it (docs/redis.md)."""
    redis_client.hset(
        f"sfu:worker:{worker_id}",
        mapping={"url": f"ws://127.0.0.1:1/{worker_id}", "rooms": 1, **fields},
    )
    redis_client.expire(f"sfu:worker:{worker_id}", 30)
    redis_client.zadd("sfu:workers", {worker_id: time.time()})


def audio_only_box_checked(page: str) -> bool:
    start = page.index('name="audio_only"')
    tag = page[page.rindex("<input", 0, start) : page.index(">", start)]
    return "checked" in tag


def test_pool_load_reads_cpu_else_participants(redis_client):
    register_worker(redis_client, "w1", participants=10, cpu="0.8")
    register_worker(redis_client, "w2", participants=45)  # no cpu field: 45 / 90
    register_worker(redis_client, "w3", participants=90, cpu="0.9", draining="1")
    redis_client.zadd("sfu:workers", {"dead": time.time()})  # hash expired
    load = pool_load(redis_client, participants_per_worker=90)
    assert (load.workers, load.participants) == (2, 55)
    assert load.level == pytest.approx((0.8 + 0.5) / 2)


def test_pool_load_without_workers_is_zero(redis_client):
    assert pool_load(redis_client).workers == 0


def test_prejoin_recommends_audio_only_above_the_threshold(
    app, client, create_user, create_room, redis_client
):
    register_worker(redis_client, "w1", participants=80)  # 80 / 90 = 89 %
    room = create_room(create_user())
    sign_in(client, create_user())
    page = client.get(f"/r/{room.slug}").get_data(as_text=True)
    assert RECOMMENDATION in page
    assert "Charge actuelle du service : 89 %" in page
    assert audio_only_box_checked(page)


def test_prejoin_does_not_recommend_audio_only_below_the_threshold(
    app, client, create_user, create_room, redis_client
):
    register_worker(redis_client, "w1", participants=10, cpu="0.5")
    register_worker(redis_client, "w2", participants=10, cpu="0.6")
    room = create_room(create_user())
    sign_in(client, create_user())
    page = client.get(f"/r/{room.slug}").get_data(as_text=True)
    assert RECOMMENDATION not in page
    assert "Charge actuelle du service : 55 %" in page
    assert not audio_only_box_checked(page)


def test_prejoin_threshold_is_configurable(app, client, create_user, create_room, redis_client):
    app.config["AUDIO_ONLY_RECOMMENDED_ABOVE"] = 0.4
    register_worker(redis_client, "w1", participants=10, cpu="0.5")
    room = create_room(create_user())
    sign_in(client, create_user())
    assert RECOMMENDATION in client.get(f"/r/{room.slug}").get_data(as_text=True)


def test_prejoin_room_default_prechecks_audio_only(
    app, client, create_user, create_room, redis_client
):
    room = create_room(create_user(), audio_only_by_default=True)
    sign_in(client, create_user())
    page = client.get(f"/r/{room.slug}").get_data(as_text=True)
    assert RECOMMENDATION not in page
    assert audio_only_box_checked(page)


def test_prejoin_audio_only_choice_reaches_the_room_page(
    app, client, create_user, create_room, redis_client
):
    room = create_room(create_user())
    sign_in(client, create_user())
    token = csrf_token(client.get(f"/r/{room.slug}"))
    data = {"display_name": "Camille", "camera": "y", "audio_only": "y", "csrf_token": token}
    assert client.post(f"/r/{room.slug}", data=data).status_code == 302
    page = client.get(f"/r/{room.slug}/salle").get_data(as_text=True)
    assert 'data-audio-only="on"' in page and 'data-camera="off"' in page

    del data["audio_only"]
    assert client.post(f"/r/{room.slug}", data=data).status_code == 302
    page = client.get(f"/r/{room.slug}/salle").get_data(as_text=True)
    assert 'data-audio-only="off"' in page and 'data-camera="on"' in page
