"""Route of the public privacy page."""

from flask import Blueprint

from portal.privacy import views

bp = Blueprint("privacy", __name__)

bp.add_url_rule("/confidentialite", "privacy_page", views.privacy_page, methods=["GET"])
