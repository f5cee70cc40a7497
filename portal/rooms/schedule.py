"""A room's schedule: when entry opens and closes, and how times are shown (Europe/Paris).

Times are stored in UTC; forms and messages use Paris time, written in the request's language
(French outside a request). `current_time()` is the portal's clock, replaceable in tests through
the `PORTAL_CLOCK` configuration entry (a callable returning an aware datetime) so that no test
sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time
from flask import current_app, has_app_context, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _

PARIS = ZoneInfo("Europe/Paris")
# Entry opens this long before the start and closes this long after the end (docs/meetings.md).
ENTRY_MARGIN = timedelta(minutes=5)
MAX_SCHEDULE_DURATION = timedelta(hours=6)

# Babel date patterns per language; other languages get Babel's own short time. French writes
# "14 h 05" and "1er" for the first of the month, as the portal always has.
DATE_PATTERN = "EEEE d MMMM y"
FIRST_OF_MONTH_PATTERNS = {"fr": "EEEE '1er' MMMM y"}
TIME_PATTERNS = {"fr": "H 'h' mm", "en": "HH:mm"}


def current_time() -> datetime:
    """Now, UTC (or the test clock)."""
    clock = current_app.config.get("PORTAL_CLOCK") if has_app_context() else None
    return clock() if clock is not None else datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def paris_to_utc(local: datetime) -> datetime:
    """A naive wall-clock time in Paris (what a datetime-local field gives) → UTC."""
    return local.replace(tzinfo=PARIS).astimezone(UTC)


def utc_to_paris(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(PARIS)


def _locale() -> Locale:
    locale = get_locale() if has_request_context() else None
    return locale if locale is not None else Locale("fr")


def french_time(moment: datetime) -> str:
    """'14 h 05' in Paris time ('14:05' in English)."""
    locale = _locale()
    return format_time(
        utc_to_paris(moment), TIME_PATTERNS.get(locale.language, "short"), locale=locale
    )


def french_date(moment: datetime) -> str:
    """'lundi 10 mars 2025' in Paris time ('Monday 10 March 2025' in English)."""
    local, locale = utc_to_paris(moment), _locale()
    pattern = DATE_PATTERN
    if local.day == 1:
        pattern = FIRST_OF_MONTH_PATTERNS.get(locale.language, DATE_PATTERN)
    return format_date(local.date(), pattern, locale=locale)


def french_moment(moment: datetime) -> str:
    """'le lundi 10 mars 2025 à 14 h 05'."""
    return _("le %(date)s à %(time)s", date=french_date(moment), time=french_time(moment))


@dataclass(frozen=True)
class Schedule:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC

    @property
    def opens_at(self) -> datetime:
        return self.starts_at - ENTRY_MARGIN

    @property
    def closes_at(self) -> datetime:
        """Entry closes then, and the SFU ends the meeting then (`close_at` claim)."""
        return self.ends_at + ENTRY_MARGIN

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now <= self.closes_at

    def describe(self) -> str:
        """'le lundi 10 mars 2025 de 14 h 00 à 15 h 30 (heure de Paris)'."""
        start, end = utc_to_paris(self.starts_at), utc_to_paris(self.ends_at)
        if start.date() == end.date():
            return _(
                "le %(date)s de %(start)s à %(end)s (heure de Paris)",
                date=french_date(self.starts_at),
                start=french_time(self.starts_at),
                end=french_time(self.ends_at),
            )
        return _(
            "du %(start_date)s à %(start_time)s au %(end_date)s à %(end_time)s (heure de Paris)",
            start_date=french_date(self.starts_at),
            start_time=french_time(self.starts_at),
            end_date=french_date(self.ends_at),
            end_time=french_time(self.ends_at),
        )


def schedule_of(room) -> Schedule | None:
    if room.schedule_starts_at is None or room.schedule_ends_at is None:
        return None
    return Schedule(as_utc(room.schedule_starts_at), as_utc(room.schedule_ends_at))
