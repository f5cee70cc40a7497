"""A room's schedule: when entry opens and closes, and how times are shown (Europe/Paris).

Times are stored in UTC; forms and messages use Paris time. `current_time()` is the portal's
clock, replaceable in tests through the `PORTAL_CLOCK` configuration entry (a callable returning
an aware datetime) so that no test sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

PARIS = ZoneInfo("Europe/Paris")
# Entry opens this long before the start and closes this long after the end (docs/meetings.md).
ENTRY_MARGIN = timedelta(minutes=5)
MAX_SCHEDULE_DURATION = timedelta(hours=6)

WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


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


def french_time(moment: datetime) -> str:
    """'14 h 05' in Paris time."""
    local = utc_to_paris(moment)
    return f"{local.hour} h {local.minute:02d}"


def french_date(moment: datetime) -> str:
    """'lundi 10 mars 2025' in Paris time."""
    local = utc_to_paris(moment)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{WEEKDAYS[local.weekday()]} {day} {MONTHS[local.month - 1]} {local.year}"


def french_moment(moment: datetime) -> str:
    """'le lundi 10 mars 2025 à 14 h 05'."""
    return f"le {french_date(moment)} à {french_time(moment)}"


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
            return (
                f"le {french_date(self.starts_at)} de {french_time(self.starts_at)} "
                f"à {french_time(self.ends_at)} (heure de Paris)"
            )
        return (
            f"du {french_date(self.starts_at)} à {french_time(self.starts_at)} "
            f"au {french_date(self.ends_at)} à {french_time(self.ends_at)} (heure de Paris)"
        )


def schedule_of(room) -> Schedule | None:
    if room.schedule_starts_at is None or room.schedule_ends_at is None:
        return None
    return Schedule(as_utc(room.schedule_starts_at), as_utc(room.schedule_ends_at))
