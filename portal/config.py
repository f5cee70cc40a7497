"""Portal configuration, read from environment variables when the application is created.

Every variable is documented in docs/configuration.md. Nothing here runs at import time:
`load_config()` is called by `create_app()`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from portal.core.ratelimit import load_limits
from portal.media.join_tokens import MAX_LIFETIME_SECONDS
from portal.media.turn import DEFAULT_CREDENTIAL_LIFETIME, TURN_URL_SCHEMES, TurnSettings

logger = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTAL_URL = "http://localhost:5000"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "oui"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "non", ""})
# Identity providers are data (docs/identity-providers.md); these former variables are ignored.
RETIRED_VARIABLES = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES")
# The variables read by load_config(), all documented in docs/configuration.md.
ENVIRONMENT_VARIABLES = frozenset(
    {
        "TESTING",
        "PORTAL_URL",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "REDIS_KEY_PREFIX",
        "JOIN_TOKEN_PRIVATE_KEY_FILE",
        "JOIN_TOKEN_LIFETIME",
        "SFU_ICE_SERVERS",
        "TURN_URLS",
        "TURN_SHARED_SECRET",
        "TURN_CREDENTIAL_LIFETIME",
        "SFU_CONNECT_SRC",
        "TRUSTED_PROXIES",
        "SESSION_COOKIE_SECURE",
        "HSTS_MAX_AGE",
        "AUDIO_ONLY_RECOMMENDED_ABOVE",
        "SFU_PARTICIPANTS_PER_WORKER",
        "SFU_POOL_HIGH_WATER",
        "METRICS_TOKEN",
        "ACCOUNT_INACTIVITY_DAYS",
        # Abuse limits (portal/core/ratelimit.py)
        "RATE_LIMITS_ENABLED",
        "RATE_LIMIT_SIGN_IN",
        "RATE_LIMIT_LOBBY_KNOCK",
        "RATE_LIMIT_LOBBY_POLL",
        "RATE_LIMIT_INVITATION_GUESS",
        "RATE_LIMIT_ROOM_CREATION",
    }
)


class ConfigurationError(RuntimeError):
    """The environment does not describe a portal that can start."""


def parse_bool(name: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {value!r}")


def parse_int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be a whole number, not {value!r}") from exc


def parse_fraction(name: str, value: Any) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be a number, not {value!r}") from exc
    if not 0 <= fraction <= 1:
        raise ConfigurationError(f"{name} must be between 0 and 1, not {value!r}")
    return fraction


def parse_turn(urls: Any, shared_secret: Any, lifetime: Any) -> TurnSettings | None:
    """TURN_URLS (separated by spaces or commas) and its secret; None when TURN is not used."""
    if isinstance(urls, str):
        urls = urls.replace(",", " ").split()
    urls = tuple(urls or ())
    if not urls:
        return None
    wrong = [url for url in urls if not str(url).startswith(TURN_URL_SCHEMES)]
    if wrong:
        raise ConfigurationError(f"TURN_URLS must be turn: or turns: URLs, not {wrong[0]!r}")
    if not shared_secret:
        raise ConfigurationError("TURN_SHARED_SECRET is required with TURN_URLS")
    lifetime = parse_int("TURN_CREDENTIAL_LIFETIME", lifetime or DEFAULT_CREDENTIAL_LIFETIME)
    if not 60 <= lifetime <= 24 * 3600:
        raise ConfigurationError("TURN_CREDENTIAL_LIFETIME must be 60..86400 seconds")
    return TurnSettings(urls, str(shared_secret), lifetime)


def parse_rate_limits(get: Callable[[str, Any], Any]) -> dict:
    """RATE_LIMIT_<NAME> variables: "<count>/<seconds>" or "off" (portal/core/ratelimit.py)."""
    try:
        return load_limits(get)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def is_local_url(url: str) -> bool:
    """True for a plain-HTTP URL on the loopback host (development and tests)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") in LOCAL_HOSTS


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def default_sfu_connect_src(portal_url: str) -> str:
    """WebSocket sources a browser may open: any port of the portal's host (see docs)."""
    host = urlsplit(portal_url).hostname or "localhost"
    hosts = sorted(LOCAL_HOSTS - {"::1"}) if host in LOCAL_HOSTS else [host]
    return " ".join(f"{scheme}://{name}:*" for name in hosts for scheme in ("ws", "wss"))


