"""Form fields and validators with French messages, shared by the portal's forms."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from wtforms import DateField, IntegerField
from wtforms.validators import StopValidation, ValidationError


class WholeNumberField(IntegerField):
    """An integer field whose parse error is French ("12a" or "" is not a number)."""

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist:
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(_("Indiquez un nombre entier.")) from exc


class FrenchDateField(DateField):
    """A date field (input type=date, YYYY-MM-DD) whose parse error is French."""

    def process_formdata(self, valuelist: list) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = date.fromisoformat(str(valuelist[0]).strip())
        except ValueError as exc:
            self.data = None
            raise ValueError(_("Indiquez une date valide (jj/mm/aaaa).")) from exc


class Between:
    """A whole number from `low` to `high` inclusive; one French message, no duplicates."""

    def __init__(self, low: int, high: int, message: str) -> None:
        self.low, self.high, self.message = low, high, message
        # Rendered as min/max attributes by WTForms, for browsers and assistive technologies.
        self.field_flags = {"min": low, "max": high}

    def __call__(self, form, field) -> None:
        if field.process_errors:
            raise StopValidation()  # the parse error already says what is wrong
        if field.data is None:
            raise StopValidation(self.message)
        if not self.low <= field.data <= self.high:
            raise ValidationError(self.message)
