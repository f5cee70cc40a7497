"""Runs the whole platform on one machine for a newcomer: `bash .ci/demo`.

Starts a private Redis, three development identity providers (Écologie's own, Culture's own and
a federation of the State's agents), a pool of SFU workers and the portal under gunicorn +
gevent, seeds the ministries, their providers and administrators in the database, then prints
where to go. Every process logs to .demo/logs/; an SFU worker that dies is restarted by the pool
supervisor (docs/pool.md); if any other process dies the others are stopped and its log tail is
shown. Nothing here is meant for production: see ansible/ for that.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aioice.ice
from sqlalchemy import select, update

from portal import create_app
from portal.auth.models import Identity
from portal.core.crypto import SecretDecryptionError, decrypt_secret
from portal.core.localports import port_is_free
from portal.devidp.launcher import (
    DEMO_ACCOUNTS,
    DEMO_CLIENT_ID,
    DEMO_IDPS,
    DEMO_MINISTRIES,
    DemoIdp,
    demo_config,
    start_idp,
)
from portal.extensions import db
from portal.invitations.operations import create_invitation, invitations_of, revoke
from portal.media.join_tokens import generate_keypair
from portal.rooms.models import Room, RoomAccess
from portal.rooms.operations import create_room
from portal.tenants import operations
from portal.tenants.models import FederationClaim, IdentityProvider, ProviderKind, Tenant
from portal.users.models import User

REPO = Path(__file__).resolve().parent.parent
READY_LINE_PREFIX = "  Portail de webconférence (démo) : "


@dataclass
class Supervisor:
    """Owns the child processes: starts them with a log file each, stops them all together."""

    log_dir: Path
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 — closed with the process
        process = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.children.append((name, process))

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        self.children.append((name, process))

    def first_dead(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name
        return None

    def stop_all(self) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.terminate()
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for_port(port: int, supervisor: Supervisor, name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.first_dead():
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} did not start on port {port}:\n{supervisor.log_tail(name)}")


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text()


@dataclass(frozen=True)
class DemoState:
    """Keys and secrets kept across demo runs, so that sign-ins survive a restart."""

    directory: Path
    private_key: Path
    public_key: Path
    secret_key: str
    client_secrets: dict[str, str]  # DemoIdp.key → the portal's client secret at that IdP

    @classmethod
    def prepare(cls, directory: Path) -> DemoState:
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        private_key, public_key = directory / "join.key", directory / "join.pub"
        if not private_key.exists() or not public_key.exists():
            private_pem, public_pem = generate_keypair()
            private_key.write_bytes(private_pem)
            private_key.chmod(0o600)
            public_key.write_bytes(public_pem)
        return cls(
            directory=directory,
            private_key=private_key,
            public_key=public_key,
            secret_key=read_or_create(directory / "secret_key", lambda: secrets.token_hex(32)),
            client_secrets={
                idp.key: read_or_create(
                    directory / f"oidc_client_secret_{idp.key}", lambda: secrets.token_urlsafe(24)
                )
                for idp in DEMO_IDPS
            },
        )


def ice_addresses() -> str:
    """Loopback (for browsers started with --allow-loopback-in-peer-connection) and the host's
    own addresses (what an ordinary browser on this machine or the LAN gathers)."""
    own = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False)
    return ",".join(["127.0.0.1", *own])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="portal port (8000)")
    parser.add_argument(
        "--idp-port",
        type=int,
        default=9000,
        help="first identity provider's port (9000): Écologie's, then Culture's and the "
        "federation's on the next two",
    )
    parser.add_argument("--redis-port", type=int, default=6390, help="private Redis port (6390)")
    parser.add_argument("--sfu-port", type=int, default=8100, help="first SFU worker port (8100)")
    parser.add_argument("--workers", type=int, default=2, help="SFU workers in the pool (2)")
    parser.add_argument(
        "--max-workers",
        type=int,
        default=None,
        help="the pool may grow to this many workers under load (default: --workers, no growth)",
    )
    parser.add_argument("--state-dir", type=Path, default=REPO / ".demo", help="(.demo/)")
    args = parser.parse_args(argv)
    sfu_ports = [args.sfu_port + i for i in range(args.workers)]
    idp_ports = {idp.key: args.idp_port + idp.offset for idp in DEMO_IDPS}
    wanted = (args.port, *idp_ports.values(), args.redis_port, *sfu_ports)
    busy = [port for port in wanted if not port_is_free(port)]
    if busy:
        raise SystemExit(f"Ports already in use: {busy}. Stop what uses them, or see --help.")

    state = DemoState.prepare(args.state_dir)
    portal_url = f"http://localhost:{args.port}"
    issuers = {key: f"http://localhost:{port}" for key, port in idp_ports.items()}
    redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
    supervisor = Supervisor(state.directory / "logs")

    portal_env = {
        "SECRET_KEY": state.secret_key,
        "DATABASE_URL": f"sqlite:///{state.directory / 'webconf.sqlite3'}",
        "REDIS_URL": redis_url,
        "PORTAL_URL": portal_url,
        "JOIN_TOKEN_PRIVATE_KEY_FILE": str(state.private_key),
        "FLASK_APP": "portal",
    }

    def stop(*_):
        supervisor.stop_all()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        supervisor.start(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(args.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(state.directory),
            ],
        )
        wait_for_port(args.redis_port, supervisor, "redis")

        for demo_idp in DEMO_IDPS:
            config = demo_config(
                port=idp_ports[demo_idp.key],
                client_id=DEMO_CLIENT_ID,
                client_secret=state.client_secrets[demo_idp.key],
                redirect_uri=f"{portal_url}/auth/callback",
                post_logout_redirect_uri=f"{portal_url}/",
                issuer=issuers[demo_idp.key],
                idp=demo_idp.key,
            )
            name = f"idp-{demo_idp.key}"
            idp = start_idp(config, log_path=state.directory / "logs" / f"{name}.log")
            supervisor.adopt(name, idp.process)

        # Migrations are a deploy step, never part of the portal's start-up.
        with open(state.directory / "logs" / "migrate.log", "ab") as log:
            subprocess.run(
                [sys.executable, "-m", "flask", "db", "upgrade"],
                cwd=REPO,
                env={**os.environ, **portal_env},
                check=True,
                stdout=log,
                stderr=log,
            )
        guest_link = seed_demo(
            {name: value for name, value in portal_env.items() if name != "FLASK_APP"},
            issuers,
            state.client_secrets,
        )

        # Turns the SFU workers' join/leave events into meeting records (usage figures).
        supervisor.start(
            "meetings",
            [sys.executable, "-m", "flask", "meetings", "record-events"],
            portal_env,
        )
        # The SFU pool supervisor (docs/pool.md) starts the workers demo-1, demo-2 … on
        # consecutive ports (logs/sfu-<n>.log) and restarts one that dies.
        supervisor.start(
            "sfu-pool",
            [sys.executable, "-m", "sfu.pool"],
            {
                "SFU_POOL_HOST_ID": "demo",
                "SFU_POOL_MIN": str(args.workers),
                "SFU_POOL_MAX": str(max(args.workers, args.max_workers or args.workers)),
                "SFU_POOL_BASE_PORT": str(args.sfu_port),
                "SFU_POOL_PUBLIC_URL": "ws://localhost:{port}/ws",
                "SFU_POOL_LOG_DIR": str(supervisor.log_dir),
                "SFU_HOST": "127.0.0.1",
                "SFU_JOIN_TOKEN_PUBLIC_KEY_FILE": str(state.public_key),
                "SFU_ICE_ADDRESSES": ice_addresses(),
                "SFU_JOIN_TOKEN_ISSUER": portal_url,
                "REDIS_URL": redis_url,
            },
        )
        for port in sfu_ports:
            wait_for_port(port, supervisor, "sfu-pool")

        supervisor.start(
            "portal",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-k",
                "gevent",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{args.port}",
                "portal.wsgi:app",
            ],
            portal_env,
        )
        wait_for_port(args.port, supervisor, "portal")
        print_welcome(portal_url, issuers, len(sfu_ports), supervisor.log_dir, guest_link)

        while (dead := supervisor.first_dead()) is None:
            time.sleep(0.5)
        print(f"\n{dead} stopped unexpectedly:\n{supervisor.log_tail(dead)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop_all()


ROLE_LABELS = {
    "agent": "agent",
    "tenant_admin": "administrateur du ministère",
    "platform_admin": "administrateur de la plateforme",
}


def print_welcome(
    portal_url: str, issuers: dict[str, str], worker_count: int, log_dir: Path, guest_link: str
) -> None:
    idp_names = {idp.key: idp.name for idp in DEMO_IDPS}
    print()
    print(f"{READY_LINE_PREFIX}{portal_url}")
    print(f"  {worker_count} workers SFU, Redis privé, fournisseurs d'identité :")
    for key, issuer in issuers.items():
        print(f"    {idp_names[key]:<42} {issuer}")
    print(f"  Comptes de démonstration (mot de passe : {DEMO_ACCOUNTS[0].password}) :")
    for account in DEMO_ACCOUNTS:
        ministry = account.ministry.organization
        if not account.ministry.slug:
            ministry += " — pas sur ce portail : connexion refusée"
        via = " (via la fédération)" if account.idp == "federation" else ""
        role = ROLE_LABELS[account.role]
        print(f"    {account.login:<38} {role:<32} {ministry}{via}")
    print(f"  « {DEMO_MEETING_NAME} » de {DEMO_MEETING_OWNER} — lien invité (sans compte) :")
    print(f"    {guest_link}")
    print(f"  Journaux : {log_dir}   Arrêt : Ctrl-C")
    print()
    sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# Demo data in the portal's database


# Each ministry's policy, different enough to show what a policy changes.
DEMO_POLICIES = {
    "ecologie": {"lobby_by_default": True, "default_room_capacity": 20},
    "culture": {"lobby_by_default": False, "default_room_capacity": 30},
    "interieur": {
        "guests_allowed": False,
        "max_room_capacity": 30,
        "default_room_capacity": 15,
        "retention_days": 30,
    },
    "numerique": {"audio_only_by_default": True},
}


def seed_demo(
    portal_config: dict[str, str], issuers: dict[str, str], client_secrets: dict[str, str]
) -> str:
    """Put the demo ministries, their providers, the federation rules and the administrators in
    the database, through the same operations as `flask tenants/providers/federation`. Safe to
    run at every start: what exists is kept, the providers' addresses and secrets refreshed."""
    app = create_app(portal_config)
    with app.app_context():
        _seed(issuers, client_secrets)
        token = _seed_demo_meeting()
    return f"{portal_config['PORTAL_URL']}/i/{token}"


