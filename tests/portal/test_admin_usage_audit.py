"""The usage page (figures from meeting records) and the audit log of tenant administration."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from portal.audit.models import AuditAction, AuditEvent
from portal.audit.operations import record
from portal.extensions import db
from portal.meetings.models import Attendance, Meeting
from portal.users.models import User
from tests.fixtures.portal import sign_in
from tests.portal.tenancy import build_world


def add_meeting(app, room, started: datetime, minutes_each: list[int], peak: int) -> None:
    with app.app_context():
        meeting = Meeting(
            room_id=room.id,
            tenant_id=room.tenant_id,
            started_at=started,
            ended_at=started + timedelta(minutes=max(minutes_each)),
            peak_participants=peak,
        )
        for number, minutes in enumerate(minutes_each):
            meeting.attendances.append(
                Attendance(
                    participant_id=f"p{number}",
                    joined_at=started,
                    left_at=started + timedelta(minutes=minutes),
                )
            )
        db.session.add(meeting)
        db.session.commit()


def cells(page: str, day) -> list[str]:
    row = re.search(rf'<tr data-day="{day.isoformat()}">(.*?)</tr>', page, re.S).group(1)
    return re.findall(r"<td>(.*?)</td>", row)


def test_admin_usage_figures_tenant_admin(app):
    world = build_world(app)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    nine = datetime.combine(yesterday, time(9), UTC)
    add_meeting(app, world.room_a, nine, [30, 30, 20], peak=3)
    add_meeting(app, world.room_a, nine + timedelta(hours=3), [10, 5], peak=2)
    add_meeting(app, world.room_b, nine, [60] * 8, peak=8)  # ministry B: not counted for A
    client = app.test_client()
    sign_in(client, world.admin_a)
    response = client.get("/admin/utilisation")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert cells(page, yesterday) == ["2", "95", "3"]
    assert '<dd data-total="meetings">2</dd>' in page
    assert '<dd data-total="participant_minutes">95</dd>' in page
    assert '<dd data-total="peak_participants">3</dd>' in page
    # Last 30 days by default: 30 rows, today included.
    assert page.count("<tr data-day=") == 30
    assert "<caption>Utilisation par jour" in page
    # Ministry B's administrator sees B's meeting only.
    sign_in(client, world.admin_b)
    assert cells(client.get("/admin/utilisation").get_data(as_text=True), yesterday) == [
        "1",
        "480",
        "8",
    ]


def test_admin_usage_period_tenant_admin(app):
    world = build_world(app)
    client = app.test_client()
    sign_in(client, world.admin_a)
    page = client.get("/admin/utilisation?debut=2025-01-01&fin=2025-01-07").get_data(as_text=True)
    assert page.count("<tr data-day=") == 7
    wrong = client.get("/admin/utilisation?debut=2025-01-07&fin=2025-01-01")
    assert wrong.status_code == 400
    assert "La date de fin doit suivre la date de début." in wrong.get_data(as_text=True)
    assert client.get("/admin/utilisation?debut=demain").status_code == 400


def test_admin_audit_shows_own_tenant_events_newest_first_tenant_admin(app):
    world = build_world(app)
    with app.app_context():
        actor_a = db.session.get(User, world.admin_a.id)
        actor_b = db.session.get(User, world.admin_b.id)
        record(
            AuditAction.POLICY_UPDATED,
            tenant=actor_a.tenant,
            actor=actor_a,
            target_type="tenant",
            target_id=world.tenant_a.public_id,
            changes={"max_room_capacity": [55, 30], "lobby_by_default": [True, False]},
        )
        db.session.commit()
        record(
            AuditAction.USER_DEACTIVATED,
            tenant=actor_a.tenant,
            actor=actor_a,
            target_type="user",
            target_id=world.agent_a.public_id,
            changes={"is_active": [True, False]},
        )
        record(
            AuditAction.POLICY_UPDATED,
            tenant=actor_b.tenant,
            actor=actor_b,
            target_type="tenant",
            target_id=world.tenant_b.public_id,
            changes={"retention_days": [90, 7777]},
        )
        record(  # platform-wide (a federation provider): no tenant, in no tenant's log
            AuditAction.PROVIDER_CREATED,
            tenant=None,
            actor=None,
            target_type="provider",
            target_id="federation-xyz",
            changes={"issuer": [None, "https://federation.example"]},
        )
        db.session.commit()
    client = app.test_client()
    sign_in(client, world.admin_a)
    page = client.get("/admin/journal").get_data(as_text=True)
    assert "Règles du ministère modifiées" in page
    assert "Capacité maximale : 55 → 30" in page
    assert "Salle d&#39;attente par défaut : oui → non" in page
    assert f"Agent : {world.agent_a.email}" in page
    assert "Compte actif : oui → non" in page
    assert page.index("Compte désactivé") < page.index("Règles du ministère modifiées")
    assert "7777" not in page and world.admin_b.email not in page
    assert "federation.example" not in page
    assert "<caption>Journal de Ministère Alpha</caption>" in page


def test_admin_audit_pagination_tenant_admin(app):
    world = build_world(app)
    with app.app_context():
        actor = db.session.get(User, world.admin_a.id)
        for number in range(35):
            record(
                AuditAction.POLICY_UPDATED,
                tenant=actor.tenant,
                actor=actor,
                target_type="tenant",
                target_id=world.tenant_a.public_id,
                changes={"retention_days": [number, number + 1]},
            )
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count(AuditEvent.id))) == 35
    client = app.test_client()
    sign_in(client, world.admin_a)
    first = client.get("/admin/journal").get_data(as_text=True)
    assert first.count('<tr data-event="tenant.policy_updated">') == 30
    second = client.get("/admin/journal?page=2").get_data(as_text=True)
    assert second.count('<tr data-event="tenant.policy_updated">') == 5


def test_admin_usage_start_alone_too_far_back_tenant_admin(app):
    """Without an end date the span is judged against today: an error, never a server error."""
    world = build_world(app)
    client = app.test_client()
    sign_in(client, world.admin_a)
    response = client.get("/admin/utilisation?debut=2000-01-01")
    assert response.status_code == 400
    assert "Choisissez une période d&#39;au plus 366 jours." in response.get_data(as_text=True)
