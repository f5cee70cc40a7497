"""Request handling of the platform administration pages (/plateforme/…).

Platform administrators only (`platform_view`); objects are loaded by their public identifier
or 404 (`provider_view` loads the provider named by the URL). The media servers' page reads the
SFU pool's state from Redis (`portal/media/pool_status.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

import redis
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.admin.operations import POLICY_FIELDS
from portal.core import services
from portal.core.access import get_or_404, platform_admin_required
from portal.core.errors import N_
from portal.extensions import db
from portal.media.load import pool_load
from portal.media.pool_status import WorkerStatus, pool_status
from portal.platform import operations
from portal.platform.forms import (
    CLAIM_FIELD_LABELS,
    FEDERATION,
    ConfirmForm,
    FederationRuleForm,
    ProviderForm,
    TenantForm,
    split_domains,
)
from portal.platform.load_chart import CpuSummary, build_chart, cpu_summary, style_of
from portal.platform.provider_check import check_provider
from portal.rooms.models import Room
from portal.rooms.schedule import current_time
from portal.tenants import operations as tenant_operations
from portal.tenants.models import (
    DEFAULT_CLAIM_MAPPING,
    PLATFORM_MAX_ROOM_CAPACITY,
    RECOMMENDED_ROOM_CAPACITY,
    FederationRule,
    IdentityProvider,
    ProviderKind,
    Tenant,
)

logger = logging.getLogger(__name__)


def platform_view(view: Callable) -> Callable:
    return platform_admin_required(view)


def tenant_view(view: Callable) -> Callable:
    """Platform administrators only; loads the tenant `public_id` or 404."""

    @platform_admin_required
    @wraps(view)
    def wrapper(public_id: str):
        return view(get_or_404(Tenant, public_id=public_id))

    return wrapper


def provider_view(view: Callable) -> Callable:
    """Platform administrators only; loads the provider `public_id` or 404."""

    @platform_admin_required
    @wraps(view)
    def wrapper(public_id: str, **kwargs):
        return view(get_or_404(IdentityProvider, public_id=public_id), **kwargs)

    return wrapper


def policy_context() -> dict:
    return {"recommended": RECOMMENDED_ROOM_CAPACITY, "platform_max": PLATFORM_MAX_ROOM_CAPACITY}


def tenant_values(form: TenantForm) -> dict:
    values = {name: form[name].data for name in POLICY_FIELDS}
    values.update(
        name=form.name.data,
        slug=form.slug.data,
        allowed_email_domains=split_domains(form.allowed_email_domains.data),
    )
    return values


def tenant_choices() -> list[SelectChoice]:
    return [SelectChoice(tenant.public_id, tenant.name) for tenant in operations.all_tenants()]


# --- Tenants ---------------------------------------------------------------------------------


@platform_view
def tenants():
    return render_template(
        "platform/tenants.html",
        tenants=operations.all_tenants(),
        providers=operations.all_providers(),
    )


@platform_view
def create_tenant():
    form = TenantForm()
    if not form.is_submitted():
        for name in POLICY_FIELDS:
            form[name].data = Tenant.__table__.c[name].default.arg
    if form.validate_on_submit():
        values = tenant_values(form)
        try:
            tenant = tenant_operations.create_tenant(
                values.pop("slug"),
                values.pop("name"),
                email_domains=values.pop("allowed_email_domains"),
                actor=current_user,
                **values,
            )
        except tenant_operations.TenantConfigurationError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            flash(_("Le ministère « %(name)s » est créé.", name=tenant.name), "success")
            return redirect(url_for("platform.edit_tenant", public_id=tenant.public_id))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "platform/tenant_form.html", form=form, tenant=None, **policy_context()
    ), status


@tenant_view
def edit_tenant(tenant: Tenant):
    form = TenantForm(obj=tenant)
    if not form.is_submitted():
        form.allowed_email_domains.data = "\n".join(tenant.allowed_email_domains or [])
    if form.validate_on_submit():
        try:
            events = operations.update_tenant(current_user, tenant, tenant_values(form))
        except tenant_operations.TenantConfigurationError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            flash(
                _("Le ministère est enregistré.") if events else _("Aucune modification."),
                "success",
            )
            return redirect(url_for("platform.edit_tenant", public_id=tenant.public_id))
    status = 400 if form.is_submitted() else 200
    rules = db.session.scalars(
        select(FederationRule).where(FederationRule.tenant_id == tenant.id)
    ).all()
    return render_template(
        "platform/tenant_form.html",
        form=form,
        tenant=tenant,
        providers=operations.providers_of(tenant),
        rules=rules,
        **policy_context(),
    ), status


# --- Identity providers ----------------------------------------------------------------------


def claim_mapping_of(form: ProviderForm) -> dict[str, str]:
    return {
        claim: form[f"claim_{claim}"].data or DEFAULT_CLAIM_MAPPING[claim]
        for claim in DEFAULT_CLAIM_MAPPING
    }


def render_provider(form, provider, *, findings=None, rule_form=None, status=200):
    return render_template(
        "platform/provider_form.html",
        form=form,
        provider=provider,
        claim_fields=[f"claim_{claim}" for claim in CLAIM_FIELD_LABELS],
        findings=findings,
        rule_form=rule_form or new_rule_form(),
        confirm_form=ConfirmForm(),
    ), status


def new_rule_form() -> FederationRuleForm:
    form = FederationRuleForm()
    form.tenant.choices = tenant_choices()
    return form


@platform_view
def create_provider():
    form = ProviderForm()
    form.tenant.choices = [
        SelectChoice(FEDERATION, _("Fédération (plusieurs ministères)")),
        *tenant_choices(),
    ]
    if not form.is_submitted() and request.args.get("ministere"):
        form.tenant.data = request.args["ministere"]
    valid = form.validate_on_submit()
    if form.is_submitted() and not form.client_secret.data:
        form.client_secret.errors = [*form.client_secret.errors, _("Indiquez le secret client.")]
        valid = False
    if valid:
        tenant = None
        if form.tenant.data != FEDERATION:
            tenant = db.session.scalar(select(Tenant).where(Tenant.public_id == form.tenant.data))
        try:
            provider = tenant_operations.add_provider(
                kind=ProviderKind.TENANT if tenant else ProviderKind.FEDERATION,
                issuer=form.issuer.data,
                client_id=form.client_id.data,
                client_secret=form.client_secret.data,
                name=form.name.data,
                tenant=tenant,
                scopes=form.scopes.data,
                claim_mapping=claim_mapping_of(form),
                enabled=bool(form.enabled.data),
                actor=current_user,
            )
        except tenant_operations.TenantConfigurationError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            flash(_("Le fournisseur « %(name)s » est ajouté.", name=provider.name), "success")
            return redirect(url_for("platform.edit_provider", public_id=provider.public_id))
    status = 400 if form.is_submitted() else 200
    return render_provider(form, None, status=status)


def edit_form(provider: IdentityProvider, *, from_request: bool = True) -> ProviderForm:
    """The provider's settings form; `from_request=False` shows the stored values only (pages
    reached by another form: the check, a federation rule)."""
    form = ProviderForm(obj=provider) if from_request else ProviderForm(formdata=None, obj=provider)
    # Issuer and ministry are fixed once created: identities are tied to the issuer.
    del form.issuer
    del form.tenant
    if not from_request or not form.is_submitted():
        for claim in DEFAULT_CLAIM_MAPPING:
            form[f"claim_{claim}"].data = (provider.claim_mapping or {}).get(
                claim, DEFAULT_CLAIM_MAPPING[claim]
            )
    return form


@provider_view
def edit_provider(provider: IdentityProvider):
    form = edit_form(provider)
    if form.validate_on_submit():
        try:
            tenant_operations.update_provider(
                provider,
                actor=current_user,
                client_secret=form.client_secret.data or None,
                name=form.name.data,
                client_id=form.client_id.data,
                scopes=" ".join(form.scopes.data.split()),
                claim_mapping=claim_mapping_of(form),
                enabled=bool(form.enabled.data),
            )
        except tenant_operations.TenantConfigurationError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            flash(_("Le fournisseur est enregistré."), "success")
            return redirect(url_for("platform.edit_provider", public_id=provider.public_id))
    return render_provider(form, provider, status=400 if form.is_submitted() else 200)


@provider_view
def check(provider: IdentityProvider):
    ConfirmForm().validate_on_submit()  # CSRF is checked before the view
    findings = check_provider(provider.issuer, provider.scopes)
    logger.info("user %s checked provider %s", current_user.public_id, provider.issuer)
    return render_provider(edit_form(provider, from_request=False), provider, findings=findings)


@provider_view
def add_rule(provider: IdentityProvider):
    rule_form = new_rule_form()
    if rule_form.validate_on_submit():
        tenant = db.session.scalar(select(Tenant).where(Tenant.public_id == rule_form.tenant.data))
        try:
            tenant_operations.add_federation_rule(
                provider, rule_form.claim.data, rule_form.value.data, tenant, actor=current_user
            )
        except tenant_operations.TenantConfigurationError as exc:
            db.session.rollback()
            rule_form.value.errors.append(str(exc))
        else:
            flash(_("La règle est ajoutée."), "success")
            return redirect(url_for("platform.edit_provider", public_id=provider.public_id))
    return render_provider(
        edit_form(provider, from_request=False), provider, rule_form=rule_form, status=400
    )


@provider_view
def remove_rule(provider: IdentityProvider, rule_id: int):
    rule = get_or_404(FederationRule, id=rule_id, provider_id=provider.id)
    operations.remove_federation_rule(current_user, rule)
    flash(_("La règle est supprimée."), "success")
    return redirect(url_for("platform.edit_provider", public_id=provider.public_id))


# --- Media servers (the SFU pool) ------------------------------------------------------------

# Translated when shown (N_ marks it for extraction only).
REDIS_UNAVAILABLE = N_("Impossible de lire l'état des serveurs média (Redis injoignable).")
DEFAULT_HIGH_WATER = 0.7  # the pool supervisors' default (docs/pool.md)


@dataclass(frozen=True)
class HostedRoom:
    ministry: str | None  # None: the slug is not in the database (a test room, say)
    name: str | None
    participants: int


@dataclass(frozen=True)
class WorkerView:
    status: WorkerStatus
    state: str  # "actif", "en vidange" or "arrêté", in the page's language
    silent_for: str  # stopped workers: how long since their last sign of life
    last_seen: datetime | None
    started_at: datetime | None
    summary: CpuSummary | None  # CPU over the last hour
    colour: str  # the worker's line on the chart
    dash: str
    rooms: list[HostedRoom]


def french_duration(seconds: float) -> str:
    """'45 s', '12 min', '1 h 05' (in English: '45 s', '12 min', '1 h 05 min')."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return _("%(seconds)s s", seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("%(minutes)s min", minutes=minutes)
    return _("%(hours)s h %(minutes)s", hours=minutes // 60, minutes=f"{minutes % 60:02d}")


def as_datetime(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def room_names(slugs: set[str]) -> dict[str, tuple[str, str]]:
    """(ministry name, room name) of each slug that names a room of the database."""
    if not slugs:
        return {}
    rows = db.session.execute(
        select(Room.slug, Tenant.name, Room.name)
        .join(Tenant, Tenant.id == Room.tenant_id)
        .where(Room.slug.in_(sorted(slugs)))
    )
    return {slug: (ministry, name) for slug, ministry, name in rows}


def worker_view(worker: WorkerStatus, index: int, names: dict, now: float) -> WorkerView:
    colour, dash = style_of(index)
    if not worker.alive:
        state = _("arrêté")
    elif worker.draining:
        state = _("en vidange")
    else:
        state = _("actif")
    silent_for = ""
    if not worker.alive:
        silent_for = french_duration(now - worker.last_seen) if worker.last_seen else "—"
    rooms = [
        HostedRoom(*names.get(room.slug, (None, None)), room.participants) for room in worker.rooms
    ]
    return WorkerView(
        status=worker,
        state=state,
        silent_for=silent_for,
        last_seen=as_datetime(worker.last_seen),
        started_at=as_datetime(worker.started_at),
        summary=cpu_summary(worker.history),
        colour=colour,
        dash=dash,
        rooms=rooms,
    )


@platform_view
def media_pool():
    config = current_app.config
    now = current_time()
    prefix = config["REDIS_KEY_PREFIX"]
    high_water = config.get("SFU_POOL_HIGH_WATER", DEFAULT_HIGH_WATER)
    try:
        client = services.redis_client()
        workers = pool_status(client, prefix, now=now.timestamp())
        load = pool_load(client, prefix, config["SFU_PARTICIPANTS_PER_WORKER"])
    except redis.RedisError:
        logger.error(
            "media servers page for user %s: cannot read the SFU pool from Redis",
            current_user.public_id,
            exc_info=True,
        )
        return render_template("platform/media_pool.html", now=now, error=_(REDIS_UNAVAILABLE))
    names = room_names({room.slug for worker in workers for room in worker.rooms})
    views = [worker_view(w, i, names, now.timestamp()) for i, w in enumerate(workers)]
    alive = [worker for worker in workers if worker.alive]
    return render_template(
        "platform/media_pool.html",
        now=now,
        error=None,
        workers=views,
        load=load,
        totals={
            "live": len(alive),
            "draining": sum(worker.draining for worker in alive),
            "stopped": len(workers) - len(alive),
            "participants": sum(worker.participants for worker in alive),
        },
        high_water=high_water,
        chart=build_chart(
            [(worker.id, worker.history) for worker in workers], now.timestamp(), high_water
        ),
    )
