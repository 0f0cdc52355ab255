"""Rate limits of the public lead form: per client address and per QR code.

Every submission counts (valid or not), in sliding windows kept in the web process
(:class:`web.security.LoginThrottle`). The per-address limit is loose because passengers
on one mobile network often share an address (carrier NAT); the per-code limit stops one
printed or photographed code from being flooded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import Request

from web.security import LoginThrottle


@dataclass(frozen=True, slots=True)
class Limited:
    """A submission over a limit: the message and when to try again."""

    message: str
    retry_after_s: int


class LeadLimits:
    def __init__(self, per_client: int = 20, per_code: int = 30, window_s: float = 600.0) -> None:
        self.by_client = LoginThrottle(limit=per_client, window_s=window_s)
        self.by_code = LoginThrottle(limit=per_code, window_s=window_s)

    def check(self, client: str, code: str) -> Limited | None:
        """Count one submission unless a limit is already reached; then say how long to wait."""
        wait = max(self.by_client.retry_after(client), self.by_code.retry_after(code))
        if wait > 0:
            return Limited("Too many submissions from here. Please wait a few minutes and "
                           "try again.", max(1, math.ceil(wait)))  # fmt: skip
        self.by_client.hit(client)
        self.by_code.hit(code)
        return None


def lead_limits(request: Request) -> LeadLimits:
    """The app's limits, made on first use (one set per web process)."""
    state = request.app.state
    limits: LeadLimits | None = getattr(state, "lead_limits", None)
    if limits is None:
        settings = state.settings
        limits = state.lead_limits = LeadLimits(settings.lead_submits_per_client,
                                                settings.lead_submits_per_code)  # fmt: skip
    return limits


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"
