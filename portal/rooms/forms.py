"""Forms of the room pages, with French messages shown next to the field."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from portal.rooms.models import ROOM_NAME_MAX_LENGTH

DISPLAY_NAME_MAX_LENGTH = 80


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
