"""Who may open a page, written once: role checks and loaders scoped to the user's tenant.

- Anonymous visitors are sent to sign-in (Flask-Login's unauthorized handler).
- Signed-in users without the role get a French 403 page.
- Objects of another tenant are answered with 404, never 403: their existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from flask import abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.core.errors import error_response
from portal.extensions import db, login_manager
from portal.users.models import User

ModelT = TypeVar("ModelT")

TENANT_ADMIN_ONLY = _l("Cette page est réservée aux administrateurs de votre ministère.")
PLATFORM_ADMIN_ONLY = _l("Cette page est réservée aux administrateurs de la plateforme.")


def role_required(allowed: Callable[[User], bool], message: str) -> Callable:
    """Decorator: anonymous → sign-in; signed in without `allowed(user)` → 403 with `message`."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not allowed(current_user):
                return error_response(403, message)
            return view(*args, **kwargs)

        return wrapper

    return decorator


tenant_admin_required = role_required(lambda user: user.is_tenant_admin, TENANT_ADMIN_ONLY)
platform_admin_required = role_required(lambda user: user.is_platform_admin, PLATFORM_ADMIN_ONLY)


def get_in_tenant_or_404(model: type[ModelT], tenant_id: int, **criteria) -> ModelT:
    """The one `model` row of tenant `tenant_id` matching `criteria`, else 404.

    The tenant is part of the query, so another tenant's object is simply "not found".
    """
    query = select(model).where(model.tenant_id == tenant_id)  # type: ignore[attr-defined]
    for name, value in criteria.items():
        query = query.where(getattr(model, name) == value)
    found = db.session.scalar(query)
    if found is None:
        abort(404)
    return found


def get_or_404(model: type[ModelT], **criteria) -> ModelT:
    """The one `model` row matching `criteria`, else 404 (platform pages, not tenant-scoped)."""
    query = select(model)
    for name, value in criteria.items():
        query = query.where(getattr(model, name) == value)
    found = db.session.scalar(query)
    if found is None:
        abort(404)
    return found
