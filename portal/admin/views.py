"""Request handling of the tenant administration pages (/admin/…).

Every view acts on the signed-in administrator's own tenant and nothing else. Access is
checked once, by `admin_view` (tenant administrators only) and `agent_view` (also loads the
agent named by the URL within that tenant, or 404).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.admin import operations
from portal.admin.forms import (
    AgentActionForm,
    AgentSearchForm,
    PolicyForm,
    RoleForm,
    UsagePeriodForm,
)
from portal.admin.labels import action_label, change_lines, target_label
from portal.core.access import get_in_tenant_or_404, tenant_admin_required
from portal.core.errors import error_response
from portal.core.urls import safe_next_url
from portal.extensions import db
from portal.tenants.models import PLATFORM_MAX_ROOM_CAPACITY, RECOMMENDED_ROOM_CAPACITY
from portal.users.models import Role, User

logger = logging.getLogger(__name__)

USAGE_DEFAULT_DAYS = 30


def admin_view(view: Callable) -> Callable:
    """Tenant administrators only; the view gets their tenant."""

    @tenant_admin_required
    @wraps(view)
    def wrapper(**kwargs):
        return view(current_user.tenant, **kwargs)

    return wrapper


def agent_view(view: Callable) -> Callable:
    """Tenant administrators only; loads the agent `public_id` of their tenant or 404."""

    @admin_view
    @wraps(view)
    def wrapper(tenant, public_id: str):
        agent = get_in_tenant_or_404(User, tenant.id, public_id=public_id)
        return view(tenant, agent)

    return wrapper


def page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def back_to_agents(form) -> str:
    return safe_next_url(form.next.data, url_for("admin.agents"))


@admin_view
def index(tenant):
    return render_template("admin/index.html", tenant=tenant)


@admin_view
def agents(tenant):
    form = AgentSearchForm(request.args)
    page = operations.search_agents(tenant, form.q.data, page_number())
    return render_template(
        "admin/agents.html",
        tenant=tenant,
        form=form,
        page=page,
        action_form=AgentActionForm(),
        next_url=request.full_path.rstrip("?"),
        Role=Role,
    )


@agent_view
def change_role(tenant, agent: User):
    form = RoleForm()
    if not form.validate_on_submit():
        return error_response(400, _("Ce rôle ne peut pas être attribué depuis cette page."))
    try:
        event = operations.change_role(current_user, agent, Role(form.role.data))
    except operations.AdminActionRefused as refusal:
        flash(str(refusal), "error")
        return redirect(back_to_agents(form))
    if event is not None:
        if agent.role is Role.TENANT_ADMIN:
            message = _(
                "%(name)s est désormais administrateur du ministère.", name=agent.display_name
            )
        else:
            message = _("%(name)s est désormais agent.", name=agent.display_name)
        flash(message, "success")
    return redirect(back_to_agents(form))


def _set_active(agent: User, active: bool):
    form = AgentActionForm()
    form.validate_on_submit()  # the CSRF token is checked before the view; `next` is optional
    try:
        event = operations.set_active(current_user, agent, active)
    except operations.AdminActionRefused as refusal:
        flash(str(refusal), "error")
        return redirect(back_to_agents(form))
    if event is not None:
        if active:
            message = _("Le compte de %(name)s est réactivé.", name=agent.display_name)
        else:
            message = _("Le compte de %(name)s est désactivé.", name=agent.display_name)
        flash(message, "success")
    return redirect(back_to_agents(form))


@agent_view
def deactivate(tenant, agent: User):
    return _set_active(agent, False)


@agent_view
def reactivate(tenant, agent: User):
    return _set_active(agent, True)


@admin_view
def rooms(tenant):
    page = operations.tenant_rooms(tenant, page_number())
    return render_template("admin/rooms.html", tenant=tenant, page=page)


@admin_view
def policy(tenant):
    form = PolicyForm(obj=tenant)
    if form.validate_on_submit():
        values = {name: form[name].data for name in operations.POLICY_FIELDS}
        try:
            event = operations.update_policy(current_user, tenant, values)
        except operations.AdminActionRefused as refusal:
            flash(str(refusal), "error")
        else:
            if event is None:
                flash(_("Aucune modification."), "success")
            else:
                flash(_("Les règles du ministère sont enregistrées."), "success")
            return redirect(url_for("admin.policy"))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "admin/policy.html",
        tenant=tenant,
        form=form,
        recommended=RECOMMENDED_ROOM_CAPACITY,
        platform_max=PLATFORM_MAX_ROOM_CAPACITY,
    ), status


@admin_view
def usage(tenant):
    form = UsagePeriodForm(request.args)
    today = datetime.now(UTC).date()
    valid = form.validate()
    # An invalid period shows its errors next to the fields, with the default period's figures.
    end = (form.fin.data if valid else None) or today
    start = (form.debut.data if valid else None) or end - timedelta(days=USAGE_DEFAULT_DAYS - 1)
    if start > end:
        end = start + timedelta(days=USAGE_DEFAULT_DAYS - 1)
    days = operations.usage(tenant, start, end)
    totals = {
        "meetings": sum(day.meetings for day in days),
        "participant_minutes": sum(day.participant_minutes for day in days),
        "peak_participants": max((day.peak_participants for day in days), default=0),
    }
    return render_template(
        "admin/usage.html",
        tenant=tenant,
        form=form,
        days=days,
        totals=totals,
        start=start,
        end=end,
    ), (200 if valid else 400)


@admin_view
def audit(tenant):
    page = operations.audit_events(tenant, page_number())
    # Show agents by e-mail rather than by their opaque identifier (own tenant only).
    user_ids = {event.target_id for event in page.items if event.target_type == "user"}
    emails = {}
    if user_ids:
        emails = dict(
            db.session.execute(
                select(User.public_id, User.email).where(
                    User.tenant_id == tenant.id, User.public_id.in_(user_ids)
                )
            ).all()
        )
    return render_template(
        "admin/audit.html",
        tenant=tenant,
        page=page,
        action_label=action_label,
        change_lines=change_lines,
        target_label=target_label,
        emails=emails,
    )
