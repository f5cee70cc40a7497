"""Request handling of sign-in (OpenID Connect code flow with PKCE) and sign-out."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from joserfc.errors import JoseError

from portal.auth.forms import SignOutForm
from portal.auth.oidc import oidc_client
from portal.auth.operations import SignInRefused, sign_in_identity
from portal.core.urls import safe_next_url

logger = logging.getLogger(__name__)

NEXT_KEY = "next_after_sign_in"
ID_TOKEN_KEY = "oidc_id_token"  # noqa: S105 — a session key name


def absolute_url(endpoint: str, **values) -> str:
    """URL on PORTAL_URL: what the identity provider knows us by, whatever Host header came in."""
    return current_app.config["PORTAL_URL"] + url_for(endpoint, **values)


def sign_in_error(status: int, title: str, message: str):
    return render_template("auth/error.html", title=title, message=message), status


def sign_in_page():
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next"), url_for("rooms.my_rooms")))
    return render_template(
        "auth/sign_in.html",
        configured=oidc_client() is not None,
        next_url=safe_next_url(request.args.get("next"), ""),
    )


def start_sign_in():
    client = oidc_client()
    if client is None:
        return sign_in_error(
            503,
            "Connexion indisponible",
            "Aucun fournisseur d'identité n'est configuré sur ce portail.",
        )
    session[NEXT_KEY] = safe_next_url(request.args.get("next"), url_for("rooms.my_rooms"))
    try:
        # Authlib adds state, nonce and the PKCE S256 challenge, kept in the session.
        return client.authorize_redirect(absolute_url("auth.callback"))
    except requests.RequestException:
        logger.exception("identity provider discovery failed")
        return sign_in_error(
            502,
            "Fournisseur d'identité injoignable",
            "Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.",
        )


def callback():
    client = oidc_client()
    if client is None:
        return sign_in_error(503, "Connexion indisponible", "Aucun fournisseur d'identité.")
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if not claims:
            raise SignInRefused("no_id_token", "the provider returned no id_token")
        if not claims.get("email"):
            claims = merge_userinfo(client, token, claims)
        user = sign_in_identity(claims.get("iss") or current_app.config["OIDC_ISSUER"], claims)
    except MismatchingStateError:
        logger.warning("sign-in callback with an unknown state from %s", request.remote_addr)
        return sign_in_error(
            400,
            "Connexion refusée",
            "Cette demande de connexion a expiré ou n'a pas été lancée depuis ce navigateur. "
            "Recommencez la connexion.",
        )
    except AuthlibBaseError as exc:
        # The provider refused (error=access_denied...) or rejected the code (invalid_grant).
        logger.warning("sign-in refused by the provider: %s", exc)
        return sign_in_error(
            400,
            "Connexion refusée",
            "Le fournisseur d'identité a refusé la connexion. Recommencez la connexion.",
        )
    except JoseError as exc:
        logger.warning("sign-in with an id_token that failed verification: %r", exc)
        return sign_in_error(
            401,
            "Connexion refusée",
            "La réponse du fournisseur d'identité n'a pas pu être vérifiée. "
            "Pour votre sécurité, la connexion a été refusée.",
        )
    except SignInRefused as exc:
        if exc.reason == "deactivated":
            return sign_in_error(
                403,
                "Compte désactivé",
                "Votre compte a été désactivé. Contactez l'administrateur du portail.",
            )
        logger.warning("sign-in refused: %s", exc)
        return sign_in_error(
            401,
            "Connexion refusée",
            "Le fournisseur d'identité n'a pas transmis les informations nécessaires "
            "(identifiant et adresse électronique).",
        )
    except requests.RequestException:
        logger.exception("identity provider unreachable during sign-in")
        return sign_in_error(
            502,
            "Fournisseur d'identité injoignable",
            "Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants.",
        )

    next_url = session.pop(NEXT_KEY, None) or url_for("rooms.my_rooms")
    # A fresh session at the privilege change: nothing from before the sign-in is carried over.
    session.clear()
    session[ID_TOKEN_KEY] = token.get("id_token")
    login_user(user)
    flash(f"Bienvenue, {user.display_name}.", "success")
    return redirect(safe_next_url(next_url, url_for("rooms.my_rooms")))


def merge_userinfo(client, token: dict, claims: dict) -> dict:
    """Complete id_token claims from the UserInfo endpoint (some providers keep e-mail there)."""
    metadata = client.load_server_metadata()
    if not metadata.get("userinfo_endpoint"):
        return claims
    userinfo = client.userinfo(token=token)
    if userinfo.get("sub") != claims.get("sub"):
        raise SignInRefused("userinfo_mismatch", "userinfo is about another subject")
    return {**userinfo, **{k: v for k, v in claims.items() if v}}


def sign_out():
    form = SignOutForm()
    if not form.validate_on_submit():
        flash("La déconnexion a échoué : rechargez la page et réessayez.", "error")
        return redirect(url_for("rooms.home"))
    id_token = session.get(ID_TOKEN_KEY)
    if current_user.is_authenticated:
        logger.info("user %s signed out", current_user.public_id)
    logout_user()
    session.clear()
    end_session = end_session_endpoint() if id_token else None
    if end_session:
        # RP-initiated logout: the provider ends its own session, then sends the browser home.
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": absolute_url("rooms.home"),
                "client_id": current_app.config["OIDC_CLIENT_ID"],
            }
        )
        separator = "&" if "?" in end_session else "?"
        return redirect(f"{end_session}{separator}{query}")
    flash("Vous êtes déconnecté.", "success")
    return redirect(url_for("rooms.home"))


def end_session_endpoint() -> str | None:
    client = oidc_client()
    if client is None:
        return None
    try:
        return client.load_server_metadata().get("end_session_endpoint")
    except requests.RequestException:
        logger.warning("identity provider unreachable at sign-out; signing out locally only")
        return None
