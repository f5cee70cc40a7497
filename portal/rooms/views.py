"""Request handling of the room pages, the settings page and the join-token endpoint.

Every view of one room goes through a decorator of portal/rooms/access.py: load the room or
404, find the visitor (signed-in user or this room's guest), check their role — so no view
repeats the checks.
"""

from __future__ import annotations

import logging

import redis
from flask import (
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal.core import ratelimit, services
from portal.core.errors import error_response
from portal.core.metrics import count_join_token
from portal.lobby.views import lobby_service
from portal.media.load import PoolLoad, pool_load
from portal.media.placement import NoWorkerAvailable, PlacementConflict
from portal.rooms import operations
from portal.rooms.access import room_manager_view, room_view
from portal.rooms.entry import Route, Visitor
from portal.rooms.forms import CreateRoomForm, PreJoinForm, RoomSettingsForm
from portal.rooms.models import Room, RoomAccess
from portal.rooms.schedule import current_time, schedule_of

logger = logging.getLogger(__name__)

# Pre-join choices per room, kept in the (signed cookie) session; bounded to keep it small.
JOIN_CHOICES_KEY = "join_choices"
MAX_REMEMBERED_ROOMS = 10
INVITED_ONLY = _l(
    "Cette salle est réservée aux personnes invitées. "
    "Demandez une invitation à l'organisateur de la réunion."
)


def json_error(status: int, error: str, message: str):
    return jsonify(error=error, message=message), status


def room_url(room: Room) -> str:
    return current_app.config["PORTAL_URL"] + url_for("rooms.prejoin", slug=room.slug)


def home():
    rooms = operations.rooms_owned_by(current_user) if current_user.is_authenticated else []
    return render_template("rooms/home.html", rooms=rooms[:5], room_url=room_url)


@login_required
def my_rooms():
    rooms = operations.rooms_moderated_by(current_user)
    return render_template("rooms/my_rooms.html", rooms=rooms, room_url=room_url)


@login_required
def create_room():
    form = CreateRoomForm.for_tenant(current_user.tenant)
    if form.validate_on_submit():
        verdict = ratelimit.hit(ratelimit.ROOM_CREATION, current_user.public_id)
        if not verdict.allowed:
            page = render_template(
                "rooms/create.html",
                form=form,
                max_capacity=current_user.tenant.max_room_capacity,
                alert=ratelimit.message(ratelimit.ROOM_CREATION, verdict),
            )
            return ratelimit.too_many(page, verdict)
        room = operations.create_room(current_user, form.name.data, capacity=form.capacity.data)
        flash(
            _(
                "La salle « %(name)s » est créée. Partagez son lien : %(url)s",
                name=room.name,
                url=room_url(room),
            ),
            "success",
        )
        return redirect(url_for("rooms.my_rooms"))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "rooms/create.html", form=form, max_capacity=current_user.tenant.max_room_capacity
    ), status


def remembered_choices(room: Room) -> dict | None:
    return session.get(JOIN_CHOICES_KEY, {}).get(room.slug)


def waiting_gate(visitor: Visitor):
    """A response when the visitor may not reach the pre-join or room page yet, else None."""
    if visitor.route is Route.CLOSED:
        return error_response(403, INVITED_ONLY)
    if visitor.route is Route.LOBBY:
        try:
            admitted = lobby_service().decision(visitor.waiting_id) == "admitted"
        except redis.RedisError:
            admitted = False
        if not admitted:
            return redirect(url_for("lobby.waiting_page", slug=visitor.room.slug))
    return None


def current_pool_load() -> PoolLoad | None:
    """The SFU pool's load for the pre-join page; None if Redis cannot tell."""
    try:
        return pool_load(
            services.redis_client(),
            current_app.config["REDIS_KEY_PREFIX"],
            current_app.config["SFU_PARTICIPANTS_PER_WORKER"],
        )
    except redis.RedisError:
        logger.warning("SFU pool load unavailable (Redis)", exc_info=True)
        return None


