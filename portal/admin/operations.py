"""State changes and queries of tenant administration; every change is audited and committed
together with its audit event. Every query is scoped to one tenant."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select

from portal.audit.models import AuditAction, AuditEvent
from portal.audit.operations import diff, record
from portal.extensions import db
from portal.rooms.models import Room
from portal.tenants.models import PLATFORM_MAX_ROOM_CAPACITY, Tenant
from portal.users.models import Role, User

logger = logging.getLogger(__name__)

AGENTS_PER_PAGE = 25
ROOMS_PER_PAGE = 25
EVENTS_PER_PAGE = 30
POLICY_FIELDS = (
    "guests_allowed",
    "lobby_by_default",
    "default_room_capacity",
    "max_room_capacity",
    "audio_only_by_default",
    "retention_days",
)
ASSIGNABLE_ROLES = frozenset({Role.AGENT, Role.TENANT_ADMIN})


class AdminActionRefused(Exception):
    """The action is not allowed; the message is shown to the administrator (translated)."""


@dataclass(frozen=True)
class Page:
    """One page of a list: its items and where it sits among the others."""

    items: list
    number: int
    pages: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(query, page: int, per_page: int) -> Page:
    result = db.paginate(query, page=max(page, 1), per_page=per_page, error_out=False)
    return Page(
        items=list(result.items), number=result.page, pages=result.pages or 1, total=result.total
    )


def like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- Agents ----------------------------------------------------------------------------------


def search_agents(tenant: Tenant, text: str | None, page: int = 1) -> Page:
    """The tenant's users whose name or e-mail contains `text`, by name."""
    query = select(User).where(User.tenant_id == tenant.id)
    if text:
        pattern = like_pattern(text)
        query = query.where(
            or_(
                User.display_name.ilike(pattern, escape="\\"),
                User.email.ilike(pattern, escape="\\"),
            )
        )
    query = query.order_by(User.display_name, User.email, User.id)
    return paginate(query, page, AGENTS_PER_PAGE)


def _check_same_tenant(actor: User, agent: User) -> None:
    # The views load agents within the actor's tenant; this guards other callers.
    if agent.tenant_id != actor.tenant_id:
        raise AdminActionRefused(_("Cet agent n'appartient pas à votre ministère."))


def change_role(actor: User, agent: User, role: Role) -> AuditEvent | None:
    """Make `agent` an agent or a tenant administrator; None if nothing changed."""
    _check_same_tenant(actor, agent)
    if role not in ASSIGNABLE_ROLES:
        raise AdminActionRefused(_("Ce rôle ne peut pas être attribué depuis cette page."))
    if agent.id == actor.id:
        raise AdminActionRefused(_("Vous ne pouvez pas modifier votre propre rôle."))
    if agent.is_platform_admin:
        raise AdminActionRefused(
            _("Le rôle d'un administrateur de la plateforme ne se modifie pas depuis cette page.")
        )
    if agent.role is role:
        return None
    before = {"role": agent.role.value}
    agent.role = role
    event = record(
        AuditAction.USER_ROLE_CHANGED,
        tenant=agent.tenant,
        actor=actor,
        target_type="user",
        target_id=agent.public_id,
        changes=diff(before, {"role": role.value}),
    )
    db.session.commit()
    logger.info("user %s made user %s %s", actor.public_id, agent.public_id, role.value)
    return event


def set_active(actor: User, agent: User, active: bool) -> AuditEvent | None:
    """Deactivate (sign-in refused, sessions dropped) or reactivate an account."""
    _check_same_tenant(actor, agent)
    if agent.id == actor.id:
        raise AdminActionRefused(
            _("Vous ne pouvez pas désactiver ou réactiver votre propre compte.")
        )
    if agent.is_platform_admin and not actor.is_platform_admin:
        raise AdminActionRefused(
            _("Seul un administrateur de la plateforme peut désactiver ou réactiver ce compte.")
        )
    if agent.is_active is active:
        return None
    before = {"is_active": agent.is_active}
    agent.is_active = active
    event = record(
        AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED,
        tenant=agent.tenant,
        actor=actor,
        target_type="user",
        target_id=agent.public_id,
        changes=diff(before, {"is_active": active}),
    )
    db.session.commit()
    logger.info(
        "user %s %s user %s",
        actor.public_id,
        "reactivated" if active else "deactivated",
        agent.public_id,
    )
    return event


# --- Rooms -----------------------------------------------------------------------------------


def tenant_rooms(tenant: Tenant, page: int = 1) -> Page:
    query = (
        select(Room)
        .where(Room.tenant_id == tenant.id)
        .order_by(Room.created_at.desc(), Room.id.desc())
    )
    return paginate(query, page, ROOMS_PER_PAGE)


# --- Policy ----------------------------------------------------------------------------------


def policy_of(tenant: Tenant) -> dict[str, Any]:
    return {field: getattr(tenant, field) for field in POLICY_FIELDS}


def check_policy(values: dict[str, Any]) -> None:
    """The database's CHECK constraints, as messages for people (forms already say it better)."""
    if not 2 <= values["max_room_capacity"] <= PLATFORM_MAX_ROOM_CAPACITY:
        raise AdminActionRefused(_("Capacité maximale hors limites."))
    if not 2 <= values["default_room_capacity"] <= values["max_room_capacity"]:
        raise AdminActionRefused(_("Capacité proposée hors limites."))
    if not 1 <= values["retention_days"] <= 3650:
        raise AdminActionRefused(_("Durée de conservation hors limites."))


def update_policy(actor: User, tenant: Tenant, values: dict[str, Any]) -> AuditEvent | None:
    """Apply the policy fields of `values`; None if nothing changed."""
    before = policy_of(tenant)
    after = {field: values.get(field, before[field]) for field in POLICY_FIELDS}
    check_policy(after)
    changes = diff(before, after)
    if not changes:
        return None
    for field, value in after.items():
        setattr(tenant, field, value)
    event = record(
        AuditAction.POLICY_UPDATED,
        tenant=tenant,
        actor=actor,
        target_type="tenant",
        target_id=tenant.public_id,
        changes=changes,
    )
    db.session.commit()
    logger.info(
        "user %s changed the policy of tenant %s: %s", actor.public_id, tenant.slug, changes
    )
    return event


# --- Usage and audit -------------------------------------------------------------------------


def usage(tenant: Tenant, start: date, end: date) -> list:
    """Daily usage of the tenant from the meeting records (portal/meetings/usage.py)."""
    from portal.meetings.usage import usage_by_day

    return list(usage_by_day(tenant.id, start, end))


def audit_events(tenant: Tenant, page: int = 1) -> Page:
    """The tenant's audit events, newest first; other tenants' and platform-wide ones excluded."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.tenant_id == tenant.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    return paginate(query, page, EVENTS_PER_PAGE)
