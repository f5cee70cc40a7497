"""Abuse limits of the portal: fixed-window counters in Redis, so every portal worker counts
against the same numbers (docs/administration.md, "Abuse limits").

A limit is "at most `count` events per `seconds`" for one subject: a client address, an
address and a room, a user. The Redis key is `{REDIS_KEY_PREFIX}ratelimit:{limit}:{digest}` with
`digest` an HMAC (keyed with SECRET_KEY) of the limit's name and the subject, so Redis never
holds an address or a user id in clear, and every key expires with its window. One Lua script
increments the counter and sets its expiry atomically: a crash between the two cannot leave a
counter that never expires.

Fixed windows are the simplest counter that holds across workers; their known weakness (up to
twice `count` across a window boundary) is acceptable for flood protection. A window starts at
a subject's first counted event and is not prolonged by refused requests.

When Redis cannot be reached, every limit here fails open (the request goes on, a warning is
logged at most once a minute): none of them protects a secret that could be guessed (invitation
tokens have 256 random bits, passwords stay at the identity providers), while failing closed
would stop sign-in, room creation and guests' arrival whenever Redis restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

import redis
from flask import current_app, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.wrappers import Response

from portal.core import services
from portal.core.metrics import count_rate_limited

logger = logging.getLogger(__name__)

SIGN_IN = "sign_in"
LOBBY_KNOCK = "lobby_knock"
LOBBY_POLL = "lobby_poll"
INVITATION_GUESS = "invitation_guess"
ROOM_CREATION = "room_creation"
# Default limits, "<count>/<seconds>"; each is set by RATE_LIMIT_<NAME> (docs/configuration.md).
DEFAULT_LIMITS = {
    # Every request to the sign-in routes, per client address. A ministry's egress proxy may
    # carry many agents under one address: a person needs 2 or 3 requests per sign-in.
    SIGN_IN: "60/60",
    # Guests giving their name on an invitation link, per client address and room.
    LOBBY_KNOCK: "20/300",
    # The waiting page and its state (polled every 2 s), per client address and room: room for
    # twenty guests waiting behind one address.
    LOBBY_POLL: "600/60",
    # Invitation links that are unknown or revoked, per client address (failures only).
    INVITATION_GUESS: "20/600",
    # Rooms created, per user.
    ROOM_CREATION: "30/3600",
}
# What a refused person reads; %(wait)s is "30 secondes", "2 minutes"... (filled by message()).
MESSAGES = {
    SIGN_IN: _l("Trop de tentatives de connexion depuis votre adresse. Réessayez dans %(wait)s."),
    LOBBY_KNOCK: _l(
        "Trop de demandes d'entrée dans cette réunion depuis votre adresse. "
        "Réessayez dans %(wait)s."
    ),
    LOBBY_POLL: _l(
        "Trop de demandes depuis votre adresse pour cette salle d'attente. Réessayez dans %(wait)s."
    ),
    INVITATION_GUESS: _l(
        "Trop de liens d'invitation inconnus ou annulés ont été ouverts depuis votre adresse. "
        "Réessayez dans %(wait)s, avec le lien complet reçu de l'organisateur de la réunion."
    ),
    ROOM_CREATION: _l(
        "Vous avez créé beaucoup de salles en peu de temps. Réessayez dans %(wait)s."
    ),
}
TITLE = _l("Trop de demandes")
ERROR_CODE = "rate_limited"

_EXTENSION_KEY = "webconf.ratelimiter"
_HMAC_LABEL = b"webconf rate limit\x00"
# Redis unreachable: warn at most this often per process, not at every request.
_WARNING_INTERVAL = 60.0
_last_warning = 0.0

# INCR, and on the window's first event (or a key that somehow lost its expiry) PEXPIRE, as one
# atomic step; returns the count and the window's remaining milliseconds.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Limit:
    """At most `count` events per `seconds` for one subject."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit | None:
        """Read "20/600" as Limit(20, 600) and "off" as None (no limit); raises ValueError."""
        text = str(text).strip().lower()
        if text == "off":
            return None
        count, _, seconds = text.partition("/")
        limit = cls(int(count), int(seconds))
        if limit.count < 1 or limit.seconds < 1:
            raise ValueError("both numbers must be at least 1")
        return limit


@dataclass(frozen=True)
class Verdict:
    """Whether the request may go on; when not, the seconds until the window ends."""

    allowed: bool
    retry_after: int = 0


ALLOWED = Verdict(True)


def load_limits(get: Callable[[str, Any], Any]) -> dict[str, Limit | None]:
    """The limits from RATE_LIMIT_<NAME> variables (`get(name, default)`); ValueError names the
    variable at fault."""
    limits = {}
    for name, default in DEFAULT_LIMITS.items():
        variable = f"RATE_LIMIT_{name.upper()}"
        value = get(variable, default)
        try:
            limits[name] = Limit.parse(value)
        except ValueError:
            raise ValueError(
                f'{variable} must be "<count>/<seconds>" or "off", not {value!r}'
            ) from None
    return limits


