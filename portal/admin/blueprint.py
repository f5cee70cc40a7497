"""Routes of the tenant administration pages; every one is for tenant administrators only."""

from flask import Blueprint

from portal.admin import views

bp = Blueprint("admin", __name__, url_prefix="/admin")

bp.add_url_rule("/", "index", views.index, methods=["GET"])
bp.add_url_rule("/agents", "agents", views.agents, methods=["GET"])
bp.add_url_rule("/agents/<public_id>/role", "change_role", views.change_role, methods=["POST"])
bp.add_url_rule("/agents/<public_id>/desactiver", "deactivate", views.deactivate, methods=["POST"])
bp.add_url_rule("/agents/<public_id>/reactiver", "reactivate", views.reactivate, methods=["POST"])
bp.add_url_rule("/salles", "rooms", views.rooms, methods=["GET"])
bp.add_url_rule("/regles", "policy", views.policy, methods=["GET", "POST"])
bp.add_url_rule("/utilisation", "usage", views.usage, methods=["GET"])
bp.add_url_rule("/journal", "audit", views.audit, methods=["GET"])
