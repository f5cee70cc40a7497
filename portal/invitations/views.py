"""Request handling of invitations: the link itself (/i/<token>, anyone) and the management
page of a room's invitations (its owner and co-moderators)."""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.core import ratelimit
from portal.extensions import db
from portal.invitations import operations
from portal.invitations.forms import CreateInvitationForm, GuestNameForm
from portal.invitations.models import Invitation
from portal.lobby.views import lobby_service
from portal.rooms.access import room_manager_view
from portal.rooms.entry import Route, grant_pass, start_guest_session, visitor_for
from portal.rooms.models import ParticipantRole
from portal.rooms.schedule import current_time, schedule_of

logger = logging.getLogger(__name__)

NEW_INVITATION_KEY = "new_invitation"  # shown once after creation, then dropped
UNUSABLE_MESSAGES = {
    "revoked": _l("Cette invitation a été annulée par l'organisateur de la réunion."),
    "expired": _l("Cette invitation a expiré."),
    "used_up": _l("Cette invitation a déjà été utilisée le nombre de fois prévu."),
}
ASK_AGAIN = _l("Demandez une nouvelle invitation à la personne qui vous l'a envoyée.")


def invitation_link(token: str) -> str:
    return current_app.config["PORTAL_URL"] + url_for("invitations.open_invitation", token=token)


def _unusable(invitation: Invitation, reason: str):
    return render_template(
        "invitations/unusable.html",
        room=invitation.room,
        message=str(UNUSABLE_MESSAGES[reason]),  # str(): escaped like any text
        advice=str(ASK_AGAIN),
    ), 410


def _open_page(invitation: Invitation, form: GuestNameForm, token: str, alert: str | None = None):
    return render_template(
        "invitations/open.html",
        room=invitation.room,
        invitation=invitation,
        form=form,
        signed_in=current_user.is_authenticated,
        schedule=schedule_of(invitation.room),
        token=token,
        alert=alert,
    )


def open_invitation(token: str):
    # Unknown and revoked links count against the address (failures only: opening a valid
    # link costs nothing); over the limit, no link opens from that address, or the answer
    # would still tell a guessed token from a wrong one.
    address = ratelimit.client_address()
    verdict = ratelimit.check(ratelimit.INVITATION_GUESS, address)
    if not verdict.allowed:
        return ratelimit.page_refusal(ratelimit.INVITATION_GUESS, verdict)
    invitation = operations.find_by_token(token)
    if invitation is None:
        ratelimit.hit(ratelimit.INVITATION_GUESS, address)
        abort(404)
    room = invitation.room
    now = current_time()
    reason = invitation.unusable_reason(now)
    if reason is not None:
        if reason == "revoked":
            ratelimit.hit(ratelimit.INVITATION_GUESS, address)
        return _unusable(invitation, reason)
    signed_in = current_user.is_authenticated
    if not signed_in and not room.owner.tenant.guests_allowed:
        return render_template("invitations/guests_not_allowed.html", room=room, token=token), 403
    form = GuestNameForm()
    # CSRFProtect has checked every POST already; a signed-in agent gives no name.
    if (signed_in and request.method == "POST") or (not signed_in and form.validate_on_submit()):
        if not signed_in:
            # A guest knocking: per address and room, before the link's use is counted.
            knock = ratelimit.hit(ratelimit.LOBBY_KNOCK, address, room.slug)
            if not knock.allowed:
                alert = ratelimit.message(ratelimit.LOBBY_KNOCK, knock)
                return ratelimit.too_many(_open_page(invitation, form, token, alert), knock)
        try:
            operations.redeem(invitation, now)
        except operations.InvitationUnusable as exc:
            return _unusable(invitation, exc.reason)
        if signed_in:
            grant_pass(room, invitation.role)
            logger.info("user %s entered room %s by invitation", current_user.public_id, room.slug)
        else:
            start_guest_session(room, form.display_name.data, invitation.role)
        visitor = visitor_for(room)
        if visitor is not None and visitor.route is Route.LOBBY:
            lobby_service().wait(room.slug, visitor.waiting_id, visitor.default_name)
            return redirect(url_for("lobby.waiting_page", slug=room.slug))
        return redirect(url_for("rooms.prejoin", slug=room.slug))
    status = 400 if form.is_submitted() and not signed_in else 200
    return _open_page(invitation, form, token), status


@room_manager_view
def manage(visitor):
    room = visitor.room
    form = CreateInvitationForm()
    if form.validate_on_submit():
        _invitation, token = operations.create_invitation(
            room,
            created_by=visitor.user,
            role=ParticipantRole(form.role.data),
            expires_at=form.expires_at.data,
            max_uses=form.max_uses.data,
            label=form.label.data,
        )
        link = invitation_link(token)
        session[NEW_INVITATION_KEY] = {
            "room": room.slug,
            "link": link,
            "text": operations.invitation_text(room, link, ParticipantRole(form.role.data)),
        }
        flash(_("L'invitation est créée. Copiez son lien maintenant : il ne sera plus affiché."))
        return redirect(url_for("invitations.manage", slug=room.slug))
    new = session.pop(NEW_INVITATION_KEY, None)
    if new is not None and new.get("room") != room.slug:
        new = None
    status = 400 if form.is_submitted() else 200
    return render_template(
        "invitations/manage.html",
        room=room,
        form=form,
        invitations=operations.invitations_of(room),
        new_invitation=new,
        now=current_time(),
        guests_allowed=room.owner.tenant.guests_allowed,
        role_labels=operations.ROLE_LABELS,
    ), status


@room_manager_view
def revoke(visitor, public_id: str):
    room = visitor.room
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.room_id == room.id, Invitation.public_id == public_id)
    )
    if invitation is None:
        abort(404)
    operations.revoke(invitation, actor=visitor.user, now=current_time())
    flash(_("L'invitation est annulée : son lien ne fonctionne plus."), "success")
    return redirect(url_for("invitations.manage", slug=room.slug))
