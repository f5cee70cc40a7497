"""Request handling of sign-in (OpenID Connect code flow with PKCE, one provider per ministry
or a shared federation) and sign-out."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from joserfc.errors import JoseError
from sqlalchemy import select

from portal.auth.forms import FindMinistryForm, SignOutForm
from portal.auth.oidc import client_for, provider_origin
from portal.auth.operations import SignInRefused, mapped_claims, sign_in_identity
from portal.core import ratelimit
from portal.core.crypto import SecretDecryptionError
from portal.core.metrics import count_sign_in
from portal.core.security import allow_form_action
from portal.core.urls import safe_next_url
from portal.extensions import db
from portal.i18n.locale import clear_session_keeping_language
from portal.tenants.models import IdentityProvider, ProviderKind, Tenant
from portal.tenants.resolution import (
    choice_for_email,
    enabled_federations,
    enabled_providers,
    provider_for_tenant,
    sign_in_choices,
    tenant_from_federation_claims,
)

logger = logging.getLogger(__name__)

NEXT_KEY = "next_after_sign_in"
# The provider a sign-in was started with: the callback URL is the same for every provider.
PENDING_PROVIDER_KEY = "oidc_pending_provider"
# After sign-in: the provider signed in with (for sign-out) and its id_token (id_token_hint).
PROVIDER_KEY = "oidc_provider"
PROVIDER_ORIGIN_KEY = "oidc_provider_origin"
ID_TOKEN_KEY = "oidc_id_token"  # noqa: S105 — a session key name

UNREACHABLE = (
    502,
    _l("Fournisseur d'identité injoignable"),
    _l("Le fournisseur d'identité ne répond pas. Réessayez dans quelques instants."),
)
MISCONFIGURED = (
    503,
    _l("Connexion indisponible"),
    _l(
        "Le fournisseur d'identité de votre ministère est mal configuré sur ce portail. "
        "Contactez l'administrateur du portail."
    ),
)
# What a refused sign-in tells the person, by SignInRefused.reason.
REFUSALS = {
    "deactivated": (
        403,
        _l("Compte désactivé"),
        _l("Votre compte a été désactivé. Contactez l'administrateur de votre ministère."),
    ),
    "no_tenant": (
        403,
        _l("Service non ouvert à votre organisation"),
        _l(
            "Votre organisation n'utilise pas encore ce service : votre fournisseur d'identité "
            "vous a bien reconnu, mais aucun ministère de ce portail ne correspond à votre "
            "organisation. Aucun compte n'a été créé. Si vous pensez que c'est une erreur, "
            "contactez le service informatique de votre ministère."
        ),
    ),
    "other_tenant": (
        403,
        _l("Connexion refusée"),
        _l(
            "Votre compte est rattaché à un autre ministère que celui qu'indique aujourd'hui "
            "votre fournisseur d'identité. Seul un administrateur peut changer le ministère d'un "
            "compte : contactez l'administrateur de votre ministère."
        ),
    ),
    "provider_disabled": (
        403,
        _l("Connexion indisponible"),
        _l("La connexion par ce fournisseur d'identité a été désactivée par un administrateur."),
    ),
    "provider_unknown": (
        400,
        _l("Connexion refusée"),
        _l(
            "Cette demande de connexion a expiré ou n'a pas été lancée depuis ce navigateur. "
            "Recommencez la connexion."
        ),
    ),
    "wrong_issuer": (
        401,
        _l("Connexion refusée"),
        _l(
            "La réponse du fournisseur d'identité n'a pas pu être vérifiée. "
            "Pour votre sécurité, la connexion a été refusée."
        ),
    ),
}
MISSING_INFORMATION = (
    401,
    _l("Connexion refusée"),
    _l(
        "Le fournisseur d'identité n'a pas transmis les informations nécessaires "
        "(identifiant et adresse électronique)."
    ),
)


def absolute_url(endpoint: str, **values) -> str:
    """URL on PORTAL_URL: what the identity provider knows us by, whatever Host header came in."""
    return current_app.config["PORTAL_URL"] + url_for(endpoint, **values)


def sign_in_error(status: int, title: str, message: str):
    # str(): lazy texts would otherwise reach the template marked safe, unescaped.
    return render_template("auth/error.html", title=str(title), message=str(message)), status


def allow_sign_in_redirects() -> None:
    """The sign-in page's form redirects to a provider: CSP form-action must allow it."""
    allow_form_action(*sorted({provider_origin(p) for p in enabled_providers()}))


