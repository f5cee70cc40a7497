"""Request handling of the lobby: the waiting page and its state (waiting people), the queue and
the decisions (moderators, JSON, CSRF header)."""

from __future__ import annotations

import logging

import redis
from flask import current_app, jsonify, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.core import ratelimit, services
from portal.lobby import operations
from portal.lobby.operations import ADMITTED, REFUSED, WAITING, Lobby
from portal.rooms.access import room_moderator_view, room_view
from portal.rooms.entry import Route, Visitor
from portal.rooms.schedule import current_time

logger = logging.getLogger(__name__)

UNAVAILABLE = _l("La salle d'attente est momentanément indisponible. Réessayez dans un instant.")


def lobby_service() -> Lobby:
    return Lobby(
        services.redis_client(),
        current_app.config["REDIS_KEY_PREFIX"],
        clock=lambda: current_time().timestamp(),
    )


def _unavailable():
    return jsonify(error="lobby_unavailable", message=UNAVAILABLE), 503


def _state(visitor: Visitor, lobby: Lobby) -> str:
    """admitted / refused / waiting; someone who needs no lobby is admitted."""
    if visitor.route is Route.DIRECT:
        return ADMITTED
    if visitor.route is Route.CLOSED:
        return REFUSED
    decision = lobby.decision(visitor.waiting_id)
    if decision in (ADMITTED, REFUSED):
        return decision
    lobby.wait(visitor.room.slug, visitor.waiting_id, visitor.default_name)
    return WAITING


def _next_url(visitor: Visitor, state: str) -> str | None:
    if state == ADMITTED:
        return url_for("rooms.prejoin", slug=visitor.room.slug)
    if state == REFUSED:
        return url_for("lobby.waiting_page", slug=visitor.room.slug)
    return None


def _address_and_room(slug: str, **_) -> tuple[str, str]:
    return ratelimit.client_address(), slug


# The waiting page and its state (polled every 2 s), per client address and room.
@ratelimit.limited(ratelimit.LOBBY_POLL, ratelimit.page_refusal, _address_and_room)
@room_view
def waiting_page(visitor: Visitor):
    try:
        state = _state(visitor, lobby_service())
    except redis.RedisError:
        logger.warning("Redis unavailable for the lobby of room %s", visitor.room.slug)
        state = WAITING
    return render_template(
        "lobby/waiting.html",
        room=visitor.room,
        visitor=visitor,
        state=state,
        next_url=_next_url(visitor, ADMITTED),
    )


@ratelimit.limited(ratelimit.LOBBY_POLL, ratelimit.json_refusal, _address_and_room)
@room_view
def waiting_state(visitor: Visitor):
    try:
        state = _state(visitor, lobby_service())
    except redis.RedisError:
        return _unavailable()
    response = jsonify(status=state, next=_next_url(visitor, state))
    response.headers["Cache-Control"] = "no-store"
    return response


@room_moderator_view
def queue(visitor: Visitor):
    try:
        waiting = lobby_service().waiting(visitor.room.slug)
    except redis.RedisError:
        return _unavailable()
    response = jsonify(waiting=[entry.as_json() for entry in waiting])
    response.headers["Cache-Control"] = "no-store"
    return response


def _decide(visitor: Visitor, waiting_id: str, decision: str):
    try:
        entry = operations.decide(
            lobby_service(),
            visitor.room,
            waiting_id,
            decision,
            moderator=visitor.user,
            moderator_label=visitor.audit_label,
        )
    except redis.RedisError:
        return _unavailable()
    if entry is None:
        return jsonify(
            error="not_waiting", message=_("Cette personne n'est plus dans la salle d'attente.")
        ), 404
    return jsonify(ok=True)


@room_moderator_view
def admit(visitor: Visitor, waiting_id: str):
    return _decide(visitor, waiting_id, ADMITTED)


@room_moderator_view
def refuse(visitor: Visitor, waiting_id: str):
    return _decide(visitor, waiting_id, REFUSED)


@room_moderator_view
def admit_all(visitor: Visitor):
    lobby = lobby_service()
    admitted = 0
    try:
        for entry in lobby.waiting(visitor.room.slug):
            if operations.decide(
                lobby,
                visitor.room,
                entry.id,
                ADMITTED,
                moderator=visitor.user,
                moderator_label=visitor.audit_label,
            ):
                admitted += 1
    except redis.RedisError:
        return _unavailable()
    return jsonify(admitted=admitted)
