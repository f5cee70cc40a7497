"""Checks of the Ansible deployment (ansible/) that run in every CI run, in under a minute.

- every playbook passes `ansible-playbook --syntax-check` with each example inventory;
- ansible-lint passes with its production profile;
- every systemd unit the roles generate, rendered with the single-host example's settings,
  passes `systemd-analyze verify`.

The tooling lives in its own virtualenv, .venv-ansible, created by .ci/setup. The slow
converge test (a Debian chroot deployed twice) is ansible/tests/converge.sh, run by
test_converge.py (docs/deploy.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
VENV_BIN = REPO / ".venv-ansible" / "bin"
INVENTORIES = sorted(p.name for p in (ANSIBLE_DIR / "inventories").iterdir() if p.is_dir())
PLAYBOOKS = ["site.yml"] + sorted(
    f"playbooks/{p.name}" for p in (ANSIBLE_DIR / "playbooks").glob("*.yml")
)
# What the roles generate (a unit missing here or there fails the test).
EXPECTED_UNITS = {
    "webconf-portal.service",
    "webconf-recorder.service",
    "webconf-retention.service",
    "webconf-retention.timer",
    "webconf-sfu-pool.service",
    "webconf-db-backup.service",
    "webconf-db-backup.timer",
}

pytestmark = pytest.mark.skipif(
    not (VENV_BIN / "ansible-playbook").exists(),
    reason=".venv-ansible is missing: run `bash .ci/setup` (it creates it)",
)


def tool_command(*args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a tool of .venv-ansible."""
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    }
    env.pop("VIRTUAL_ENV", None)
    return [str(VENV_BIN / args[0]), *args[1:]], env


def run_tool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a tool of .venv-ansible from ansible/ (its ansible.cfg applies)."""
    command, env = tool_command(*args)
    return subprocess.run(
        command,
        cwd=ANSIBLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def lint_process():
    """ansible-lint, started at once in the background: the slowest check runs meanwhile."""
    command, env = tool_command("ansible-lint", "--profile", "production", "--nocolor", ".")
    process = subprocess.Popen(
        command,
        cwd=ANSIBLE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_playbooks_syntax(lint_process, inventory: str) -> None:
    """site.yml and every tier's playbook, in one ansible-playbook run per inventory."""
    result = run_tool(
        "ansible-playbook", "-i", f"inventories/{inventory}/hosts.yml", "--syntax-check", *PLAYBOOKS
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for playbook in PLAYBOOKS:
        assert f"playbook: {playbook}" in output, output


def test_example_inventories_cover_every_tier() -> None:
    assert set(INVENTORIES) >= {"single-host", "multi-host"}
    assert {p.removeprefix("playbooks/") for p in PLAYBOOKS} >= {
        "site.yml",
        "database.yml",
        "redis.yml",
        "portal.yml",
        "sfu.yml",
        "turn.yml",
        "proxy.yml",
    }


def test_ansible_lint_production_profile(lint_process) -> None:
    output, _ = lint_process.communicate(timeout=180)
    assert lint_process.returncode == 0, output
    assert "0 failure(s), 0 warning(s)" in output, output


def test_no_secret_in_the_repository() -> None:
    """Only vault.yml.example files with placeholders: no vault, no key, no real password."""
    for path in ANSIBLE_DIR.rglob("*"):
        if not path.is_file() or ".build" in path.parts:
            continue
        assert path.name != "vault.yml", f"{path} must not be committed"
        text = path.read_text(errors="replace")
        assert "$ANSIBLE_VAULT" not in text, path
        for line in text.splitlines():
            if "BEGIN PRIVATE KEY" in line or "BEGIN PUBLIC KEY" in line:
                assert "REPLACE" in text, f"{path}: a real key?"
            if line.strip().startswith("vault_") and ":" in line:
                value = line.split(":", 1)[1].strip()
                # A script may generate a throwaway secret at run time (the converge test's
                # disposable chroot): `$(openssl rand …)` or `$var` is not a committed secret.
                generated = value.startswith("$")
                assert value in ("|", "") or value.startswith("REPLACE") or generated, (
                    f"{path}: {line}"
                )


@pytest.fixture(scope="module")
def rendered_units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The roles' units rendered with the single-host example, pointing at a release whose
    virtualenv is the project's own .venv (so every ExecStart command exists here)."""
    root = tmp_path_factory.mktemp("units")
    units, release = root / "units", root / "release"
    units.mkdir()
    release.mkdir()
    (release / "venv").symlink_to(REPO / ".venv")
    extra = {
        "webconf_release_dir": release,
        "portal_systemd_dir": units,
        "sfu_systemd_dir": units,
        "postgresql_systemd_dir": units,
        "postgresql_backup_script": units / "webconf-db-backup",
        "portal_service_state": "stopped",
        "sfu_service_state": "stopped",
        "postgresql_service_state": "stopped",
    }
    args = [arg for name, value in extra.items() for arg in ("-e", f"{name}={value}")]
    result = run_tool(
        "ansible-playbook",
        "-i",
        "inventories/single-host/hosts.yml",
        str(REPO / "tests" / "deploy" / "render_units.yml"),
        *args,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return units


def test_every_unit_is_rendered(rendered_units: Path) -> None:
    names = {p.name for p in rendered_units.iterdir() if p.suffix in (".service", ".timer")}
    assert names == EXPECTED_UNITS


@pytest.mark.parametrize("unit", sorted(EXPECTED_UNITS))
def test_unit_passes_systemd_analyze_verify(rendered_units: Path, unit: str) -> None:
    """`systemd-analyze verify` loads the unit (and the service of a timer, found in the same
    folder), checks every directive and that each command is executable; its warnings
    (unknown key, bad value...) fail the test too."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing: .ci/setup installs the systemd package")
    result = subprocess.run(
        [analyze, "verify", str(rendered_units / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    assert output == "", output


def test_portal_unit_runs_gunicorn_with_gevent_on_the_loopback(rendered_units: Path) -> None:
    text = (rendered_units / "webconf-portal.service").read_text()
    (exec_start,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert "/venv/bin/gunicorn --worker-class gevent " in exec_start
    assert "--bind 127.0.0.1:8000" in exec_start and exec_start.endswith("portal.wsgi:app")
    for option in ("NoNewPrivileges=true", "ProtectSystem=strict", "PrivateTmp=true"):
        assert option in text.splitlines()
    assert "EnvironmentFile=/etc/webconf/portal.env" in text


def test_sfu_unit_runs_the_pool_supervisor(rendered_units: Path) -> None:
    text = (rendered_units / "webconf-sfu-pool.service").read_text()
    assert any(
        line.startswith("ExecStart=") and line.endswith("/venv/bin/webconf-sfu-pool")
        for line in text.splitlines()
    )
    assert "EnvironmentFile=/etc/webconf/sfu.env" in text
