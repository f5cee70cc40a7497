"""Security headers sent with every response, the Content-Security-Policy first.

No inline script or style is allowed anywhere: templates load static files only. The
policy's connect-src lets the room page open WebSocket signalling to the SFU workers
(SFU_CONNECT_SRC, see docs/configuration.md); form-action includes the identity provider
because Chromium applies form-action to the redirects that follow a form submission
(sign-out goes on to the provider's end-session endpoint).
"""

from __future__ import annotations

from flask import Flask, Response

from portal.config import origin_of


def content_security_policy(config) -> str:
    form_action = ["'self'"]
    if config["OIDC_ISSUER"]:
        form_action.append(origin_of(config["OIDC_ISSUER"]))
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

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response
