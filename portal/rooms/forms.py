"""Forms of the room pages, with French messages shown next to the field."""

from __future__ import annotations

import re
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import DateTimeLocalInput

from portal.core.fields import Between, WholeNumberField
from portal.rooms.models import ROOM_NAME_MAX_LENGTH, Room, RoomAccess
from portal.rooms.schedule import MAX_SCHEDULE_DURATION, paris_to_utc, utc_to_paris
from portal.tenants.models import RECOMMENDED_ROOM_CAPACITY, Tenant

DISPLAY_NAME_MAX_LENGTH = 80
MIN_ROOM_CAPACITY = 2
MAX_CO_MODERATORS = 20
_MISSING = object()


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CreateRoomForm(FlaskForm):
    name = StringField(
        _l("Nom de la salle"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez le nom de la salle.")),
            Length(
                max=ROOM_NAME_MAX_LENGTH,
                message=_l(
                    "Le nom ne peut pas dépasser %(max)s caractères.", max=ROOM_NAME_MAX_LENGTH
                ),
            ),
        ],
        description=_l("Par exemple : « Point hebdomadaire de l'équipe »."),
    )
    capacity = WholeNumberField(_l("Nombre maximal de participants"))

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> CreateRoomForm:
        """The form with the capacity proposed and bounded by the tenant's policy."""
        # The policy's default fills the field, and stands in when a request leaves it out.
        form = cls(capacity=tenant.default_room_capacity)
        maximum = tenant.max_room_capacity
        form.capacity.validators = [
            Between(
                MIN_ROOM_CAPACITY,
                maximum,
                _(
                    "Indiquez un nombre de participants entre %(min)s et %(max)s.",
                    min=MIN_ROOM_CAPACITY,
                    max=maximum,
                ),
            )
        ]
        form.capacity.description = " ".join(
            (
                _("Entre %(min)s et %(max)s personnes.", min=MIN_ROOM_CAPACITY, max=maximum),
                _(
                    "%(count)s participants au plus sont recommandés pour une bonne qualité.",
                    count=RECOMMENDED_ROOM_CAPACITY,
                ),
            )
        )
        return form


class PreJoinForm(FlaskForm):
    display_name = StringField(
        _l("Votre nom, tel que les autres participants le verront"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez le nom sous lequel vous apparaîtrez.")),
            Length(
                max=DISPLAY_NAME_MAX_LENGTH,
                message=_l(
                    "Le nom ne peut pas dépasser %(max)s caractères.", max=DISPLAY_NAME_MAX_LENGTH
                ),
            ),
        ],
    )
    microphone = BooleanField(_l("Micro activé en entrant"), default=True)
    camera = BooleanField(_l("Caméra activée en entrant"), default=True)
    # Pre-checked by the room's setting or when the SFU pool is busy (views.prejoin).
    audio_only = BooleanField(
        _l("Audio seul"),
        default=False,
        description=_l(
            "Vous ne recevez ni n'envoyez de vidéo : la réunion consomme bien moins de réseau. "
            "Vous pourrez changer d'avis pendant la réunion."
        ),
    )


class ParisDateTimeField(StringField):
    """A date and time in Paris (input type=datetime-local, "YYYY-MM-DDTHH:MM"), given back in
    UTC; empty means none. The parse error is French."""

    widget = DateTimeLocalInput()

    def process_formdata(self, valuelist: list) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        if not raw:
            self.data = None
            return
        try:
            self.data = paris_to_utc(datetime.strptime(raw, "%Y-%m-%dT%H:%M"))
        except ValueError as exc:
            self.data = None
            raise ValueError(
                _("Indiquez une date et une heure valides (jj/mm/aaaa hh:mm).")
            ) from exc

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if isinstance(self.data, datetime):
            return utc_to_paris(self.data).strftime("%Y-%m-%dT%H:%M")
        return ""


