"""The kinds of records that hold personal data, and their retention periods.

This is the one definition that both the retention purge (`portal/meetings/retention.py`) and
the privacy page (`/confidentialite`) read: the purge deletes exactly the kinds that have a
`period`, with the number of days `retention_days()` gives, and the page lists every kind with
the same number. Change a period here or in the settings and both change together.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext

from portal.tenants.models import DEFAULT_RETENTION_DAYS

DEFAULT_PLATFORM_AUDIT_RETENTION_DAYS = 365
# Two years without a sign-in: a common reference for deleting inactive accounts. An agent
# who comes back signs in again and gets a new account from their identity provider.
DEFAULT_ACCOUNT_INACTIVITY_DAYS = 730
PLATFORM_AUDIT_SETTING = "PLATFORM_AUDIT_RETENTION_DAYS"
ACCOUNT_INACTIVITY_SETTING = "ACCOUNT_INACTIVITY_DAYS"


class Period(enum.StrEnum):
    """Where the number of days a purged kind is kept comes from."""

    TENANT = "tenant"  # the ministry's policy, Tenant.retention_days
    PLATFORM_AUDIT = "platform_audit"  # the PLATFORM_AUDIT_RETENTION_DAYS setting
    ACCOUNT_INACTIVITY = "account_inactivity"  # the ACCOUNT_INACTIVITY_DAYS setting


def N_(text: str) -> str:  # noqa: N802 - the gettext convention
    """Mark `text` for translation without translating it: the kinds keep their French texts
    (the message ids) and the privacy page translates them when it shows them."""
    return text


@dataclass(frozen=True)
class RecordKind:
    """One kind of record, as the privacy page describes it (in French: the message ids)."""

    key: str
    title: str  # what people call it
    contents: str  # the personal data in it
    purpose: str  # why it is kept
    # Purged by `flask retention purge` after this period; None: something else deletes it.
    period: Period | None
    # How long it is kept: with a period, "%(period)s" stands for the number of days
    # ("90 jours"); without one, the whole answer.
    kept: str

    @property
    def purged(self) -> bool:
        return self.period is not None


ACCOUNTS = RecordKind(
    key="accounts",
    title=N_("Comptes des agents"),
    contents=N_(
        "Adresse électronique, nom, ministère et rôle donnés par votre fournisseur d'identité ; "
        "votre identifiant chez ce fournisseur ; date de création du compte et date de la "
        "dernière connexion (une seule date, remplacée à chaque connexion)."
    ),
    purpose=N_(
        "Vous reconnaître quand vous vous connectez, vous rattacher à votre ministère, "
        "afficher votre nom en réunion et vous laisser gérer vos salles."
    ),
    period=Period.ACCOUNT_INACTIVITY,
    kept=N_(
        "Tant que vous vous connectez ; après %(period)s sans connexion, le compte est supprimé "
        "avec ses salles et leurs invitations."
    ),
)
INVITATIONS = RecordKind(
    key="invitations",
    title=N_("Invitations"),
    contents=N_(
        "La note du modérateur sur la personne invitée, le rôle donné, le nombre d'utilisations, "
        "les dates d'expiration et de révocation. Le lien lui-même n'est jamais conservé, "
        "seulement son empreinte."
    ),
    purpose=N_(
        "Laisser entrer les personnes invitées et permettre aux modérateurs de révoquer un lien."
    ),
    period=Period.TENANT,
    kept=N_(
        "Tant que l'invitation est utilisable, puis %(period)s après son expiration, sa "
        "révocation ou sa dernière utilisation possible."
    ),
)
MEETING_RECORDS = RecordKind(
    key="meeting_records",
    title=N_("Relevés de réunions"),
    contents=N_(
        "La salle, les heures de début et de fin, le nombre maximal de participants ; pour "
        "chaque participation, un identifiant tiré au hasard et les heures d'arrivée et de "
        "départ. Jamais de nom ni de compte."
    ),
    purpose=N_("Les chiffres d'utilisation du service présentés aux administrateurs du ministère."),
    period=Period.TENANT,
    kept=N_("%(period)s après la fin de la réunion."),
)
AUDIT_LOG = RecordKind(
    key="audit_log",
    title=N_("Journal d'administration du ministère"),
    contents=N_(
        "Qui a agi (adresse électronique à la date de l'action), sur quoi et ce qui a changé : "
        "réglages, invitations, rôles, décisions de la salle d'attente (avec le nom donné par "
        "l'invité), exclusions. Jamais de secret."
    ),
    purpose=N_(
        "Retracer les actions d'administration et de modération (sécurité, responsabilité)."
    ),
    period=Period.TENANT,
    kept=N_("%(period)s après l'action."),
)
PLATFORM_AUDIT_LOG = RecordKind(
    key="platform_audit_log",
    title=N_("Journal d'administration de la plateforme"),
    contents=N_(
        "Les actions des administrateurs de la plateforme qui ne concernent aucun ministère "
        "en particulier (fournisseurs d'identité partagés) : qui, quoi, ce qui a changé."
    ),
    purpose=N_("Retracer les actions d'administration de la plateforme."),
    period=Period.PLATFORM_AUDIT,
    kept=N_("%(period)s après l'action."),
)
ROOMS = RecordKind(
    key="rooms",
    title=N_("Salles"),
    contents=N_("Le nom donné à la salle, son propriétaire et ses co-modérateurs, ses réglages."),
    purpose=N_("Retrouver vos salles, leurs liens et leurs réglages d'une réunion à l'autre."),
    period=None,
    kept=N_("Tant que le compte de son propriétaire existe ; supprimée avec lui."),
)
LOBBY = RecordKind(
    key="lobby",
    title=N_("Salle d'attente"),
    contents=N_(
        "Le nom que la personne invitée a saisi et son heure d'arrivée ; la décision du modérateur."
    ),
    purpose=N_("Permettre aux modérateurs d'admettre ou de refuser les personnes qui attendent."),
    period=None,
    kept=N_(
        "12 heures au plus (une personne qui ne se manifeste plus sort de la liste après "
        "20 secondes) ; la décision, 10 minutes."
    ),
)
LIVE_EVENTS = RecordKind(
    key="live_events",
    title=N_("Événements techniques des réunions"),
    contents=N_(
        "Arrivées et départs (salle, identifiant de participation tiré au hasard, heure) et "
        "actions des modérateurs (identifiant de compte ou d'invité)."
    ),
    purpose=N_("Établir les relevés de réunions et le journal d'administration."),
    period=None,
    kept=N_(
        "Les 100 000 derniers événements environ, soit quelques jours sur une plateforme chargée."
    ),
)
RATE_LIMITS = RecordKind(
    key="rate_limits",
    title=N_("Compteurs anti-abus"),
    contents=N_(
        "Le nombre de tentatives (connexion, salle d'attente, liens d'invitation, création de "
        "salles) rattaché à une empreinte chiffrée de votre adresse IP ou de votre compte, "
        "jamais à l'adresse elle-même."
    ),
    purpose=N_("Protéger le service contre les essais répétés et les robots."),
    period=None,
    kept=N_("La durée de la fenêtre de comptage : une heure au plus."),
)
SESSION = RecordKind(
    key="session",
    title=N_("Cookie de session"),
    contents=N_(
        "L'identifiant de votre compte, ou votre nom et votre salle si vous êtes invité, et la "
        "langue que vous avez choisie. C'est le seul cookie : aucun cookie de mesure "
        "d'audience ni de publicité."
    ),
    purpose=N_("Rester connecté d'une page à l'autre et afficher les pages dans votre langue."),
    period=None,
    kept=N_(
        "Jusqu'à la fermeture du navigateur ; la déconnexion efface tout, sauf la langue "
        "choisie."
    ),
)
SERVER_LOGS = RecordKind(
    key="server_logs",
    title=N_("Journaux techniques des serveurs"),
    contents=N_(
        "Adresses IP, pages demandées, identifiants de salle et de participation, adresses "
        "électroniques dans les lignes d'administration."
    ),
    purpose=N_("Faire fonctionner le service, diagnostiquer les pannes, détecter les abus."),
    period=None,
    kept=N_("La durée de rotation des journaux fixée par l'exploitant de la plateforme."),
)
BACKUPS = RecordKind(
    key="backups",
    title=N_("Sauvegardes de la base de données"),
    contents=N_("Une copie des comptes, salles, invitations, relevés et journaux ci-dessus."),
    purpose=N_("Restaurer le service après un incident."),
    period=None,
    kept=N_(
        "La durée de conservation des sauvegardes fixée par l'exploitant (14 jours dans le "
        "déploiement de référence) : ce qui a été supprimé en disparaît alors."
    ),
)

RECORD_KINDS: tuple[RecordKind, ...] = (
    ACCOUNTS,
    ROOMS,
    INVITATIONS,
    MEETING_RECORDS,
    AUDIT_LOG,
    PLATFORM_AUDIT_LOG,
    LOBBY,
    LIVE_EVENTS,
    RATE_LIMITS,
    SESSION,
    SERVER_LOGS,
    BACKUPS,
)
PURGED_RECORD_KINDS: tuple[RecordKind, ...] = tuple(kind for kind in RECORD_KINDS if kind.purged)


def retention_days(
    kind: RecordKind, config: Mapping[str, Any], tenant_retention_days: int | None = None
) -> int | None:
    """Days `kind` is kept once its period has started: the tenant's `retention_days` (None when
    no tenant is given) or the platform setting. None for a kind the purge does not delete."""
    if kind.period is Period.TENANT:
        return tenant_retention_days
    if kind.period is Period.PLATFORM_AUDIT:
        return int(config.get(PLATFORM_AUDIT_SETTING, DEFAULT_PLATFORM_AUDIT_RETENTION_DAYS))
    if kind.period is Period.ACCOUNT_INACTIVITY:
        return int(config.get(ACCOUNT_INACTIVITY_SETTING, DEFAULT_ACCOUNT_INACTIVITY_DAYS))
    return None


def days_text(days: int) -> str:
    return ngettext("%(num)s jour", "%(num)s jours", days)


def kept_text(
    kind: RecordKind, config: Mapping[str, Any], tenant_retention_days: int | None = None
) -> str:
    """How long `kind` is kept, in the request's language, with the same number of days the
    purge uses. Without a tenant, a tenant's period reads as the ministry's choice with the
    platform's default."""
    if not kind.purged:
        return _(kind.kept)
    days = retention_days(kind, config, tenant_retention_days)
    if days is None:
        period = _(
            "la durée choisie par chaque ministère (%(days)s par défaut)",
            days=days_text(DEFAULT_RETENTION_DAYS),
        )
    else:
        period = days_text(days)
    text = _(kind.kept, period=period)
    return text[0].upper() + text[1:]
