"""Forms of the room pages, with French messages shown next to the field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from portal.core.fields import Between, WholeNumberField
from portal.rooms.models import ROOM_NAME_MAX_LENGTH
from portal.tenants.models import RECOMMENDED_ROOM_CAPACITY, Tenant

DISPLAY_NAME_MAX_LENGTH = 80
MIN_ROOM_CAPACITY = 2


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
