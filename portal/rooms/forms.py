"""Forms of the room pages, with French messages shown next to the field."""

from __future__ import annotations

import re
from datetime import datetime

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
        "Nom de la salle",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez le nom de la salle."),
            Length(
                max=ROOM_NAME_MAX_LENGTH,
                message=f"Le nom ne peut pas dépasser {ROOM_NAME_MAX_LENGTH} caractères.",
            ),
        ],
        description="Par exemple : « Point hebdomadaire de l'équipe ».",
    )
    capacity = WholeNumberField("Nombre maximal de participants")

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
                f"Indiquez un nombre de participants entre {MIN_ROOM_CAPACITY} et {maximum}.",
            )
        ]
        form.capacity.description = (
            f"Entre {MIN_ROOM_CAPACITY} et {maximum} personnes. "
            f"{RECOMMENDED_ROOM_CAPACITY} participants au plus sont recommandés pour une bonne "
            "qualité."
        )
        return form


class PreJoinForm(FlaskForm):
    display_name = StringField(
        "Votre nom, tel que les autres participants le verront",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez le nom sous lequel vous apparaîtrez."),
            Length(
                max=DISPLAY_NAME_MAX_LENGTH,
                message=f"Le nom ne peut pas dépasser {DISPLAY_NAME_MAX_LENGTH} caractères.",
            ),
        ],
    )
    microphone = BooleanField("Micro activé en entrant", default=True)
    camera = BooleanField("Caméra activée en entrant", default=True)
    # Pre-checked by the room's setting or when the SFU pool is busy (views.prejoin).
    audio_only = BooleanField(
        "Audio seul",
        default=False,
        description=(
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
            raise ValueError("Indiquez une date et une heure valides (jj/mm/aaaa hh:mm).") from exc

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
        "Qui peut entrer",
        choices=[
            SelectChoice(
                RoomAccess.AGENTS.value, "Les agents connectés qui ont le lien de la salle"
            ),
            SelectChoice(
                RoomAccess.INVITED.value, "Seulement les personnes invitées et les modérateurs"
            ),
        ],
        default=RoomAccess.AGENTS.value,
        validators=[InputRequired(message="Choisissez qui peut entrer.")],
    )
    lobby_enabled = BooleanField(
        "Salle d'attente",
        description="Les invités attendent qu'un modérateur les fasse entrer.",
    )
    capacity = WholeNumberField("Nombre maximal de participants")
    audio_only_by_default = BooleanField(
        "Réunion audio seulement",
        description="Les participants entrent sans vidéo, ce qui économise la bande passante.",
    )
    schedule_starts_at = ParisDateTimeField(
        "Début (heure de Paris)",
        description="Facultatif. La salle ouvre 5 minutes avant le début.",
    )
    schedule_ends_at = ParisDateTimeField(
        "Fin (heure de Paris)",
        description="Une réunion programmée dure au plus 6 heures ; "
        "la salle ferme 5 minutes après la fin.",
    )
    co_moderators = TextAreaField(
        "Co-modérateurs",
        description="Adresses électroniques d'agents de votre ministère, une par ligne.",
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
                f"Indiquez un nombre de participants entre {MIN_ROOM_CAPACITY} et {maximum}.",
            )
        ]
        form.capacity.description = f"Entre {MIN_ROOM_CAPACITY} et {maximum} personnes."
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
            raise ValidationError("Indiquez aussi le début de la réunion, ou effacez la fin.")
        if ends is None:
            raise ValidationError("Indiquez la fin de la réunion, ou effacez le début.")
        if ends <= starts:
            raise ValidationError("La fin doit être après le début.")
        if ends - starts > MAX_SCHEDULE_DURATION:
            raise ValidationError("Une réunion programmée dure au plus 6 heures.")

    def validate_co_moderators(self, field) -> None:
        from portal.rooms.operations import agents_by_email

        emails = split_emails(field.data)
        if len(emails) > MAX_CO_MODERATORS:
            raise ValidationError(f"Indiquez au plus {MAX_CO_MODERATORS} co-modérateurs.")
        found, unknown = agents_by_email(self.room.tenant_id, emails)
        if unknown:
            raise ValidationError(
                "Aucun agent actif de votre ministère n'a cette adresse : "
                + ", ".join(unknown)
                + "."
            )
        self.moderator_users = found
