"""Which language a request is answered in: the visitor's choice (kept in the session cookie,
the only cookie there is), else the browser's preference, else French."""

from __future__ import annotations

from flask import has_request_context, request, session

# Code → the language's own name (how the switch shows it, in that language).
LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT_LANGUAGE = "fr"
SESSION_KEY = "langue"


def select_language() -> str:
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """The request's language code (`fr` or `en`), for `<html lang>` and the switch."""
    from flask_babel import get_locale

    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def remember_language(code: str) -> None:
    session[SESSION_KEY] = code


def clear_session_keeping_language() -> None:
    """`session.clear()` at sign-in and sign-out, without forgetting the language chosen."""
    chosen = session.get(SESSION_KEY)
    session.clear()
    if chosen in LANGUAGES:
        session[SESSION_KEY] = chosen
