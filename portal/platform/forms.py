"""Forms of the platform administration pages, with French messages shown next to the field."""

from __future__ import annotations

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

CLAIM_LABELS = {
    "email": "Adresse électronique",
    "name": "Nom complet",
    "given_name": "Prénom",
    "family_name": "Nom de famille",
    "organization": "Organisation",
    "organization_id": "Identifiant d'organisation",
}
RULE_CLAIM_CHOICES = [
    SelectChoice(FederationClaim.ORGANIZATION_ID.value, "Identifiant d'organisation"),
    SelectChoice(FederationClaim.ORGANIZATION.value, "Organisation"),
    SelectChoice(FederationClaim.EMAIL_DOMAIN.value, "Domaine de l'adresse électronique"),
]


def split_domains(text: str | None) -> list[str]:
    """Domains typed one per line or separated by commas or spaces."""
    return [part for part in (text or "").replace(",", " ").split() if part]


class TenantForm(PolicyForm):
    name = StringField(
        "Nom du ministère",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez le nom du ministère."),
            Length(max=200, message="Le nom ne peut pas dépasser 200 caractères."),
        ],
        description="Par exemple : « Ministère de la Transition écologique ».",
    )
    slug = StringField(
        "Identifiant court",
        filters=[strip, lambda value: value.lower() if isinstance(value, str) else value],
        validators=[DataRequired(message="Indiquez l'identifiant court du ministère.")],
        description="1 à 40 caractères : lettres minuscules, chiffres et tirets, sans tiret au "
        "début ni à la fin. Par exemple : ecologie.",
    )
    allowed_email_domains = TextAreaField(
        "Domaines de messagerie des agents",
        description="Un domaine par ligne, par exemple : ecologie.gouv.fr. Ils permettent de "
        "trouver le ministère d'un agent qui saisit son adresse à la connexion.",
    )

    def validate_slug(self, field) -> None:
        if field.data and not TENANT_SLUG_PATTERN.match(field.data):
            raise ValidationError(
                "L'identifiant fait 1 à 40 caractères : lettres minuscules, chiffres et "
                "tirets, sans tiret au début ni à la fin."
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
        "Nom affiché sur la page de connexion",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez le nom du fournisseur."),
            Length(max=200, message="Le nom ne peut pas dépasser 200 caractères."),
        ],
        description="Par exemple : « ProConnect » ou « Annuaire du ministère ».",
    )
    tenant = SelectField(
        "Ministère",
        description="Choisissez « Fédération » pour un fournisseur partagé par plusieurs "
        "ministères : des règles disent alors à quel ministère appartient chaque agent.",
    )
    issuer = StringField(
        "Émetteur (issuer)",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez l'adresse de l'émetteur."),
            Length(max=255, message="L'adresse ne peut pas dépasser 255 caractères."),
        ],
        description="L'adresse https du fournisseur, sans /.well-known/openid-configuration.",
    )
    client_id = StringField(
        "Identifiant client (client_id)",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez l'identifiant client."),
            Length(max=255, message="L'identifiant ne peut pas dépasser 255 caractères."),
        ],
    )
    client_secret = PasswordField(
        "Secret client (client_secret)",
        description="Jamais affiché. Laissez vide pour garder le secret actuel.",
    )
    scopes = StringField(
        "Scopes demandés",
        filters=[strip],
        default=DEFAULT_SCOPES,
        validators=[DataRequired(message="Indiquez les scopes, dont « openid »."), Length(max=255)],
        description="Séparés par des espaces ; « openid » est obligatoire.",
    )
    enabled = BooleanField("Activé (proposé sur la page de connexion)", default=True)

    def validate_scopes(self, field) -> None:
        if field.data and "openid" not in field.data.split():
            raise ValidationError("Les scopes doivent comprendre « openid ».")

    def validate_issuer(self, field) -> None:
        from portal.tenants.operations import TenantConfigurationError, normalize_issuer

        try:
            normalize_issuer(field.data)
        except TenantConfigurationError:
            raise ValidationError(
                "L'émetteur doit être une adresse http(s), par exemple https://idp.exemple.fr."
            ) from None


# One field per claim we read, e.g. claim_email: which provider claim gives the e-mail address.
for _claim, _label in CLAIM_LABELS.items():
    setattr(
        ProviderForm,
        f"claim_{_claim}",
        StringField(
            f"Attribut donnant : {_label.lower()}",
            filters=[strip],
            default=DEFAULT_CLAIM_MAPPING[_claim],
            validators=[Length(max=100, message="Au plus 100 caractères.")],
        ),
    )


class FederationRuleForm(FlaskForm):
    claim = SelectField("Attribut comparé", choices=RULE_CLAIM_CHOICES)
    value = StringField(
        "Valeur",
        filters=[strip],
        validators=[
            DataRequired(message="Indiquez la valeur de l'attribut."),
            Length(max=255, message="La valeur ne peut pas dépasser 255 caractères."),
        ],
    )
    tenant = SelectField("Ministère des agents concernés")


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
