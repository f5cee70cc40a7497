"""Every portal endpoint × every kind of visitor: the expected answer, and nothing else.

Actors:
- anonymous: nobody signed in.
- guest: a visitor from outside who gave their name on an invitation link to room A and waits
  in its lobby (not admitted); their guest session opens room A only.
- agent_a / admin_a: an agent and a tenant administrator of ministry A.
- agent_b / admin_b: the same for ministry B.
- platform: a platform administrator, member of a third ministry ("plateforme").

The matrix is checked against app.url_map: adding an endpoint without listing it here fails
`test_matrix_lists_every_endpoint`. POST requests carry a valid CSRF token, so the answers are
the access checks' own. Every answer that is not a success must leave the database unchanged;
every page an actor of one ministry gets must not contain another ministry's data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from portal import create_app
from portal.extensions import db
from portal.rooms.models import Room
from portal.tenants.models import FederationRule, Tenant
from portal.users.models import Role, User
from tests.fixtures.portal import csrf_token, portal_config, sign_in
from tests.portal.tenancy import World, build_world, get_tenant, get_user, snapshot

ACTORS = ("anonymous", "guest", "agent_a", "agent_b", "admin_b", "platform", "admin_a")
SIGNED_IN = ("agent_a", "agent_b", "admin_b", "platform", "admin_a")
ADMINS = ("admin_a", "admin_b", "platform")
SIGN_IN = "sign-in"  # a 302 to the sign-in page


def answers(default, **per_actor) -> dict[str, object]:
    return {actor: per_actor.get(actor, default) for actor in ACTORS}


def signed_in(status, **per_actor):
    """Anonymous and guest are sent to sign in (unless said otherwise); signed-in actors get
    `status`."""
    return answers(status, **{"anonymous": SIGN_IN, "guest": SIGN_IN, **per_actor})


def tenant_admins(status, **per_actor):
    """Sign-in for anonymous, 403 for agents, `status` for any tenant administrator."""
    return signed_in(403, **{"admin_a": status, "admin_b": status, "platform": status, **per_actor})


def platform_only(status):
    return signed_in(403, platform=status)


@dataclass
class Case:
    url: Callable[[World], str]
    expect: dict[str, object]
    data: Callable[[World], dict] | None = None  # POST form (the CSRF token is added)
    changes_db: tuple[str, ...] = ()  # actors whose request may change the database
    # Pages that show room A's name to anyone holding its link, by design.
    shows_room_a: bool = False
    platform_sees_all: bool = False  # platform pages list every ministry
    after: Callable[[object, World, str], None] | None = None  # extra checks (app, world, actor)


def created_room_in_own_tenant(app, world: World, actor: str) -> None:
    user = world.actor(actor)
    with app.app_context():
        room = db.session.scalar(db.select(Room).where(Room.name == f"Créée par {actor}"))
        assert room is not None and room.tenant_id == user.tenant_id


def agent_a_promoted(app, world: World, actor: str) -> None:
    assert get_user(app, world.agent_a.id).role is Role.TENANT_ADMIN


def agent_a_deactivated(app, world: World, actor: str) -> None:
    assert get_user(app, world.agent_a.id).is_active is False


def inactive_a_reactivated(app, world: World, actor: str) -> None:
    assert get_user(app, world.inactive_a.id).is_active is True


def own_policy_changed(app, world: World, actor: str) -> None:
    own = world.actor(actor).tenant_id
    for tenant in (world.tenant_a, world.tenant_b, world.tenant_p):
        retention = get_tenant(app, tenant.id).retention_days
        if tenant.id == own:
            assert retention == 42
        elif actor != "admin_a" or tenant.id != world.tenant_a.id:
            # Only the administrator's own tenant changes; admin_a runs last, after the others.
            assert retention in (42, 90)
    assert get_tenant(app, own).retention_days == 42


def rule_removed(app, world: World, actor: str) -> None:
    with app.app_context():
        assert db.session.get(FederationRule, world.rule_id) is None


def tenant_created(app, world: World, actor: str) -> None:
    with app.app_context():
        assert db.session.scalar(db.select(Tenant).where(Tenant.slug == "nouveau")) is not None


POLICY = {
    "default_room_capacity": "10",
    "max_room_capacity": "30",
    "retention_days": "42",
    "guests_allowed": "y",
    "lobby_by_default": "y",
}
TENANT_FORM = {"name": "Nouveau ministère", "slug": "nouveau", **POLICY}
PROVIDER_FORM = {
    "name": "Nouvel annuaire",
    "client_id": "portail",
    "client_secret": "un-secret",
    "scopes": "openid email",
    "enabled": "y",
}


def room(world: World) -> str:
    return world.room_a.slug


def owner_only(status, **per_actor):
    """Pages of room A's organiser (agent_a): sign-in for anonymous, 403 for everyone else."""
    return signed_in(403, **{"agent_a": status, "guest": 403, **per_actor})


