"""GET /healthz: 200 only when the database and Redis both answer; otherwise it says which."""

from __future__ import annotations

from portal import create_app
from tests.fixtures.net import free_port
from tests.fixtures.portal import dispose, portal_config


def test_healthy_portal(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_redis_away_is_named(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    app.extensions.pop("webconf.redis", None)  # the client is made on first use
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unavailable",
        "database": "ok",
        "redis": "unavailable",
    }


def test_database_away_is_named(redis_url):
    # A PostgreSQL URL on a port where nothing listens: the portal starts, the check fails.
    database = f"postgresql+psycopg://webconf@127.0.0.1:{free_port()}/webconf?connect_timeout=2"
    app = create_app(portal_config(database, REDIS_URL=redis_url))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {
            "status": "unavailable",
            "database": "unavailable",
            "redis": "ok",
        }
    finally:
        dispose(app)
