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
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

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
    log_offset: int = 0  # where this run's output starts in log_path

    def forget_config(self) -> None:
        """Remove the config file once read: it holds secrets and keys."""
        (self._workdir / "config.json").unlink(missing_ok=True)
        if self.log_path.parent != self._workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

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
    config: dict[str, Any], *, log_path: str | os.PathLike | None = None, timeout: float = 120.0
) -> DevIdp:
    """Start `node server.mjs` with `config` and return once it accepts requests.

    `port` defaults to a free port and `issuer` to http://127.0.0.1:<port>. The server's stdout
    and stderr go to `log_path` (appended) or to a file in a private temporary directory.
    `timeout` bounds the wait, it does not measure speed. A crash is reported at once; a server
    that is still not ready after `timeout` is stopped and started once more (a CI run once
    saw two starts in a row stay silent for 120 s on a machine where they take half a second),
    and the error then says how long the wait really took and how loaded the machine was.
    """
    node = shutil.which("node")
    if node is None:
        raise DevIdpError("node not found: install Node.js 20+ to run the development IdP")
    ensure_node_modules()

    config = dict(config)
    config.setdefault("port", free_port())
    config.setdefault("issuer", f"http://127.0.0.1:{config['port']}")
    # RSA keys are made here rather than in node: one cheap, well-understood step fewer in the
    # server's start-up, and a caller can pass its own to keep tokens valid across restarts.
    config.setdefault("signing_key", new_signing_jwk())
    hostile = dict(config.get("hostile") or {})
    if hostile.get("publish_wrong_keys") and "wrong_key" not in hostile:
        hostile["wrong_key"] = new_signing_jwk()
    config["hostile"] = hostile

    log_path = Path(log_path) if log_path else None
    for attempt in (1, 2):
        idp = _launch(node, config, log_path)
        try:
            _wait_until_ready(idp, timeout)
        except _NotReady as not_ready:
            idp.stop()
            if attempt == 2:
                raise DevIdpError(str(not_ready)) from None
            logger.warning("%s; starting it once more", not_ready)
            continue
        except BaseException:
            idp.stop()
            raise
        break
    idp.forget_config()
    logger.info("development IdP %s started (pid %s)", idp.issuer, idp.process.pid)
    return idp


def new_signing_jwk() -> dict[str, Any]:
    """A new RS256 private key as a JWK, with a random `kid`."""
    key = RSAKey.generate_key(2048, private=True)
    return {**key.as_dict(private=True), "kid": str(uuid.uuid4()), "alg": "RS256", "use": "sig"}


class _NotReady(Exception):
    """The server runs but did not say it was ready in time."""


def _launch(node: str, config: dict[str, Any], log_path: Path | None) -> DevIdp:
    workdir = Path(tempfile.mkdtemp(prefix="webconf-devidp-"))
    config_path = workdir / "config.json"
    # Holds client secrets, passwords and keys, dev ones, but still nobody else's business.
    config_path.touch(mode=0o600)
    config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2))
    log_path = log_path or workdir / "devidp.log"
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
    issuer = config["issuer"].rstrip("/")
    return DevIdp(issuer, int(config["port"]), process, config, log_path, workdir, start_offset)


def _wait_until_ready(idp: DevIdp, timeout: float) -> None:
    """Return when the server printed its ready line or answers discovery; raise otherwise."""
    ready_line = f"ready {idp.issuer}".encode()
    started_wall, started = time.time(), time.monotonic()
    deadline = started + timeout
    while True:
        with open(idp.log_path, "rb") as log:
            log.seek(idp.log_offset)
            if any(line.strip() == ready_line for line in log.read().splitlines()):
                return
        if idp.process.poll() is not None:
            raise DevIdpError(
                f"development IdP exited with {idp.process.returncode}:\n{idp.log_tail()}"
            )
        if time.monotonic() > deadline:
            if _answers_discovery(idp):  # ready, even if its line went missing
                return
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            raise _NotReady(
                f"development IdP {idp.issuer} not ready after {timeout:.0f} s "
                f"(wall clock: {time.time() - started_wall:.1f} s; load average {load}):\n"
                f"{idp.log_tail()}"
            )
        time.sleep(0.05)


def _answers_discovery(idp: DevIdp) -> bool:
    try:
        with urllib.request.urlopen(idp.discovery_url, timeout=5) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


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
