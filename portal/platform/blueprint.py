"""Routes of the platform administration pages; every one is for platform administrators only."""

from flask import Blueprint

from portal.platform import views

bp = Blueprint("platform", __name__, url_prefix="/plateforme")

bp.add_url_rule("/", "tenants", views.tenants, methods=["GET"])
bp.add_url_rule(
    "/ministeres/nouveau", "create_tenant", views.create_tenant, methods=["GET", "POST"]
)
bp.add_url_rule(
    "/ministeres/<public_id>", "edit_tenant", views.edit_tenant, methods=["GET", "POST"]
)
bp.add_url_rule(
    "/fournisseurs/nouveau", "create_provider", views.create_provider, methods=["GET", "POST"]
)
bp.add_url_rule(
    "/fournisseurs/<public_id>", "edit_provider", views.edit_provider, methods=["GET", "POST"]
)
bp.add_url_rule("/fournisseurs/<public_id>/verifier", "check", views.check, methods=["POST"])
bp.add_url_rule("/fournisseurs/<public_id>/regles", "add_rule", views.add_rule, methods=["POST"])
bp.add_url_rule(
    "/fournisseurs/<public_id>/regles/<int:rule_id>/supprimer",
    "remove_rule",
    views.remove_rule,
    methods=["POST"],
)
bp.add_url_rule("/serveurs-media", "media_pool", views.media_pool, methods=["GET"])
