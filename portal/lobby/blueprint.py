"""Routes of the lobby (docs/meetings.md, "Portal endpoints for guests and the lobby")."""

from flask import Blueprint

from portal.lobby import views

bp = Blueprint("lobby", __name__)

bp.add_url_rule("/r/<slug>/attente", "waiting_page", views.waiting_page, methods=["GET"])
bp.add_url_rule("/r/<slug>/attente/etat", "waiting_state", views.waiting_state, methods=["GET"])
bp.add_url_rule("/r/<slug>/file", "queue", views.queue, methods=["GET"])
bp.add_url_rule("/r/<slug>/file/<waiting_id>/admettre", "admit", views.admit, methods=["POST"])
bp.add_url_rule("/r/<slug>/file/<waiting_id>/refuser", "refuse", views.refuse, methods=["POST"])
bp.add_url_rule("/r/<slug>/file/admettre-tous", "admit_all", views.admit_all, methods=["POST"])
