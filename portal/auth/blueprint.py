"""Routes of sign-in and sign-out."""

from flask import Blueprint

from portal.auth import views

bp = Blueprint("auth", __name__)

bp.add_url_rule("/connexion", "sign_in", views.sign_in_page, methods=["GET"])
bp.add_url_rule("/connexion/oidc", "start", views.start_sign_in, methods=["GET"])
# The path is registered at the identity provider as the client's redirect URI.
bp.add_url_rule("/auth/callback", "callback", views.callback, methods=["GET"])
bp.add_url_rule("/deconnexion", "sign_out", views.sign_out, methods=["POST"])
