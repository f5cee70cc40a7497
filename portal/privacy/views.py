"""The privacy page: what is kept, why and for how long, written from `records.py` and the
settings the retention purge reads, for the visitor's ministry when they are signed in."""

from __future__ import annotations

from dataclasses import dataclass

from babel.lists import format_list
from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.privacy.records import (
    RECORD_KINDS,
    Period,
    RecordKind,
    days_text,
    kept_text,
)
from portal.tenants.models import DEFAULT_RETENTION_DAYS, Tenant


@dataclass(frozen=True)
class Row:
    """One kind of record with its texts in the request's language."""

    kind: RecordKind
    title: str
    contents: str
    purpose: str
    kept: str

    @classmethod
    def of(cls, kind: RecordKind, kept: str) -> Row:
        return cls(kind, _(kind.title), _(kind.contents), _(kind.purpose), kept)


@dataclass(frozen=True)
class TenantPeriod:
    name: str
    days: str


def privacy_page():
    tenant: Tenant | None = current_user.tenant if current_user.is_authenticated else None
    tenant_days = tenant.retention_days if tenant is not None else None
    rows = [Row.of(kind, kept_text(kind, current_app.config, tenant_days)) for kind in RECORD_KINDS]
    # Without a ministry, each ministry's own period (their names are public: sign-in page).
    tenant_periods = []
    if tenant is None:
        tenant_periods = [
            TenantPeriod(name, days_text(days))
            for name, days in db.session.execute(
                select(Tenant.name, Tenant.retention_days).order_by(Tenant.name)
            )
        ]
    tenant_kinds_text = format_list(
        [_(kind.title).lower() for kind in RECORD_KINDS if kind.period is Period.TENANT],
        locale=get_locale() or "fr",
    )
    return render_template(
        "privacy/page.html",
        rows=rows,
        tenant=tenant,
        tenant_periods=tenant_periods,
        tenant_kinds_text=tenant_kinds_text,
        default_days=days_text(DEFAULT_RETENTION_DAYS),
    )
