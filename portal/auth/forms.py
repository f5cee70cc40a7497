"""Forms of the auth pages, with French messages shown next to the field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField
from wtforms.validators import DataRequired, Length, Regexp

from portal.users.models import EMAIL_MAX_LENGTH


def strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SignOutForm(FlaskForm):
    """Sign-out is a POST with a CSRF token, so another site cannot sign a user out."""


class FindMinistryForm(FlaskForm):
    """An agent types their professional address; the portal finds their ministry from it."""

    email = EmailField(
        _l("Votre adresse électronique professionnelle"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez votre adresse électronique professionnelle.")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("Cette adresse est trop longue.")),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                message=_l(
                    "Cette adresse n'est pas valide (exemple : prenom.nom@ministere.gouv.fr)."
                ),
            ),
        ],
        description=_l("Par exemple : prenom.nom@ministere.gouv.fr"),
    )
    next = HiddenField()