class RateLimiter:
    """Fixed-window counters in Redis, keyed by a keyed hash of each subject."""

    def __init__(
        self,
        client: redis.Redis,
        secret: str | bytes,
        limits: Mapping[str, Limit | None],
        key_prefix: str = "",
    ) -> None:
        self._redis = client
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._limits = dict(limits)
        self._prefix = key_prefix
        self._hit = client.register_script(_HIT_SCRIPT)

    def key(self, name: str, *subject: str) -> str:
        message = _HMAC_LABEL + "\x00".join((name, *subject)).encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]
        return f"{self._prefix}ratelimit:{name}:{digest}"

    def hit(self, name: str, *subject: str) -> Verdict:
        """Count one event; refused when it goes beyond the limit. Raises redis.RedisError."""
        limit = self._limits.get(name)
        if limit is None:
            return ALLOWED
        key = self.key(name, *subject)
        count, ttl = self._hit(keys=[key], args=[limit.seconds * 1000])
        if int(count) == limit.count:
            # Once per window and subject, with the digest only: never an address in the log.
            logger.info(
                "rate limit %s reached by %s…: %d in %d s",
                name,
                key.rsplit(":", 1)[1][:8],
                limit.count,
                limit.seconds,
            )
        if int(count) <= limit.count:
            return ALLOWED
        return Verdict(False, _seconds(ttl))

    def check(self, name: str, *subject: str) -> Verdict:
        """Whether the limit is already reached, counting nothing (limits that count failures
        only: check before, `hit` after a failure). Raises redis.RedisError."""
        limit = self._limits.get(name)
        if limit is None:
            return ALLOWED
        pipeline = self._redis.pipeline(transaction=False)
        key = self.key(name, *subject)
        pipeline.get(key)
        pipeline.pttl(key)
        count, ttl = pipeline.execute()
        if int(count or 0) < limit.count:
            return ALLOWED
        return Verdict(False, _seconds(ttl))


def _seconds(milliseconds: Any) -> int:
    return max(1, math.ceil(int(milliseconds) / 1000))


# ---------------------------------------------------------------------------------------------
# In a request


def limiter() -> RateLimiter:
    """The application's limiter, on its Redis client."""
    instance = current_app.extensions.get(_EXTENSION_KEY)
    if instance is None:
        config = current_app.config
        limits = config["RATE_LIMITS"] if config["RATE_LIMITS_ENABLED"] else {}
        instance = RateLimiter(
            services.redis_client(), config["SECRET_KEY"], limits, config["REDIS_KEY_PREFIX"]
        )
        current_app.extensions[_EXTENSION_KEY] = instance
    return instance


def client_address() -> str:
    """The client's address (request.remote_addr, after ProxyFix when TRUSTED_PROXIES is set);
    an IPv6 address stands for its /64, which one subscriber usually holds whole."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def hit(name: str, *subject: str) -> Verdict:
    """Count one event of `name` for `subject`; fails open when Redis is unreachable."""
    return _counted(name, _fail_open(name, lambda: limiter().hit(name, *subject)))


def check(name: str, *subject: str) -> Verdict:
    """Is `subject` already over `name`'s limit (nothing counted)? Fails open like `hit`."""
    return _counted(name, _fail_open(name, lambda: limiter().check(name, *subject)))


def _counted(name: str, verdict: Verdict) -> Verdict:
    """Refusals go to /metrics (portal_rate_limited_total): a flood shows on the dashboards,
    and a limit set too low for a ministry's proxy shows as steady refusals."""
    if not verdict.allowed:
        count_rate_limited(name)
    return verdict


def _fail_open(name: str, attempt: Callable[[], Verdict]) -> Verdict:
    global _last_warning
    try:
        return attempt()
    except redis.RedisError as exc:
        now = time.monotonic()
        if now - _last_warning >= _WARNING_INTERVAL:
            _last_warning = now
            logger.warning("rate limit %s not applied: Redis unavailable (%s)", name, exc)
        return ALLOWED


def message(name: str, verdict: Verdict) -> str:
    return MESSAGES[name] % {"wait": french_duration(verdict.retry_after)}


def french_duration(seconds: int) -> str:
    """30 → "30 secondes", 61 → "2 minutes" (rounded up), 3600 → "60 minutes"."""
    if seconds < 60:
        return ngettext("%(num)s seconde", "%(num)s secondes", max(seconds, 1))
    return ngettext("%(num)s minute", "%(num)s minutes", math.ceil(seconds / 60))


def too_many(response: ResponseReturnValue, verdict: Verdict) -> Response:
    """`response` (a page showing the message) as a 429 with Retry-After."""
    response = make_response(response)
    response.status_code = 429
    response.headers["Retry-After"] = str(verdict.retry_after)
    return response


def json_refusal(name: str, verdict: Verdict) -> Response:
    """429 {"error": "rate_limited", "message": "..."} for endpoints scripts call."""
    return too_many(jsonify(error=ERROR_CODE, message=message(name, verdict)), verdict)


def page_refusal(name: str, verdict: Verdict) -> Response:
    """A page with the message alone, for requests that have no form to show it on."""
    page = render_template(
        "invitations/rate_limited.html", title=str(TITLE), message=message(name, verdict)
    )
    return too_many(page, verdict)


def limited(
    name: str,
    refuse: Callable[[str, Verdict], Response],
    subject: Callable[..., tuple[str, ...]] = lambda **_: (client_address(),),
) -> Callable:
    """Decorate a view: count each request for `subject(**view_kwargs)` (the client's address
    by default); beyond the limit, answer `refuse(name, verdict)` without calling the view."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            verdict = hit(name, *subject(**kwargs))
            if not verdict.allowed:
                return refuse(name, verdict)
            return view(*args, **kwargs)

        return wrapper

    return decorator
