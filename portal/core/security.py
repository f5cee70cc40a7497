"""Security headers sent with every response, the Content-Security-Policy first.

No inline script or style is allowed anywhere: templates load static files only. The
policy's connect-src lets the room page open WebSocket signalling to the SFU workers
(SFU_CONNECT_SRC, see docs/configuration.md); form-action includes, per request, the identity
providers a form on the page may redirect to (`allow_form_action`), because Chromium applies
form-action to the redirects that follow a form submission (the sign-in page's form goes on to a
provider, sign-out to the provider's end-session endpoint).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, g, request

_FORM_ACTION_KEY = "csp_form_action_sources"


def allow_form_action(*origins: str) -> None:
    """Let forms of the current response redirect to `origins` (CSP form-action)."""
    sources = g.setdefault(_FORM_ACTION_KEY, [])
    sources.extend(origin for origin in origins if origin not in sources)


def content_security_policy(config, form_action_sources: Iterable[str] = ()) -> str:
    form_action = ["'self'", *form_action_sources]
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "media-src": "'self' blob:",
        "connect-src": f"'self' {config['SFU_CONNECT_SRC']}".strip(),
        "font-src": "'self'",
        "object-src": "'none'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "form-action": " ".join(form_action),
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def init_security_headers(app: Flask) -> None:
    headers = {
        "Content-Security-Policy": content_security_policy(app.config),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": (
            "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
        ),
        "Cross-Origin-Opener-Policy": "same-origin",
    }

    hsts_max_age = app.config["HSTS_MAX_AGE"]

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # Only over TLS (RFC 6797 §7.2), as the portal sees it: directly or, behind a trusted
        # proxy, from X-Forwarded-Proto. No includeSubDomains: the portal cannot know what
        # else runs under its domain (nginx may add it: ansible/roles/nginx).
        if hsts_max_age and request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts_max_age}")
        extra_form_action = g.get(_FORM_ACTION_KEY)
        if extra_form_action:
            response.headers.setdefault(
                "Content-Security-Policy", content_security_policy(app.config, extra_form_action)
            )
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