# ---------------------------------------------------------------------------------------------
# Sign-in page


def sign_in_page():
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next"), url_for("rooms.my_rooms")))
    form = FindMinistryForm(next=safe_next_url(request.args.get("next"), ""))
    return render_sign_in_page(form)


def render_sign_in_page(form: FindMinistryForm, status: int = 200, alert: str | None = None):
    allow_sign_in_redirects()
    choices = sign_in_choices()
    federations = enabled_federations()
    return render_template(
        "auth/sign_in.html",
        form=form,
        choices=choices,
        federations=federations,
        configured=bool(choices or federations),
        next_url=form.next.data or "",
        alert=alert,
    ), status


def refuse_sign_in(name: str, verdict: ratelimit.Verdict):
    """Too many sign-in requests from this address: the sign-in page, the message on top."""
    form = FindMinistryForm(next=safe_next_url(request.args.get("next"), ""))
    page = render_sign_in_page(form, 429, alert=ratelimit.message(name, verdict))
    return ratelimit.too_many(page, verdict)


# Every request to the sign-in routes counts, per client address (docs/administration.md).
limit_sign_in = ratelimit.limited(ratelimit.SIGN_IN, refuse_sign_in)


@limit_sign_in
def find_ministry():
    """The agent typed their address: sign in at their ministry's provider (or federation)."""
    form = FindMinistryForm()
    if not form.validate_on_submit():
        return render_sign_in_page(form, 400 if request.method == "POST" else 200)
    choice = choice_for_email(form.email.data)
    if choice is None:
        form.email.errors.append(
            _(
                "Aucun ministère n'utilise ce service avec cette adresse. Vérifiez-la, ou "
                "choisissez votre ministère dans la liste."
            )
        )
        return render_sign_in_page(form, 400)
    return begin(choice.provider, form.next.data, login_hint=form.email.data)


@limit_sign_in
def start_sign_in():
    """GET /connexion/oidc?ministere=<slug> or ?fournisseur=<public id>; with neither, the one
    provider when there is only one."""
    slug = request.args.get("ministere")
    public_id = request.args.get("fournisseur")
    providers = enabled_providers()
    provider: IdentityProvider | None = None
    if slug:
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        provider = provider_for_tenant(tenant) if tenant is not None else None
    elif public_id:
        provider = next((p for p in providers if p.public_id == public_id), None)
    elif len(providers) == 1:
        provider = providers[0]
    elif providers:
        return redirect(url_for("auth.sign_in", next=request.args.get("next") or None))
    if provider is None:
        if slug or public_id:
            return sign_in_error(
                404,
                _("Ministère introuvable"),
                _(
                    "Ce ministère ou ce fournisseur d'identité n'est pas disponible sur ce "
                    "portail. Choisissez votre ministère sur la page de connexion."
                ),
            )
        return sign_in_error(
            503,
            _("Connexion indisponible"),
            _("Aucun fournisseur d'identité n'est configuré sur ce portail."),
        )
    return begin(provider, request.args.get("next"))


