"""Routes of invitations: the link itself and the management page of a room's invitations."""

from flask import Blueprint

from portal.invitations import views

bp = Blueprint("invitations", __name__)

bp.add_url_rule("/i/<token>", "open_invitation", views.open_invitation, methods=["GET", "POST"])
bp.add_url_rule("/r/<slug>/invitations", "manage", views.manage, methods=["GET", "POST"])
bp.add_url_rule(
    "/r/<slug>/invitations/<public_id>/revoquer", "revoke", views.revoke, methods=["POST"]
)
