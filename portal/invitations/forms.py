"""Forms of the invitations: creating one (moderators) and a guest's name (anyone)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
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
        _l("Rôle donné par l'invitation"),
        choices=[
            SelectChoice(ParticipantRole.PARTICIPANT.value, _l("Participant")),
            SelectChoice(
                ParticipantRole.MODERATOR.value,
                _l("Modérateur (entre sans attendre et gère la salle)"),
            ),
        ],
        default=ParticipantRole.PARTICIPANT.value,
        validators=[InputRequired(message=_l("Choisissez le rôle donné par l'invitation."))],
    )
    label = StringField(
        _l("Pour qui (note visible des seuls modérateurs)"),
        filters=[strip],
        validators=[
            Optional(),
            Length(
                max=INVITATION_LABEL_MAX_LENGTH,
                message=_l(
                    "La note ne peut pas dépasser %(max)s caractères.",
                    max=INVITATION_LABEL_MAX_LENGTH,
                ),
            ),
        ],
        description=_l("Facultatif. Par exemple : « Intervenants de la DGALN »."),
    )
    expires_at = ParisDateTimeField(
        _l("Valable jusqu'au (heure de Paris)"),
        description=_l("Facultatif : sans date, pas d'expiration."),
    )
    max_uses = WholeNumberField(
        _l("Nombre d'utilisations"),
        description=_l(
            "Facultatif : sans nombre, pas de limite (au plus %(max)s).", max=MAX_USES_LIMIT
        ),
        validators=[
            Optional(),
            Between(
                1,
                MAX_USES_LIMIT,
                _l("Indiquez un nombre entre 1 et %(max)s.", max=MAX_USES_LIMIT),
            ),
        ],
    )


class GuestNameForm(FlaskForm):
    display_name = StringField(
        _l("Votre nom, tel que les autres participants le verront"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez votre nom.")),
            Length(
                min=GUEST_NAME_MIN_LENGTH,
                max=DISPLAY_NAME_MAX_LENGTH,
                message=_l(
                    "Votre nom doit compter entre %(min)s et %(max)s caractères.",
                    min=GUEST_NAME_MIN_LENGTH,
                    max=DISPLAY_NAME_MAX_LENGTH,
                ),
            ),
        ],
        description=_l("Par exemple : « Claire Dubois (préfecture du Rhône) »."),
    )