def owner_only_json(status, **per_actor):
    """JSON endpoints for room A's moderators: 401 for anonymous, 403 for everyone else."""
    return answers(403, **{"anonymous": 401, "agent_a": status, **per_actor})


def room_a_renamed(app, world: World, actor: str) -> None:
    with app.app_context():
        assert db.session.get(Room, world.room_a.id).name == "Renommée par agent_a"


def invitation_revoked(app, world: World, actor: str) -> None:
    from portal.invitations.models import Invitation

    with app.app_context():
        invitation = db.session.scalar(
            db.select(Invitation).where(Invitation.public_id == world.revocable_invitation_id)
        )
        assert invitation.revoked_at is not None


ROOM_SETTINGS = {
    "name": "Renommée par {actor}",
    "access": "agents",
    "lobby_enabled": "y",
    "capacity": "10",
}


MATRIX: dict[tuple[str, str], Case] = {
    # --- Metrics: access is by network, not identity. These clients come from the loopback
    # (answered); from elsewhere only METRICS_TOKEN opens it (tests/portal/test_metrics.py).
    ("metrics", "GET"): Case(lambda w: "/metrics", answers(200)),
    # --- Health: says only whether the database and Redis answer, to anyone.
    ("healthz", "GET"): Case(lambda w: "/healthz", answers(200)),
    # --- Privacy page: public; a signed-in user reads their own ministry's periods.
    ("privacy.privacy_page", "GET"): Case(lambda w: "/confidentialite", answers(200)),
    ("i18n.switch_language", "GET"): Case(lambda w: "/langue/en?next=/", answers(302)),
    # --- Rooms: rooms are shared by link; any signed-in user may join (guests: later issue).
    ("rooms.home", "GET"): Case(lambda w: "/", answers(200)),
    ("rooms.my_rooms", "GET"): Case(lambda w: "/salles", signed_in(200)),
    ("rooms.create_room", "GET"): Case(lambda w: "/salles/nouvelle", signed_in(200)),
    ("rooms.create_room", "POST"): Case(
        lambda w: "/salles/nouvelle",
        signed_in(302),
        data=lambda w: {"name": "Créée par {actor}"},
        changes_db=SIGNED_IN,
        after=created_room_in_own_tenant,
    ),
    # The waiting guest is sent back to the lobby (302) from the pre-join and room pages.
    ("rooms.prejoin", "GET"): Case(
        lambda w: f"/r/{room(w)}", signed_in(200, guest=302), shows_room_a=True
    ),
    ("rooms.prejoin", "POST"): Case(
        lambda w: f"/r/{room(w)}",
        signed_in(302, guest=302),
        data=lambda w: {"display_name": "Quelqu'un"},
        shows_room_a=True,
    ),
    # Without the pre-join step, the room page sends back to it.
    ("rooms.room_page", "GET"): Case(lambda w: f"/r/{room(w)}/salle", signed_in(302, guest=302)),
    # JSON endpoint: 401 for anonymous, 403 for the guest not yet admitted (no lobby bypass);
    # no SFU worker runs in this test, hence 503 for everyone else.
    ("rooms.join_token", "POST"): Case(
        lambda w: f"/r/{room(w)}/jeton",
        answers(503, anonymous=401, guest=403),
        data=lambda w: {},
    ),
    # --- Room settings and invitations: room A's owner (agent_a) only, even for admin_a.
    ("rooms.room_settings", "GET"): Case(lambda w: f"/r/{room(w)}/parametres", owner_only(200)),
    ("rooms.room_settings", "POST"): Case(
        lambda w: f"/r/{room(w)}/parametres",
        owner_only(302),
        data=lambda w: dict(ROOM_SETTINGS),
        changes_db=("agent_a",),
        after=lambda app, w, actor: room_a_renamed(app, w, actor) if actor == "agent_a" else None,
    ),
    ("invitations.manage", "GET"): Case(lambda w: f"/r/{room(w)}/invitations", owner_only(200)),
    ("invitations.manage", "POST"): Case(
        lambda w: f"/r/{room(w)}/invitations",
        owner_only(302),
        data=lambda w: {"role": "participant", "label": "Pour {actor}"},
        changes_db=("agent_a",),
    ),
    ("invitations.revoke", "POST"): Case(
        lambda w: f"/r/{room(w)}/invitations/{w.revocable_invitation_id}/revoquer",
        owner_only(302),
        data=lambda w: {},
        changes_db=("agent_a",),
        after=invitation_revoked,
    ),
    # The invitation link: anyone holding it (it counts a use when a name is given).
    ("invitations.open_invitation", "GET"): Case(
        lambda w: f"/i/{w.invitation_token}", answers(200), shows_room_a=True
    ),
    ("invitations.open_invitation", "POST"): Case(
        lambda w: f"/i/{w.invitation_token}",
        answers(302),
        data=lambda w: {"display_name": "Quelqu'un"},
        changes_db=ACTORS,
    ),
    # --- The lobby: the waiting page for anyone who may look at room A, the queue and the
    # decisions for its moderators (JSON; a decision about nobody waiting is 404).
    ("lobby.waiting_page", "GET"): Case(
        lambda w: f"/r/{room(w)}/attente", signed_in(200, guest=200), shows_room_a=True
    ),
    ("lobby.waiting_state", "GET"): Case(
        lambda w: f"/r/{room(w)}/attente/etat", answers(200, anonymous=401)
    ),
    ("lobby.queue", "GET"): Case(lambda w: f"/r/{room(w)}/file", owner_only_json(200)),
    ("lobby.admit", "POST"): Case(
        lambda w: f"/r/{room(w)}/file/personne/admettre", owner_only_json(404), data=lambda w: {}
    ),
    ("lobby.refuse", "POST"): Case(
        lambda w: f"/r/{room(w)}/file/personne/refuser", owner_only_json(404), data=lambda w: {}
    ),
    ("lobby.admit_all", "POST"): Case(
        lambda w: f"/r/{room(w)}/file/admettre-tous",
        owner_only_json(200),
        data=lambda w: {},
        changes_db=("agent_a",),  # the guest of this run is admitted: one audit event
    ),
    # --- Sign-in (portal/auth): the same for everyone, signed in or not.
    ("auth.sign_in", "GET"): Case(lambda w: "/connexion", answers(302, anonymous=200, guest=200)),
    ("auth.find_ministry", "POST"): Case(
        lambda w: "/connexion", answers(400), data=lambda w: {"email": "x@inconnu.example"}
    ),
    ("auth.start", "GET"): Case(lambda w: "/connexion/oidc?ministere=ministere-b", answers(404)),
    ("auth.callback", "GET"): Case(lambda w: "/auth/callback?code=x&state=y", answers(400)),
    ("auth.sign_out", "POST"): Case(lambda w: "/deconnexion", answers(302), data=lambda w: {}),
    # --- Tenant administration: own tenant only; other tenants' objects are 404.
    ("admin.index", "GET"): Case(lambda w: "/admin/", tenant_admins(200)),
    ("admin.agents", "GET"): Case(lambda w: "/admin/agents", tenant_admins(200)),
    ("admin.change_role", "POST"): Case(
        lambda w: f"/admin/agents/{w.agent_a.public_id}/role",
        tenant_admins(404, admin_a=302),
        data=lambda w: {"role": "tenant_admin"},
        changes_db=("admin_a",),
        after=agent_a_promoted,
    ),
    ("admin.deactivate", "POST"): Case(
        lambda w: f"/admin/agents/{w.agent_a.public_id}/desactiver",
        tenant_admins(404, admin_a=302),
        data=lambda w: {},
        changes_db=("admin_a",),
        after=agent_a_deactivated,
    ),
    ("admin.reactivate", "POST"): Case(
        lambda w: f"/admin/agents/{w.inactive_a.public_id}/reactiver",
        tenant_admins(404, admin_a=302),
        data=lambda w: {},
        changes_db=("admin_a",),
        after=inactive_a_reactivated,
    ),
    ("admin.rooms", "GET"): Case(lambda w: "/admin/salles", tenant_admins(200)),
    ("admin.policy", "GET"): Case(lambda w: "/admin/regles", tenant_admins(200)),
    ("admin.policy", "POST"): Case(
        lambda w: "/admin/regles",
        tenant_admins(302),
        data=lambda w: dict(POLICY),
        changes_db=ADMINS,
        after=own_policy_changed,
    ),
    ("admin.usage", "GET"): Case(lambda w: "/admin/utilisation", tenant_admins(200)),
    ("admin.audit", "GET"): Case(lambda w: "/admin/journal", tenant_admins(200)),
    # --- Platform administration.
    ("platform.tenants", "GET"): Case(
        lambda w: "/plateforme/", platform_only(200), platform_sees_all=True
    ),
    ("platform.create_tenant", "GET"): Case(
        lambda w: "/plateforme/ministeres/nouveau", platform_only(200)
    ),
    ("platform.create_tenant", "POST"): Case(
        lambda w: "/plateforme/ministeres/nouveau",
        platform_only(302),
        data=lambda w: dict(TENANT_FORM),
        changes_db=("platform",),
        after=tenant_created,
    ),
    ("platform.edit_tenant", "GET"): Case(
        lambda w: f"/plateforme/ministeres/{w.tenant_a.public_id}",
        platform_only(200),
        platform_sees_all=True,
    ),
    ("platform.edit_tenant", "POST"): Case(
        lambda w: f"/plateforme/ministeres/{w.tenant_a.public_id}",
        platform_only(302),
        data=lambda w: {**TENANT_FORM, "slug": "ministere-a", "name": "Ministère Alpha"},
        changes_db=("platform",),
    ),
    ("platform.create_provider", "GET"): Case(
        lambda w: "/plateforme/fournisseurs/nouveau", platform_only(200), platform_sees_all=True
    ),
    ("platform.create_provider", "POST"): Case(
        lambda w: "/plateforme/fournisseurs/nouveau",
        platform_only(302),
        data=lambda w: {
            **PROVIDER_FORM,
            "issuer": "https://nouvel-annuaire.example",
            "tenant": w.tenant_b.public_id,
        },
        changes_db=("platform",),
    ),
    ("platform.edit_provider", "GET"): Case(
        lambda w: f"/plateforme/fournisseurs/{w.provider_a_id}",
        platform_only(200),
        platform_sees_all=True,
    ),
    ("platform.edit_provider", "POST"): Case(
        lambda w: f"/plateforme/fournisseurs/{w.provider_a_id}",
        platform_only(302),
        data=lambda w: {**PROVIDER_FORM, "client_secret": ""},
        changes_db=("platform",),
    ),
    ("platform.check", "POST"): Case(
        lambda w: f"/plateforme/fournisseurs/{w.provider_a_id}/verifier",
        platform_only(200),
        data=lambda w: {},
        platform_sees_all=True,
    ),
    ("platform.add_rule", "POST"): Case(
        lambda w: f"/plateforme/fournisseurs/{w.federation_id}/regles",
        platform_only(302),
        data=lambda w: {
            "claim": "email_domain",
            "value": "b.gouv.fr",
            "tenant": w.tenant_b.public_id,
        },
        changes_db=("platform",),
    ),
    ("platform.remove_rule", "POST"): Case(
        lambda w: f"/plateforme/fournisseurs/{w.federation_id}/regles/{w.rule_id}/supprimer",
        platform_only(302),
        data=lambda w: {},
        changes_db=("platform",),
        after=rule_removed,
    ),
    ("platform.media_pool", "GET"): Case(
        lambda w: "/plateforme/serveurs-media", platform_only(200), platform_sees_all=True
    ),
}


