"""The webconference portal: who may do what, rooms, sign-in, and join tokens for the SFU.

`create_app()` is the application factory; `flask --app portal ...` finds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

REPO_ROOT = Path(__file__).resolve().parent.parent


def share_dir() -> Path:
    """Where templates/, static/ and migrations/ are: the checkout, or PORTAL_SHARE_DIR.

    They live outside the Python package; an installed release ships them next to its
    virtualenv (ansible/roles/webconf_release) and names that folder in PORTAL_SHARE_DIR.
    """
    return Path(os.environ.get("PORTAL_SHARE_DIR") or REPO_ROOT)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build a portal application from the environment; `config` entries win (tests)."""
    shared = share_dir()
    app = Flask(
        __name__,
        template_folder=str(shared / "templates"),
        static_folder=str(shared / "static"),
        instance_path=os.environ.get("PORTAL_INSTANCE_DIR") or str(REPO_ROOT / "instance"),
    )
    from portal.config import load_config

    app.config.update(load_config(os.environ, config, instance_path=app.instance_path))
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    # Extensions, in the order they depend on each other.
    from portal import models  # noqa: F401 — every model registered on the metadata
    from portal.auth.oidc import init_oidc
    from portal.auth.session import init_login
    from portal.extensions import csrf, db, migrate

    db.init_app(app)
    # Migrations are a deploy step (`flask db upgrade`), never run here.
    migrate.init_app(
        app, db, directory=str(shared / "migrations"), render_as_batch=True, compare_type=True
    )
    init_login(app)
    csrf.init_app(app)
    init_oidc(app)

    from portal.i18n import init_i18n

    init_i18n(app)

    from portal.core.errors import init_error_pages
    from portal.core.health import init_health
    from portal.core.metrics import init_metrics
    from portal.core.security import init_security_headers

    init_security_headers(app)
    init_error_pages(app)
    init_metrics(app)
    init_health(app)

    from portal.auth.blueprint import bp as auth_bp
    from portal.invitations.blueprint import bp as invitations_bp
    from portal.lobby.blueprint import bp as lobby_bp
    from portal.rooms.blueprint import bp as rooms_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(rooms_bp)
    app.register_blueprint(invitations_bp)
    app.register_blueprint(lobby_bp)

    from portal.meetings.cli import meetings_cli, retention_cli

    app.cli.add_command(meetings_cli)
    app.cli.add_command(retention_cli)

    from portal.admin.blueprint import bp as admin_bp
    from portal.platform.blueprint import bp as platform_bp
    from portal.privacy.blueprint import bp as privacy_bp

    app.register_blueprint(admin_bp)
    app.register_blueprint(platform_bp)
    app.register_blueprint(privacy_bp)

    from portal.cli import init_cli

    init_cli(app)
    return app
