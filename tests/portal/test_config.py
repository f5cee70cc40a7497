"""Configuration from environment variables (docs/configuration.md)."""

from pathlib import Path

import pytest

from portal.config import ENVIRONMENT_VARIABLES, ConfigurationError, load_config


def test_defaults_for_local_development(tmp_path):
    config = load_config({}, instance_path=str(tmp_path))
    assert config["PORTAL_URL"] == "http://localhost:5000"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'webconf.sqlite3'}"
    assert config["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert config["JOIN_TOKEN_LIFETIME"] == 60
    assert config["SFU_ICE_SERVERS"] == []
    assert config["SESSION_COOKIE_SECURE"] is False
    # A development key, kept in the instance folder so that workers and restarts agree.
    assert config["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert load_config({}, instance_path=str(tmp_path))["SECRET_KEY"] == config["SECRET_KEY"]


def test_production_environment(tmp_path):
    environ = {
        "SECRET_KEY": "k",
        "PORTAL_URL": "https://webconf.example.gouv.fr/",
        "DATABASE_URL": "postgresql+psycopg://webconf@db/webconf",
        "OIDC_ISSUER": "https://idp.example.gouv.fr/",
        "OIDC_CLIENT_ID": "webconf",
        "OIDC_CLIENT_SECRET": "s",
        "JOIN_TOKEN_LIFETIME": "30",
        "SFU_ICE_SERVERS": '[{"urls": "stun:stun.example.gouv.fr"}]',
        "TRUSTED_PROXIES": "1",
    }
    config = load_config(environ, instance_path=str(tmp_path))
    assert config["PORTAL_URL"] == "https://webconf.example.gouv.fr"
    # Identity providers are data now (docs/identity-providers.md): the old variables are ignored.
    assert "OIDC_ISSUER" not in config and "OIDC_CLIENT_SECRET" not in config
    assert config["SQLALCHEMY_DATABASE_URI"] == environ["DATABASE_URL"]
    assert config["JOIN_TOKEN_LIFETIME"] == 30
    assert config["SFU_ICE_SERVERS"] == [{"urls": "stun:stun.example.gouv.fr"}]
    assert (
        config["SFU_CONNECT_SRC"]
        == "ws://webconf.example.gouv.fr:* wss://webconf.example.gouv.fr:*"
    )
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["TRUSTED_PROXIES"] == 1
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    "environ",
    [
        {"PORTAL_URL": "https://webconf.example.gouv.fr"},  # no SECRET_KEY
        {"JOIN_TOKEN_LIFETIME": "0"},
        {"JOIN_TOKEN_LIFETIME": "61"},
        {"JOIN_TOKEN_LIFETIME": "une minute"},
        {"SFU_ICE_SERVERS": "{}"},
        {"SFU_ICE_SERVERS": "not json"},
        {"SESSION_COOKIE_SECURE": "peut-être"},
        {"PORTAL_URL": "webconf.example.gouv.fr"},
    ],
)
def test_invalid_environment_is_refused(tmp_path, environ):
    with pytest.raises(ConfigurationError):
        load_config(environ, instance_path=str(tmp_path))


def test_secure_cookie_can_be_forced(tmp_path):
    config = load_config({"SESSION_COOKIE_SECURE": "true"}, instance_path=str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] is True


def test_every_variable_is_documented():
    documented = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    names = ENVIRONMENT_VARIABLES | {"PORTAL_SHARE_DIR", "PORTAL_INSTANCE_DIR"}
    missing = sorted(name for name in names if f"| `{name}` |" not in documented)
    assert missing == []