@room_view
def prejoin(visitor: Visitor):
    room = visitor.room
    gate = waiting_gate(visitor)
    if gate is not None:
        return gate
    form = PreJoinForm()
    if form.validate_on_submit():
        choices = dict(session.get(JOIN_CHOICES_KEY, {}))
        choices.pop(room.slug, None)
        audio_only = bool(form.audio_only.data)
        choices[room.slug] = {
            "display_name": form.display_name.data,
            "microphone": bool(form.microphone.data),
            "camera": bool(form.camera.data) and not audio_only,
            "audio_only": audio_only,
        }
        # Dicts keep insertion order: drop the rooms joined longest ago.
        session[JOIN_CHOICES_KEY] = dict(list(choices.items())[-MAX_REMEMBERED_ROOMS:])
        return redirect(url_for("rooms.room_page", slug=room.slug))
    load = current_pool_load()
    # Above the threshold, audio-only is recommended and pre-checked (docs/configuration.md).
    busy = bool(
        load and load.workers and load.level > current_app.config["AUDIO_ONLY_RECOMMENDED_ABOVE"]
    )
    if not form.is_submitted():
        previous = remembered_choices(room)
        form.display_name.data = (previous or {}).get("display_name") or visitor.default_name
        if previous:
            form.microphone.data, form.camera.data = previous["microphone"], previous["camera"]
        form.audio_only.data = (
            room.audio_only_by_default or busy or bool((previous or {}).get("audio_only"))
        )
        if form.audio_only.data:
            form.camera.data = False
    status = 400 if form.is_submitted() else 200
    return render_template(
        "rooms/prejoin.html",
        room=room,
        form=form,
        visitor=visitor,
        schedule=schedule_of(room),
        load=load,
        audio_only_recommended=busy,
    ), status


@room_view
def room_page(visitor: Visitor):
    room = visitor.room
    gate = waiting_gate(visitor)
    if gate is not None:
        return gate
    choices = remembered_choices(room)
    if choices is None:
        return redirect(url_for("rooms.prejoin", slug=room.slug))
    return render_template(
        "rooms/room.html",
        room=room,
        choices=choices,
        audio_only=choices.get("audio_only", room.audio_only_by_default),
        role=visitor.role.value,
    )


@room_view
def join_token(visitor: Visitor):
    room = visitor.room
    choices = remembered_choices(room) or {}
    display_name = choices.get("display_name") or visitor.default_name
    try:
        grant = operations.issue_join(
            visitor,
            display_name,
            placement=services.placement(),
            lobby=lobby_service(),
            client=services.redis_client(),
            key_prefix=current_app.config["REDIS_KEY_PREFIX"],
            now=current_time(),
            private_key_pem=services.join_token_private_key(),
            issuer=current_app.config["PORTAL_URL"],
            lifetime_seconds=current_app.config["JOIN_TOKEN_LIFETIME"],
            ice_servers=current_app.config["SFU_ICE_SERVERS"],
            turn=current_app.config["TURN"],
            # A reconnecting client names the worker it lost (docs/protocol.md, "Reconnection").
            failed_worker=request.form.get("failed_worker", "")[:100] or None,
        )
    except operations.JoinRefused as refusal:
        logger.info("join token refused to %s in room %s: %s", visitor.uid, room.slug, refusal.code)
        count_join_token("refused", refusal.code)
        return json_error(refusal.status, refusal.code, refusal.message)
    except (NoWorkerAvailable, PlacementConflict, redis.RedisError) as exc:
        logger.warning("no SFU worker for room %s: %r", room.slug, exc)
        count_join_token("refused", "no_worker")
        return json_error(
            503,
            "no_worker",
            _(
                "Aucun serveur de visioconférence n'est disponible pour le moment. "
                "Réessayez dans quelques instants."
            ),
        )
    except (services.JoinTokenKeyMissing, OSError):
        logger.exception("cannot sign join tokens")
        count_join_token("refused", "not_configured")
        return json_error(
            503,
            "not_configured",
            _(
                "Le portail n'est pas configuré pour ouvrir les salles. "
                "Contactez l'administrateur du portail."
            ),
        )
    count_join_token("issued")
    response = jsonify(grant.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response


@room_manager_view
def room_settings(visitor: Visitor):
    room = visitor.room
    form = RoomSettingsForm.for_room(room)
    if form.validate_on_submit():
        settings = operations.RoomSettings(
            name=form.name.data,
            access=RoomAccess(form.access.data),
            lobby_enabled=bool(form.lobby_enabled.data),
            capacity=form.capacity.data,
            audio_only_by_default=bool(form.audio_only_by_default.data),
            schedule_starts_at=form.schedule_starts_at.data,
            schedule_ends_at=form.schedule_ends_at.data,
            co_moderators=form.moderator_users,
        )
        changes = operations.update_settings(
            room, settings, actor=visitor.user, max_capacity=form.max_capacity
        )
        flash(
            _("Les réglages de la salle sont enregistrés.")
            if changes
            else _("Aucun réglage n'a changé."),
            "success",
        )
        return redirect(url_for("rooms.room_settings", slug=room.slug))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "rooms/settings.html",
        room=room,
        form=form,
        room_url=room_url(room),
        guests_allowed=room.owner.tenant.guests_allowed,
        next_url=request.path,
    ), status
