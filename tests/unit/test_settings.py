"""Settings: the MQTT URL both ways, and clear errors."""

from __future__ import annotations

import pytest

from config.settings import MqttTarget, Settings, parse_mqtt_url


def test_mqtt_url_round_trip_with_awkward_password() -> None:
    target = MqttTarget(host="broker.local", port=8883, username="hub user", password="p@ss:/w")
    assert parse_mqtt_url(target.url()) == target


def test_mqtt_url_without_credentials() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1") == MqttTarget(host="127.0.0.1", port=1883)
    assert MqttTarget(host="h", port=1).url() == "mqtt://h:1"


@pytest.mark.parametrize("url", ["http://x:1", "mqtt://", "mqtt:///path"])
def test_bad_mqtt_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="FLEETHUB_MQTT_URL"):
        parse_mqtt_url(url)


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETHUB_SHARD_COUNT", "3")
    monkeypatch.setenv("FLEETHUB_MQTT_URL", "mqtt://hub:pw@127.0.0.1:1884")
    settings = Settings()
    assert settings.shard_count == 3
    assert settings.mqtt_target() == MqttTarget(
        host="127.0.0.1", port=1884, username="hub", password="pw"
    )
