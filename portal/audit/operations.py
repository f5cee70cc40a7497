"""Recording administrative actions. Every change an administrator makes goes through record()."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from portal.audit.models import AuditAction, AuditEvent
from portal.extensions import db
from portal.tenants.models import Tenant
from portal.users.models import User

logger = logging.getLogger(__name__)

COMMAND_LINE_ACTOR = "ligne de commande"
# Never written to the audit log, whatever the caller passes.
SECRET_FIELDS = frozenset({"client_secret", "client_secret_encrypted", "password", "token"})


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields whose value changed."""
    return {
        field: [before.get(field), after.get(field)]
        for field in sorted(set(before) | set(after))
        if before.get(field) != after.get(field)
    }


def record(
    action: AuditAction,
    *,
    tenant: Tenant | None,
    actor: User | None,
    target_type: str,
    target_id: str,
    changes: Mapping[str, Any] | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current session; the caller commits it with its change, so the
    action and its record are written together or not at all.

    `actor_label` shows an actor without an account (a guest made moderator: "invité (nom)")."""
    safe_changes = {
        field: ("(modifié)" if field in SECRET_FIELDS else value)
        for field, value in (changes or {}).items()
    }
    event = AuditEvent(
        tenant_id=tenant.id if tenant is not None else None,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.email if actor is not None else COMMAND_LINE_ACTOR),
        action=action,
        target_type=target_type,
        target_id=target_id,
        changes=safe_changes,
    )
    db.session.add(event)
    logger.info(
        "audit: %s by %s on %s %s (tenant %s)",
        action.value,
        event.actor_label,
        target_type,
        target_id,
        tenant.slug if tenant is not None else "-",
    )
    return event
