"""The privacy page /confidentialite: public, in French, accessible, and written from the same
record kinds and settings as the retention purge, so it cannot disagree with it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from portal.extensions import db
from portal.meetings.retention import purge_expired
from portal.privacy.records import RECORD_KINDS, days_text, retention_days
from portal.tenants.models import Tenant
from portal.users.models import Role
from tests.fixtures.portal import csrf_token, make_tenant, make_user, sign_in

URL = "/confidentialite"
ROW = re.compile(r'<tr data-record-kind="([a-z_]+)">(.*?)</tr>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def text(fragment: str) -> str:
    """What a person reads: tags out, entities decoded, blanks collapsed."""
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def rows_of(page: str) -> dict[str, str]:
    """The records table, kind key → the row's text."""
    return {key: text(row) for key, row in ROW.findall(page)}


def privacy_page(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_privacy_page_lists_every_record_kind_anonymous(client):
    page = privacy_page(client)
    rows = rows_of(page)
    assert list(rows) == [kind.key for kind in RECORD_KINDS]
    for kind in RECORD_KINDS:
        assert rows[kind.key].startswith(html.unescape(kind.title))
    readable = text(page)
    for promise in (
        "Le son et l'image des réunions ne sont jamais enregistrés",
        "Les messages de la discussion sont transmis aux participants présents, jamais enregistrés",
        "aucun outil de mesure d'audience",
        "Ses pages ne font appel à aucun site tiers",
        "sous le contrôle de l'administration qui exploite le service",
    ):
        assert promise in readable


def test_privacy_page_is_accessible_and_needs_no_inline_code(client):
    page = privacy_page(client)
    assert '<html lang="fr">' in page
    assert page.count("<h1>") == 1
    assert len(re.findall(r"<h2 id=", page)) >= 5
    assert "<caption>" in page
    headers = re.findall(r"<th\b[^>]*>", page)
    assert headers and all('scope="col"' in th or 'scope="row"' in th for th in headers)
    # The CSP forbids inline script and style: the page has none (a JSON data block, the
    # scripts' texts, is not code).
    assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))", page)
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


def test_footer_links_to_privacy_page_anonymous(client):
    home = client.get("/").get_data(as_text=True)
    assert f'<a href="{URL}">Données personnelles et confidentialité</a>' in home


def test_privacy_page_without_ministry_shows_each_ministrys_period_anonymous(app, client):
    make_tenant(app, name="Ministère des Courtes Durées", retention_days=7)
    make_tenant(app, name="Ministère des Longues Durées", retention_days=1825)
    page = privacy_page(client)
    assert "Ministère des Courtes Durées 7 jours" in text(page)
    assert "Ministère des Longues Durées 1825 jours" in text(page)
    # Without a ministry, a ministry's period reads as its choice, with the default.
    assert rows_of(page)["meeting_records"].endswith(
        "La durée choisie par chaque ministère (90 jours par défaut) après la fin de la "
        "réunion. Suppression automatique chaque jour."
    )


def test_privacy_page_follows_a_change_of_retention_agent(app):
    """A tenant administrator changes the retention period: the page changes with it, for the
    ministry's agents and for anonymous visitors."""
    tenant = make_tenant(app, name="Ministère de l'Exemple")
    admin = make_user(app, tenant=tenant, role=Role.TENANT_ADMIN)
    agent = make_user(app, tenant=tenant)
    other = make_user(app, tenant=make_tenant(app, retention_days=365))
    client = app.test_client()
    sign_in(client, agent)
    before = rows_of(privacy_page(client))
    assert "90 jours après la fin de la réunion" in before["meeting_records"]

    admin_client = app.test_client()
    sign_in(admin_client, admin)
    token = csrf_token(admin_client.get("/admin/regles"))
    answer = admin_client.post(
        "/admin/regles",
        data={
            "default_room_capacity": "20",
            "max_room_capacity": "55",
            "retention_days": "42",
            "guests_allowed": "y",
            "lobby_by_default": "y",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302

    page = privacy_page(client)
    assert "Ministère de l'Exemple" in text(page)
    after = rows_of(page)
    assert (
        after["meeting_records"].startswith("Relevés de réunions")
        and "42 jours après la fin de la réunion" in after["meeting_records"]
    )
    assert "42 jours après l'action" in after["audit_log"]
    assert "42 jours après son expiration" in after["invitations"]
    assert "90 jours" not in after["meeting_records"]
    # The platform's own period does not depend on the ministry.
    assert after["platform_audit_log"] == before["platform_audit_log"]

    other_client = app.test_client()
    sign_in(other_client, other)
    assert "365 jours après la fin" in rows_of(privacy_page(other_client))["meeting_records"]
    assert "Ministère de l'Exemple 42 jours" in text(privacy_page(app.test_client()))


def test_privacy_page_shows_platform_settings_anonymous(app, client):
    app.config["PLATFORM_AUDIT_RETENTION_DAYS"] = 31
    app.config["ACCOUNT_INACTIVITY_DAYS"] = 400
    rows = rows_of(privacy_page(client))
    assert "31 jours après l'action" in rows["platform_audit_log"]
    assert "après 400 jours sans connexion, le compte est supprimé" in rows["accounts"]


def test_every_kind_the_purge_deletes_is_on_the_page_agent(app):
    """Each kind of record the retention job purges is listed, with the number of days the job
    uses for the visitor's ministry."""
    app.config["PLATFORM_AUDIT_RETENTION_DAYS"] = 123
    app.config["ACCOUNT_INACTIVITY_DAYS"] = 456
    tenant = make_tenant(app, retention_days=17)
    client = app.test_client()
    sign_in(client, make_user(app, tenant=tenant))
    rows = rows_of(privacy_page(client))

    with app.app_context():
        report = purge_expired(dry_run=True, now=datetime.now(UTC))
        tenant_days = db.session.get(Tenant, tenant.id).retention_days
    assert report.record_kinds, "the purge names the kinds of records it deletes"
    kinds = {kind.key: kind for kind in RECORD_KINDS}
    for key in report.record_kinds:
        assert key in rows, f"the purge deletes {key}, which the page does not list"
        days = retention_days(kinds[key], app.config, tenant_days)
        assert days_text(days) in rows[key], f"{key}: the page does not say {days} days"
        assert "Suppression automatique chaque jour" in rows[key]
    assert {"17 jours", "123 jours", "456 jours"} <= {
        days_text(retention_days(kinds[key], app.config, tenant_days))
        for key in report.record_kinds
    }


def test_privacy_page_csp_allows_no_other_origin_anonymous(client):
    policy = client.get(URL).headers["Content-Security-Policy"]
    for directive in policy.split(";"):
        name, *sources = directive.split()
        if name == "connect-src":
            continue  # the SFU workers' WebSocket signalling (tests/portal/test_security_headers)
        assert all(source in ("'self'", "'none'", "data:", "blob:") for source in sources), (
            directive
        )
