"""Prometheus metrics of the portal (GET /metrics, docs/metrics.md).

One registry per application (tests create many). Labels stay low-cardinality: the Flask
endpoint name (never the path), the HTTP status, fixed outcome and refusal codes. /metrics
answers loopback requests, or a scraper presenting `Authorization: Bearer <METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator

import redis
from flask import Flask, Response, abort, current_app, request
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

_EXTENSION_KEY = "webconf.metrics"
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PortalMetrics:
    """The application's registry and counters."""

    def __init__(self, app: Flask) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.join_tokens = Counter(
            "portal_join_tokens",
            "Join tokens asked for, by outcome (issued, refused) and refusal code",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "portal_sign_ins",
            "Sign-ins through an identity provider, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "portal_rate_limited",
            "Requests refused by an abuse limit, by limit (portal/core/ratelimit.py)",
            ["limit"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "portal_http_requests",
            "HTTP requests by Flask endpoint name and status code",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.registry.register(LobbyCollector(app))


class LobbyCollector(Collector):
    """People waiting in every room's lobby, counted in Redis when Prometheus scrapes."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        from portal.core import services

        with self._app.app_context():
            prefix = self._app.config["REDIS_KEY_PREFIX"]
            try:
                client = services.redis_client()
                waiting = 0
                for key in client.scan_iter(match=f"{prefix}lobby:*", count=500):
                    if not key.startswith(f"{prefix}lobby:decision:"):
                        waiting += client.hlen(key)
            except redis.RedisError:
                logger.warning("lobby count unavailable for /metrics", exc_info=True)
                return
        yield GaugeMetricFamily(
            "portal_lobby_waiting", "People waiting in a lobby right now", value=waiting
        )


def portal_metrics() -> PortalMetrics:
    return current_app.extensions[_EXTENSION_KEY]


def count_join_token(outcome: str, reason: str = "") -> None:
    portal_metrics().join_tokens.labels(outcome, reason).inc()


def count_sign_in(outcome: str) -> None:
    portal_metrics().sign_ins.labels(outcome).inc()


def count_rate_limited(limit: str) -> None:
    portal_metrics().rate_limited.labels(limit).inc()


def _count_request(response: Response) -> Response:
    endpoint = request.endpoint or "unmatched"  # 404s: one label, not their paths
    portal_metrics().http_requests.labels(endpoint, str(response.status_code)).inc()
    return response


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())
    # A request relayed by a reverse proxy on this host also comes from loopback: only a
    # direct one (no forwarding header) counts as local, whatever TRUSTED_PROXIES says.
    relayed = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    return not relayed and request.remote_addr in LOOPBACK_ADDRESSES


def metrics_view():
    if not _allowed():
        logger.warning("GET /metrics refused to %s", request.remote_addr)
        abort(403)
    return Response(generate_latest(portal_metrics().registry), content_type=CONTENT_TYPE)


def init_metrics(app: Flask) -> None:
    app.extensions[_EXTENSION_KEY] = PortalMetrics(app)
    app.after_request(_count_request)
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
