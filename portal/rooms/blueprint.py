"""Routes of the room pages and of the join-token endpoint."""

from flask import Blueprint

from portal.rooms import views

bp = Blueprint("rooms", __name__)

bp.add_url_rule("/", "home", views.home, methods=["GET"])
bp.add_url_rule("/salles", "my_rooms", views.my_rooms, methods=["GET"])
bp.add_url_rule("/salles/nouvelle", "create_room", views.create_room, methods=["GET", "POST"])
bp.add_url_rule("/r/<slug>", "prejoin", views.prejoin, methods=["GET", "POST"])
bp.add_url_rule("/r/<slug>/salle", "room_page", views.room_page, methods=["GET"])
bp.add_url_rule("/r/<slug>/jeton", "join_token", views.join_token, methods=["POST"])