def begin(provider: IdentityProvider, next_url: str | None, *, login_hint: str | None = None):
    """Redirect to `provider` (code flow; Authlib adds state, nonce and the PKCE challenge,
    kept in the session), remembering which provider the callback is for."""
    session[NEXT_KEY] = safe_next_url(next_url, url_for("rooms.my_rooms"))
    session[PENDING_PROVIDER_KEY] = provider.public_id
    extra = {"login_hint": login_hint} if login_hint else {}
    try:
        client = client_for(provider)
        return client.authorize_redirect(absolute_url("auth.callback"), **extra)
    except SecretDecryptionError:
        logger.exception("client secret of provider %s unreadable", provider.issuer)
        return sign_in_error(*MISCONFIGURED)
    except (requests.RequestException, ValueError, RuntimeError):
        # Connection refused, timeout, or a discovery document that is not JSON / incomplete.
        logger.exception("identity provider %s: discovery failed", provider.issuer)
        return sign_in_error(*UNREACHABLE)


# ---------------------------------------------------------------------------------------------
# Callback


@limit_sign_in
def callback():
    public_id = session.get(PENDING_PROVIDER_KEY)
    provider = (
        db.session.scalar(select(IdentityProvider).where(IdentityProvider.public_id == public_id))
        if public_id
        else None
    )
    try:
        if provider is None:
            raise SignInRefused("provider_unknown", "no sign-in was started from this session")
        if not provider.enabled:
            logger.warning("sign-in callback for disabled provider %s refused", provider.issuer)
            raise SignInRefused("provider_disabled", "the provider is disabled")
        token, claims = fetch_claims(provider)
        tenant = tenant_for(provider, claims)
        person = mapped_claims(provider, claims)
        user = sign_in_identity(provider, tenant, str(claims.get("sub") or ""), person)
    except MismatchingStateError:
        logger.warning("sign-in callback with an unknown state from %s", request.remote_addr)
        count_sign_in("unknown_state")
        return sign_in_error(*REFUSALS["provider_unknown"])
    except JoseError as exc:
        # Bad signature, wrong audience, expired, wrong nonce...
        logger.warning(
            "sign-in with an id_token from %s that failed verification: %r",
            provider.issuer if provider else "?",
            exc,
        )
        count_sign_in("invalid_id_token")
        return sign_in_error(*REFUSALS["wrong_issuer"])
    except AuthlibBaseError as exc:
        # The provider refused (error=access_denied...) or rejected the code or our client
        # credentials (invalid_grant, invalid_client).
        logger.warning("sign-in refused by provider %s: %s", provider.issuer, exc)
        count_sign_in("provider_refused")
        return sign_in_error(
            400,
            _("Connexion refusée"),
            _("Le fournisseur d'identité a refusé la connexion. Recommencez la connexion."),
        )
    except SignInRefused as exc:
        if exc.reason not in ("deactivated", "other_tenant"):  # those log themselves
            logger.warning(
                "sign-in refused (%s) from %s: %s",
                exc.reason,
                provider.issuer if provider else "?",
                exc,
            )
        count_sign_in(exc.reason if exc.reason in REFUSALS else "missing_information")
        return sign_in_error(*REFUSALS.get(exc.reason, MISSING_INFORMATION))
    except SecretDecryptionError:
        logger.exception("client secret of provider %s unreadable", provider.issuer)
        count_sign_in("misconfigured")
        return sign_in_error(*MISCONFIGURED)
    except requests.RequestException:
        logger.exception("identity provider %s unreachable during sign-in", provider.issuer)
        count_sign_in("unreachable")
        return sign_in_error(*UNREACHABLE)

    next_url = session.pop(NEXT_KEY, None) or url_for("rooms.my_rooms")
    # A fresh session at the privilege change: nothing from before the sign-in is carried over.
    clear_session_keeping_language()
    session[ID_TOKEN_KEY] = token.get("id_token")
    session[PROVIDER_KEY] = provider.public_id
    session[PROVIDER_ORIGIN_KEY] = provider_origin(provider)
    login_user(user)
    count_sign_in("success")
    flash(_("Bienvenue, %(name)s.", name=user.display_name), "success")
    return redirect(safe_next_url(next_url, url_for("rooms.my_rooms")))