def test_matrix_lists_every_endpoint():
    app = create_app(portal_config("sqlite://"))
    routes = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - MATRIX.keys() == set(), "endpoints missing from the authorization matrix"
    assert MATRIX.keys() - routes == set(), "the matrix lists endpoints that no longer exist"


def client_of(app, world: World, actor: str):
    """A test client for the actor; the guest gives their name on room A's invitation link and
    waits in its lobby."""
    client = app.test_client()
    user = world.actor(actor)
    if user is not None:
        sign_in(client, user)
    if actor == "guest":
        link = f"/i/{world.invitation_token}"
        token = csrf_token(client.get(link))
        answer = client.post(link, data={"display_name": "Invitée", "csrf_token": token})
        assert answer.headers["Location"] == f"/r/{world.room_a.slug}/attente"
    return client


def request_as(client, world: World, actor: str, case: Case):
    url = case.url(world)
    if case.data is None:
        return client.get(url)
    token = csrf_token(client.get("/"))
    data = {key: value.format(actor=actor) for key, value in case.data(world).items()}
    return client.post(url, data={**data, "csrf_token": token}, headers={"X-CSRFToken": token})


def check_status(response, expected, actor: str, key) -> None:
    where = f"{key} as {actor}"
    if expected == SIGN_IN:
        assert response.status_code == 302, where
        assert response.headers["Location"].startswith("/connexion"), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}"
    if response.status_code == 403 and response.is_json:
        assert response.get_json()["message"], where
    elif response.status_code == 403:
        text = response.get_data(as_text=True)
        assert "réservée aux administrateurs" in text or "réservée aux modérateurs" in text, where
    if response.status_code == 404 and key[0].split(".")[0] in ("admin", "platform"):
        assert "Page introuvable" in response.get_data(as_text=True), where


