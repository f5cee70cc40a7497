"""Start and stop the development OpenID Connect provider (server.mjs) from Python.

Used by the demo (with `demo_config`) and by the test fixtures (tests/fixtures/idp.py).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal.core.localports import free_port

logger = logging.getLogger(__name__)

DEVIDP_DIR = Path(__file__).resolve().parent
SERVER_SCRIPT = DEVIDP_DIR / "server.mjs"

DEMO_CLIENT_ID = "webconf-demo"
# Demo only: the demo IdP and the demo portal run side by side on one machine.
DEMO_CLIENT_SECRET = "webconf-demo-secret"  # noqa: S105
DEMO_PASSWORD = "demo-webconf"  # noqa: S105


class DevIdpError(RuntimeError):
    """The development IdP could not be installed or started."""


# ---------------------------------------------------------------------------------------------
# Running the server


def ensure_node_modules() -> None:
    """Install the pinned npm dependencies (`npm ci`) if they are missing.

    Guarded by a file lock: parallel test workers may all start an IdP at once.
    """
    marker = DEVIDP_DIR / "node_modules" / "oidc-provider" / "package.json"
    if marker.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise DevIdpError("npm not found: install Node.js 20+ to run the development IdP")
    lock_path = Path(tempfile.gettempdir()) / "webconf-devidp-npm-ci.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():  # another worker installed them while we waited
            return
        logger.info("installing the development IdP's npm dependencies in %s", DEVIDP_DIR)
        result = subprocess.run(  # noqa: S603 - fixed command, no user input
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=DEVIDP_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DevIdpError(f"npm ci failed in {DEVIDP_DIR}:\n{_tail(result.stderr)}")


@dataclass
class DevIdp:
    """A running development IdP. Stop it with `stop()` or use it as a context manager."""

    issuer: str
    port: int
    process: subprocess.Popen
    config: dict[str, Any]
    log_path: Path
    _workdir: Path = field(repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> DevIdp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_idp(
    config: dict[str, Any], *, log_path: str | os.PathLike | None = None, timeout: float = 60.0
) -> DevIdp:
    """Start `node server.mjs` with `config` and return once it accepts requests.

    `port` defaults to a free port and `issuer` to http://127.0.0.1:<port>. The server's stdout
    and stderr go to `log_path` (appended) or to a file in a private temporary directory.
    `timeout` bounds the wait, it does not measure speed: on a loaded 2-core machine, loading
    oidc-provider and generating RSA keys took over 20 s once. A crash is reported at once.
    """
    node = shutil.which("node")
    if node is None:
        raise DevIdpError("node not found: install Node.js 20+ to run the development IdP")
    ensure_node_modules()

    config = dict(config)
    config.setdefault("port", free_port())
    config.setdefault("issuer", f"http://127.0.0.1:{config['port']}")
    issuer = config["issuer"].rstrip("/")

    workdir = Path(tempfile.mkdtemp(prefix="webconf-devidp-"))
    config_path = workdir / "config.json"
    # Holds client secrets and passwords, dev ones, but still nobody else's business.
    config_path.touch(mode=0o600)
    config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2))
    log_path = Path(log_path) if log_path else workdir / "devidp.log"

    with open(log_path, "ab") as log:
        # Only what this run writes counts: log_path may hold an older "ready" line.
        start_offset = log.tell()
        # A file, not a pipe: nobody reads the output after startup and a full pipe would
        # block node.
        process = subprocess.Popen(  # noqa: S603 - fixed command, no user input
            [node, str(SERVER_SCRIPT), str(config_path)],
            cwd=DEVIDP_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    idp = DevIdp(issuer, int(config["port"]), process, config, log_path, workdir)
    try:
        _wait_until_ready(idp, start_offset, timeout)
    except BaseException:
        idp.stop()
        raise
    # Read once at startup; do not leave client secrets and passwords lying in /tmp.
    config_path.unlink()
    if log_path.parent != workdir:
        workdir.rmdir()
    logger.info("development IdP %s started (pid %s)", issuer, process.pid)
    return idp


def _wait_until_ready(idp: DevIdp, start_offset: int, timeout: float) -> None:
    ready_line = f"ready {idp.issuer}".encode()
    deadline = time.monotonic() + timeout
    while True:
        with open(idp.log_path, "rb") as log:
            log.seek(start_offset)
            if any(line.strip() == ready_line for line in log.read().splitlines()):
                return
        if idp.process.poll() is not None:
            raise DevIdpError(
                f"development IdP exited with {idp.process.returncode}:\n{idp.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise DevIdpError(f"development IdP not ready after {timeout} s:\n{idp.log_tail()}")
        time.sleep(0.05)


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------
# Demo data: three identity providers (two ministries' own and a federation) and their agents


@dataclass(frozen=True)
class DemoMinistry:
    organization: str  # the `organization` claim, as the portal shows it
    organization_id: str  # the `organization_id` claim, stable identifier
    domain: str  # agents' e-mail domain
    slug: str = ""  # the portal tenant it is seeded as ("" : none, the federation refuses it)


@dataclass(frozen=True)
class DemoIdp:
    """One of the demo's identity providers; `offset` is added to the demo's --idp-port."""

    key: str  # "ecologie", "culture", "federation"
    name: str  # what the portal's sign-in page calls it
    offset: int
    federation: bool = False


DEMO_IDPS: tuple[DemoIdp, ...] = (
    DemoIdp("ecologie", "Compte agent Écologie (démo)", 0),
    DemoIdp("culture", "Compte agent Culture (démo)", 1),
    DemoIdp("federation", "Fédération des agents de l'État (démo)", 2, federation=True),
)


@dataclass(frozen=True)
class DemoAccount:
    login: str
    given_name: str
    family_name: str
    ministry: DemoMinistry
    idp: str = "ecologie"  # DemoIdp.key of the provider holding the account
    role: str = "agent"  # role the demo seeds in the portal: agent, tenant_admin, platform_admin
    password: str = DEMO_PASSWORD

    @property
    def sub(self) -> str:
        # Opaque like a real IdP's subject, but stable across restarts of the demo.
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"webconf-devidp:{self.login}"))

    def to_config(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "password": self.password,
            "sub": self.sub,
            "claims": {
                "email": self.login,
                "email_verified": True,
                "given_name": self.given_name,
                "family_name": self.family_name,
                "name": f"{self.given_name} {self.family_name}",
                "organization": self.ministry.organization,
                "organization_id": self.ministry.organization_id,
            },
        }


ECOLOGIE = DemoMinistry(
    "Ministère de l'Écologie (démo)", "demo-ecologie", "ecologie.gouv.fr", "ecologie"
)
CULTURE = DemoMinistry(
    "Ministère de la Culture (démo)", "demo-culture", "culture.gouv.fr", "culture"
)
# Reached only through the federation, by its organization_id claim.
INTERIEUR = DemoMinistry(
    "Ministère de l'Intérieur (démo)", "demo-interieur", "interieur.gouv.fr", "interieur"
)
# The platform's operator, also reached through the federation.
NUMERIQUE = DemoMinistry(
    "Direction interministérielle du numérique (démo)",
    "demo-numerique",
    "numerique.gouv.fr",
    "numerique",
)
# Known to the federation but not a tenant of the portal: its agents see the refusal page.
AGENCE = DemoMinistry("Agence nationale de démonstration", "demo-agence", "agence-demo.fr")
DEMO_MINISTRIES: tuple[DemoMinistry, ...] = (ECOLOGIE, CULTURE, INTERIEUR, NUMERIQUE)


def _agent(
    given_name: str, family_name: str, ministry: DemoMinistry, idp: str, role: str = "agent"
) -> DemoAccount:
    # Léa → lea: mailbox names of ministries are plain ASCII.
    ascii_name = unicodedata.normalize("NFKD", f"{given_name}.{family_name}")
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    login = f"{ascii_name}@{ministry.domain}".lower()
    return DemoAccount(login, given_name, family_name, ministry, idp, role)


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    _agent("Camille", "Martin", ECOLOGIE, "ecologie", "tenant_admin"),
    _agent("Thomas", "Bernard", ECOLOGIE, "ecologie"),
    _agent("Léa", "Dubois", ECOLOGIE, "ecologie"),
    _agent("Julien", "Petit", CULTURE, "culture"),
    _agent("Sophie", "Moreau", CULTURE, "culture"),
    _agent("Nicolas", "Laurent", CULTURE, "culture"),
    _agent("Inès", "Garnier", INTERIEUR, "federation"),
    _agent("Karim", "Roux", INTERIEUR, "federation"),
    _agent("Dominique", "Lefèvre", NUMERIQUE, "federation", "platform_admin"),
    _agent("Alex", "Fontaine", AGENCE, "federation"),
)


def demo_config(
    port: int,
    redirect_uri: str,
    post_logout_redirect_uri: str,
    *,
    issuer: str | None = None,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
    idp: str | None = None,
) -> dict[str, Any]:
    """Configuration of a demo IdP: one client (the portal) and the demo agents it holds.

    `redirect_uri` is the portal's OIDC callback, `post_logout_redirect_uri` where the IdP sends
    the browser back after logout; `issuer` defaults to http://127.0.0.1:<port>; `idp` (a
    DemoIdp key) keeps only that provider's accounts (None: all of them).
    """
    return {
        "port": port,
        "issuer": issuer or f"http://127.0.0.1:{port}",
        "clients": [
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "client_name": "Webconférence (démo)",
                "redirect_uris": [redirect_uri],
                "post_logout_redirect_uris": [post_logout_redirect_uri],
                "token_endpoint_auth_method": "client_secret_basic",
            }
        ],
        "accounts": [
            account.to_config() for account in DEMO_ACCOUNTS if idp in (None, account.idp)
        ],
    }
