"""Error pages in the visitor's language; JSON errors for the endpoints scripts call."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

logger = logging.getLogger(__name__)

# Endpoints called by scripts: their errors are JSON, never an HTML page.
API_ENDPOINTS = frozenset(
    {
        "rooms.join_token",
        "lobby.waiting_state",
        "lobby.queue",
        "lobby.admit",
        "lobby.refuse",
        "lobby.admit_all",
    }
)

MESSAGES = {
    400: (_l("Requête invalide"), _l("La demande n'a pas pu être traitée.")),
    401: (_l("Connexion requise"), _l("Connectez-vous pour accéder à cette page.")),
    403: (_l("Accès refusé"), _l("Vous n'avez pas accès à cette page.")),
    404: (
        _l("Page introuvable"),
        _l(
            "Cette page n'existe pas. Si vous avez suivi le lien d'une salle, vérifiez qu'il est "
            "complet ou demandez-le à nouveau à la personne qui vous l'a envoyé."
        ),
    ),
    405: (_l("Méthode non autorisée"), _l("Cette action n'est pas possible sur cette page.")),
    500: (
        _l("Erreur du serveur"),
        _l("Une erreur inattendue s'est produite. Réessayez dans quelques instants."),
    ),
    503: (_l("Service indisponible"), _l("Le service est momentanément indisponible.")),
}


def N_(text: str) -> str:  # noqa: N802 - the gettext convention
    """Mark `text` for extraction only: it stays a plain French string, translated where shown."""
    return text


# A plain string (tests look for it in pages); translated when the error is answered.
CSRF_MESSAGE = N_(
    "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et recommencez."
)


def wants_json() -> bool:
    return request.endpoint in API_ENDPOINTS


def error_response(status: int, message: str | None = None, error: str | None = None):
    title, default_message = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    message = message or default_message
    if wants_json():
        # str(): JSON takes a lazy text through its __html__, which escapes it (portal.i18n).
        return jsonify(error=error or f"http_{status}", message=str(message)), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def init_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        logger.warning(
            "CSRF check failed on %s %s: %s", request.method, request.path, exc.description
        )
        return error_response(400, _(CSRF_MESSAGE), "csrf")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return error_response(exc.code)

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        return error_response(500)
