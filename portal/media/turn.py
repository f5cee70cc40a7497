"""Short-lived TURN credentials for browsers (coturn's `use-auth-secret`, the "TURN REST API").

The portal and coturn share a secret; nobody stores per-user TURN passwords. For each join the
portal hands the browser

    username   = "<expiry as Unix time>:<participant id>"
    credential = base64(HMAC-SHA1(shared secret, username))

and coturn recomputes the credential from the username, refusing it once the expiry has
passed. coturn checks it on every authenticated request, allocation refreshes included, so the
lifetime must cover a whole meeting (at most 6 hours): a reconnection fetches a fresh join
token and with it fresh credentials. The participant id is the random one of the join token:
coturn's logs then name no person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

# A meeting lasts at most 6 hours and opens 5 minutes early: 6 h 15 min leaves a margin.
DEFAULT_CREDENTIAL_LIFETIME = 6 * 3600 + 15 * 60
TURN_URL_SCHEMES = ("turn:", "turns:")


@dataclass(frozen=True)
class TurnSettings:
    """Where the TURN servers are and how to sign credentials for them."""

    urls: tuple[str, ...]
    shared_secret: str
    lifetime_seconds: int = DEFAULT_CREDENTIAL_LIFETIME


def turn_credential(shared_secret: str, username: str) -> str:
    """The password coturn expects for `username` (HMAC-SHA1, base64, as coturn computes it)."""
    digest = hmac.new(shared_secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_ice_server(settings: TurnSettings, participant_id: str, now: datetime) -> dict:
    """An RTCIceServer dictionary valid until now + the settings' lifetime."""
    expires = int(now.timestamp()) + settings.lifetime_seconds
    username = f"{expires}:{participant_id}"
    return {
        "urls": list(settings.urls),
        "username": username,
        "credential": turn_credential(settings.shared_secret, username),
    }


def ice_servers_for_join(
    static_servers: list, turn: TurnSettings | None, participant_id: str, now: datetime
) -> list:
    """The configured STUN/TURN servers, plus our TURN servers with fresh credentials."""
    servers = list(static_servers)
    if turn is not None:
        servers.append(turn_ice_server(turn, participant_id, now))
    return servers
