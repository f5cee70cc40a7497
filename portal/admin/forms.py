"""Forms of the tenant administration pages, with messages shown next to the field (French ids,
translated at each request)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from portal.core.fields import Between, FrenchDateField, WholeNumberField
from portal.meetings.usage import MAX_DAYS
from portal.tenants.models import PLATFORM_MAX_ROOM_CAPACITY, RECOMMENDED_ROOM_CAPACITY
from portal.users.models import Role

MIN_ROOM_CAPACITY = 2
MAX_RETENTION_DAYS = 3650

# The roles a tenant administrator may give; platform administrators are named elsewhere.
ASSIGNABLE_ROLES = [
    SelectChoice(Role.AGENT.value, _l("Agent")),
    SelectChoice(Role.TENANT_ADMIN.value, _l("Administrateur du ministère")),
]


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class AgentSearchForm(FlaskForm):
    """The search box of the agents list (GET, nothing changes: no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField(_l("Rechercher un agent (nom ou adresse électronique)"), filters=[strip])


class RoleForm(FlaskForm):
    role = SelectField(_l("Rôle"), choices=ASSIGNABLE_ROLES)
    next = HiddenField()


class AgentActionForm(FlaskForm):
    """Deactivate or reactivate: only the CSRF token and where to come back to."""

    next = HiddenField()


class PolicyForm(FlaskForm):
    """The tenant's policy; also part of the platform's tenant form."""

    default_room_capacity = WholeNumberField(
        _l("Capacité proposée pour une nouvelle salle (personnes)"),
        validators=[
            Between(
                MIN_ROOM_CAPACITY,
                PLATFORM_MAX_ROOM_CAPACITY,
                _l(
                    "Indiquez une capacité entre %(low)s et %(high)s personnes.",
                    low=MIN_ROOM_CAPACITY,
                    high=PLATFORM_MAX_ROOM_CAPACITY,
                ),
            )
        ],
        description=_l(
            "%(recommended)s personnes sont recommandées pour une bonne qualité d'image et de son.",
            recommended=RECOMMENDED_ROOM_CAPACITY,
        ),
    )
    max_room_capacity = WholeNumberField(
        _l("Capacité maximale d'une salle (personnes)"),
        validators=[
            Between(
                MIN_ROOM_CAPACITY,
                PLATFORM_MAX_ROOM_CAPACITY,
                _l(
                    "La capacité maximale doit être comprise entre %(low)s et %(high)s personnes "
                    "(limite de la plateforme).",
                    low=MIN_ROOM_CAPACITY,
                    high=PLATFORM_MAX_ROOM_CAPACITY,
                ),
            )
        ],
        description=_l(
            "Au plus %(maximum)s personnes : c'est la limite de la plateforme. Au-delà de "
            "%(recommended)s, la qualité peut baisser.",
            maximum=PLATFORM_MAX_ROOM_CAPACITY,
            recommended=RECOMMENDED_ROOM_CAPACITY,
        ),
    )
    guests_allowed = BooleanField(_l("Les agents peuvent inviter des personnes extérieures"))
    lobby_by_default = BooleanField(_l("Salle d'attente activée dans les nouvelles salles"))
    audio_only_by_default = BooleanField(_l("Nouvelles salles en audio seul par défaut"))
    retention_days = WholeNumberField(
        _l("Durée de conservation (jours)"),
        validators=[
            Between(
                1,
                MAX_RETENTION_DAYS,
                _l("Indiquez une durée entre 1 et %(maximum)s jours.", maximum=MAX_RETENTION_DAYS),
            )
        ],
        description=_l(
            "Durée pendant laquelle les données d'utilisation et le journal d'administration "
            "sont conservés."
        ),
    )

    def validate_default_room_capacity(self, field) -> None:
        maximum = self.max_room_capacity.data
        if field.data is not None and isinstance(maximum, int) and field.data > maximum:
            raise ValidationError(
                _(
                    "La capacité proposée ne peut pas dépasser la capacité maximale (%(maximum)s).",
                    maximum=maximum,
                )
            )


class UsagePeriodForm(FlaskForm):
    """The period of the usage page (GET parameters debut and fin)."""

    class Meta:
        csrf = False

    debut = FrenchDateField(_l("Du"))
    fin = FrenchDateField(_l("Au"))

    def validate_fin(self, field) -> None:
        # A missing end means today: the span is judged against what the page would show.
        start, end = self.debut.data, field.data or datetime.now(UTC).date()
        if start and end < start:
            raise ValidationError(_("La date de fin doit suivre la date de début."))
        if start and (end - start).days >= MAX_DAYS:
            raise ValidationError(
                _("Choisissez une période d'au plus %(days)s jours.", days=MAX_DAYS)
            )
