"""Request handling of the room pages and of the join-token endpoint.

Every view of one room goes through `room_view`: load the room or 404, then check access,
then process — so no view repeats the checks.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps

import redis
from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_login import current_user, login_required

from portal.core import services
from portal.extensions import login_manager
from portal.media.placement import NoWorkerAvailable, PlacementConflict
from portal.rooms import operations
from portal.rooms.forms import CreateRoomForm, PreJoinForm
from portal.rooms.models import Room

logger = logging.getLogger(__name__)

# Pre-join choices per room, kept in the (signed cookie) session; bounded to keep it small.
JOIN_CHOICES_KEY = "join_choices"
MAX_REMEMBERED_ROOMS = 10


def json_error(status: int, error: str, message: str):
    return jsonify(error=error, message=message), status


def room_view(view: Callable) -> Callable:
    """Load the room named by the URL (404 if none), require a signed-in user, call the view."""

    @wraps(view)
    def wrapper(slug: str, **kwargs):
        room = operations.room_by_slug(slug)
        if room is None:
            abort(404)
        # Guests come later: for now any signed-in user who knows the link may join.
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(room, **kwargs)

    return wrapper


def room_url(room: Room) -> str:
    return current_app.config["PORTAL_URL"] + url_for("rooms.prejoin", slug=room.slug)


def home():
    rooms = operations.rooms_owned_by(current_user) if current_user.is_authenticated else []
    return render_template("rooms/home.html", rooms=rooms[:5], room_url=room_url)


@login_required
def my_rooms():
    rooms = operations.rooms_owned_by(current_user)
    return render_template("rooms/my_rooms.html", rooms=rooms, room_url=room_url)


@login_required
def create_room():
    form = CreateRoomForm.for_tenant(current_user.tenant)
    if form.validate_on_submit():
        room = operations.create_room(current_user, form.name.data, capacity=form.capacity.data)
        flash(
            f"La salle « {room.name} » est créée. Partagez son lien : {room_url(room)}", "success"
        )
        return redirect(url_for("rooms.my_rooms"))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "rooms/create.html", form=form, max_capacity=current_user.tenant.max_room_capacity
    ), status


def remembered_choices(room: Room) -> dict | None:
    return session.get(JOIN_CHOICES_KEY, {}).get(room.slug)


@room_view
def prejoin(room: Room):
    form = PreJoinForm()
    if form.validate_on_submit():
        choices = dict(session.get(JOIN_CHOICES_KEY, {}))
        choices.pop(room.slug, None)
        choices[room.slug] = {
            "display_name": form.display_name.data,
            "microphone": bool(form.microphone.data),
            "camera": bool(form.camera.data),
        }
        # Dicts keep insertion order: drop the rooms joined longest ago.
        session[JOIN_CHOICES_KEY] = dict(list(choices.items())[-MAX_REMEMBERED_ROOMS:])
        return redirect(url_for("rooms.room_page", slug=room.slug))
    if not form.is_submitted():
        previous = remembered_choices(room)
        form.display_name.data = (previous or {}).get("display_name") or current_user.display_name
        if previous:
            form.microphone.data, form.camera.data = previous["microphone"], previous["camera"]
    status = 400 if form.is_submitted() else 200
    return render_template("rooms/prejoin.html", room=room, form=form), status


@room_view
def room_page(room: Room):
    choices = remembered_choices(room)
    if choices is None:
        return redirect(url_for("rooms.prejoin", slug=room.slug))
    return render_template(
        "rooms/room.html",
        room=room,
        choices=choices,
        ice_servers_json=json.dumps(current_app.config["SFU_ICE_SERVERS"]),
    )


@room_view
def join_token(room: Room):
    choices = remembered_choices(room) or {}
    display_name = choices.get("display_name") or current_user.display_name
    try:
        grant = operations.issue_join(
            room,
            current_user,
            display_name,
            placement=services.placement(),
            private_key_pem=services.join_token_private_key(),
            issuer=current_app.config["PORTAL_URL"],
            lifetime_seconds=current_app.config["JOIN_TOKEN_LIFETIME"],
            ice_servers=current_app.config["SFU_ICE_SERVERS"],
        )
    except (NoWorkerAvailable, PlacementConflict, redis.RedisError) as exc:
        logger.warning("no SFU worker for room %s: %r", room.slug, exc)
        return json_error(
            503,
            "no_worker",
            "Aucun serveur de visioconférence n'est disponible pour le moment. "
            "Réessayez dans quelques instants.",
        )
    except (services.JoinTokenKeyMissing, OSError):
        logger.exception("cannot sign join tokens")
        return json_error(
            503,
            "not_configured",
            "Le portail n'est pas configuré pour ouvrir les salles. "
            "Contactez l'administrateur du portail.",
        )
    response = jsonify(grant.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response
