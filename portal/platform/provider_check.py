""" "Vérifier la configuration": fetch an identity provider's discovery document and its keys and
say, in the administrator's language, what would stop sign-in from working.

Only platform administrators can trigger it (it makes the portal fetch an address they typed);
requests are bounded by a short timeout and never carry credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import requests
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

logger = logging.getLogger(__name__)

DISCOVERY_PATH = "/.well-known/openid-configuration"
DEFAULT_TIMEOUT_SECONDS = 5.0
REQUIRED_ENDPOINTS = (
    ("authorization_endpoint", _l("Le document ne donne pas l'adresse d'autorisation (%(key)s).")),
    (
        "token_endpoint",
        _l("Le document ne donne pas l'adresse de délivrance des jetons (%(key)s)."),
    ),
    ("jwks_uri", _l("Le document ne donne pas l'adresse des clés de signature (%(key)s).")),
)

Level = Literal["error", "warning", "ok"]


@dataclass(frozen=True)
class Finding:
    """One thing the check found: an error blocks sign-in, a warning may, ok says all is well."""

    level: Level
    message: str


class _Unusable(Exception):
    """The document cannot be read at all; the finding says why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _fetch_json(url: str, what: str, timeout: float) -> Any:
    """GET `url` and parse it as JSON; _Unusable with a finding on any failure. `what` names
    the document, as the subject of the finding's sentence."""
    try:
        response = requests.get(
            url, timeout=timeout, headers={"Accept": "application/json"}, allow_redirects=False
        )
    except requests.Timeout:
        raise _Unusable(
            Finding(
                "error",
                _(
                    "%(what)s ne répond pas dans le délai de %(timeout)s s (%(url)s).",
                    what=what,
                    timeout=f"{timeout:g}",
                    url=url,
                ),
            )
        ) from None
    except requests.ConnectionError:
        raise _Unusable(
            Finding(
                "error",
                _("%(what)s est injoignable : connexion impossible à %(url)s.", what=what, url=url),
            )
        ) from None
    except requests.RequestException as exc:
        raise _Unusable(
            Finding(
                "error",
                _(
                    "%(what)s n'a pas pu être lu (%(url)s) : %(error)s.",
                    what=what,
                    url=url,
                    error=exc,
                ),
            )
        ) from None
    if response.status_code != 200:
        raise _Unusable(
            Finding(
                "error",
                _(
                    "%(what)s répond avec le code HTTP %(status)s au lieu de 200 (%(url)s).",
                    what=what,
                    status=response.status_code,
                    url=url,
                ),
            )
        )
    try:
        return response.json()
    except ValueError:
        raise _Unusable(
            Finding(
                "error",
                _("%(what)s n'est pas un document JSON valide (%(url)s).", what=what, url=url),
            )
        ) from None


def check_provider(
    issuer: str, scopes: str = "openid", *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> list[Finding]:
    """What is wrong with the provider at `issuer` for an authorization-code + PKCE sign-in
    asking for `scopes`; a single "ok" finding when nothing is."""
    findings: list[Finding] = []
    issuer = (issuer or "").strip()
    discovery_url = issuer.rstrip("/") + DISCOVERY_PATH
    try:
        document = _fetch_json(discovery_url, _("Le document de découverte"), timeout)
    except _Unusable as unusable:
        logger.info("provider check of %s: %s", issuer, unusable.finding.message)
        return [unusable.finding]
    if not isinstance(document, dict):
        return [Finding("error", _("Le document de découverte n'est pas un objet JSON."))]

    announced = document.get("issuer")
    if announced != issuer:
        if isinstance(announced, str) and announced.rstrip("/") == issuer.rstrip("/"):
            findings.append(
                Finding(
                    "error",
                    _(
                        "L'émetteur annoncé « %(announced)s » ne correspond pas exactement à "
                        "l'émetteur configuré « %(issuer)s » (barre oblique finale) : les jetons "
                        "seraient refusés.",
                        announced=announced,
                        issuer=issuer,
                    ),
                )
            )
        else:
            findings.append(
                Finding(
                    "error",
                    _(
                        "L'émetteur annoncé « %(announced)s » diffère de l'émetteur configuré "
                        "« %(issuer)s » : les jetons seraient refusés.",
                        announced=announced or _("(aucun)"),
                        issuer=issuer,
                    ),
                )
            )

    for key, message in REQUIRED_ENDPOINTS:
        value = document.get(key)
        if not isinstance(value, str) or not value:
            findings.append(Finding("error", str(message) % {"key": key}))

    jwks_uri = document.get("jwks_uri")
    if isinstance(jwks_uri, str) and jwks_uri:
        findings.extend(_check_jwks(jwks_uri, timeout))

    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        findings.append(
            Finding(
                "error",
                _(
                    "Le fournisseur n'annonce pas la méthode PKCE « S256 » "
                    "(code_challenge_methods_supported)."
                ),
            )
        )

    response_types = document.get("response_types_supported")
    if not isinstance(response_types, list) or "code" not in response_types:
        findings.append(
            Finding(
                "error",
                _(
                    "Le fournisseur n'annonce pas le type de réponse « code » "
                    "(response_types_supported)."
                ),
            )
        )

    wanted = (scopes or "").split()
    supported = document.get("scopes_supported")
    if isinstance(supported, list):
        missing = [scope for scope in wanted if scope not in supported]
        if missing:
            findings.append(
                Finding(
                    "error",
                    _(
                        "Scopes demandés que le fournisseur ne prend pas en charge : %(scopes)s.",
                        scopes=", ".join(missing),
                    ),
                )
            )
    else:
        findings.append(
            Finding(
                "warning",
                _(
                    "Le fournisseur ne publie pas la liste de ses scopes (scopes_supported) : "
                    "les scopes demandés n'ont pas pu être vérifiés."
                ),
            )
        )

    if not any(finding.level == "error" for finding in findings):
        findings.insert(0, Finding("ok", _("La configuration du fournisseur est correcte.")))
    logger.info(
        "provider check of %s: %d error(s)", issuer, sum(f.level == "error" for f in findings)
    )
    return findings


def _check_jwks(jwks_uri: str, timeout: float) -> list[Finding]:
    try:
        jwks = _fetch_json(jwks_uri, _("Le jeu de clés de signature (JWKS)"), timeout)
    except _Unusable as unusable:
        return [unusable.finding]
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        return [
            Finding(
                "error",
                _(
                    "Le jeu de clés de signature (JWKS) est vide : aucune signature de jeton ne "
                    "pourrait être vérifiée."
                ),
            )
        ]
    return []