def split_emails(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


class RoomSettingsForm(FlaskForm):
    name = CreateRoomForm.name
    access = RadioField(
        _l("Qui peut entrer"),
        choices=[
            SelectChoice(
                RoomAccess.AGENTS.value, _l("Les agents connectés qui ont le lien de la salle")
            ),
            SelectChoice(
                RoomAccess.INVITED.value, _l("Seulement les personnes invitées et les modérateurs")
            ),
        ],
        default=RoomAccess.AGENTS.value,
        validators=[InputRequired(message=_l("Choisissez qui peut entrer."))],
    )
    lobby_enabled = BooleanField(
        _l("Salle d'attente"),
        description=_l("Les invités attendent qu'un modérateur les fasse entrer."),
    )
    capacity = WholeNumberField(_l("Nombre maximal de participants"))
    audio_only_by_default = BooleanField(
        _l("Réunion audio seulement"),
        description=_l("Les participants entrent sans vidéo, ce qui économise la bande passante."),
    )
    schedule_starts_at = ParisDateTimeField(
        _l("Début (heure de Paris)"),
        description=_l("Facultatif. La salle ouvre 5 minutes avant le début."),
    )
    schedule_ends_at = ParisDateTimeField(
        _l("Fin (heure de Paris)"),
        description=_l(
            "Une réunion programmée dure au plus 6 heures ; la salle ferme 5 minutes après la fin."
        ),
    )
    co_moderators = TextAreaField(
        _l("Co-modérateurs"),
        description=_l("Adresses électroniques d'agents de votre ministère, une par ligne."),
    )

    @classmethod
    def for_room(cls, room: Room, formdata=_MISSING) -> RoomSettingsForm:
        """The form filled with the room's settings, capacity bounded by the tenant's policy."""
        kwargs = {} if formdata is _MISSING else {"formdata": formdata}
        form = cls(
            data={
                "name": room.name,
                "access": room.access.value,
                "lobby_enabled": room.lobby_enabled,
                "capacity": room.capacity,
                "audio_only_by_default": room.audio_only_by_default,
                "schedule_starts_at": room.schedule_starts_at,
                "schedule_ends_at": room.schedule_ends_at,
                "co_moderators": "\n".join(user.email for user in room.co_moderators),
            },
            **kwargs,
        )
        maximum = room.owner.tenant.max_room_capacity
        form.capacity.validators = [
            Between(
                MIN_ROOM_CAPACITY,
                maximum,
                _(
                    "Indiquez un nombre de participants entre %(min)s et %(max)s.",
                    min=MIN_ROOM_CAPACITY,
                    max=maximum,
                ),
            )
        ]
        form.capacity.description = _(
            "Entre %(min)s et %(max)s personnes.", min=MIN_ROOM_CAPACITY, max=maximum
        )
        form.max_capacity = maximum
        form.room = room
        form.moderator_users = []
        return form

    def validate_schedule_ends_at(self, field) -> None:
        starts, ends = self.schedule_starts_at.data, field.data
        if self.schedule_starts_at.errors or field.errors:
            return
        if starts is None and ends is None:
            return
        if starts is None:
            raise ValidationError(_("Indiquez aussi le début de la réunion, ou effacez la fin."))
        if ends is None:
            raise ValidationError(_("Indiquez la fin de la réunion, ou effacez le début."))
        if ends <= starts:
            raise ValidationError(_("La fin doit être après le début."))
        if ends - starts > MAX_SCHEDULE_DURATION:
            raise ValidationError(_("Une réunion programmée dure au plus 6 heures."))

    def validate_co_moderators(self, field) -> None:
        from portal.rooms.operations import agents_by_email

        emails = split_emails(field.data)
        if len(emails) > MAX_CO_MODERATORS:
            raise ValidationError(
                _("Indiquez au plus %(max)s co-modérateurs.", max=MAX_CO_MODERATORS)
            )
        found, unknown = agents_by_email(self.room.tenant_id, emails)
        if unknown:
            raise ValidationError(
                _(
                    "Aucun agent actif de votre ministère n'a cette adresse : %(emails)s.",
                    emails=", ".join(unknown),
                )
            )
        self.moderator_users = found
