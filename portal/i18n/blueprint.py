"""The language switch shown on every page: a link, since choosing a language changes nothing
anyone could abuse (no CSRF token needed), back to the page it was followed from."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for

from portal.core.urls import safe_next_url
from portal.i18n.locale import LANGUAGES, remember_language

bp = Blueprint("i18n", __name__)


@bp.get("/langue/<code>")
def switch_language(code: str):
    if code not in LANGUAGES:
        abort(404)
    remember_language(code)
    return redirect(safe_next_url(request.args.get("next"), url_for("rooms.home")))
