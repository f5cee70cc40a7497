"""Labels of the audit log: actions, fields and values, as administrators read them (French
ids, translated when shown: `_l` here, plain strings out of the functions below)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from portal.audit.models import AuditAction

ACTION_LABELS = {
    AuditAction.TENANT_CREATED: _l("Ministère créé"),
    AuditAction.TENANT_UPDATED: _l("Ministère modifié"),
    AuditAction.POLICY_UPDATED: _l("Règles du ministère modifiées"),
    AuditAction.PROVIDER_CREATED: _l("Fournisseur d'identité ajouté"),
    AuditAction.PROVIDER_UPDATED: _l("Fournisseur d'identité modifié"),
    AuditAction.FEDERATION_RULE_ADDED: _l("Règle de fédération ajoutée"),
    AuditAction.FEDERATION_RULE_REMOVED: _l("Règle de fédération supprimée"),
    AuditAction.USER_ROLE_CHANGED: _l("Rôle d'un agent modifié"),
    AuditAction.USER_DEACTIVATED: _l("Compte désactivé"),
    AuditAction.USER_REACTIVATED: _l("Compte réactivé"),
    AuditAction.ROOM_SETTINGS_UPDATED: _l("Réglages d'une salle modifiés"),
    AuditAction.INVITATION_CREATED: _l("Invitation créée"),
    AuditAction.INVITATION_REVOKED: _l("Invitation annulée"),
    AuditAction.LOBBY_ADMITTED: _l("Entrée acceptée depuis la salle d'attente"),
    AuditAction.LOBBY_REFUSED: _l("Entrée refusée depuis la salle d'attente"),
    AuditAction.PARTICIPANT_REMOVED: _l("Participant retiré de la réunion"),
    AuditAction.PARTICIPANT_PROMOTED: _l("Participant nommé modérateur"),
    AuditAction.MEETING_ENDED: _l("Réunion terminée pour tous"),
}

FIELD_LABELS = {
    "name": _l("Nom"),
    "slug": _l("Identifiant"),
    "allowed_email_domains": _l("Domaines de messagerie"),
    "guests_allowed": _l("Invités extérieurs autorisés"),
    "lobby_by_default": _l("Salle d'attente par défaut"),
    "default_room_capacity": _l("Capacité proposée"),
    "max_room_capacity": _l("Capacité maximale"),
    "audio_only_by_default": _l("Audio seul par défaut"),
    "retention_days": _l("Durée de conservation (jours)"),
    "role": _l("Rôle"),
    "is_active": _l("Compte actif"),
    "kind": _l("Type"),
    "issuer": _l("Émetteur"),
    "client_id": _l("Identifiant client"),
    "client_secret": _l("Secret client"),
    "scopes": _l("Scopes"),
    "claim_mapping": _l("Correspondance des attributs"),
    "enabled": _l("Activé"),
    "provider": _l("Fournisseur"),
    "claim": _l("Attribut"),
    "value": _l("Valeur"),
    "tenant": _l("Ministère"),
    "access": _l("Accès"),
    "lobby_enabled": _l("Salle d'attente"),
    "capacity": _l("Capacité"),
    "schedule_starts_at": _l("Début programmé (UTC)"),
    "schedule_ends_at": _l("Fin programmée (UTC)"),
    "co_moderators": _l("Co-modérateurs"),
    "room": _l("Salle"),
    "expires_at": _l("Expiration (UTC)"),
    "max_uses": _l("Utilisations maximales"),
    "person": _l("Personne"),
    "participant": _l("Participant"),
    "at": _l("Moment (UTC)"),
}

VALUE_LABELS = {
    "agent": _l("agent"),
    "tenant_admin": _l("administrateur du ministère"),
    "platform_admin": _l("administrateur de la plateforme"),
    "tenant": _l("fournisseur du ministère"),
    "federation": _l("fédération"),
    "organization_id": _l("identifiant d'organisation"),
    "organization": _l("organisation"),
    "email_domain": _l("domaine de messagerie"),
    "agents": _l("agents avec le lien"),
    "invited": _l("sur invitation"),
    "moderator": _l("modérateur"),
    # What the log records instead of a secret (portal/audit, portal/tenants/operations.py).
    "(modifié)": _l("(modifié)"),
    "(défini)": _l("(défini)"),
}

TARGET_LABELS = {
    "user": _l("Agent"),
    "tenant": _l("Ministère"),
    "provider": _l("Fournisseur d'identité"),
    "federation_rule": _l("Règle de fédération"),
    "room": _l("Salle"),
    "invitation": _l("Invitation"),
    "participant": _l("Participant"),
}


# The functions return plain strings: markupsafe takes a lazy string for safe markup (its
# __html__ gives the raw text), and these labels are escaped like any other text.


def action_label(action: AuditAction | str) -> str:
    try:
        return str(ACTION_LABELS[AuditAction(action)])
    except (ValueError, KeyError):
        return str(action)


def field_label(field: str) -> str:
    return str(FIELD_LABELS.get(field, field))


def target_label(target_type: str) -> str:
    return str(TARGET_LABELS.get(target_type, target_type))


def value_label(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if value is True:
        return _("oui")
    if value is False:
        return _("non")
    if isinstance(value, list | tuple):
        return ", ".join(value_label(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} → {value_label(item)}" for key, item in sorted(value.items()))
    return str(VALUE_LABELS.get(str(value), str(value)))


def change_lines(changes: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    """(field, before, after) for each change; before is None when the record holds one value.

    Changes are recorded as {field: [before, after]}; some operations record a single value
    (a secret's "(modifié)", a rule's claim): both are shown.
    """
    lines = []
    for field, change in sorted((changes or {}).items()):
        if isinstance(change, list) and len(change) == 2 and field != "allowed_email_domains":
            lines.append((field_label(field), value_label(change[0]), value_label(change[1])))
        elif (
            field == "allowed_email_domains"
            and isinstance(change, list)
            and len(change) == 2
            and all(isinstance(part, list | type(None)) for part in change)
        ):
            lines.append((field_label(field), value_label(change[0]), value_label(change[1])))
        else:
            lines.append((field_label(field), None, value_label(change)))
    return lines
