"""Imports every model so that the metadata is complete (Alembic autogenerate, create_all)."""

from portal.auth.models import Identity
from portal.rooms.models import Room
from portal.users.models import User

__all__ = ["Identity", "Room", "User"]