def load_config(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None, *, instance_path: str
) -> dict[str, Any]:
    """Build the Flask configuration from `environ`; `overrides` (tests) win over both."""
    overrides = dict(overrides or {})

    def get(name: str, default: Any = None) -> Any:
        if name in overrides:
            return overrides[name]
        return environ.get(name, default)

    testing = get("TESTING", False)
    if isinstance(testing, str):  # from the environment: "false" must mean false
        testing = parse_bool("TESTING", testing)
    testing = bool(testing)
    portal_url = str(get("PORTAL_URL", DEFAULT_PORTAL_URL)).rstrip("/")
    if urlsplit(portal_url).scheme not in ("http", "https") or not urlsplit(portal_url).netloc:
        raise ConfigurationError(f"PORTAL_URL must be an http(s) URL, not {portal_url!r}")
    local = is_local_url(portal_url)

    secure_cookie = get("SESSION_COOKIE_SECURE", None)
    if isinstance(secure_cookie, str):
        secure_cookie = parse_bool("SESSION_COOKIE_SECURE", secure_cookie)
    if secure_cookie is None:
        secure_cookie = not local

    lifetime = parse_int("JOIN_TOKEN_LIFETIME", get("JOIN_TOKEN_LIFETIME", MAX_LIFETIME_SECONDS))
    if not 0 < lifetime <= MAX_LIFETIME_SECONDS:
        raise ConfigurationError(f"JOIN_TOKEN_LIFETIME must be 1..{MAX_LIFETIME_SECONDS} seconds")

    ice_servers = get("SFU_ICE_SERVERS", "[]")
    if isinstance(ice_servers, str):
        try:
            ice_servers = json.loads(ice_servers)
        except ValueError as exc:
            raise ConfigurationError("SFU_ICE_SERVERS must be a JSON list") from exc
    if not isinstance(ice_servers, list):
        raise ConfigurationError("SFU_ICE_SERVERS must be a JSON list")

    inactivity = parse_int("ACCOUNT_INACTIVITY_DAYS", get("ACCOUNT_INACTIVITY_DAYS", 730))
    if inactivity < 30:  # a typo here would delete every account at the next purge
        raise ConfigurationError("ACCOUNT_INACTIVITY_DAYS must be at least 30 days")

    retired = [name for name in RETIRED_VARIABLES if environ.get(name)]
    if retired:
        logger.warning(
            "%s ignored: identity providers are configured in the database "
            "(flask providers add, see docs/identity-providers.md)",
            ", ".join(retired),
        )
    config: dict[str, Any] = {
        "TESTING": testing,
        "PORTAL_URL": portal_url,
        "SECRET_KEY": get("SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": get(
            "DATABASE_URL", f"sqlite:///{Path(instance_path) / 'webconf.sqlite3'}"
        ),
        "REDIS_URL": get("REDIS_URL", DEFAULT_REDIS_URL),
        "REDIS_KEY_PREFIX": get("REDIS_KEY_PREFIX", ""),
        "PLATFORM_AUDIT_RETENTION_DAYS": parse_int(
            "PLATFORM_AUDIT_RETENTION_DAYS", get("PLATFORM_AUDIT_RETENTION_DAYS", 365)
        ),
        "JOIN_TOKEN_PRIVATE_KEY_FILE": get("JOIN_TOKEN_PRIVATE_KEY_FILE") or None,
        "JOIN_TOKEN_LIFETIME": lifetime,
        "SFU_ICE_SERVERS": ice_servers,
        # Our TURN servers, with credentials made for each join (portal/media/turn.py).
        "TURN": parse_turn(
            get("TURN_URLS"), get("TURN_SHARED_SECRET"), get("TURN_CREDENTIAL_LIFETIME")
        ),
        "SFU_CONNECT_SRC": get("SFU_CONNECT_SRC") or default_sfu_connect_src(portal_url),
        "TRUSTED_PROXIES": parse_int("TRUSTED_PROXIES", get("TRUSTED_PROXIES", 0)),
        # Pre-join page: above this share of the SFU pool's capacity, recommend audio-only.
        "AUDIO_ONLY_RECOMMENDED_ABOVE": parse_fraction(
            "AUDIO_ONLY_RECOMMENDED_ABOVE", get("AUDIO_ONLY_RECOMMENDED_ABOVE", 0.7)
        ),
        "SFU_PARTICIPANTS_PER_WORKER": parse_int(
            "SFU_PARTICIPANTS_PER_WORKER", get("SFU_PARTICIPANTS_PER_WORKER", 90)
        ),
        # The pool supervisors' high-water mark, drawn on the media servers' load chart.
        "SFU_POOL_HIGH_WATER": parse_fraction(
            "SFU_POOL_HIGH_WATER", get("SFU_POOL_HIGH_WATER", 0.7)
        ),
        # Accounts not signed in for this long are deleted by the retention purge (retention.md).
        "ACCOUNT_INACTIVITY_DAYS": inactivity,
        # Bearer token for GET /metrics from outside the loopback (unset: loopback only).
        "METRICS_TOKEN": get("METRICS_TOKEN") or None,
        # Abuse limits, shared by every portal worker through Redis (docs/administration.md).
        # Off by default under TESTING only, so that test suites opt in (each app shares one
        # Redis and one client address, 127.0.0.1, across a whole test session).
        "RATE_LIMITS_ENABLED": parse_bool(
            "RATE_LIMITS_ENABLED", str(get("RATE_LIMITS_ENABLED", not testing))
        ),
        "RATE_LIMITS": parse_rate_limits(get),
        # Strict-Transport-Security on responses served over TLS; 0 sends none.
        "HSTS_MAX_AGE": parse_int("HSTS_MAX_AGE", get("HSTS_MAX_AGE", 63072000)),
        "SESSION_COOKIE_NAME": "webconf_session",
        "SESSION_COOKIE_HTTPONLY": True,
        # Lax, not Strict: the identity provider's redirect back to /auth/callback is a
        # cross-site top-level navigation that must carry the session (state, nonce, PKCE).
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure_cookie,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure_cookie,
        "PREFERRED_URL_SCHEME": urlsplit(portal_url).scheme,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    }
    # Other Flask settings the caller passed (tests: SQLALCHEMY_DATABASE_URI...) win as given.
    for name, value in overrides.items():
        if name not in ENVIRONMENT_VARIABLES and name not in RETIRED_VARIABLES:
            config[name] = value
    if config["SECRET_KEY"] is None:
        if not (testing or local):
            raise ConfigurationError("SECRET_KEY is required (see docs/configuration.md)")
        config["SECRET_KEY"] = development_secret_key(instance_path)
    return config


def development_secret_key(instance_path: str) -> str:
    """A key kept in the instance folder so local sessions survive restarts and workers agree."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    logger.warning("SECRET_KEY not set: using a development key stored in %s", path)
    return path.read_text().strip()
