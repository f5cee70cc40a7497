"""Routes of sign-in and sign-out."""

from flask import Blueprint

from portal.auth import views

bp = Blueprint("auth", __name__)

bp.add_url_rule("/connexion", "sign_in", views.sign_in_page, methods=["GET"])
bp.add_url_rule("/connexion", "find_ministry", views.find_ministry, methods=["POST"])
bp.add_url_rule("/connexion/oidc", "start", views.start_sign_in, methods=["GET"])
# One redirect URI for every provider, registered at each of them as the client's redirect URI;
# the session remembers which provider the sign-in was started with.
bp.add_url_rule("/auth/callback", "callback", views.callback, methods=["GET"])
bp.add_url_rule("/deconnexion", "sign_out", views.sign_out, methods=["POST"])
bp.before_app_request(views.allow_provider_of_session)