def check_no_foreign_data(response, world: World, actor: str, case: Case, key) -> None:
    """A page given to an actor of one ministry mentions no other ministry's data."""
    if response.mimetype != "text/html" or response.status_code >= 300:
        return
    if actor == "platform" and case.platform_sees_all:
        return
    user = world.actor(actor)
    page = response.get_data(as_text=True)
    for tenant in (world.tenant_a, world.tenant_b, world.tenant_p):
        if user is not None and tenant.id == user.tenant_id:
            continue
        for marker in world.markers(tenant):
            if case.shows_room_a and marker == world.room_a.name:
                continue
            assert marker not in page, f"{key} as {actor} shows {marker!r}"


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda key: f"{key[0]}-{key[1]}")
def test_authorization_matrix(app, redis_client, key):
    # redis_client starts from an empty Redis: no SFU worker is registered, as the join-token
    # row expects (a worker left by an earlier test would otherwise still be alive for 10 s).
    case = MATRIX[key]
    world = build_world(app)
    for actor in ACTORS:
        client = client_of(app, world, actor)
        before = snapshot(app)
        response = request_as(client, world, actor, case)
        check_status(response, case.expect[actor], actor, key)
        check_no_foreign_data(response, world, actor, case, key)
        if actor not in case.changes_db:
            assert snapshot(app) == before, f"{key} as {actor} changed the database"
        elif case.after is not None:
            case.after(app, world, actor)


