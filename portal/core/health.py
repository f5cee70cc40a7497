"""GET /healthz: can this portal process serve requests? (load balancers, systemd checks, deploys)

It asks the two things every page needs: the database (one `SELECT 1`) and Redis (one PING).
200 with {"status": "ok", ...} when both answer, 503 naming the one that does not. Nothing else
is said (no version, no host names): the answer may cross a proxy.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)


def check_database() -> bool:
    from portal.extensions import db

    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as exc:
        logger.warning("health check: database unreachable: %s", exc.__class__.__name__)
        db.session.rollback()
        return False


def check_redis() -> bool:
    from portal.core import services

    try:
        return bool(services.redis_client().ping())
    except redis.RedisError as exc:
        logger.warning("health check: Redis unreachable: %s", exc.__class__.__name__)
        return False


def healthz():
    checks = {"database": check_database(), "redis": check_redis()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"}
    body.update({name: "ok" if ok else "unavailable" for name, ok in checks.items()})
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_health(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
