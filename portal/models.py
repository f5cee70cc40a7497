"""Imports every model so that the metadata is complete (Alembic autogenerate, create_all)."""

from portal.audit.models import AuditEvent
from portal.auth.models import Identity
from portal.invitations.models import Invitation
from portal.meetings.models import Attendance, Meeting
from portal.rooms.models import Room
from portal.tenants.models import FederationRule, IdentityProvider, Tenant
from portal.users.models import User

__all__ = [
    "Attendance",
    "AuditEvent",
    "FederationRule",
    "Identity",
    "IdentityProvider",
    "Invitation",
    "Meeting",
    "Room",
    "Tenant",
    "User",
]
