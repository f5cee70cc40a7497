"""Routes of the room pages and of the join-token endpoint."""

from flask import Blueprint

from portal.rooms import views
from portal.rooms.schedule import french_moment

bp = Blueprint("rooms", __name__)
# "le lundi 10 mars 2025 à 14 h 05" (Paris time) for a UTC datetime.
bp.add_app_template_filter(french_moment, "paris_moment")

bp.add_url_rule("/", "home", views.home, methods=["GET"])
bp.add_url_rule("/salles", "my_rooms", views.my_rooms, methods=["GET"])
bp.add_url_rule("/salles/nouvelle", "create_room", views.create_room, methods=["GET", "POST"])
bp.add_url_rule("/r/<slug>", "prejoin", views.prejoin, methods=["GET", "POST"])
bp.add_url_rule("/r/<slug>/salle", "room_page", views.room_page, methods=["GET"])
bp.add_url_rule("/r/<slug>/jeton", "join_token", views.join_token, methods=["POST"])
bp.add_url_rule(
    "/r/<slug>/parametres", "room_settings", views.room_settings, methods=["GET", "POST"]
)