def test_admin_lists_show_own_tenant_only(app):
    """The lists of tenant administration show the administrator's ministry and no other."""
    world = build_world(app)
    for actor, own, other in (("admin_a", "a", "b"), ("admin_b", "b", "a")):
        client = app.test_client()
        sign_in(client, world.actor(actor))
        agents = client.get("/admin/agents").get_data(as_text=True)
        rooms = client.get("/admin/salles").get_data(as_text=True)
        own_agent = getattr(world, f"agent_{own}")
        own_room = getattr(world, f"room_{own}")
        other_agent = getattr(world, f"agent_{other}")
        assert own_agent.email in agents and other_agent.email not in agents
        assert own_room.name in rooms and getattr(world, f"room_{other}").name not in rooms


def test_platform_admin_sees_every_tenant(app):
    world = build_world(app)
    client = app.test_client()
    sign_in(client, world.platform_admin)
    page = client.get("/plateforme/").get_data(as_text=True)
    for tenant in (world.tenant_a, world.tenant_b, world.tenant_p):
        assert tenant.name in page


def test_users_of_matrix_exist(app):
    """Guard for the matrix itself: its actors are what their names say."""
    world = build_world(app)
    assert get_user(app, world.admin_a.id).role is Role.TENANT_ADMIN
    assert get_user(app, world.platform_admin.id).is_platform_admin
    assert isinstance(world.agent_a, User)
