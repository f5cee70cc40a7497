"""Flask-Login wiring: who the session belongs to, and what anonymous users are told."""

from __future__ import annotations

from flask import Flask, redirect, request, url_for
from sqlalchemy import select

from portal.core.errors import error_response, wants_json
from portal.extensions import db, login_manager
from portal.users.models import User


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    # "strong": a session cookie replayed from another address or browser is dropped.
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.sign_in"

    @login_manager.user_loader
    def load_user(public_id: str) -> User | None:
        user = db.session.scalar(select(User).where(User.public_id == public_id))
        # A user deactivated while signed in loses their session at the next request.
        return user if user is not None and user.is_active else None

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            message = "Connectez-vous pour rejoindre cette salle."
            return error_response(401, message, "unauthenticated")
        return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
