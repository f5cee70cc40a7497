"""Forms of the invitations: creating one (moderators) and a guest's name (anyone)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.core.fields import Between, WholeNumberField
from portal.invitations.models import INVITATION_LABEL_MAX_LENGTH
from portal.rooms.forms import DISPLAY_NAME_MAX_LENGTH, ParisDateTimeField, strip
from portal.rooms.models import ParticipantRole

GUEST_NAME_MIN_LENGTH = 2
MAX_USES_LIMIT = 1000


class CreateInvitationForm(FlaskForm):
    role = RadioField(
        "Rôle donné par l'invitation",
        choices=[
            SelectChoice(ParticipantRole.PARTICIPANT.value, "Participant"),
            SelectChoice(
                ParticipantRole.MODERATOR.value, "Modérateur (entre sans attendre et gère la salle)"
            ),
        ],
        default=ParticipantRole.PARTICIPANT.value,
        validators=[InputRequired(message="Choisissez le rôle donné par l'invitation.")],
    )
    label = StringField(
        "Pour qui (note visible des seuls modérateurs)",
        filters=[strip],
        validators=[
            Optional(),
            Length(
                max=INVITATION_LABEL_MAX_LENGTH,
                message=f"La note ne peut pas dépasser {INVITATION_LABEL_MAX_LENGTH} caractères.",
            ),
        ],
        description="Facultatif. Par exemple : « Intervenants de la DGALN ».",
    )
    expires_at = ParisDateTimeField(
        "Valable jusqu'au (heure de Paris)", description="Facultatif : sans date, pas d'expiration."
    )
    max_uses = WholeNumberField(
        "Nombre d'utilisations",
        description=f"Facultatif : sans nombre, pas de limite (au plus {MAX_USES_LIMIT}).",
        validators=[
            Optional(),
            Between(1, MAX_USES_LIMIT, f"Indiquez un nombre entre 1 et {MAX_USES_LIMIT}."),
        ],
    )


class GuestNameForm(FlaskForm):
    display_name = StringField(
        "Votre nom, tel que les autres participants le verront",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez votre nom."),
            Length(
                min=GUEST_NAME_MIN_LENGTH,
                max=DISPLAY_NAME_MAX_LENGTH,
                message=f"Votre nom doit compter entre {GUEST_NAME_MIN_LENGTH} et "
                f"{DISPLAY_NAME_MAX_LENGTH} caractères.",
            ),
        ],
        description="Par exemple : « Claire Dubois (préfecture du Rhône) ».",
    )