DEMO_MEETING_NAME = "Réunion de démonstration (avec invités)"
DEMO_MEETING_OWNER = "camille.martin@ecologie.gouv.fr"
DEMO_INVITATION_LABEL = "Lien de démonstration"


def _seed_demo_meeting() -> str:
    """A room of the Écologie administrator that only invited people enter, through the lobby,
    and a fresh guest invitation to it; returns the invitation's token. The token is stored
    hashed, so each start makes a new one and revokes the previous demo link."""
    owner = db.session.scalar(select(User).where(User.email == DEMO_MEETING_OWNER))
    room = db.session.scalar(
        select(Room).where(Room.owner_id == owner.id, Room.name == DEMO_MEETING_NAME)
    )
    if room is None:
        room = create_room(owner, DEMO_MEETING_NAME)
        room.access = RoomAccess.INVITED
        room.lobby_enabled = True
        db.session.commit()
    now = datetime.now(UTC)
    for invitation in invitations_of(room):
        if invitation.label == DEMO_INVITATION_LABEL:
            revoke(invitation, actor=owner, now=now)
    _, token = create_invitation(room, created_by=owner, label=DEMO_INVITATION_LABEL)
    return token


def _seed(issuers: dict[str, str], client_secrets: dict[str, str]) -> None:
    tenants: dict[str, Tenant] = {}
    for ministry in DEMO_MINISTRIES:
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == ministry.slug))
        if tenant is None:
            tenant = operations.create_tenant(
                ministry.slug,
                ministry.organization,
                email_domains=[ministry.domain],
                **DEMO_POLICIES.get(ministry.slug, {}),
            )
        tenants[ministry.slug] = tenant

    providers: dict[str, IdentityProvider] = {}
    for demo_idp in DEMO_IDPS:
        providers[demo_idp.key] = _seed_provider(
            demo_idp, tenants, issuers[demo_idp.key], client_secrets[demo_idp.key]
        )

    federation = providers["federation"]
    for claim, value, slug in (
        (FederationClaim.ORGANIZATION_ID, "demo-interieur", "interieur"),
        (FederationClaim.ORGANIZATION_ID, "demo-numerique", "numerique"),
        (FederationClaim.EMAIL_DOMAIN, "interieur.gouv.fr", "interieur"),
    ):
        operations.add_federation_rule(federation, claim, value, tenants[slug])

    # Users exist from their first sign-in; the demo's administrators are created beforehand
    # with the identity they will sign in with, so their role is there at their first visit.
    for account in DEMO_ACCOUNTS:
        if account.role == "agent":
            continue
        provider = providers[account.idp]
        identity = db.session.scalar(
            select(Identity).where(
                Identity.issuer == provider.issuer, Identity.subject == account.sub
            )
        )
        if identity is None:
            user = User(
                tenant_id=tenants[account.ministry.slug].id,
                email=account.login,
                display_name=f"{account.given_name} {account.family_name}",
            )
            db.session.add(user)
            db.session.add(
                Identity(
                    user=user,
                    provider_id=provider.id,
                    issuer=provider.issuer,
                    subject=account.sub,
                )
            )
            db.session.commit()
        else:
            user = identity.user
        operations.change_role(user, account.role)


