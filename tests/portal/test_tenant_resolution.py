"""Finding the ministry: from an e-mail domain before sign-in, from federation claims after."""

from __future__ import annotations

from portal.auth.operations import mapped_claims
from portal.extensions import db
from portal.tenants.models import FederationClaim, ProviderKind, Tenant
from portal.tenants.operations import add_federation_rule, add_provider
from portal.tenants.resolution import (
    choice_for_email,
    sign_in_choices,
    tenant_from_federation_claims,
)


def test_federation_claims_through_the_mapping_most_specific_first(app, create_tenant):
    interieur, armees = create_tenant(slug="interieur"), create_tenant(slug="armees")
    with app.app_context():
        federation = add_provider(
            kind=ProviderKind.FEDERATION,
            issuer="https://federation.example.gouv.fr",
            client_id="webconf",
            client_secret="s",  # noqa: S106
            name="Fédération",
            claim_mapping={"organization_id": "org.siret", "family_name": "usual_name"},
        )
        for claim, value, tenant in (
            (FederationClaim.ORGANIZATION_ID, "110-INT", interieur),
            (FederationClaim.ORGANIZATION, "Ministère des Armées", armees),
            (FederationClaim.EMAIL_DOMAIN, "Armees.gouv.fr", armees),
        ):
            add_federation_rule(federation, claim, value, db.session.get(Tenant, tenant.id))

        def tenant_of(claims):
            tenant = tenant_from_federation_claims(federation, mapped_claims(federation, claims))
            return tenant.slug if tenant else None

        seconded = {"email": "a@armees.gouv.fr", "org": {"siret": "110-int"}}
        assert tenant_of(seconded) == "interieur"  # the nested, mapped id beats the domain
        assert tenant_of({"email": "a@x.fr", "organization": "MINISTÈRE DES ARMÉES"}) == "armees"
        assert tenant_of({"email": "b@ARMEES.gouv.fr"}) == "armees"
        assert tenant_of({"email": "c@ailleurs.fr", "organization": "Autre"}) is None
        assert tenant_of({}) is None
        person = mapped_claims(federation, {"usual_name": "Martin", "email": " x@y.fr "})
        assert (person["family_name"], person["email"]) == ("Martin", "x@y.fr")


def test_email_domain_finds_the_ministry_then_its_provider(app, create_tenant):
    culture = create_tenant(slug="culture", allowed_email_domains=["culture.gouv.fr"])
    create_tenant(slug="sans-fournisseur", allowed_email_domains=["vide.gouv.fr"])
    with app.app_context():
        provider = add_provider(
            kind=ProviderKind.TENANT,
            tenant=db.session.get(Tenant, culture.id),
            issuer="https://idp.culture.gouv.fr",
            client_id="webconf",
            client_secret="s",  # noqa: S106
            name="Culture",
        )
        choice = choice_for_email("Agent@CULTURE.gouv.fr")
        assert (choice.tenant.slug, choice.provider.id) == ("culture", provider.id)
        # A ministry without any way in is neither found nor offered.
        assert choice_for_email("agent@vide.gouv.fr") is None
        assert choice_for_email("agent@inconnu.fr") is None
        assert choice_for_email("pas-une-adresse") is None
        assert [c.tenant.slug for c in sign_in_choices()] == ["culture"]
