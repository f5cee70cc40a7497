"""Access checks of the pages of one room, written once (load the room or 404 → find the
visitor → check their role → call the view with the Visitor)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort
from flask_babel import lazy_gettext as _l

from portal.core.errors import error_response
from portal.extensions import login_manager
from portal.rooms import operations
from portal.rooms.entry import Visitor, visitor_for

MODERATORS_ONLY = _l("Cette page est réservée aux modérateurs de la salle.")
MANAGERS_ONLY = _l(
    "Cette page est réservée aux modérateurs de la salle : son organisateur et ses co-modérateurs."
)


def _room_view(allowed: Callable[[Visitor], bool] | None, message: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(slug: str, **kwargs):
            room = operations.room_by_slug(slug)
            if room is None:
                abort(404)
            visitor = visitor_for(room)
            if visitor is None:
                # Anonymous (or a guest of another room): sign in, or 401 for scripts.
                return login_manager.unauthorized()
            if allowed is not None and not allowed(visitor):
                return error_response(403, message, "forbidden")
            return view(visitor, **kwargs)

        return wrapper

    return decorator


# Anyone who may look at the room: signed-in users, and guests of this room.
room_view = _room_view(None, "")
# Moderators in the meeting (owner, co-moderators, moderator invitations, guests included).
room_moderator_view = _room_view(lambda visitor: visitor.is_moderator, MODERATORS_ONLY)
# The owner and co-moderators: settings and invitations (an account is needed).
room_manager_view = _room_view(lambda visitor: visitor.is_room_manager, MANAGERS_ONLY)
