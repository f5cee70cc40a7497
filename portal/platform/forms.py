"""Forms of the platform administration pages, with messages shown next to the field (French
ids, translated at each request)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from portal.admin.forms import PolicyForm, strip
from portal.tenants.models import (
    DEFAULT_CLAIM_MAPPING,
    DEFAULT_SCOPES,
    TENANT_SLUG_PATTERN,
    FederationClaim,
)

FEDERATION = ""  # the "ministry" choice of a provider shared by several ministries

# The label of the field naming, for each claim we read, the provider's claim that gives it.
CLAIM_FIELD_LABELS = {
    "email": _l("Attribut donnant : adresse électronique"),
    "name": _l("Attribut donnant : nom complet"),
    "given_name": _l("Attribut donnant : prénom"),
    "family_name": _l("Attribut donnant : nom de famille"),
    "organization": _l("Attribut donnant : organisation"),
    "organization_id": _l("Attribut donnant : identifiant d'organisation"),
}
RULE_CLAIM_CHOICES = [
    SelectChoice(FederationClaim.ORGANIZATION_ID.value, _l("Identifiant d'organisation")),
    SelectChoice(FederationClaim.ORGANIZATION.value, _l("Organisation")),
    SelectChoice(FederationClaim.EMAIL_DOMAIN.value, _l("Domaine de l'adresse électronique")),
]


def split_domains(text: str | None) -> list[str]:
    """Domains typed one per line or separated by commas or spaces."""
    return [part for part in (text or "").replace(",", " ").split() if part]


class TenantForm(PolicyForm):
    name = StringField(
        _l("Nom du ministère"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez le nom du ministère.")),
            Length(max=200, message=_l("Le nom ne peut pas dépasser 200 caractères.")),
        ],
        description=_l("Par exemple : « Ministère de la Transition écologique »."),
    )
    slug = StringField(
        _l("Identifiant court"),
        filters=[strip, lambda value: value.lower() if isinstance(value, str) else value],
        validators=[DataRequired(message=_l("Indiquez l'identifiant court du ministère."))],
        description=_l(
            "1 à 40 caractères : lettres minuscules, chiffres et tirets, sans tiret au début ni "
            "à la fin. Par exemple : ecologie."
        ),
    )
    allowed_email_domains = TextAreaField(
        _l("Domaines de messagerie des agents"),
        description=_l(
            "Un domaine par ligne, par exemple : ecologie.gouv.fr. Ils permettent de trouver le "
            "ministère d'un agent qui saisit son adresse à la connexion."
        ),
    )

    def validate_slug(self, field) -> None:
        if field.data and not TENANT_SLUG_PATTERN.match(field.data):
            raise ValidationError(
                _(
                    "L'identifiant fait 1 à 40 caractères : lettres minuscules, chiffres et "
                    "tirets, sans tiret au début ni à la fin."
                )
            )

    def validate_allowed_email_domains(self, field) -> None:
        from portal.tenants.operations import TenantConfigurationError, normalize_domain

        for domain in split_domains(field.data):
            try:
                normalize_domain(domain)
            except TenantConfigurationError as exc:
                raise ValidationError(str(exc)) from None


class ProviderForm(FlaskForm):
    name = StringField(
        _l("Nom affiché sur la page de connexion"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez le nom du fournisseur.")),
            Length(max=200, message=_l("Le nom ne peut pas dépasser 200 caractères.")),
        ],
        description=_l("Par exemple : « ProConnect » ou « Annuaire du ministère »."),
    )
    tenant = SelectField(
        _l("Ministère"),
        description=_l(
            "Choisissez « Fédération » pour un fournisseur partagé par plusieurs ministères : "
            "des règles disent alors à quel ministère appartient chaque agent."
        ),
    )
    issuer = StringField(
        _l("Émetteur (issuer)"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez l'adresse de l'émetteur.")),
            Length(max=255, message=_l("L'adresse ne peut pas dépasser 255 caractères.")),
        ],
        description=_l("L'adresse https du fournisseur, sans /.well-known/openid-configuration."),
    )
    client_id = StringField(
        _l("Identifiant client (client_id)"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez l'identifiant client.")),
            Length(max=255, message=_l("L'identifiant ne peut pas dépasser 255 caractères.")),
        ],
    )
    client_secret = PasswordField(
        _l("Secret client (client_secret)"),
        description=_l("Jamais affiché. Laissez vide pour garder le secret actuel."),
    )
    scopes = StringField(
        _l("Scopes demandés"),
        filters=[strip],
        default=DEFAULT_SCOPES,
        validators=[
            DataRequired(message=_l("Indiquez les scopes, dont « openid ».")),
            Length(max=255),
        ],
        description=_l("Séparés par des espaces ; « openid » est obligatoire."),
    )
    enabled = BooleanField(_l("Activé (proposé sur la page de connexion)"), default=True)

    def validate_scopes(self, field) -> None:
        if field.data and "openid" not in field.data.split():
            raise ValidationError(_("Les scopes doivent comprendre « openid »."))

    def validate_issuer(self, field) -> None:
        from portal.tenants.operations import TenantConfigurationError, normalize_issuer

        try:
            normalize_issuer(field.data)
        except TenantConfigurationError:
            raise ValidationError(
                _("L'émetteur doit être une adresse http(s), par exemple https://idp.exemple.fr.")
            ) from None


# One field per claim we read, e.g. claim_email: which provider claim gives the e-mail address.
for _claim, _label in CLAIM_FIELD_LABELS.items():
    setattr(
        ProviderForm,
        f"claim_{_claim}",
        StringField(
            _label,
            filters=[strip],
            default=DEFAULT_CLAIM_MAPPING[_claim],
            validators=[Length(max=100, message=_l("Au plus 100 caractères."))],
        ),
    )


class FederationRuleForm(FlaskForm):
    claim = SelectField(_l("Attribut comparé"), choices=RULE_CLAIM_CHOICES)
    value = StringField(
        _l("Valeur"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Indiquez la valeur de l'attribut.")),
            Length(max=255, message=_l("La valeur ne peut pas dépasser 255 caractères.")),
        ],
    )
    tenant = SelectField(_l("Ministère des agents concernés"))


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
