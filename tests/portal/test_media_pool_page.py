"""The platform administrators' page of the media servers, GET /plateforme/serveurs-media: the
workers real SFU registries announce in Redis, their rooms named by ministry and room, the load
chart and its table; a clear message when Redis is down; platform administrators only."""

from __future__ import annotations

import html
import logging
import re
import time

import pytest

from portal.users.models import Role
from tests.fixtures.portal import sign_in
from tests.portal.test_pool_status import beat, registry

URL = "/plateforme/serveurs-media"
REDIS_DOWN = "Impossible de lire l'état des serveurs média (Redis injoignable)."


@pytest.fixture
def operator(app, create_tenant, create_user):
    tenant = create_tenant(name="Opérateur de la plateforme")
    client = app.test_client()
    sign_in(client, create_user(tenant=tenant, role=Role.PLATFORM_ADMIN))
    return client


def section_of(page: str, worker_id: str) -> str:
    start = page.index(f'<section class="media-worker" data-worker="{worker_id}"')
    return page[start : page.index("</section>", start)]


def row_of(table: str, worker_id: str) -> str:
    start = table.rindex("<tr", 0, table.index(f'data-worker="{worker_id}"'))
    return text_of(table[start : table.index("</tr>", start)])


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_platform_media_pool_lists_workers_and_rooms_platform_admin(
    app, operator, redis_url, redis_client, create_tenant, create_user, create_room
):
    interior = create_tenant(name="Ministère de l'Intérieur")
    culture = create_tenant(name="Ministère de la Culture")
    point = create_room(create_user(tenant=interior), name="Point sécurité")
    comite = create_room(create_user(tenant=culture), name="Comité des musées")
    live = registry(redis_url, "hote-1", rooms={point.slug: 3, "salle-de-test": 1}, cpu="0.420")
    draining = registry(redis_url, "hote-2", rooms={comite.slug: 5}, cpu="0.800", draining=1)
    stopped = registry(redis_url, "hote-3", rooms={})
    beat(live, draining, stopped, times=3, stop=(stopped,))

    response = operator.get(URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    assert 'aria-current="page">Serveurs média</a>' in page
    assert f'href="{URL}">Actualiser</a>' in page
    totals = dict(re.findall(r'data-total="(\w+)">([^<]*)<', page))
    assert totals == {
        "live": "2",
        "draining": "1",
        "stopped": "1",
        "participants": "9",
        "load": "42 %",  # pool_load: the draining worker takes no new room
    }

    first = text_of(section_of(page, "hote-1"))
    assert "État : actif" in first and "Processeur : 42 % d'un cœur" in first
    assert "Participants : 4" in first and "Trames par seconde : 240" in first
    assert "Point sécurité Ministère de l'Intérieur 3" in first
    assert "salle inconnue — 1" in first
    assert point.slug not in page, "room links are not shown"

    second = text_of(section_of(page, "hote-2"))
    assert "État : en vidange" in second
    assert "Comité des musées Ministère de la Culture 5" in second

    third = text_of(section_of(page, "hote-3"))
    assert "arrêté — ne répond plus depuis" in third and "Salles hébergées" not in third

    # The chart: an image with a text alternative, one line per worker, the high-water mark.
    svg = page[page.index('<svg class="load-chart__svg"') : page.index("</svg>") + 6]
    assert 'role="img"' in svg and 'aria-label="Graphique : charge processeur' in svg
    assert "<title>Graphique : charge processeur de 3 serveur(s) média" in svg
    assert svg.count("<polyline") == 3 and "seuil 70 %" in svg
    assert "style=" not in page and "<script>" not in page

    # The same numbers as a table.
    table = page[page.index('id="charge-derniere-heure"') :]
    table = table[: table.index("</table>")]
    assert "Charge sur la dernière heure" in table
    assert row_of(table, "hote-1") == "hote-1 actif 42 % 42 % 42 % 4"
    assert row_of(table, "hote-2") == "hote-2 en vidange 80 % 80 % 80 % 5"
    assert row_of(table, "hote-3") == "hote-3 arrêté 25 % 25 % 25 % —"


def test_platform_media_pool_high_water_from_config_platform_admin(app, operator, redis_client):
    app.config["SFU_POOL_HIGH_WATER"] = 0.85
    page = operator.get(URL).get_data(as_text=True)
    assert "seuil 85 %" in page
    assert "Aucun serveur média ne s'est annoncé dans l'heure." in page


def test_platform_media_pool_worker_gone_silent_platform_admin(app, operator, redis_client):
    """A worker killed without unregistering: its hash expired, its history remains."""
    redis_client.zadd("sfu:workers", {"hote-9": time.time() - 125})
    redis_client.xadd(
        "sfu:worker:hote-9:history",
        {"cpu": "0.5", "participants": "2", "rooms": "1", "frames_per_second": "50"},
        id=f"{int((time.time() - 130) * 1000)}-0",
    )
    section = text_of(section_of(operator.get(URL).get_data(as_text=True), "hote-9"))
    assert re.search(r"ne répond plus depuis 2 min \(dernier signe de vie le .* à .*\)", section)


def test_platform_media_pool_redis_down_platform_admin(app, operator, caplog):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("webconf.redis", None)
    with caplog.at_level(logging.ERROR, logger="portal.platform.views"):
        response = operator.get(URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert REDIS_DOWN in html.unescape(page) and 'role="alert"' in page
    assert '<svg class="load-chart__svg"' not in page
    assert any("cannot read the SFU pool" in record.message for record in caplog.records)


@pytest.mark.parametrize("role", [Role.AGENT, Role.TENANT_ADMIN])
def test_platform_media_pool_forbidden_others(app, client, create_user, role):
    sign_in(client, create_user(role=role))
    response = client.get(URL)
    assert response.status_code == 403
    assert "réservée aux administrateurs" in response.get_data(as_text=True)


def test_platform_media_pool_anonymous(app, client):
    response = client.get(URL)
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")
