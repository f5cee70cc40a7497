"""French labels of the audit log: actions, fields and values, as administrators read them."""

from __future__ import annotations

from typing import Any

from portal.audit.models import AuditAction

ACTION_LABELS = {
    AuditAction.TENANT_CREATED: "Ministère créé",
    AuditAction.TENANT_UPDATED: "Ministère modifié",
    AuditAction.POLICY_UPDATED: "Règles du ministère modifiées",
    AuditAction.PROVIDER_CREATED: "Fournisseur d'identité ajouté",
    AuditAction.PROVIDER_UPDATED: "Fournisseur d'identité modifié",
    AuditAction.FEDERATION_RULE_ADDED: "Règle de fédération ajoutée",
    AuditAction.FEDERATION_RULE_REMOVED: "Règle de fédération supprimée",
    AuditAction.USER_ROLE_CHANGED: "Rôle d'un agent modifié",
    AuditAction.USER_DEACTIVATED: "Compte désactivé",
    AuditAction.USER_REACTIVATED: "Compte réactivé",
    AuditAction.ROOM_SETTINGS_UPDATED: "Réglages d'une salle modifiés",
    AuditAction.INVITATION_CREATED: "Invitation créée",
    AuditAction.INVITATION_REVOKED: "Invitation annulée",
    AuditAction.LOBBY_ADMITTED: "Entrée acceptée depuis la salle d'attente",
    AuditAction.LOBBY_REFUSED: "Entrée refusée depuis la salle d'attente",
    AuditAction.PARTICIPANT_REMOVED: "Participant retiré de la réunion",
    AuditAction.PARTICIPANT_PROMOTED: "Participant nommé modérateur",
    AuditAction.MEETING_ENDED: "Réunion terminée pour tous",
}

FIELD_LABELS = {
    "name": "Nom",
    "slug": "Identifiant",
    "allowed_email_domains": "Domaines de messagerie",
    "guests_allowed": "Invités extérieurs autorisés",
    "lobby_by_default": "Salle d'attente par défaut",
    "default_room_capacity": "Capacité proposée",
    "max_room_capacity": "Capacité maximale",
    "audio_only_by_default": "Audio seul par défaut",
    "retention_days": "Durée de conservation (jours)",
    "role": "Rôle",
    "is_active": "Compte actif",
    "kind": "Type",
    "issuer": "Émetteur",
    "client_id": "Identifiant client",
    "client_secret": "Secret client",
    "scopes": "Scopes",
    "claim_mapping": "Correspondance des attributs",
    "enabled": "Activé",
    "provider": "Fournisseur",
    "claim": "Attribut",
    "value": "Valeur",
    "tenant": "Ministère",
    "access": "Accès",
    "lobby_enabled": "Salle d'attente",
    "capacity": "Capacité",
    "schedule_starts_at": "Début programmé (UTC)",
    "schedule_ends_at": "Fin programmée (UTC)",
    "co_moderators": "Co-modérateurs",
    "room": "Salle",
    "expires_at": "Expiration (UTC)",
    "max_uses": "Utilisations maximales",
    "person": "Personne",
    "participant": "Participant",
    "at": "Moment (UTC)",
}

VALUE_LABELS = {
    "agent": "agent",
    "tenant_admin": "administrateur du ministère",
    "platform_admin": "administrateur de la plateforme",
    "tenant": "fournisseur du ministère",
    "federation": "fédération",
    "organization_id": "identifiant d'organisation",
    "organization": "organisation",
    "email_domain": "domaine de messagerie",
    "agents": "agents avec le lien",
    "invited": "sur invitation",
    "moderator": "modérateur",
}

TARGET_LABELS = {
    "user": "Agent",
    "tenant": "Ministère",
    "provider": "Fournisseur d'identité",
    "federation_rule": "Règle de fédération",
    "room": "Salle",
    "invitation": "Invitation",
    "participant": "Participant",
}


def action_label(action: AuditAction | str) -> str:
    try:
        return ACTION_LABELS[AuditAction(action)]
    except (ValueError, KeyError):
        return str(action)


def field_label(field: str) -> str:
    return FIELD_LABELS.get(field, field)


def value_label(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if value is True:
        return "oui"
    if value is False:
        return "non"
    if isinstance(value, list | tuple):
        return ", ".join(value_label(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key} → {value_label(item)}" for key, item in sorted(value.items()))
    return VALUE_LABELS.get(str(value), str(value))


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
