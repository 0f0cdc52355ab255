"""The one billing error: input that cannot be used, with a message that says why."""

from __future__ import annotations

from config.errors import ConfigError


class BillingError(ConfigError):
    """A rate card, assignment, price, dispute or month action refused; the message says why
    and what would be accepted."""