def _seed_provider(
    demo_idp: DemoIdp, tenants: dict[str, Tenant], issuer: str, client_secret: str
) -> IdentityProvider:
    kind = ProviderKind.FEDERATION if demo_idp.federation else ProviderKind.TENANT
    tenant = None if demo_idp.federation else tenants[demo_idp.key]
    provider = db.session.scalar(
        select(IdentityProvider).where(IdentityProvider.name == demo_idp.name)
    )
    if provider is None:
        return operations.add_provider(
            kind=kind,
            tenant=tenant,
            issuer=issuer,
            client_id=DEMO_CLIENT_ID,
            client_secret=client_secret,
            name=demo_idp.name,
            # The demo IdP gives the organisation claims under their own scope.
            scopes="openid email profile organization",
        )
    if provider.issuer != issuer:
        # Demo only: started on other ports than last time. Identities follow their provider.
        db.session.execute(
            update(Identity).where(Identity.issuer == provider.issuer).values(issuer=issuer)
        )
        provider.issuer = issuer
    try:
        unchanged = decrypt_secret(provider.client_secret_encrypted) == client_secret
    except SecretDecryptionError:  # .demo/secret_key was replaced
        unchanged = False
    return operations.update_provider(provider, client_secret=None if unchanged else client_secret)


if __name__ == "__main__":
    sys.exit(main())