def fetch_claims(provider: IdentityProvider) -> tuple[dict, dict]:
    """Exchange the code and verify the id_token (signature, iss, aud, exp, nonce): the token
    response and the id_token's claims, completed from UserInfo when the e-mail is missing."""
    client = client_for(provider)
    token = client.authorize_access_token()
    claims = dict(token.get("userinfo") or {})
    if not claims:
        raise SignInRefused("no_id_token", "the provider returned no id_token")
    # Authlib checked iss against the discovery document; that document must be the one of
    # the issuer the administrator configured (no provider speaking for another).
    if str(claims.get("iss") or "").rstrip("/") != provider.issuer:
        raise SignInRefused("wrong_issuer", f"id_token issuer {claims.get('iss')!r}")
    email_claim = (provider.claim_mapping or {}).get("email", "email")
    if not claims.get(email_claim):
        claims = merge_userinfo(client, token, claims)
    return token, claims


def tenant_for(provider: IdentityProvider, claims: dict) -> Tenant:
    """The provider's ministry, or for a federation the one its rules give for these claims."""
    if provider.kind is ProviderKind.TENANT:
        return provider.tenant
    tenant = tenant_from_federation_claims(provider, mapped_claims(provider, claims))
    if tenant is None:
        person = mapped_claims(provider, claims)
        logger.warning(
            "federation %s: subject %s (organization_id %r, organization %r) matches no tenant",
            provider.issuer,
            claims.get("sub"),
            person.get("organization_id"),
            person.get("organization"),
        )
        raise SignInRefused("no_tenant", "the federation's claims match no tenant")
    return tenant


def merge_userinfo(client, token: dict, claims: dict) -> dict:
    """Complete id_token claims from the UserInfo endpoint (some providers keep e-mail there)."""
    metadata = client.load_server_metadata()
    if not metadata.get("userinfo_endpoint"):
        return claims
    userinfo = client.userinfo(token=token)
    if userinfo.get("sub") != claims.get("sub"):
        raise SignInRefused("userinfo_mismatch", "userinfo is about another subject")
    return {**userinfo, **{k: v for k, v in claims.items() if v}}


# ---------------------------------------------------------------------------------------------
# Sign-out


def sign_out():
    form = SignOutForm()
    if not form.validate_on_submit():
        flash(_("La déconnexion a échoué : rechargez la page et réessayez."), "error")
        return redirect(url_for("rooms.home"))
    id_token = session.get(ID_TOKEN_KEY)
    public_id = session.get(PROVIDER_KEY)
    if current_user.is_authenticated:
        logger.info("user %s signed out", current_user.public_id)
    logout_user()
    clear_session_keeping_language()
    provider = (
        db.session.scalar(select(IdentityProvider).where(IdentityProvider.public_id == public_id))
        if public_id and id_token
        else None
    )
    end_session = end_session_endpoint(provider) if provider is not None else None
    if end_session:
        # RP-initiated logout at the provider the user signed in with: it ends its own
        # session, then sends the browser home.
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": absolute_url("rooms.home"),
                "client_id": provider.client_id,
            }
        )
        separator = "&" if "?" in end_session else "?"
        return redirect(f"{end_session}{separator}{query}")
    flash(_("Vous êtes déconnecté."), "success")
    return redirect(url_for("rooms.home"))


def end_session_endpoint(provider: IdentityProvider) -> str | None:
    try:
        return client_for(provider).load_server_metadata().get("end_session_endpoint")
    except (requests.RequestException, SecretDecryptionError, ValueError):
        logger.warning(
            "identity provider %s unreachable at sign-out; signing out locally only",
            provider.issuer,
        )
        return None


def allow_provider_of_session() -> None:
    """Before each request: pages of a signed-in user carry the sign-out form, which redirects
    to their provider's end-session endpoint, so CSP form-action must allow that origin."""
    origin = session.get(PROVIDER_ORIGIN_KEY)
    if origin:
        allow_form_action(origin)
