"""Production refuses to run the panel on a default or short secret key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from config.settings import Settings
from web.security import secret_key


def test_production_needs_a_long_secret_key() -> None:
    with pytest.raises(ValidationError, match="FLEETHUB_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="32"):
        Settings(environment="production", secret_key=SecretStr("short"))
    ok = Settings(environment="production", secret_key=SecretStr("k" * 32))
    assert ok.secret_key is not None


def test_local_mode_generates_and_keeps_a_key(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    first = secret_key(settings)
    assert len(first) >= 32
    assert secret_key(settings) == first
    assert (tmp_path / "panel.secret").stat().st_mode & 0o777 == 0o600


def test_production_defaults_to_a_secure_cookie_and_no_public_docs() -> None:
    local = Settings()
    assert (local.cookie_secure, local.api_docs) == (False, True)
    production = Settings(environment="production", secret_key=SecretStr("k" * 32))
    assert (production.cookie_secure, production.api_docs) == (True, False)
    chosen = Settings(
        environment="production", secret_key=SecretStr("k" * 32), cookie_secure=False, api_docs=True
    )
    assert (chosen.cookie_secure, chosen.api_docs) == (False, True)


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert Settings(trusted_proxies="10.0.0.5, 172.16.0.0/12,::1").trusted_proxies
    assert Settings().trusted_proxies == ""
    with pytest.raises(ValidationError, match="no address or network"):
        Settings(trusted_proxies="10.0.0.5,proxy.internal")


STRONG = "s3cret-0123456789abcdef"


@pytest.mark.parametrize(
    ("field", "url", "reason"),
    [
        ("database_url", "postgresql://fleethub@db/fleethub", "has no password"),
        ("database_url", "postgresql://fleethub:dev-only-postgres-password@db/f", "default"),
        ("mqtt_url", "mqtt://fleethub-hub:dev-only-hub-mqtt-password@broker:1883", "default"),
        ("mqtt_url", "mqtt://fleethub-hub:changeme@broker:1883", "default"),
        ("mqtt_url", "mqtt://fleethub-hub:short-one@broker:1883", "shorter than 16"),
        ("provision_mqtt_url", "mqtt://fleethub-provision@broker:1883", "has no password"),
    ],
)
def test_production_refuses_a_missing_or_default_password_and_names_it(
    field: str, url: str, reason: str
) -> None:
    key = SecretStr("k" * 32)
    with pytest.raises(ValidationError, match=f"FLEETHUB_{field.upper()}.*{reason}"):
        Settings.model_validate({"environment": "production", "secret_key": key, field: url})
    Settings.model_validate({field: url})  # local mode: a trial may use anything


def test_production_accepts_strong_passwords() -> None:
    settings = Settings(
        environment="production",
        secret_key=SecretStr("k" * 32),
        database_url=f"postgresql://fleethub:{STRONG}@db/fleethub",
        mqtt_url=f"mqtt://fleethub-hub:{STRONG}@broker:1883",
        provision_mqtt_url=f"mqtt://fleethub-provision:{STRONG}x@broker:1883",
    )
    assert settings.provision_target() is not None
