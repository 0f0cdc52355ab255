"""Settings: the MQTT URL both ways, and clear errors."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from config.settings import MqttTarget, Settings, parse_mqtt_url


def test_mqtt_url_round_trip_with_awkward_password() -> None:
    target = MqttTarget(host="broker.local", port=8883, username="hub user", password="p@ss:/w")
    assert parse_mqtt_url(target.url()) == target


def test_mqtt_url_without_credentials() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1") == MqttTarget(host="127.0.0.1", port=1883)
    assert MqttTarget(host="h", port=1).url() == "mqtt://h:1"


@pytest.mark.parametrize("url", ["http://x:1", "mqtt://", "mqtt:///path"])
def test_bad_mqtt_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="MQTT URL"):
        parse_mqtt_url(url)


def test_mqtts_url_is_tls_on_8883_by_default(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    target = parse_mqtt_url("mqtts://hub:pw@broker.example.com", ca)
    assert (target.host, target.port, target.tls, target.ca_file) == (
        "broker.example.com",
        8883,
        True,
        ca,
    )
    assert target.url() == "mqtts://hub:pw@broker.example.com:8883"
    assert target.address() == "mqtts://broker.example.com:8883"
    assert parse_mqtt_url("mqtt://h", ca).ca_file is None  # a CA means nothing without TLS
    assert parse_mqtt_url("mqtt://h").ssl_context() is None


def test_the_tls_context_checks_the_broker_name(test_ca_file: Path) -> None:
    context = parse_mqtt_url("mqtts://h", test_ca_file).ssl_context()
    assert context is not None
    assert context.check_hostname
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_missing_ca_file_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtts://hub:pw@127.0.0.1")
    monkeypatch.setenv("FLEETHUB_MQTT_CA_FILE", str(tmp_path / "nowhere.pem"))
    with pytest.raises(ValueError, match="FLEETHUB_MQTT_CA_FILE: no such file"):
        Settings()
    monkeypatch.setenv("FLEETHUB_MQTT_CA_FILE", "")  # compose's unset variable: no CA file
    assert Settings().mqtt_target() == MqttTarget(
        host="127.0.0.1", port=8883, username="hub", password="pw", tls=True
    )


@pytest.mark.parametrize(
    "name", ["FLEETHUB_MQTT_URL", "FLEETHUB_PROVISION_MQTT_URL", "FLEETHUB_DEVICE_MQTT_URL"]
)
def test_a_bad_mqtt_url_setting_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "https://broker.example.com")
    with pytest.raises(ValueError, match="mqtts://"):
        Settings()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETHUB_SHARD_COUNT", "3")
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:pw@127.0.0.1:1884")
    settings = Settings()
    assert settings.shard_count == 3
    assert settings.mqtt_target() == MqttTarget(
        host="127.0.0.1", port=1884, username="hub", password="pw"
    )


@pytest.fixture
def test_ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path
