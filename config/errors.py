"""The small error family of fleethub; third-party errors are translated where they enter."""


class HubError(Exception):
    """Base of every error fleethub raises on purpose."""


class ConfigError(HubError):
    """Settings or command-line input that cannot be used."""


class BrokerError(HubError):
    """The MQTT broker could not be started, reached or configured."""


class StoreError(HubError):
    """The database could not be started, reached or migrated."""


class PayloadError(HubError):
    """A device payload was rejected; ``reason`` is short and loggable."""

    def __init__(self, reason: str, category: str = "invalid_payload") -> None:
        super().__init__(reason)
        self.reason = reason
        self.category = category


class DynsecError(BrokerError):
    """The broker's dynamic-security plugin refused or did not answer a command."""
